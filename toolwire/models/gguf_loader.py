"""A GGUF file as a checkpoint: config, HF-named tensors, tokenizer and chat template from one file."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from toolwire.models.architectures import config_from_gguf
from toolwire.models.config import ModelConfig
from toolwire.models.gguf_file import GGUFFile
from toolwire.models.gguf_tokenizer import tokenizer_from_gguf
from toolwire.models.quantized import KERNEL_TYPES, QuantizedTensor

_GLOBAL_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
_LAYER_NAMES = {
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "self_attn.q_norm": "attn_q_norm",
    "self_attn.k_norm": "attn_k_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    # Mixture-of-experts layers: the router, and the shared expert with its gate (Qwen2-MoE).
    "mlp.gate": "ffn_gate_inp",
    "block_sparse_moe.gate": "ffn_gate_inp",
    "mlp.shared_expert.gate_proj": "ffn_gate_shexp",
    "mlp.shared_expert.up_proj": "ffn_up_shexp",
    "mlp.shared_expert.down_proj": "ffn_down_shexp",
    "mlp.shared_expert_gate": "ffn_gate_inp_shexp",
}
_LAYER_PATTERN = re.compile(r"model\.layers\.(\d+)\.(.+)\.(weight|bias)")
# llama.cpp stores a layer's experts stacked, ffn_{gate,up,down}_exps [E, ...]; the models ask for
# them as model.layers.N.mlp.experts.{gate,up,down}_proj (see experts.ExpertTensors).
_STACKED_EXPERTS_PATTERN = re.compile(r"model\.layers\.(\d+)\.mlp\.experts\.(gate|up|down)_proj")
# llama.cpp's converter reorders the rows of q and k for these architectures (its rotary pairs
# adjacent elements, HF's pairs the two halves of a head); `_unpermute` undoes it.
_PERMUTED_ARCHITECTURES = {"llama", "granite"}
_QUANT_SUFFIX = re.compile(r"[.-](I?Q\d\w*|F16|F32|BF16)$", re.IGNORECASE)


def gguf_tensor_name(hf_name: str) -> str:
    if hf_name in _GLOBAL_NAMES:
        return _GLOBAL_NAMES[hf_name]
    stacked = _STACKED_EXPERTS_PATTERN.fullmatch(hf_name)
    if stacked is not None:
        return f"blk.{stacked.group(1)}.ffn_{stacked.group(2)}_exps.weight"
    match = _LAYER_PATTERN.fullmatch(hf_name)
    if match is None or match.group(2) not in _LAYER_NAMES:
        raise KeyError(hf_name)
    layer, module, kind = match.groups()
    return f"blk.{layer}.{_LAYER_NAMES[module]}.{kind}"


def _unpermute(tensor: torch.Tensor, num_heads: int) -> torch.Tensor:
    rows = tensor.shape[0]
    return (tensor.reshape(num_heads, rows // num_heads // 2, 2, *tensor.shape[1:])
            .transpose(1, 2).reshape(tensor.shape))


def _read_config(meta, tensor_names: set[str], freq_factors) -> ModelConfig:
    if meta.get("general.architecture") == "llama" and meta.get("llama.expert_count"):
        # Mixtral: llama.cpp writes it as "llama" with experts.
        from toolwire.models.sparse_moe import sparse_moe_config_from_gguf

        return sparse_moe_config_from_gguf(meta, tensor_names, freq_factors)
    return config_from_gguf(meta, tensor_names, freq_factors)


class GGUFCheckpoint:
    def __init__(self, path: Path):
        self.path = path
        self.file = GGUFFile(path)
        self.metadata = self.file.metadata
        freq_factors = None
        if "rope_freqs.weight" in self.file.tensors:  # llama3 rope scaling, stored as per-frequency divisors
            freq_factors = tuple(self.file.tensor("rope_freqs.weight").tolist())
        self.config: ModelConfig = _read_config(self.metadata, set(self.file.tensors), freq_factors)
        self._permuted = self.metadata.get("general.architecture") in _PERMUTED_ARCHITECTURES
        self.name = _QUANT_SUFFIX.sub("", path.stem)

    def tensor(self, hf_name: str) -> torch.Tensor:
        name = gguf_tensor_name(hf_name)
        if name not in self.file.tensors:
            raise KeyError(f"{hf_name} (GGUF tensor {name})")
        tensor = self.file.tensor(name)
        if self._permuted and name.endswith(("attn_q.weight", "attn_q.bias")):
            tensor = _unpermute(tensor, self.config.num_heads)
        elif self._permuted and name.endswith(("attn_k.weight", "attn_k.bias")):
            tensor = _unpermute(tensor, self.config.num_kv_heads)
        elif name.endswith("ffn_gate_inp_shexp.weight") and tensor.dim() == 1:
            tensor = tensor.unsqueeze(0)  # HF's shared_expert_gate is a [1, hidden] nn.Linear weight
        return tensor

    def quantized_tensor(self, hf_name: str) -> QuantizedTensor | None:
        """The tensor in its file layout, when that is a quantized one with kernels (else None)."""
        name = gguf_tensor_name(hf_name)
        info = self.file.tensors.get(name)
        if info is None or len(info.shape) != 2 or int(info.qtype) not in KERNEL_TYPES:
            return None
        rows = self.file.raw_rows(name)
        if self._permuted and name.endswith("attn_q.weight"):
            rows = _unpermute(rows, self.config.num_heads).contiguous()
        elif self._permuted and name.endswith("attn_k.weight"):
            rows = _unpermute(rows, self.config.num_kv_heads).contiguous()
        return QuantizedTensor(int(info.qtype), rows)

    @property
    def file_bytes(self) -> int:
        return self.path.stat().st_size

    def tokenizer(self):
        return tokenizer_from_gguf(self.metadata, self.path)

    def chat_template(self) -> str | None:
        return self.metadata.get("tokenizer.chat_template")
