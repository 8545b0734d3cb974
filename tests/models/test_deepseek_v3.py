"""DeepSeek-V3 (deepseek_v3; Kimi-K2 runs the same weights) against transformers' DeepseekV3ForCausalLM,
on tiny random-weight checkpoints: latent attention (q through q_a/q_b with a LoRA rank, or one plain
q_proj), YaRN rope with the mscale_all_dim softmax correction, a dense first layer, then 8 routed
experts (top-2, 2 groups of which 1 is kept, a random score-correction bias, scaled by 2.5) plus a
shared expert. Two variants: interleaved rope (DeepSeek's), and halves-layout rope with plain q_proj.

Logits through the paged latent cache in every way the engine uses it (tests/models/paged_checks.py):
prefill chunks go through the expanded path, decode rows through the absorbed one. Checkpoints with
transformers' stacked expert tensors and DeepSeek's float8 block-scaled weights load too; bfloat16
stays close. Then `toolwire serve` on the folder with DeepSeek-V3.1's own chat template: a required
tool call in its format, and greedy tokens equal to transformers' generate.
"""

from __future__ import annotations

import math

import pytest
import torch

from tests.models.paged import paged_logits
from tests.models.paged_checks import (
    BLOCK_SIZE,
    TinyFamily,
    assert_fp8_checkpoint_loads_dequantized,
    assert_stacked_experts_load,
)
from tests.models.paged_checks import test_paged_logits_match_transformers  # noqa: F401 (runs here, on `tiny`)
from tests.models.serve_checks import REAL_TEMPLATES, assert_serves
from tests.models.tiny_models import build_tiny_hf
from toolwire.models import load_model
from toolwire.models.deepseek_v3 import deepseek_v3_config_from_hf
from toolwire.models.latent_attention import latent_cache_bytes_per_block

CONFIG = dict(
    vocab_size=260, hidden_size=64, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4,
    num_key_value_heads=4, max_position_embeddings=256, rms_norm_eps=1e-5, bos_token_id=0, eos_token_id=1,
    q_lora_rank=32, kv_lora_rank=32, qk_rope_head_dim=16, qk_nope_head_dim=16, v_head_dim=16, rope_interleave=True,
    first_k_dense_replace=1, moe_intermediate_size=32, n_routed_experts=8, num_experts_per_tok=2,
    n_shared_experts=1, n_group=2, topk_group=1, norm_topk_prob=True, routed_scaling_factor=2.5,
    rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 64,
                     "mscale": 1.0, "mscale_all_dim": 0.707, "beta_fast": 32.0, "beta_slow": 1.0})
VARIANTS = {"q_lora": {}, "plain_q": dict(q_lora_rank=None, rope_interleave=False)}
FAMILY = TinyFamily(
    lambda variant: build_tiny_hf("DeepseekV3Config", "DeepseekV3ForCausalLM", **CONFIG | VARIANTS[variant]),
    tuple(VARIANTS), chat_template=REAL_TEMPLATES / "deepseek-ai-DeepSeek-V3.1.jinja")
tiny = FAMILY.fixture()


def test_config(tiny):
    c = tiny.loaded.config
    assert (c.architecture, c.num_layers, c.head_dim, c.qk_head_dim, c.cached_dim) == ("deepseek_v3", 3, 16, 32, 48)
    assert c.q_lora_rank == (32 if tiny.variant == "q_lora" else None)
    assert c.rope_interleave == (tiny.variant == "q_lora")
    assert c.rope_scaling.rope_type == "yarn" and c.rope_scaling.factor == 4.0
    # transformers' softmax scale: qk_head_dim ** -0.5 * mscale(4, 0.707) ** 2
    assert c.attention_scale == pytest.approx(32 ** -0.5 * (0.1 * 0.707 * math.log(4) + 1) ** 2)
    assert (c.num_experts, c.num_experts_per_tok, c.num_shared_experts, c.moe_intermediate_size) == (8, 2, 1, 32)
    assert (c.first_dense_layers, c.num_expert_groups, c.expert_groups_kept) == (1, 2, 1)
    assert c.routed_scaling_factor == 2.5 and c.norm_topk_prob
    assert [c.is_moe_layer(i) for i in range(3)] == [False, True, True]
    assert "expert" in tiny.model.cuda_graph_blocker()  # decode steps run eagerly on CUDA


