"""Our Llama-family model, loaded from an HF folder, against transformers' own implementation.

Every architecture, through the paged cache in every way the engine uses it: whole prefill, decode
step by step, a prefix-cache hit, mixed prefill + decode batches, batched decode of sequences of
different lengths, and recompute after preemption (tests/models/paged_checks.py). Logits must agree
within 1e-4 (fp32).
"""

from __future__ import annotations

from tests.models.paged_checks import TinyFamily
from tests.models.paged_checks import test_paged_logits_match_transformers  # noqa: F401 (runs here, on `tiny`)
from tests.models.tiny_models import ARCHITECTURES, build_tiny_hf_model

tiny = TinyFamily(build_tiny_hf_model, ARCHITECTURES).fixture()


def test_config_flags(tiny):
    c = tiny.loaded.config
    assert c.num_layers == 2 and c.hidden_size == 64 and c.num_kv_heads == 2
    expected = {"qwen2": ("attention_bias", True), "qwen3": ("qk_norm", True), "granite": ("logits_scaling", 4.0),
                "mistral": ("layer_windows", (6, 6)), "llama": ("tie_word_embeddings", True)}
    if tiny.variant in expected:
        name, value = expected[tiny.variant]
        assert getattr(c, name) == value
    if tiny.variant == "llama3":
        assert c.rope_scaling.rope_type == "llama3"
        assert tiny.loaded.eos_token_ids == {1, 3}
    assert tiny.model.cuda_graph_blocker() is None  # a dense model's decode step is captured
