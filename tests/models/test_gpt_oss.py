"""gpt-oss against transformers' GptOssForCausalLM: a tiny random-weight model (4 layers alternating a
5-token sliding window and full attention, sinks, YaRN, 8 experts top-2 with a clamped SwiGLU that
clamps), through the paged cache in every way the engine uses it; the MXFP4 expert format (a
hand-computed example, and a whole checkpoint shipped as blocks + scales); the real gpt-oss-20b
config; and `toolwire serve` on the tiny folder (a forced tool call, greedy tokens as transformers').
"""

from __future__ import annotations

import torch
from safetensors.torch import load_file

from tests.models.paged_checks import TinyFamily, assert_logits_match, load_exact, rewritten_checkpoint, tokens
from tests.models.paged_checks import test_paged_logits_match_transformers  # noqa: F401 (runs here, on `tiny`)
from tests.models.serve_checks import REAL_TEMPLATES, assert_serves
from tests.models.tiny_models import build_tiny_hf, save_tiny_hf
from toolwire.models.architectures import config_from_hf, model_class_for
from toolwire.models.gpt_oss import GptOssForCausalLM, dequantize_mxfp4

TINY = dict(vocab_size=260, hidden_size=64, intermediate_size=32, num_hidden_layers=4, num_attention_heads=4,
            num_key_value_heads=2, head_dim=32, num_local_experts=8, num_experts_per_tok=2, sliding_window=5,
            max_position_embeddings=2048, rms_norm_eps=1e-5, bos_token_id=0, eos_token_id=1,
            swiglu_limit=2.0,  # low enough that a few percent of gate/up values get clamped
            rope_parameters={"rope_type": "yarn", "rope_theta": 150000.0, "factor": 4.0, "beta_fast": 32.0,
                             "beta_slow": 1.0, "truncate": False, "original_max_position_embeddings": 512})


def build_tiny_gpt_oss(seed: int = 0):
    hf = build_tiny_hf("GptOssConfig", "GptOssForCausalLM", seed=seed, **TINY)
    with torch.no_grad():
        for layer in hf.model.layers:  # sinks about as large as the scores, so they take real mass
            layer.self_attn.sinks.copy_(torch.randn(layer.self_attn.sinks.shape,
                                                    generator=torch.Generator().manual_seed(seed)))
    return hf


# Saved as transformers writes it: each layer's experts stacked, gate_up_proj [E, H, 2I], interleaved.
FAMILY = TinyFamily(lambda _: build_tiny_gpt_oss(), chat_template=REAL_TEMPLATES / "openai-gpt-oss-120b.jinja")
tiny = FAMILY.fixture()


def test_tiny_config(tiny):
    c = tiny.loaded.config
    assert isinstance(tiny.model, GptOssForCausalLM)
    assert c.layer_windows == (5, None, 5, None)
    assert (c.num_experts, c.num_experts_per_tok, c.swiglu_limit, c.swiglu_alpha) == (8, 2, 2.0, 1.702)
    assert c.attention_bias and c.attention_out_bias and c.rope_scaling.rope_type == "yarn"
    assert "expert" in tiny.model.cuda_graph_blocker()  # decode steps run eagerly on CUDA


# -- MXFP4 ------------------------------------------------------------------------------------------

def test_mxfp4_dequantization_by_hand():
    # Group 0, scale 2 ** (128 - 127) = 2: bytes 0x21 -> codes 1, 2 (low nibble first) -> 0.5, 1.0;
    # 0xF8 -> codes 8 (-0), 15 (-6); 0x7A -> codes 10 (-1), 7 (6). Group 1, scale 2 ** -2: 0x53 -> 1.5, 3.0.
    blocks = torch.zeros(1, 2, 16, dtype=torch.uint8)
    blocks[0, 0, :3] = torch.tensor([0x21, 0xF8, 0x7A])
    blocks[0, 1, 0] = 0x53
    scales = torch.tensor([[128, 125]], dtype=torch.uint8)
    expected = torch.zeros(1, 64)
    expected[0, :6] = torch.tensor([1.0, 2.0, -0.0, -12.0, -2.0, 12.0])
    expected[0, 32:34] = torch.tensor([0.375, 0.75])
    values = dequantize_mxfp4(blocks, scales)
    assert values.dtype == torch.bfloat16
    torch.testing.assert_close(values.float(), expected, atol=0, rtol=0)
    assert torch.signbit(values[0, 2])
    # With a leading experts dimension, each expert is its own [rows, G, 16] slice.
    stacked = dequantize_mxfp4(torch.stack((blocks, blocks.flip(1))), torch.stack((scales, scales.flip(1))))
    torch.testing.assert_close(stacked[1].float(), torch.cat((expected[:, 32:], expected[:, :32]), 1),
                               atol=0, rtol=0)


