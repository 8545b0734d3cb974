"""Llama 4 (llama4_text / llama4) against transformers' Llama4ForCausalLM, on a tiny random-weight
checkpoint with every feature on: interleaved rope with llama3 scaling on three layers, chunked
attention there (chunks of 5 tokens, so the prompts cross several), L2-normalised q/k; one NoPE layer
with full attention and query temperature tuning; MoE every second layer (4 experts, a shared
expert, the sigmoid router scaling the expert's input), dense MLPs between. Two routings: top-1 (the
real models') and top-2.

Logits through the paged cache in every way the engine uses it (tests/models/paged_checks.py); the
same weights from a Llama4ForConditionalGeneration folder ("language_model." names) and with
per-expert tensors; then `toolwire serve` on the folder with Meta's Llama 4 template: a required tool
call, and greedy tokens equal to transformers' generate.
"""

from __future__ import annotations

import json

import torch
import transformers
from safetensors.torch import load_file

from tests.models.paged_checks import TinyFamily, assert_logits_match, load_exact, rewritten_checkpoint
from tests.models.paged_checks import test_paged_logits_match_transformers  # noqa: F401 (runs here, on `tiny`)
from tests.models.serve_checks import REAL_TEMPLATES, assert_serves
from tests.models.tiny_models import build_tiny_hf, save_tiny_hf
from toolwire.models.attention import ChunkedAttention, visible_keys
from toolwire.models.llama4 import llama4_config_from_hf

CONFIG = dict(
    vocab_size=260, hidden_size=64, intermediate_size=32, intermediate_size_mlp=96, num_hidden_layers=4,
    num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=256, rms_norm_eps=1e-5,
    bos_token_id=0, eos_token_id=1, num_local_experts=4, num_experts_per_tok=1, interleave_moe_layer_step=2,
    no_rope_layers=[1, 0, 1, 1], attention_chunk_size=5, use_qk_norm=True,
    # A floor_scale of 4 (real: 8192) and a strong attn_scale make the temperatures vary within 20 tokens.
    attn_temperature_tuning=True, floor_scale=4, attn_scale=0.5,
    rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                     "high_freq_factor": 4.0, "original_max_position_embeddings": 32})
VARIANTS = {"top1": {}, "top2": dict(num_experts_per_tok=2)}
FAMILY = TinyFamily(
    lambda variant: build_tiny_hf("Llama4TextConfig", "Llama4ForCausalLM", **CONFIG | VARIANTS[variant]),
    tuple(VARIANTS), chat_template=REAL_TEMPLATES / "meta-llama-Llama-4-Scout-17B-16E-Instruct.jinja")
tiny = FAMILY.fixture()


def test_config(tiny):
    c = tiny.loaded.config
    assert (c.architecture, c.num_layers, c.head_dim, c.intermediate_size, c.intermediate_size_mlp) == (
        "llama4_text", 4, 16, 32, 96)
    assert c.rope_layers == (True, False, True, True)
    assert c.layer_windows == (ChunkedAttention(5), None, ChunkedAttention(5), ChunkedAttention(5))
    assert c.moe_layers == (1, 3) and c.num_experts == 4
    assert c.num_experts_per_tok == (2 if tiny.variant == "top2" else 1)
    assert c.use_qk_norm and c.attn_temperature_tuning and (c.floor_scale, c.attn_scale) == (4, 0.5)
    assert c.rope_scaling.rope_type == "llama3" and c.rope_scaling.factor == 8.0
    assert "expert" in tiny.model.cuda_graph_blocker()  # decode steps run eagerly on CUDA


def test_routing_varies(tiny):
    hidden = torch.randn(32, 64, generator=torch.Generator().manual_seed(0))
    for layer in (tiny.model.layers[1], tiny.model.layers[3]):
        assert len(torch.nn.functional.linear(hidden, layer.mlp.router).argmax(dim=1).unique()) >= 3


def test_chunked_visibility():
    """A query sees the keys of its own chunk up to itself; chunks start at multiples of the size."""
    keys, queries = torch.arange(12), torch.tensor([[0], [4], [5], [9], [11]])
    visible = visible_keys(keys, queries, ChunkedAttention(5))
    assert [row.nonzero().flatten().tolist() for row in visible] == [
        [0], [0, 1, 2, 3, 4], [5], [5, 6, 7, 8, 9], [10, 11]]


