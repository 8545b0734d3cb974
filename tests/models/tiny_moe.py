"""Tiny random-weight mixture-of-experts models of the sparse_moe families (Mixtral, Qwen2-MoE,
Qwen3-MoE) built with transformers' own classes, and written as GGUF files the way llama.cpp's
converter lays them out.

    hf_model = build_tiny_moe_model("qwen2_moe", mlp_only_layers=[1])
    path = save_tiny_moe_gguf("mixtral", hf_model, tmp_path / "m.gguf", "Q8_0")

Each comes with a tiny config (hidden 64, 8 experts, top 2, vocab 260 for the byte-level tiny
tokenizer of tiny_models.py). Weights, routers included, are redrawn at a scale giving logits of a
few units, so routing varies from token to token. Saved (tiny_models.save_tiny_hf), the folder holds
what transformers saves: experts one by one, in the checkpoint's original naming, as real
checkpoints ship them.
"""

from __future__ import annotations

import copy
from pathlib import Path

import gguf
import numpy as np
import torch
import transformers
from gguf import GGMLQuantizationType
from gguf.quants import dequantize, quantize

from tests.models.tiny_gguf import _converter_permute, add_tiny_hparams, add_tiny_tokenizer
from tests.models.tiny_models import build_tiny_hf

_COMMON = dict(vocab_size=260, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
               max_position_embeddings=2048, rms_norm_eps=1e-5, bos_token_id=0, eos_token_id=1,
               num_experts_per_tok=2)

TINY_MOE_CONFIGS = {
    "mixtral": ("MixtralConfig", "MixtralForCausalLM", dict(
        intermediate_size=32, num_local_experts=8, sliding_window=6)),
    # A shared expert, top-k weights not renormalised, and dense layers between the sparse ones
    # (decoder_sparse_step 2: layers 1 and 3 are sparse).
    "qwen2_moe": ("Qwen2MoeConfig", "Qwen2MoeForCausalLM", dict(
        num_hidden_layers=4, intermediate_size=96, moe_intermediate_size=32, shared_expert_intermediate_size=64,
        num_experts=8, norm_topk_prob=False, decoder_sparse_step=2,
        rope_parameters={"rope_type": "default", "rope_theta": 1e6})),
    # mlp_only_layers: layer 1 is dense.
    "qwen3_moe": ("Qwen3MoeConfig", "Qwen3MoeForCausalLM", dict(
        num_hidden_layers=3, intermediate_size=96, moe_intermediate_size=32, num_experts=8, norm_topk_prob=True,
        head_dim=32, mlp_only_layers=[1])),
}


def build_tiny_moe_model(arch: str, seed: int = 0, **overrides) -> transformers.PreTrainedModel:
    """The transformers model (fp32, eval, eager attention) with random weights."""
    config_class, model_class, fields = TINY_MOE_CONFIGS[arch]
    return build_tiny_hf(config_class, model_class, seed, **{**_COMMON, **fields, **overrides})


# -- as llama.cpp's converter writes them -----------------------------------------------------------

_GGUF_ARCH = {"mixtral": gguf.MODEL_ARCH.LLAMA, "qwen2_moe": gguf.MODEL_ARCH.QWEN2MOE,
              "qwen3_moe": gguf.MODEL_ARCH.QWEN3MOE}
_ROUTERS = ("mlp.gate.weight", "mlp.shared_expert_gate.weight")  # llama.cpp keeps these in F32


def _gguf_tensors(arch: str, hf_model):
    """(converter's HF-style name, numpy array) of each tensor the file holds: each layer's experts
    stacked [E, ...] as model.layers.N.mlp.experts.{gate,up,down}_proj.weight, the shared expert's
    gate 1-D."""
    config = hf_model.config
    for name, tensor in hf_model.state_dict().items():
        if name == "lm_head.weight" and config.tie_word_embeddings:
            continue
        data = tensor.float().numpy()
        if name.endswith("mlp.experts.gate_up_proj"):
            gate, up = np.split(data, 2, axis=1)
            yield name.replace("gate_up_proj", "gate_proj.weight"), gate
            yield name.replace("gate_up_proj", "up_proj.weight"), up
        elif name.endswith("mlp.experts.down_proj"):
            yield name + ".weight", data
        elif name.endswith("shared_expert_gate.weight"):
            yield name, data.reshape(-1)
        elif arch == "mixtral" and name.split(".")[-2] in ("q_proj", "k_proj"):
            heads = config.num_attention_heads if "q_proj" in name else config.num_key_value_heads
            yield name, _converter_permute(data, heads)
        else:
            yield name, data


def _quantized(name: str, data: np.ndarray) -> bool:
    return data.ndim >= 2 and not name.endswith(_ROUTERS)


def save_tiny_moe_gguf(arch: str, hf_model, path: Path, qtype: str = "F32") -> Path:
    """The model as a GGUF file: weight matrices and expert stacks in qtype, the rest F32."""
    config = hf_model.config
    qtype = GGMLQuantizationType[qtype]
    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[_GGUF_ARCH[arch]])
    add_tiny_hparams(writer, config)
    writer.add_expert_count(getattr(config, "num_experts", None) or config.num_local_experts)
    writer.add_expert_used_count(config.num_experts_per_tok)
    if arch != "mixtral":
        writer.add_expert_feed_forward_length(config.moe_intermediate_size)
    if arch == "qwen2_moe":
        writer.add_expert_shared_feed_forward_length(config.shared_expert_intermediate_size)
    add_tiny_tokenizer(writer)
    names = gguf.get_tensor_name_map(_GGUF_ARCH[arch], config.num_hidden_layers)
    for name, data in _gguf_tensors(arch, hf_model):
        gguf_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise KeyError(f"the gguf package has no name for {name}")
        if _quantized(name, data):
            writer.add_tensor(gguf_name, quantize(np.ascontiguousarray(data), qtype), raw_dtype=qtype)
        else:
            writer.add_tensor(gguf_name, np.ascontiguousarray(data))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def dequantized_moe_model(hf_model, qtype: str):
    """A copy of the transformers model with the weights a reader of the qtype file gets back."""
    qtype = GGMLQuantizationType[qtype]
    model = copy.deepcopy(hf_model)
    with torch.no_grad():
        for name, param in model.named_parameters():
            data = param.detach().numpy()
            if _quantized(name, data):
                param.copy_(torch.from_numpy(dequantize(quantize(data, qtype), qtype).reshape(data.shape)))
    return model