def e2m1(code: int) -> float:
    """An FP4 code's value, from its bits: sign, 2 exponent bits, 1 mantissa bit (exponent 0: subnormal)."""
    sign, exponent, mantissa = code >> 3, (code >> 1) & 3, code & 1
    magnitude = mantissa / 2 if exponent == 0 else (1 + mantissa / 2) * 2.0 ** (exponent - 1)
    return -magnitude if sign else magnitude


def random_mxfp4(generator: torch.Generator, experts: int, rows: int, columns: int):
    """(blocks, scales, the weight [experts, rows, columns] they hold), packed here independently."""
    codes = torch.randint(0, 16, (experts, rows, columns), generator=generator, dtype=torch.uint8)
    scales = torch.randint(121, 125, (experts, rows, columns // 32), generator=generator, dtype=torch.uint8)
    values = torch.tensor([e2m1(c) for c in range(16)])[codes.long()]
    weight = values * 2.0 ** (scales.float() - 127).repeat_interleave(32, dim=-1)
    pairs = codes.view(experts, rows, columns // 32, 16, 2)
    return pairs[..., 0] | (pairs[..., 1] << 4), scales, weight


def test_mxfp4_checkpoint_matches_transformers(tmp_path):
    """Experts shipped as OpenAI does (blocks + scales, [E, out rows, in / 32, 16]; "quant_method":
    "mxfp4"), holding exactly the weights the transformers model runs with."""
    hf = build_tiny_gpt_oss(seed=1)
    generator, packed = torch.Generator().manual_seed(1), {}
    with torch.no_grad():
        for i, layer in enumerate(hf.model.layers):
            for proj in ("gate_up_proj", "down_proj"):
                param = getattr(layer.mlp.experts, proj)  # [E, in, out]
                blocks, scales, weight = random_mxfp4(generator, param.shape[0], param.shape[2], param.shape[1])
                param.copy_(weight.transpose(1, 2))
                packed[f"model.layers.{i}.mlp.experts.{proj}"] = blocks, scales
    plain = save_tiny_hf(hf, tmp_path / "plain")
    tensors = load_file(plain / "model.safetensors")
    for name, (blocks, scales) in packed.items():
        del tensors[name]
        tensors[name + "_blocks"], tensors[name + "_scales"] = blocks, scales
    mxfp4 = rewritten_checkpoint(plain, tmp_path / "mxfp4", tensors, {"quantization_config": {"quant_method": "mxfp4"}})
    assert_logits_match(load_exact(mxfp4).model, hf, tokens(60, 14), (9, 1, 1, 3))


# -- the real config ---------------------------------------------------------------------------------

GPT_OSS_20B_CONFIG = {
    "architectures": ["GptOssForCausalLM"], "attention_bias": True, "attention_dropout": 0.0,
    "eos_token_id": 200002, "experts_per_token": 4, "head_dim": 64, "hidden_act": "silu", "hidden_size": 2880,
    "initial_context_length": 4096, "intermediate_size": 2880,
    "layer_types": ["sliding_attention", "full_attention"] * 12, "max_position_embeddings": 131072,
    "model_type": "gpt_oss", "num_attention_heads": 64, "num_experts_per_tok": 4, "num_hidden_layers": 24,
    "num_key_value_heads": 8, "num_local_experts": 32, "pad_token_id": 199999,
    "quantization_config": {"quant_method": "mxfp4"}, "rms_norm_eps": 1e-05,
    "rope_scaling": {"beta_fast": 32.0, "beta_slow": 1.0, "factor": 32.0, "original_max_position_embeddings": 4096,
                     "rope_type": "yarn", "truncate": False},
    "rope_theta": 150000, "sliding_window": 128, "swiglu_limit": 7.0, "tie_word_embeddings": False,
    "vocab_size": 201088,
}


def test_gpt_oss_20b_config():
    c = config_from_hf(GPT_OSS_20B_CONFIG, {"eos_token_id": [200002, 199999, 200012]})
    assert model_class_for(c) is GptOssForCausalLM
    assert c.layer_windows == (128, None) * 12 and (c.num_heads, c.num_kv_heads, c.head_dim) == (64, 8, 64)
    assert (c.num_experts, c.num_experts_per_tok, c.swiglu_limit) == (32, 4, 7.0)
    assert c.rope_theta == 150000 and c.rope_scaling.factor == 32.0 and not c.rope_scaling.truncate
    assert set(c.eos_token_ids) == {200002, 199999, 200012}
    model = GptOssForCausalLM(c, device="meta", dtype=torch.bfloat16)
    assert model.kv_cache_bytes_per_block(16, torch.bfloat16) // 16 == 24 * 2 * 8 * 64 * 2  # 48 KiB a token
    bank = model.layers[0].mlp.experts
    assert bank.gate_up.shape == (32, 5760, 2880) and bank.down.shape == (32, 2880, 2880)


# -- served ---------------------------------------------------------------------------------------

def test_serve_with_gpt_oss_template(tmp_path_factory):
    """Harmony's calls (`<|channel|>commentary to=functions.f ...`), parsed back to JSON arguments."""
    assert_serves(FAMILY.checkpoint(tmp_path_factory), "openai")
