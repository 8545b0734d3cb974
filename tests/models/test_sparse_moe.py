"""Mixtral, Qwen2-MoE and Qwen3-MoE (toolwire/models/sparse_moe.py) against transformers' own classes.

Tiny random-weight checkpoints (tests/models/tiny_moe.py), 8 experts, top 2: Mixtral with a sliding
window of 6; Qwen2-MoE with a gated shared expert, top-k weights not renormalised and dense layers
between the sparse ones (decoder_sparse_step 2); Qwen3-MoE with q/k norms, renormalised weights and
a dense layer from mlp_only_layers. For each: logits through the paged cache in every way the engine
uses it (fp32, 1e-4), the same from stacked expert tensors and from GGUF files as llama.cpp writes
them, the engine's greedy tokens against transformers' generate, and `toolwire serve` on the Qwen3-MoE
folder with Qwen3-Coder's real chat template (a required tool call in the qwen3_coder format, greedy
tokens equal to transformers' generate).
"""

from __future__ import annotations

import logging

import pytest
import torch

from tests.models.paged import paged_logits
from tests.models.paged_checks import TinyFamily, assert_logits_match, assert_stacked_experts_load, load_exact
from tests.models.paged_checks import test_paged_logits_match_transformers  # noqa: F401 (runs here, on `tiny`)
from tests.models.serve_checks import REAL_TEMPLATES, assert_serves
from tests.models.tiny_models import hf_logits
from tests.models.tiny_moe import build_tiny_moe_model, dequantized_moe_model, save_tiny_moe_gguf
from toolwire.engine import EngineConfig, LLMEngine, SamplingParams
from toolwire.models import load_model, sparse_moe
from toolwire.models.sparse_moe import SparseMoeBlock, SparseMoeForCausalLM, sparse_moe_config_from_hf

ARCHES = ("mixtral", "qwen2_moe", "qwen3_moe")
FAMILY = TinyFamily(build_tiny_moe_model, ARCHES,
                    chat_template={"qwen3_moe": REAL_TEMPLATES / "Qwen-Qwen3-Coder-30B-A3B-Instruct.jinja"})
tiny = FAMILY.fixture()
TOKENS = [5, 77, 200, 31, 9, 140, 66, 250, 18, 4, 99, 123, 45, 7]
CHUNKS = (9, 1, 1, 3)  # prefill, decodes, a chunk after a cached prefix


def test_config(tiny):
    c, hf = tiny.loaded.config, tiny.hf.config
    assert isinstance(tiny.model, SparseMoeForCausalLM) and c.architecture == tiny.variant
    assert (c.num_experts, c.num_experts_per_tok, c.moe_intermediate_size) == (8, 2, 32)
    expected = {"mixtral": dict(norm_topk_prob=True, shared_expert_intermediate_size=0, layer_windows=(6, 6)),
                "qwen2_moe": dict(norm_topk_prob=False, shared_expert_intermediate_size=64, attention_bias=True,
                                  attention_out_bias=False, decoder_sparse_step=2),
                "qwen3_moe": dict(norm_topk_prob=True, shared_expert_intermediate_size=0, qk_norm=True,
                                  mlp_only_layers=(1,))}[tiny.variant]
    assert {name: getattr(c, name) for name in expected} == expected
    # Sparse and dense layers where transformers has them.
    ours = [isinstance(layer.mlp, SparseMoeBlock) for layer in tiny.model.layers]
    assert ours == [hasattr(layer.mlp, "experts") for layer in tiny.hf.model.layers]
    sparse_layers = {"mixtral": [True] * 2, "qwen2_moe": [False, True] * 2, "qwen3_moe": [True, False, True]}
    assert ours == sparse_layers[tiny.variant]
    assert c.num_layers == hf.num_hidden_layers
    assert "expert" in tiny.model.cuda_graph_blocker()  # decode steps run eagerly on CUDA


def test_routing_varies_between_tokens(tiny, monkeypatch):
    """Over one 24-token prefill each sparse layer sends tokens to most of the 8 experts."""
    chosen = []

    def recording(logits, k, renormalize):
        ids, weights = routing(logits, k, renormalize)
        chosen.append(ids)
        return ids, weights

    routing = sparse_moe.softmax_top_k
    monkeypatch.setattr(sparse_moe, "softmax_top_k", recording)
    paged_logits(tiny.model, list(range(30, 54)), (24,))
    assert chosen and all(len(ids.unique()) >= 6 for ids in chosen)
    assert all(len({tuple(sorted(row)) for row in ids.tolist()}) >= 8 for ids in chosen)


def test_stacked_expert_tensors_load_too(tiny, tmp_path):
    """A folder with transformers' in-memory naming (experts.gate_up_proj [E, 2I, H], experts.down_proj;
    Mixtral's sparse block under "mlp.")."""
    assert_stacked_experts_load(tiny, tmp_path)


def test_kv_cache_bytes(tiny):
    c = tiny.loaded.config
    assert tiny.model.kv_cache_bytes_per_block(1, torch.float32) == c.num_layers * 2 * c.num_kv_heads * c.head_dim * 4


