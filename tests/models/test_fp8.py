"""Block-scaled FP8 checkpoints (toolwire/models/fp8.py), which the HF loader dequantizes for every
architecture: the dequantization itself, tile by tile, and a dense model's FP8 checkpoint through the
loader (the MoE families check theirs in their own test files)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from tests.models.paged_checks import assert_fp8_checkpoint_loads_dequantized
from tests.models.tiny_models import save_tiny_model
from toolwire.models.fp8 import dequantize_fp8, dequantizing_fp8, fp8_weight_block


def test_dequantization_scales_each_tile():
    """weight = fp8 value * its tile's scale; the last row and column of tiles are ragged."""
    weight = torch.randn(300, 200).to(torch.float8_e4m3fn)
    scales = torch.rand(3, 2) + 0.5
    got = dequantizing_fp8({"w.weight": weight, "w.weight_scale_inv": scales, "norm.weight": torch.ones(3)}.__getitem__,
                           (128, 128))
    assert got("norm.weight").dtype == torch.float32  # not float8: passes as it is
    dequantized = got("w.weight")
    for i in range(3):
        for j in range(2):
            tile = (slice(128 * i, 128 * (i + 1)), slice(128 * j, 128 * (j + 1)))
            torch.testing.assert_close(dequantized[tile], weight[tile].float() * scales[i, j], atol=0, rtol=0)
    # Stacked [E, out, in] weights take one scale grid per leading index.
    stacked = dequantize_fp8(torch.stack((weight, weight)), torch.stack((scales, 2 * scales)), (128, 128))
    torch.testing.assert_close(stacked[1], 2 * dequantized, atol=0, rtol=0)
    with pytest.raises(ValueError, match=r"scales of shape \(2, 2\)"):
        dequantize_fp8(weight, scales[:2], (128, 128))


def test_weight_block_size():
    assert fp8_weight_block({"quant_method": "fp8", "weight_block_size": [64, 32]}) == (64, 32)
    assert fp8_weight_block({"quant_method": "fp8"}) == (128, 128)


def test_dense_fp8_checkpoint_loads_dequantized(tmp_path):
    """Qwen3's -FP8 releases: a dense family reads them through the same loader."""
    folder, hf_model = save_tiny_model("qwen3", tmp_path / "bf16")
    assert_fp8_checkpoint_loads_dequantized(SimpleNamespace(folder=folder, hf=hf_model), tmp_path, block=32)