def test_kv_cache_bytes(tiny):
    # Every layer caches k and v (chunked ones too: blocks are shared by all layers of a sequence):
    # 4 layers * 2 * 2 kv heads * 16 * 4 bytes per token.
    assert tiny.model.kv_cache_bytes_per_block(1, torch.float32) == 4 * 2 * 2 * 16 * 4


def test_scout_and_maverick_configs():
    """The real text configs (Llama-4-Scout-17B-16E / Maverick-17B-128E, as shipped, "llama4" folders)."""
    common = dict(hidden_size=5120, intermediate_size=8192, intermediate_size_mlp=16384, num_hidden_layers=48,
                  num_attention_heads=40, num_key_value_heads=8, head_dim=128, vocab_size=202048,
                  rope_theta=500000.0, attention_chunk_size=8192, attn_temperature_tuning=4, floor_scale=8192,
                  attn_scale=0.1, no_rope_layers=[int((i + 1) % 4 != 0) for i in range(48)],
                  eos_token_id=[200001, 200007, 200008], bos_token_id=200000, model_type="llama4_text")
    scout = llama4_config_from_hf({"model_type": "llama4", "text_config": dict(
        common, num_local_experts=16, interleave_moe_layer_step=1, use_qk_norm=True,
        rope_scaling={"rope_type": "llama3", "factor": 16.0, "low_freq_factor": 1.0, "high_freq_factor": 1.0,
                      "original_max_position_embeddings": 8192})})
    maverick = llama4_config_from_hf({"model_type": "llama4", "text_config": dict(
        common, num_local_experts=128, interleave_moe_layer_step=2, use_qk_norm=False, rope_scaling=None)})
    assert scout.checkpoint_prefix == maverick.checkpoint_prefix == "language_model."
    assert len(scout.moe_layers) == 48 and maverick.moe_layers == tuple(range(1, 48, 2))
    assert scout.layer_windows[:4] == (ChunkedAttention(8192),) * 3 + (None,)
    assert scout.attn_temperature_tuning and scout.rope_scaling.factor == 16 and maverick.rope_scaling is None
    assert scout.eos_token_ids == (200001, 200007, 200008)
    # bf16 KV per token: 48 layers * (k + v) * 8 kv heads * 128 * 2 bytes = 192 KiB.
    assert 48 * 2 * scout.num_kv_heads * scout.head_dim * 2 == 196_608


def test_conditional_generation_folder(tiny, tmp_path):
    """A Llama4ForConditionalGeneration folder: config under text_config, tensors under language_model."""
    text_config = tiny.hf.config.to_dict()
    vision = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, image_size=28,
                  patch_size=14, vision_output_dim=32, projector_input_dim=32, projector_output_dim=32)
    full = transformers.Llama4ForConditionalGeneration(transformers.Llama4Config(text_config=text_config,
                                                                                 vision_config=vision))
    full.language_model.load_state_dict(tiny.hf.state_dict())
    save_tiny_hf(full, tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "llama4"
    assert_logits_match(load_exact(tmp_path).model, tiny.hf, list(range(10, 27)), (11, 1, 5))


def test_per_expert_tensors_load_too(tiny, tmp_path):
    """Experts one by one (experts.N.gate_proj.weight, ... in nn.Linear layout) load the same."""
    tensors = load_file(tiny.folder / "model.safetensors")
    for layer in (1, 3):
        p = f"model.layers.{layer}.feed_forward.experts."
        gate, up = tensors.pop(p + "gate_up_proj").chunk(2, dim=2)
        down = tensors.pop(p + "down_proj")
        for e in range(4):
            tensors.update({f"{p}{e}.gate_proj.weight": gate[e].t().contiguous(),
                            f"{p}{e}.up_proj.weight": up[e].t().contiguous(),
                            f"{p}{e}.down_proj.weight": down[e].t().contiguous()})
    per_expert = rewritten_checkpoint(tiny.folder, tmp_path / "per_expert", tensors)
    assert_logits_match(load_exact(per_expert).model, tiny.hf, list(range(30, 46)), (7, 1, 8))


def test_serve_with_llama4_template(tmp_path_factory):
    assert_serves(FAMILY.checkpoint(tmp_path_factory, "top1"), "llama4_json")
