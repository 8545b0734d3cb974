"""MiniMax-M2 (minimax_m2) against transformers' MiniMaxM2ForCausalLM, on a tiny random-weight checkpoint:
q/k norms over the whole projection, a 16-of-32 rotary, 8 experts per layer (sigmoid, correction
bias, top-2, renormalised), no shared expert, in the checkpoint's own names (block_sparse_moe, w1/w2/w3).

Logits through the paged cache in every way the engine uses it (tests/models/paged_checks.py), from
the checkpoint as saved, from transformers' in-memory layout, and in FP8 with block scales (the form
MiniMax-M2 ships in); a config in the released files' style; `toolwire serve` on the folder:
a required tool call in MiniMax's format, greedy tokens equal to transformers' generate.
"""

from __future__ import annotations

import pytest
import torch

from tests.models.paged_checks import TinyFamily, assert_fp8_checkpoint_loads_dequantized, assert_stacked_experts_load
from tests.models.paged_checks import test_paged_logits_match_transformers  # noqa: F401 (runs here, on `tiny`)
from tests.models.serve_checks import REAL_TEMPLATES, assert_serves
from tests.models.tiny_models import build_tiny_hf
from toolwire.models.architectures import config_from_hf

CONFIG = dict(
    vocab_size=260, hidden_size=64, intermediate_size=32, num_hidden_layers=3, num_attention_heads=4,
    num_key_value_heads=2, head_dim=32, rotary_dim=16, max_position_embeddings=4096, rms_norm_eps=1e-5,
    bos_token_id=0, eos_token_id=1, num_local_experts=8, num_experts_per_tok=2)
FAMILY = TinyFamily(lambda _: build_tiny_hf("MiniMaxM2Config", "MiniMaxM2ForCausalLM", **CONFIG),
                    chat_template=REAL_TEMPLATES / "unsloth-MiniMax-M2.jinja")
tiny = FAMILY.fixture()


def test_config(tiny):
    c = tiny.loaded.config
    assert (c.architecture, c.num_layers, c.head_dim, c.rotary_dim) == ("minimax_m2", 3, 32, 16)
    assert c.qk_norm and not c.attention_bias and c.routing_bias
    assert (c.num_experts, c.num_experts_per_tok, c.moe_intermediate_size, c.num_shared_experts) == (8, 2, 32, 0)
    assert (c.first_dense_layers, c.num_expert_groups, c.routed_scaling_factor) == (0, 1, 1.0)
    attn = tiny.model.layers[0].self_attn
    assert attn.q_norm.weight.shape == (4 * 32,) and attn.k_norm.weight.shape == (2 * 32,)
    assert "expert" in tiny.model.cuda_graph_blocker()  # decode steps run eagerly on CUDA


def test_routing_varies(tiny):
    hidden = torch.randn(32, 64, generator=torch.Generator().manual_seed(0))
    for layer in tiny.model.layers:
        assert layer.mlp.shared_experts is None
        ids, weights = layer.mlp.route(hidden)
        assert len(ids.unique()) >= 4
        torch.testing.assert_close(weights.sum(dim=1), torch.ones(32))


def test_kv_cache_bytes(tiny):
    # 3 layers * (k + v) * 2 kv heads * head_dim 32 * 4 bytes, per token
    assert tiny.model.kv_cache_bytes_per_block(1, torch.float32) == 3 * 2 * 2 * 32 * 4


def test_stacked_expert_tensors_load_too(tiny, tmp_path):
    """transformers' in-memory layout ("mlp." for block_sparse_moe, experts stacked) loads too."""
    assert_stacked_experts_load(tiny, tmp_path)


def test_a_config_in_the_released_files_style():
    """transformers-4 keys, as MiniMax-M2's config.json has them: rotary_dim, rope_theta at the top
    level, the routing switches (block-wise FP8 is the loader's, tests/models/test_fp8.py)."""
    config = config_from_hf({
        "model_type": "minimax_m2", "vocab_size": 200064, "hidden_size": 3072, "intermediate_size": 1536,
        "num_hidden_layers": 62, "num_attention_heads": 48, "num_key_value_heads": 8, "head_dim": 128,
        "rotary_dim": 64, "rope_theta": 5000000, "num_local_experts": 256, "num_experts_per_tok": 8,
        "scoring_func": "sigmoid", "use_routing_bias": True, "use_qk_norm": True, "rms_norm_eps": 1e-06,
        "quantization_config": {"quant_method": "fp8", "fmt": "float8_e4m3fn", "activation_scheme": "dynamic",
                                "weight_block_size": [128, 128]}})
    assert (config.rotary_dim, config.rope_theta) == (64, 5e6)
    assert (config.num_experts, config.moe_intermediate_size, config.num_shared_experts) == (256, 1536, 0)
    with pytest.raises(ValueError, match="scoring_func 'softmax'"):
        config_from_hf({"model_type": "minimax_m2", "vocab_size": 8, "hidden_size": 8, "intermediate_size": 8,
                        "num_hidden_layers": 1, "num_attention_heads": 1, "scoring_func": "softmax"})


def test_fp8_checkpoint_loads_dequantized(tiny, tmp_path):
    """The form MiniMax-M2 ships in: float8 weights with a scale per 32 x 32 tile."""
    assert_fp8_checkpoint_loads_dequantized(tiny, tmp_path, block=32)


def test_serve_with_minimax_m2_template(tmp_path_factory):
    assert_serves(FAMILY.checkpoint(tmp_path_factory), "minimax_m2")
