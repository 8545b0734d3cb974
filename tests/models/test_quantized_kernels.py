"""The GGUF block kernels (ggml_kernels.cpp) against the `gguf` package's own dequantization.

Every bit pattern of a block is a valid quantized block, so random bytes (with finite, small f16
scales written in) cover each layout's whole value range: the kernels' dequantization must equal
gguf's exactly, and their products must equal float64 products with that weight to float32 rounding.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
from gguf.quants import dequantize as gguf_dequantize

from toolwire.models import kernel_choice, native_kernels
from toolwire.models.quantized import KERNEL_TYPES, PATHS, QuantizedTensor, QuantizedWeight

# Where each layout keeps its f16 scale fields (byte offsets in a block).
SCALE_FIELDS = {"Q4_0": (0,), "Q4_1": (0, 2), "Q8_0": (0,), "Q4_K": (0, 2), "Q5_K": (0, 2), "Q6_K": (208,)}


def random_tensor(type_name: str, rows: int, columns: int, seed: int = 0) -> tuple[QuantizedTensor, torch.Tensor]:
    """A quantized tensor of random blocks, and gguf's float32 dequantization of it."""
    qtype = GGMLQuantizationType[type_name]
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, (rows, columns // block_size, type_size), dtype=np.uint8)
    for offset in SCALE_FIELDS[type_name]:
        scales = rng.uniform(-0.05, 0.05, (rows, columns // block_size)).astype(np.float16)
        raw[..., offset:offset + 2] = scales.view(np.uint8).reshape(rows, columns // block_size, 2)
    raw = raw.reshape(rows, -1)
    reference = torch.from_numpy(np.asarray(gguf_dequantize(raw, qtype), dtype=np.float32)).reshape(rows, columns)
    return QuantizedTensor(int(qtype), torch.from_numpy(raw)), reference


@pytest.mark.parametrize("type_name", list(KERNEL_TYPES.values()))
def test_dequantization_equals_gguf(type_name):
    tensor, reference = random_tensor(type_name, 13, 512)
    assert tensor.columns == 512
    weight = QuantizedWeight([tensor], 512)
    assert torch.equal(weight.dequantize(), reference)
    rows = torch.tensor([12, 0, 5, 5])
    assert torch.equal(weight.rows(rows), reference[rows])


@pytest.mark.parametrize("type_name", list(KERNEL_TYPES.values()))
@pytest.mark.parametrize("batch", [1, 3, 8, 70])  # 70: more rows than one pass over the weight takes
def test_products_equal_the_dequantized_weight(type_name, batch):
    tensor, reference = random_tensor(type_name, 37, 768, seed=batch)  # 37: a partial tile of weight rows
    weight = QuantizedWeight([tensor], 768)
    x = torch.randn(batch, 768, generator=torch.Generator().manual_seed(batch))
    expected = (x.double() @ reference.double().T).float()
    scale = expected.abs().max()
    for path in PATHS:
        assert (weight.matmul(x, path) - expected).abs().max() <= 1e-5 * scale, path


def test_fused_parts_of_different_layouts():
    """A fused projection whose parts a Q4_K_M file stores differently (q in Q4_K, v in Q6_K)."""
    parts = [random_tensor(name, rows, 512, seed) for seed, (name, rows) in enumerate(
        [("Q4_K", 64), ("Q8_0", 16), ("Q6_K", 16)])]
    weight = QuantizedWeight([tensor for tensor, _ in parts], 512)
    reference = torch.cat([dense for _, dense in parts])
    x = torch.randn(5, 512)
    expected = (x.double() @ reference.double().T).float()
    for path in PATHS:
        torch.testing.assert_close(weight.matmul(x, path), expected, atol=1e-5 * expected.abs().max(), rtol=0)
    # Activation rows that are a strided view are multiplied as they are.
    wide = torch.randn(5, 1024)
    expected = (wide[:, :512].double() @ reference.double().T).float()
    torch.testing.assert_close(weight.matmul(wide[:, :512]), expected, atol=1e-5 * expected.abs().max(), rtol=0)


def test_kernel_choice_is_measured_once_then_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLWIRE_CACHE", str(tmp_path))
    weights = [QuantizedWeight([random_tensor("Q4_1", 64, 256)[0]], 256) for _ in range(2)]
    first = kernel_choice.choose_paths(weights, max_rows=64)
    assert first.measured and len(first.paths) == 1  # one signature, timed once
    cached = json.loads((tmp_path / kernel_choice.CACHE_FILE).read_text())
    (key, entries), = cached.items()
    assert native_kernels.cpu_model() in key and len(entries) == 1
    again = kernel_choice.choose_paths(weights, max_rows=64)
    assert not again.measured and again.paths == first.paths
    assert "cached" in again.summary() and native_kernels.cpu_model() in again.summary()