def test_routing_varies_and_keeps_one_group(tiny):
    hidden = torch.randn(32, 64, generator=torch.Generator().manual_seed(0))
    for layer in tiny.model.layers[1:]:
        assert layer.mlp.correction_bias.abs().max() > 0.1  # the correction bias is random, not zeros
        ids, weights = layer.mlp.route(hidden)
        assert len(ids.unique()) >= 6
        assert torch.equal(ids[:, 0] // 4, ids[:, 1] // 4)
        torch.testing.assert_close(weights.sum(dim=1), torch.full((32,), 2.5))


def test_cache_holds_latents_not_per_head_keys(tiny):
    cache = tiny.model.make_kv_cache(8, BLOCK_SIZE, torch.float32, "cpu")
    assert len(cache.layers) == 3 and tuple(cache.layers[0].shape) == (8, BLOCK_SIZE, 32 + 16)
    # per token: 3 layers * (latent 32 + rope key 16) * 4 bytes
    assert tiny.model.kv_cache_bytes_per_block(BLOCK_SIZE, torch.float32) == BLOCK_SIZE * 3 * 48 * 4


def test_real_deepseek_v3_caches_71_times_less_than_per_head_keys_and_values():
    config = deepseek_v3_config_from_hf({
        "model_type": "deepseek_v3", "vocab_size": 129280, "hidden_size": 7168, "intermediate_size": 18432,
        "num_hidden_layers": 61, "num_attention_heads": 128, "num_key_value_heads": 128, "q_lora_rank": 1536,
        "kv_lora_rank": 512, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "v_head_dim": 128,
        "rope_theta": 10000, "rope_scaling": {"type": "yarn", "factor": 40, "mscale": 1.0, "mscale_all_dim": 1.0,
                                              "original_max_position_embeddings": 4096, "beta_fast": 32,
                                              "beta_slow": 1}})
    latent = latent_cache_bytes_per_block(config.num_layers, config.cached_dim, 1, torch.bfloat16)
    per_head = config.num_layers * config.num_heads * (config.qk_head_dim + config.v_head_dim) * 2
    assert (latent, per_head) == (70_272, 4_997_120)  # bf16 bytes per token: 68.6 KiB vs 4.77 MiB
    assert config.attention_scale == pytest.approx(192 ** -0.5 * (0.1 * math.log(40) + 1) ** 2)


def test_stacked_expert_tensors_load_too(tiny, tmp_path):
    """transformers' in-memory naming (experts.gate_up_proj [E, 2I, H], experts.down_proj) loads the same."""
    assert_stacked_experts_load(tiny, tmp_path)


def test_fp8_checkpoint_loads_dequantized(tiny, tmp_path):
    """DeepSeek's float8 checkpoints (weight_scale_inv per block; 16 x 16 here, so every tiny weight
    has several) load as their dequantized values."""
    assert_fp8_checkpoint_loads_dequantized(tiny, tmp_path, block=16)


@pytest.mark.parametrize("weights", ["exact", "auto"])
def test_bfloat16_logits_stay_close_and_routing_stays_float32(tiny, weights):
    """--dtype bfloat16 on CPU, with exact weights and with the default int8 decode weights. Only
    the greedy tokens are held for int8: it flips a near tie between two experts at row 11 of these
    tokens (first MoE layer), which moves that row's logits by whole units and the rows after it,
    which attend to it, by a few tenths."""
    ids = [5, 77, 200, 31, 9, 140, 66, 250, 18, 4, 99, 123, 45, 7]
    reference = paged_logits(tiny.model, ids, (9, 1, 1, 3))
    model = load_model(str(tiny.folder), dtype="bfloat16", device="cpu", weights=weights, progress=False).model
    assert model.dtype == torch.bfloat16 and model.make_kv_cache(4, 4).dtype == torch.bfloat16
    assert model.layers[1].mlp.router.dtype == model.layers[1].mlp.correction_bias.dtype == torch.float32
    ours = paged_logits(model, ids, (9, 1, 1, 3))
    if weights == "exact":
        torch.testing.assert_close(ours, reference, atol=0.03 * reference.abs().max().item(), rtol=0)
    assert (ours.argmax(-1) == reference.argmax(-1)).float().mean() >= 0.85


def test_serve_with_deepseek_v31_template(tmp_path_factory):
    assert_serves(FAMILY.checkpoint(tmp_path_factory, "q_lora"), "deepseekv31")
