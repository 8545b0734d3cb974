"""Linear layers: the weight as loaded, a GGUF file's quantized blocks, or an opted-into compact copy.

By default a layer multiplies with its weight as loaded (`weight`), or, for a tensor a GGUF file
stores quantized, with those blocks as they are (`quantized`, see quantized.py). The compact copies
(int8, int4, bf16) are opt-ins that trade accuracy for speed: `Linear.set_kernels` picks one for
batches of a few rows (decode: bound by the bytes of weight read) and one for bigger batches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

EXACT = "exact"
KINDS = (EXACT, "bf16", "int8", "int4")
INT4_GROUP_SIZE = 32


class Bf16Weight:
    def __init__(self, weight: torch.Tensor):
        self.weight = weight.to(torch.bfloat16)

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x.to(torch.bfloat16), self.weight).to(x.dtype)


class Int8Weight:
    """Symmetric int8 per output channel; activations go in as bf16 (with fp32 ones the kernel is
    several times slower)."""

    def __init__(self, weight: torch.Tensor):
        weight = weight.float()
        scales = torch.linalg.vector_norm(weight, ord=float("inf"), dim=1).clamp_(min=1e-12) / 127
        self.weight = (weight / scales.unsqueeze(1)).round_().clamp_(-127, 127).to(torch.int8)
        self.scales = scales.to(torch.bfloat16)

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        return torch._weight_int8pack_mm(x.to(torch.bfloat16), self.weight, self.scales).to(x.dtype)


class Int4Weight:
    """Asymmetric int4 in groups of 32 along the input (Q4_0/Q4_1 weights fit this grid exactly);
    activations go in as bf16, like int8's."""

    def __init__(self, weight: torch.Tensor):
        n, k = weight.shape
        groups = weight.float().reshape(n, k // INT4_GROUP_SIZE, INT4_GROUP_SIZE)
        low, high = groups.amin(dim=2), groups.amax(dim=2)
        scales = ((high - low) / 15).clamp(min=1e-12)
        q = ((groups - low.unsqueeze(2)) / scales.unsqueeze(2)).round().clamp(0, 15)
        # The kernel computes (q - 8) * scale + zero.
        zeros = low + 8 * scales
        self.scales_and_zeros = torch.stack((scales, zeros), dim=2).transpose(0, 1).contiguous().to(torch.bfloat16)
        self.weight = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q.to(torch.int32).reshape(n, k), 1)

    @staticmethod
    def supports(weight: torch.Tensor) -> bool:
        n, k = weight.shape
        return weight.device.type == "cpu" and n % 16 == 0 and k % INT4_GROUP_SIZE == 0

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten._weight_int4pack_mm_for_cpu(
            x.to(torch.bfloat16), self.weight, INT4_GROUP_SIZE, self.scales_and_zeros).to(x.dtype)


def make_compact(weight: torch.Tensor, kind: str):
    if kind == "bf16":
        return Bf16Weight(weight)
    if kind == "int8":
        return Int8Weight(weight)
    if kind == "int4":
        return Int4Weight(weight) if Int4Weight.supports(weight) else Int8Weight(weight)
    raise ValueError(f"unknown weight kind {kind!r} (known: {', '.join(KINDS)})")


class Linear(torch.nn.Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = False,
                 device: torch.device | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(out_features, in_features, device=device, dtype=dtype),
                                         requires_grad=False)
        self.bias = (torch.nn.Parameter(torch.empty(out_features, device=device, dtype=dtype), requires_grad=False)
                     if bias else None)
        self.small = self.large = None  # None: the exact weight
        self.small_max_rows = 0
        self.quantized = None  # a QuantizedWeight: the file's blocks, used instead of `weight`

    def set_kernels(self, small: str, small_max_rows: int, large: str, keep_exact: bool = True) -> None:
        """Batches of at most small_max_rows rows use a `small` copy of the weight, bigger ones a `large`
        copy. Without keep_exact, the exact weight is freed when neither path needs it."""
        if self.weight is None:
            raise RuntimeError("the exact weights were freed when the model was loaded; load it again")
        if self.quantized is not None and EXACT not in (small, large):
            weight = self.quantized.dequantize()
            self.quantized = None
        elif self.quantized is not None:
            raise ValueError("a layer kept in its file's quantized blocks has no exact weight to fall back to")
        else:
            weight = self.weight.data
        self.small = None if small == EXACT else make_compact(weight, small)
        self.large = None if large == EXACT else make_compact(weight, large)
        self.small_max_rows = small_max_rows
        if not keep_exact and self.small is not None and self.large is not None:
            self.weight = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.quantized is not None:
            y = self.quantized.matmul(x)
            return y if self.bias is None else y + self.bias
        kernel = self.small if x.shape[0] <= self.small_max_rows else self.large
        if kernel is None:
            return F.linear(x, self.weight, self.bias)
        y = kernel.matmul(x)
        return y if self.bias is None else y + self.bias
