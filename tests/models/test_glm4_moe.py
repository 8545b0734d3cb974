"""GLM-4.5 (glm4_moe) against transformers' Glm4MoeForCausalLM, on a tiny random-weight checkpoint with
every feature on: half-rotary heads, q/k/v biases, q/k norms, a dense first layer, 8 routed experts
(top-2, in 2 groups of which 1 is kept, renormalised, scaled by 2.5) plus a shared expert.

Logits through the paged cache in every way the engine uses it (tests/models/paged_checks.py), from
the checkpoint as saved and from transformers' in-memory layout; a config in the released files' style;
`toolwire serve` on the folder: a required tool call in GLM's format, greedy tokens equal to
transformers' generate.
"""

from __future__ import annotations

import torch

from tests.models.paged_checks import TinyFamily, assert_stacked_experts_load
from tests.models.paged_checks import test_paged_logits_match_transformers  # noqa: F401 (runs here, on `tiny`)
from tests.models.serve_checks import REAL_TEMPLATES, assert_serves
from tests.models.tiny_models import build_tiny_hf
from toolwire.models.architectures import config_from_hf

CONFIG = dict(
    vocab_size=260, hidden_size=64, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4,
    num_key_value_heads=2, head_dim=32, max_position_embeddings=4096, rms_norm_eps=1e-5, bos_token_id=0,
    eos_token_id=1, partial_rotary_factor=0.5, attention_bias=True, use_qk_norm=True, first_k_dense_replace=1,
    moe_intermediate_size=32, n_routed_experts=8, num_experts_per_tok=2, n_shared_experts=1, n_group=2,
    topk_group=1, norm_topk_prob=True, routed_scaling_factor=2.5)
FAMILY = TinyFamily(lambda _: build_tiny_hf("Glm4MoeConfig", "Glm4MoeForCausalLM", **CONFIG),
                    chat_template=REAL_TEMPLATES / "zai-org-GLM-4.5.jinja")
tiny = FAMILY.fixture()


def test_config(tiny):
    c = tiny.loaded.config
    assert (c.architecture, c.num_layers, c.head_dim, c.rotary_dim) == ("glm4_moe", 3, 32, 16)
    assert c.attention_bias and not c.attention_out_bias and c.qk_norm
    assert (c.num_experts, c.num_experts_per_tok, c.moe_intermediate_size, c.num_shared_experts) == (8, 2, 32, 1)
    assert (c.first_dense_layers, c.num_expert_groups, c.expert_groups_kept) == (1, 2, 1)
    assert c.norm_topk_prob and c.routed_scaling_factor == 2.5
    assert "expert" in tiny.model.cuda_graph_blocker()  # decode steps run eagerly on CUDA


def test_routing_varies_and_keeps_one_group(tiny):
    """The tiny model's routers pick many experts across tokens, each token's two from one group."""
    hidden = torch.randn(32, 64, generator=torch.Generator().manual_seed(0))
    for layer in tiny.model.layers[1:]:
        ids, weights = layer.mlp.route(hidden)
        assert len(ids.unique()) >= 4
        assert torch.equal(ids[:, 0] // 4, ids[:, 1] // 4)
        torch.testing.assert_close(weights.sum(dim=1), torch.full((32,), 2.5))


def test_kv_cache_bytes(tiny):
    # 3 layers * (k + v) * 2 kv heads * head_dim 32 * 4 bytes, per token
    assert tiny.model.kv_cache_bytes_per_block(1, torch.float32) == 3 * 2 * 2 * 32 * 4


def test_stacked_expert_tensors_load_too(tiny, tmp_path):
    """transformers' in-memory layout (a layer's experts stacked in gate_up_proj / down_proj) loads too."""
    assert_stacked_experts_load(tiny, tmp_path)


def test_a_config_in_the_released_files_style():
    """transformers-4 keys, as GLM-4.5-Air's config.json has them: partial_rotary_factor and rope_theta
    at the top level, rope_scaling null, eos a list."""
    config = config_from_hf({
        "model_type": "glm4_moe", "vocab_size": 151552, "hidden_size": 4096, "intermediate_size": 10944,
        "num_hidden_layers": 46, "num_attention_heads": 96, "num_key_value_heads": 8, "head_dim": 128,
        "partial_rotary_factor": 0.5, "rope_theta": 1000000, "rope_scaling": None, "attention_bias": True,
        "use_qk_norm": False, "moe_intermediate_size": 1408, "n_routed_experts": 128, "n_shared_experts": 1,
        "num_experts_per_tok": 8, "first_k_dense_replace": 1, "n_group": 1, "topk_group": 1,
        "norm_topk_prob": True, "routed_scaling_factor": 1.0, "num_nextn_predict_layers": 1,
        "eos_token_id": [151329, 151336, 151338], "rms_norm_eps": 1e-05, "tie_word_embeddings": False})
    assert (config.rotary_dim, config.rope_theta, config.rope_scaling) == (64, 1e6, None)
    assert (config.num_layers, config.first_dense_layers, config.num_experts) == (46, 1, 128)
    assert config.eos_token_ids == (151329, 151336, 151338) and not config.qk_norm


def test_serve_with_glm45_template(tmp_path_factory):
    assert_serves(FAMILY.checkpoint(tmp_path_factory), "glm45")
