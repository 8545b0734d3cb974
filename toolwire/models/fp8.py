"""Block-scaled FP8 checkpoints, read as plain weights.

config.json says `"quantization_config": {"quant_method": "fp8", "weight_block_size": [rows, cols]}`
(DeepSeek-V3 / R1, Kimi-K2, MiniMax-M2, and the -FP8 releases of Qwen3 and GLM-4.5 ship this way).
Each quantized weight [out, in] is float8 (e4m3) with `<name>_scale_inv` [ceil(out / rows),
ceil(in / cols)], one scale per tile: weight = fp8 value * scale. The HF loader dequantizes every
such weight as it is read, for every family, so the model holds (and multiplies) its own dtype.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import torch

DEFAULT_WEIGHT_BLOCK = (128, 128)
FLOAT8_DTYPES = (torch.float8_e4m3fn, torch.float8_e5m2)


def fp8_weight_block(quantization_config: Mapping[str, Any]) -> tuple[int, int]:
    """The rows x columns one scale covers."""
    rows, cols = quantization_config.get("weight_block_size") or DEFAULT_WEIGHT_BLOCK
    return int(rows), int(cols)


def dequantize_fp8(weight: torch.Tensor, scale_inv: torch.Tensor, block: tuple[int, int]) -> torch.Tensor:
    """weight [..., out, in] float8, scale_inv [..., ceil(out / rows), ceil(in / cols)] -> float32."""
    rows, cols = weight.shape[-2:]
    tiles = (-(-rows // block[0]), -(-cols // block[1]))
    if tuple(scale_inv.shape) != (*weight.shape[:-2], *tiles):
        raise ValueError(f"scales of shape {tuple(scale_inv.shape)} are not one per {block[0]} x {block[1]} "
                         f"tile of a weight of shape {tuple(weight.shape)}")
    scales = scale_inv.float().repeat_interleave(block[0], dim=-2)[..., :rows, :]
    return weight.float() * scales.repeat_interleave(block[1], dim=-1)[..., :cols]


def dequantizing_fp8(get: Callable[[str], torch.Tensor], block: tuple[int, int]) -> Callable[[str], torch.Tensor]:
    """`get` (a checkpoint's tensor by name) whose float8 weights come back dequantized."""

    def tensor(name: str) -> torch.Tensor:
        weight = get(name)
        if weight.dtype not in FLOAT8_DTYPES:
            return weight
        return dequantize_fp8(weight, get(name + "_scale_inv"), block)

    return tensor
