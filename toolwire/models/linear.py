"""Linear layers whose matmul path depends on how many rows the batch has.

A decode step of a few sequences is a matrix-vector product: it is bound by how many bytes of weight
it reads, so on CPU a compact copy of the weight (int8, int4, bf16) runs it several times faster.
Bigger batches are compute bound: they use the exact weight, or a bf16 copy on CPUs that multiply
bf16 natively (AVX512-BF16/AMX), where it is 2-3x faster than fp32. `Linear.set_kernels` picks the
two paths; "exact" is the weight as loaded (fp32 on CPU), which the accuracy tests use.
"""

from __future__ import annotations

import functools

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


@functools.cache
def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: bf16 matmuls run faster than fp32 ones (elsewhere much slower)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


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

    def set_kernels(self, small: str, small_max_rows: int, large: str, keep_exact: bool = True) -> None:
        """Batches of at most small_max_rows rows use a `small` copy of the weight, bigger ones a `large`
        copy. Without keep_exact, the exact weight is freed when neither path needs it."""
        if self.weight is None:
            raise RuntimeError("the exact weights were freed when the model was loaded; load it again")
        self.small = None if small == EXACT else make_compact(self.weight.data, small)
        self.large = None if large == EXACT else make_compact(self.weight.data, large)
        self.small_max_rows = small_max_rows
        if not keep_exact and self.small is not None and self.large is not None:
            self.weight = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel = self.small if x.shape[0] <= self.small_max_rows else self.large
        if kernel is None:
            return F.linear(x, self.weight, self.bias)
        y = kernel.matmul(x)
        return y if self.bias is None else y + self.bias