def test_real_qwen3_30b_a3b_config():
    """Qwen3-30B-A3B's config.json: 128 experts, 8 active, 30.5B parameters, 96 KiB of bf16 KV per token."""
    config = sparse_moe_config_from_hf({
        "model_type": "qwen3_moe", "vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 6144,
        "moe_intermediate_size": 768, "num_hidden_layers": 48, "num_attention_heads": 32, "num_key_value_heads": 4,
        "head_dim": 128, "num_experts": 128, "num_experts_per_tok": 8, "norm_topk_prob": True,
        "decoder_sparse_step": 1, "mlp_only_layers": [], "rope_theta": 1000000.0, "rope_scaling": None,
        "max_position_embeddings": 40960, "rms_norm_eps": 1e-06, "sliding_window": None,
        "use_sliding_window": False, "max_window_layers": 48, "tie_word_embeddings": False,
        "bos_token_id": 151643, "eos_token_id": 151645})
    model = SparseMoeForCausalLM(config, device="meta", dtype=torch.bfloat16)
    assert 30.5e9 < sum(p.numel() for p in model.parameters()) < 30.6e9
    assert model.kv_cache_bytes_per_block(1, torch.bfloat16) == 96 * 1024
    assert tuple(model.layers[0].mlp.experts.gate_up.shape) == (128, 2 * 768, 2048)


# -- GGUF -------------------------------------------------------------------------------------------

# llama.cpp's qwen2moe / qwen3moe have no dense layers, and its llama (Mixtral) no sliding window.
AS_LLAMA_CPP_HAS_THEM = {"mixtral": dict(sliding_window=None), "qwen2_moe": dict(decoder_sparse_step=1),
                         "qwen3_moe": dict(mlp_only_layers=[])}


@pytest.mark.parametrize("arch, qtype", [(arch, "F32") for arch in ARCHES] + [("qwen3_moe", "Q8_0")])
def test_gguf_logits_match_transformers(arch, qtype, tmp_path):
    """Experts stacked as ffn_{gate,up,down}_exps [E, ...], the router ffn_gate_inp, the shared expert
    ffn_*_shexp with its gate ffn_gate_inp_shexp; Mixtral as "llama" with llama.expert_count."""
    hf_model = build_tiny_moe_model(arch, **AS_LLAMA_CPP_HAS_THEM[arch])
    path = save_tiny_moe_gguf(arch, hf_model, tmp_path / f"tiny-{arch}.{qtype}.gguf", qtype)
    loaded = load_exact(path)
    assert loaded.config.architecture == arch
    assert_logits_match(loaded.model, dequantized_moe_model(hf_model, qtype), TOKENS, CHUNKS)


# -- the engine, and end to end ------------------------------------------------------------------

def test_engine_greedy_tokens_equal_transformers_generate(tiny):
    """Three prompts of different lengths through the engine together (batched decode, routing per
    row) continue as transformers' greedy argmax continues each alone."""
    prompts = [[0, 72, 101, 108, 108, 111], list(range(40, 71)), list(range(200, 180, -1))]
    engine = LLMEngine(EngineConfig(kv_cache_memory=0.002, block_size=4), tiny.loaded)
    params = SamplingParams(temperature=0, max_tokens=12, ignore_eos=True)
    for prompt, (completion,) in zip(prompts, engine.generate(prompts, params)):
        assert completion.token_ids == hf_greedy(tiny.hf, prompt, 12), prompt


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")
def test_cuda_engine_decodes_without_graphs_and_says_why(tiny, caplog):
    """The expert dispatch reads each expert's row count on the host, which a CUDA graph cannot capture:
    the engine runs the decode steps eagerly, logs why, and gives transformers' greedy tokens."""
    loaded = load_model(str(tiny.folder), device="cuda", dtype="float32", weights="exact", progress=False)
    with caplog.at_level(logging.INFO, logger="toolwire.engine.llm_engine"):
        engine = LLMEngine(EngineConfig(kv_cache_memory=0.002, block_size=4, device="cuda"), loaded)
    assert engine.runner.decode_graphs is None
    assert "without CUDA graphs: the expert dispatch" in caplog.text
    prompt = list(range(40, 71))
    [[completion]] = engine.generate([prompt], SamplingParams(temperature=0, max_tokens=8, ignore_eos=True))
    assert completion.token_ids == hf_greedy(tiny.hf, prompt, 8)


def hf_greedy(hf_model, prompt: list[int], count: int) -> list[int]:
    """transformers' argmax continuation, end-of-sequence tokens included (as with ignore_eos)."""
    ids = list(prompt)
    for _ in range(count):
        ids.append(int(hf_logits(hf_model, ids)[-1].argmax()))
    return ids[len(prompt):]


def test_serve_qwen3_moe_with_qwen3_coder_template(tmp_path_factory):
    """One server, for the family's main target (the other two architectures run the same engine,
    checked above): Qwen3-Coder's XML calls, parsed back to JSON arguments."""
    assert_serves(FAMILY.checkpoint(tmp_path_factory, "qwen3_moe"), "qwen3_coder")
