"""Sparse mixture-of-experts decoders on the Llama skeleton: Mixtral, Qwen2-MoE (Qwen1.5-MoE, Qwen2-57B)
and Qwen3-MoE (Qwen3-30B-A3B, Qwen3-Coder-30B-A3B, Qwen3-235B-A22B).

Attention is Llama's (Qwen2-MoE with q/k/v biases, Qwen3-MoE with per-head q/k norms). What differs is
the feed-forward of a sparse layer: a router (softmax over all experts, the top k, renormalised to sum
to 1 with norm_topk_prob; Mixtral always renormalises) in front of an ExpertBank. Qwen2-MoE adds a
shared expert, a dense MLP every token goes through, scaled by sigmoid(shared_expert_gate . x). The
Qwen models can keep some layers dense (an MLP of intermediate_size): those in mlp_only_layers and
those not on the decoder_sparse_step grid.

Routers stay exact whatever `set_matmul_weights` picks for the linear layers: a router weight rounded
to int8 moves near ties, and a token sent to another expert takes a different path altogether.

Checkpoints hold the experts one by one (Mixtral: block_sparse_moe.experts.N.w1/w3/w2, Qwen:
mlp.experts.N.gate_proj/up_proj/down_proj); stacked [E, ...] tensors are read too (experts.ExpertTensors).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F

from toolwire.models.config import ModelConfig, dense_config_from_gguf, dense_config_from_hf, model_config_fields
from toolwire.models.experts import HF_EXPERT_NAMING, MIXTRAL_EXPERT_NAMING, ExpertBank, ExpertTensors
from toolwire.models.llama import MLP, DecoderLayer, LlamaForCausalLM
from toolwire.models.routing import softmax_top_k


@dataclass
class SparseMoeConfig(ModelConfig):
    num_experts: int = 8
    num_experts_per_tok: int = 2
    moe_intermediate_size: int = 0  # an expert's (intermediate_size is the dense layers')
    shared_expert_intermediate_size: int = 0  # 0: no shared expert
    norm_topk_prob: bool = True
    # A layer is sparse when (layer + 1) % decoder_sparse_step == 0 and it is not in mlp_only_layers.
    decoder_sparse_step: int = 1
    mlp_only_layers: tuple[int, ...] = ()

    def is_sparse(self, layer: int) -> bool:
        return layer not in self.mlp_only_layers and (layer + 1) % self.decoder_sparse_step == 0


# -- the model --------------------------------------------------------------------------------------

class SparseMoeBlock(torch.nn.Module):
    """Router + experts (+ the gated shared expert): [T, hidden] -> [T, hidden]."""

    def __init__(self, config: SparseMoeConfig, device=None, dtype=None):
        super().__init__()
        self.top_k, self.renormalize = config.num_experts_per_tok, config.norm_topk_prob

        def exact_weight(*shape):
            return torch.nn.Parameter(torch.empty(*shape, device=device, dtype=dtype), requires_grad=False)

        self.router = exact_weight(config.num_experts, config.hidden_size)
        self.experts = ExpertBank(config.num_experts, config.hidden_size, config.moe_intermediate_size,
                                  device=device, dtype=dtype)
        self.shared_expert = self.shared_expert_gate = None
        if config.shared_expert_intermediate_size:
            shared = replace(config, intermediate_size=config.shared_expert_intermediate_size, mlp_bias=False)
            self.shared_expert = MLP(shared, device, dtype)
            self.shared_expert_gate = exact_weight(1, config.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expert_ids, weights = softmax_top_k(F.linear(x, self.router), self.top_k, self.renormalize)
        out = self.experts.forward(x, expert_ids, weights)
        if self.shared_expert is not None:
            out += torch.sigmoid(F.linear(x, self.shared_expert_gate)) * self.shared_expert.forward(x)
        return out


class SparseMoeForCausalLM(LlamaForCausalLM):
    config: SparseMoeConfig

    def make_layer(self, config: SparseMoeConfig, layer: int, device, dtype) -> torch.nn.Module:
        mlp = SparseMoeBlock(config, device, dtype) if config.is_sparse(layer) else None
        return DecoderLayer(config, layer, device, dtype, mlp=mlp)

    def mlp_weight_plan(self, mlp: torch.nn.Module, prefix: str, layer: int) -> list[tuple[torch.Tensor, list[str]]]:
        if not isinstance(mlp, SparseMoeBlock):
            return super().mlp_weight_plan(mlp, prefix, layer)
        naming = MIXTRAL_EXPERT_NAMING if self.config.architecture == "mixtral" else HF_EXPERT_NAMING
        block = prefix.removesuffix("mlp.") + naming.block + "."
        plan = [(mlp.router, [block + "gate.weight"])]
        plan += mlp.experts.weight_plan(block + "experts.", naming)
        if mlp.shared_expert is not None:
            plan += super().mlp_weight_plan(mlp.shared_expert, block + "shared_expert.", layer)
            plan.append((mlp.shared_expert_gate, [block + "shared_expert_gate.weight"]))
        return plan

    def load_weights(self, get: Callable[[str], torch.Tensor]) -> None:
        super().load_weights(ExpertTensors(get))


# -- configs ----------------------------------------------------------------------------------------

def sparse_moe_config_from_hf(cfg: Mapping[str, Any],
                              generation_config: Mapping[str, Any] | None = None) -> SparseMoeConfig:
    arch = cfg.get("model_type")
    base = dense_config_from_hf(cfg, generation_config)  # the attention half, read as Llama's
    num_layers = base.num_layers
    family: dict[str, Any] = dict(
        num_experts=int(cfg.get("num_experts") or cfg.get("num_local_experts") or 0),
        num_experts_per_tok=int(cfg.get("num_experts_per_tok", 2)),
    )
    window = cfg.get("sliding_window")
    if arch == "mixtral":
        family.update(moe_intermediate_size=base.intermediate_size, norm_topk_prob=True,
                      layer_windows=(window or None,) * num_layers)
    else:
        family.update(
            moe_intermediate_size=int(cfg["moe_intermediate_size"]),
            shared_expert_intermediate_size=int(cfg.get("shared_expert_intermediate_size") or 0)
            if arch == "qwen2_moe" else 0,
            norm_topk_prob=bool(cfg.get("norm_topk_prob", False)),
            decoder_sparse_step=int(cfg.get("decoder_sparse_step") or 1),
            mlp_only_layers=tuple(cfg.get("mlp_only_layers") or ()),
            layer_windows=_qwen_layer_windows(cfg, arch, num_layers))
    if arch == "qwen2_moe":
        family.update(attention_bias=bool(cfg.get("qkv_bias", True)), attention_out_bias=False)
    if arch == "qwen3_moe":
        family.update(qk_norm=True)
    return SparseMoeConfig(**model_config_fields(base) | family)


def _qwen_layer_windows(cfg: Mapping[str, Any], arch: str, num_layers: int) -> tuple[int | None, ...]:
    window = cfg.get("sliding_window")
    if not (window and cfg.get("use_sliding_window")):
        return (None,) * num_layers
    if arch == "qwen3_moe":  # every layer
        return (window,) * num_layers
    # transformers' default for qwen2_moe: the even layers below max_window_layers slide.
    layer_types = cfg.get("layer_types") or [
        "sliding_attention" if i % 2 == 0 and i < cfg.get("max_window_layers", 28) else "full_attention"
        for i in range(num_layers)]
    return tuple(window if t == "sliding_attention" else None for t in layer_types)


# GGUF general.architecture -> (HF model_type, the dense GGUF architecture whose reader reads the rest).
_GGUF_FAMILIES = {"qwen2moe": ("qwen2_moe", "qwen2"), "qwen3moe": ("qwen3_moe", "qwen3"), "llama": ("mixtral", "llama")}
# llama.cpp renormalises the top-k weights for these (unless the file says otherwise).
_GGUF_RENORMALIZED = {"llama", "qwen3moe"}


def sparse_moe_config_from_gguf(meta: Mapping[str, Any], tensor_names: set[str],
                                freq_factors: tuple[float, ...] | None = None) -> SparseMoeConfig:
    """llama.cpp's qwen2moe / qwen3moe, and Mixtral, which it writes as "llama" with an expert_count.
    Layers without a router tensor (blk.N.ffn_gate_inp) are dense."""
    gguf_arch = meta["general.architecture"]
    arch, dense_arch = _GGUF_FAMILIES[gguf_arch]

    def get(key: str, default: Any = None) -> Any:
        return meta.get(f"{gguf_arch}.{key}", default)

    # The attention half is the dense architecture's: its reader gets the keys under its name.
    dense_meta = {(f"{dense_arch}.{k[len(gguf_arch) + 1:]}" if k.startswith(gguf_arch + ".") else k): v
                  for k, v in meta.items()}
    dense_meta["general.architecture"] = dense_arch
    dense_meta.setdefault(f"{dense_arch}.feed_forward_length", get("expert_feed_forward_length"))
    base = dense_config_from_gguf(dense_meta, tensor_names, freq_factors)
    num_layers = base.num_layers
    has_shared = any(n.endswith("ffn_gate_shexp.weight") for n in tensor_names)
    return SparseMoeConfig(
        **model_config_fields(base) | dict(architecture=arch),
        num_experts=int(get("expert_count")),
        num_experts_per_tok=int(get("expert_used_count")),
        moe_intermediate_size=int(get("expert_feed_forward_length") or base.intermediate_size),
        shared_expert_intermediate_size=int(get("expert_shared_feed_forward_length") or base.intermediate_size)
        if has_shared else 0,
        norm_topk_prob=bool(get("expert_weights_norm", gguf_arch in _GGUF_RENORMALIZED)),
        mlp_only_layers=tuple(i for i in range(num_layers) if f"blk.{i}.ffn_gate_inp.weight" not in tensor_names),
    )


def _architectures():
    from toolwire.models.architectures import Architecture

    return (
        Architecture(name="mixtral", hf_model_types=("mixtral",), read_hf_config=sparse_moe_config_from_hf,
                     model_class=SparseMoeForCausalLM, covers="Mixtral 8x7B, Mixtral 8x22B",
                     # llama.cpp writes Mixtral as "llama" with llama.expert_count: gguf_loader sends
                     # such files to sparse_moe_config_from_gguf.
                     read_gguf_config=sparse_moe_config_from_gguf),
        Architecture(name="qwen2_moe", hf_model_types=("qwen2_moe",), read_hf_config=sparse_moe_config_from_hf,
                     model_class=SparseMoeForCausalLM, covers="Qwen1.5-MoE-A2.7B, Qwen2-57B-A14B",
                     gguf_architectures=("qwen2moe",), read_gguf_config=sparse_moe_config_from_gguf),
        Architecture(name="qwen3_moe", hf_model_types=("qwen3_moe",), read_hf_config=sparse_moe_config_from_hf,
                     model_class=SparseMoeForCausalLM,
                     covers="Qwen3-30B-A3B, Qwen3-Coder-30B-A3B-Instruct, Qwen3-235B-A22B",
                     gguf_architectures=("qwen3moe",), read_gguf_config=sparse_moe_config_from_gguf),
    )


ARCHITECTURES = _architectures()
