"""Tiny models written as GGUF files (llama.cpp's layout) load to the same logits as transformers'."""

from __future__ import annotations

import pytest
import torch

from tests.models.paged import PagedLayout
from tests.models.tiny_gguf import save_tiny_gguf
from tests.models.tiny_models import CHAT_TEMPLATE, build_tiny_hf_model, hf_logits
from toolwire.models import load_model

TOKENS = [5, 77, 200, 31, 9, 140, 66, 250, 18, 4, 99, 123, 45, 7]


@pytest.mark.parametrize("arch", ["llama", "llama3", "qwen2", "qwen3", "granite"])
def test_gguf_logits_match_transformers(arch, tmp_path):
    hf_model = build_tiny_hf_model(arch)
    path = save_tiny_gguf(arch, hf_model, tmp_path / f"tiny-{arch}.F32.gguf")
    loaded = load_model(str(path), device="cpu", weights="exact", progress=False)
    assert loaded.config.architecture == ("llama" if arch == "llama3" else arch)
    assert loaded.name == f"tiny-{arch}"
    assert loaded.chat_template == CHAT_TEMPLATE
    assert loaded.tokenizer.decode(loaded.tokenizer("héllo <|im_end|>")["input_ids"]) == "héllo <|im_end|>"

    pages = PagedLayout(num_blocks=16, block_size=4)
    cache = loaded.model.make_kv_cache(16, 4)
    seq = pages.sequence(TOKENS)
    ours = []
    with torch.inference_mode():
        for count in (9, 1, 1, 3):  # prefill, decodes, a chunk after a cached prefix
            batch, _ = pages.step([(seq, count)])
            ours.append(loaded.model.compute_logits(loaded.model.forward(batch, cache)))
    torch.testing.assert_close(torch.cat(ours), hf_logits(hf_model, TOKENS), atol=1e-4, rtol=0)
