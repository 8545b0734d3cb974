"""`--dtype bfloat16|float16` on CPU: the model loads in that dtype, its KV cache follows, and its
logits stay close to the fp32 reference (a prefill, decodes, a chunk after a cached prefix).

Tolerances are relative to the reference's largest |logit|. The tiny models land at
bf16 0.5-1.2%, fp16 0.05-0.15%, and with the default `--weights auto` (int8 decode weights) within 2.2%.
"""

from __future__ import annotations

import pytest
import torch

from tests.models.paged import paged_logits
from tests.models.tiny_models import ARCHITECTURES, hf_logits, save_tiny_model
from toolwire.models import load_model

TOKENS = [5, 77, 200, 31, 9, 140, 66, 250, 18, 4, 99, 123, 45, 7]
CHUNKS = (9, 1, 1, 3)
TOLERANCE = {"bfloat16": 0.03, "float16": 0.005}


@pytest.fixture(scope="module", params=ARCHITECTURES)
def tiny(request, tmp_path_factory):
    folder, hf_model = save_tiny_model(request.param, tmp_path_factory.mktemp(request.param))
    return folder, hf_logits(hf_model, TOKENS)


def check_logits(loaded, dtype: torch.dtype, reference: torch.Tensor, tolerance: float) -> None:
    model = loaded.model
    assert model.dtype == dtype
    assert {param.dtype for param in model.parameters()} == {dtype}
    assert model.make_kv_cache(4, 4).dtype == dtype
    ours = paged_logits(model, TOKENS, CHUNKS)
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours, reference, atol=tolerance * reference.abs().max().item(), rtol=0)
    assert (ours.argmax(-1) == reference.argmax(-1)).float().mean() >= 0.9


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_reduced_precision_logits_match_fp32(tiny, dtype):
    folder, reference = tiny
    loaded = load_model(str(folder), dtype=dtype, device="cpu", weights="exact", progress=False)
    check_logits(loaded, getattr(torch, dtype), reference, TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_reduced_precision_with_default_weights(tiny, dtype):
    """What `toolwire serve --dtype ...` runs on CPU: int8 decode weights (whose kernel takes bf16
    activations) under fp16/bf16 activations."""
    folder, reference = tiny
    loaded = load_model(str(folder), dtype=dtype, device="cpu", progress=False)
    check_logits(loaded, getattr(torch, dtype), reference, 0.04)
