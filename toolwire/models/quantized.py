"""Weights kept in a GGUF file's block-quantized layouts (Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, Q6_K).

A `QuantizedWeight` is a linear layer's [N, K] weight as row segments, each in its own layout (a
fused q/k/v projection of a Q4_K_M file has Q4_K and Q6_K parts); the bytes are the file's, so memory
is about the file's size. It multiplies float32 activations three ways, chosen per batch size by
measurement (kernel_choice.py): "fused" decodes 16 weights at a time into a register and multiplies
them there, "tiled" dequantizes a few weight rows into a cached buffer and multiplies every
activation row with them (both in ggml_kernels.cpp; fused suits a few rows, tiled more), "dense"
expands the whole weight to float32 and hands it to torch's matmul (long prefill chunks). All three
compute with the dequantized weight exactly; they differ only in float32 summation order.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

from toolwire.models import native_kernels

# GGML type ids with kernels here (gguf.GGMLQuantizationType values).
KERNEL_TYPES = {2: "Q4_0", 3: "Q4_1", 8: "Q8_0", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K"}
FUSED, TILED, DENSE = "fused", "tiled", "dense"
PATHS = (FUSED, TILED, DENSE)


@dataclass(frozen=True)
class QuantizedTensor:
    """One GGUF tensor as stored: ggml_type, and its rows' bytes [rows, row_bytes] (uint8)."""
    ggml_type: int
    blocks: torch.Tensor

    @property
    def type_name(self) -> str:
        return KERNEL_TYPES[self.ggml_type]

    @property
    def columns(self) -> int:
        block_size, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(self.ggml_type)]
        return self.blocks.shape[1] // type_size * block_size


class QuantizedWeight:
    def __init__(self, parts: list[QuantizedTensor], in_features: int):
        self.parts = parts
        self.in_features = in_features
        self.out_features = sum(p.blocks.shape[0] for p in parts)
        self.starts = [sum(p.blocks.shape[0] for p in parts[:i]) for i in range(len(parts))]
        self.table = native_kernels.PartTable([(p.ggml_type, p.blocks) for p in parts])
        # (from this many rows, the path), ascending; set by kernel_choice.choose_paths.
        self.paths: list[tuple[int, str]] = [(1, FUSED)]

    @property
    def nbytes(self) -> int:
        return sum(p.blocks.numel() for p in self.parts)

    def signature(self) -> str:
        """What the kernel timing depends on: the layouts and shapes."""
        parts = ",".join(f"{p.type_name}x{p.blocks.shape[0]}" for p in self.parts)
        return f"{parts}|k{self.in_features}"

    def describe(self) -> str:
        types = "+".join(sorted({p.type_name for p in self.parts}))
        return f"{types} [{self.out_features}, {self.in_features}]"

    def path_for(self, rows: int) -> str:
        chosen = self.paths[0][1]
        for from_rows, path in self.paths:
            if rows >= from_rows:
                chosen = path
        return chosen

    def matmul(self, x: torch.Tensor, path: str | None = None) -> torch.Tensor:
        """x [M, K] float32 -> [M, N] float32."""
        path = path or self.path_for(x.shape[0])
        if path == DENSE:
            return F.linear(x, self.dequantize())
        if x.stride(-1) != 1:
            x = x.contiguous()
        out = torch.empty(x.shape[0], self.out_features, dtype=torch.float32)
        native_kernels.matmul(self.table, x, self.in_features, out,
                              native_kernels.FUSED if path == FUSED else native_kernels.TILED)
        return out

    def dequantize(self) -> torch.Tensor:
        out = torch.empty(self.out_features, self.in_features, dtype=torch.float32)
        for part, start in zip(self.parts, self.starts):
            native_kernels.dequantize(part.ggml_type, part.blocks, self.in_features,
                                      out=out[start:start + part.blocks.shape[0]])
        return out

    def rows(self, ids: torch.Tensor) -> torch.Tensor:
        """An embedding lookup: the float32 rows `ids` names (a one-part weight)."""
        (part,) = self.parts
        return native_kernels.dequantize(part.ggml_type, part.blocks, self.in_features, rows=ids.long().contiguous())
