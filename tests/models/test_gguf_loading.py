"""Tiny models written as GGUF files (llama.cpp's layout) load to the same logits as transformers'.

Each architecture in each storage type the loader reads (F32, F16, Q8_0, Q4_0, Q4_1): the reference
is the transformers model with the weights the file holds, i.e. quantized and dequantized by the
gguf package, and the quantized files must drift from the F32 logits by about what their type costs.
"""

from __future__ import annotations

import pytest
import torch

from tests.models.paged import paged_logits
from tests.models.tiny_gguf import QTYPES, dequantized_model, save_tiny_gguf
from tests.models.tiny_models import CHAT_TEMPLATE, build_tiny_hf_model, hf_logits
from toolwire.models import load_model
from toolwire.models.gguf_file import GGUFFile

TOKENS = [5, 77, 200, 31, 9, 140, 66, 250, 18, 4, 99, 123, 45, 7]
CHUNKS = (9, 1, 1, 3)  # prefill, decodes, a chunk after a cached prefix
# How far each quantized type's logits may stray from the F32 model's, relative to its largest |logit|.
# The tiny models land at F16 3e-4..6e-4, Q8_0 0.007..0.018, Q4_0/Q4_1 0.1..0.25; the floors sit far
# above fp32 noise (~1e-6), so a file or loader that dropped the quantization would fail. (F32: the
# reference is the original model, which the exact comparison already holds it to.)
DRIFT = {"F16": (5e-5, 5e-3), "Q8_0": (1e-3, 0.05), "Q4_0": (0.02, 0.5), "Q4_1": (0.02, 0.5)}


@pytest.mark.parametrize("qtype", QTYPES)
@pytest.mark.parametrize("arch", ["llama", "llama3", "qwen2", "qwen3", "granite"])
def test_gguf_logits_match_transformers(arch, qtype, tmp_path):
    hf_model = build_tiny_hf_model(arch)
    path = save_tiny_gguf(arch, hf_model, tmp_path / f"tiny-{arch}.{qtype}.gguf", qtype)
    infos = GGUFFile(path).tensors.values()
    assert {info.qtype.name for info in infos if len(info.shape) == 2} == {qtype}  # the weight matrices
    assert {info.qtype.name for info in infos if len(info.shape) == 1} == {"F32"}  # norms, biases, rope

    loaded = load_model(str(path), device="cpu", weights="exact", progress=False)
    assert loaded.config.architecture == ("llama" if arch == "llama3" else arch)
    assert loaded.name == f"tiny-{arch}"
    assert loaded.chat_template == CHAT_TEMPLATE
    assert loaded.tokenizer.decode(loaded.tokenizer("héllo <|im_end|>")["input_ids"]) == "héllo <|im_end|>"

    ours = paged_logits(loaded.model, TOKENS, CHUNKS)
    torch.testing.assert_close(ours, hf_logits(dequantized_model(hf_model, qtype), TOKENS), atol=1e-4, rtol=0)
    if qtype in DRIFT:
        original = hf_logits(hf_model, TOKENS)
        low, high = DRIFT[qtype]
        assert low < (ours - original).abs().max() / original.abs().max() < high
