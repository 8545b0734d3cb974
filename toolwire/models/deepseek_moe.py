"""The mixture of experts DeepSeek-V3 introduced, which Kimi-K2, GLM-4.5 and MiniMax-M2 reuse.

After the first `first_dense_layers` dense layers (every `moe_layer_freq`-th layer, in DeepSeek's
configs), the feed-forward is: a sigmoid router whose choice adds a score-correction bias and keeps
the best `expert_groups_kept` of `num_expert_groups` groups (routing.biased_grouped_top_k,
renormalised, times routed_scaling_factor); the chosen experts in an ExpertBank; plus always-on
shared experts, one dense MLP of num_shared_experts * moe_intermediate_size. The router (weight and
bias) is held in float32 whatever the model's dtype, as the reference does.

`DeepseekMoeForCausalLM` is the Llama skeleton with this feed-forward; a family picks its attention
(`attention_class`) and its checkpoint's names (`expert_naming`, `correction_bias_name`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F

from toolwire.models.config import ModelConfig
from toolwire.models.experts import HF_EXPERT_NAMING, ExpertBank, ExpertNaming, ExpertTensors
from toolwire.models.llama import MLP, Attention, DecoderLayer, LlamaForCausalLM
from toolwire.models.routing import biased_grouped_top_k


@dataclass
class DeepseekMoeConfig(ModelConfig):
    num_experts: int = 0
    num_experts_per_tok: int = 1
    moe_intermediate_size: int = 0  # an expert's (intermediate_size is the dense layers')
    num_shared_experts: int = 0
    first_dense_layers: int = 0
    moe_layer_freq: int = 1
    num_expert_groups: int = 1
    expert_groups_kept: int = 1
    norm_topk_prob: bool = True
    routed_scaling_factor: float = 1.0
    routing_bias: bool = True  # the router's e_score_correction_bias

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_experts % self.num_expert_groups:
            raise ValueError(f"{self.num_experts} experts cannot form {self.num_expert_groups} groups")

    def is_moe_layer(self, layer: int) -> bool:
        return self.num_experts > 0 and layer >= self.first_dense_layers and layer % self.moe_layer_freq == 0


def deepseek_moe_fields_from_hf(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The expert fields, as DeepSeek-V3's and GLM-4.5's config.json name them."""
    return dict(
        num_experts=int(cfg.get("n_routed_experts") or cfg.get("num_local_experts") or 0),
        num_experts_per_tok=int(cfg.get("num_experts_per_tok") or 1),
        moe_intermediate_size=int(cfg.get("moe_intermediate_size") or 0),
        num_shared_experts=int(cfg.get("n_shared_experts") or 0),
        first_dense_layers=int(cfg.get("first_k_dense_replace") or 0),
        moe_layer_freq=int(cfg.get("moe_layer_freq") or 1),
        num_expert_groups=int(cfg.get("n_group") or 1),
        expert_groups_kept=int(cfg.get("topk_group") or 1),
        norm_topk_prob=bool(cfg.get("norm_topk_prob", True)),
        routed_scaling_factor=float(cfg.get("routed_scaling_factor", 1.0)),
    )


class DeepseekMoE(torch.nn.Module):
    """Routed experts chosen by the biased grouped sigmoid router, plus the shared experts."""

    def __init__(self, config: DeepseekMoeConfig, device=None, dtype=None):
        super().__init__()
        c = self.config = config

        def float32_param(*shape):
            return torch.nn.Parameter(torch.zeros(*shape, device=device, dtype=torch.float32), requires_grad=False)

        self.router = float32_param(c.num_experts, c.hidden_size)
        self.correction_bias = float32_param(c.num_experts) if c.routing_bias else None
        self.experts = ExpertBank(c.num_experts, c.hidden_size, c.moe_intermediate_size, device=device, dtype=dtype)
        shared_size = c.num_shared_experts * c.moe_intermediate_size
        self.shared_experts = MLP(dataclasses.replace(c, intermediate_size=shared_size), device, dtype) \
            if shared_size else None

    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [T, hidden] -> expert ids, weights, each [T, num_experts_per_tok]."""
        c = self.config
        return biased_grouped_top_k(F.linear(x.float(), self.router), self.correction_bias, c.num_experts_per_tok,
                                    c.num_expert_groups, c.expert_groups_kept, c.norm_topk_prob,
                                    c.routed_scaling_factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.experts.forward(x, *self.route(x))
        if self.shared_experts is not None:
            out += self.shared_experts.forward(x)
        return out


class DeepseekMoeForCausalLM(LlamaForCausalLM):
    config: DeepseekMoeConfig
    attention_class: type[torch.nn.Module] = Attention  # built as attention_class(config, layer, device, dtype)
    expert_naming: ExpertNaming = HF_EXPERT_NAMING
    correction_bias_name = "gate.e_score_correction_bias"  # within the sparse block

    def make_layer(self, config: DeepseekMoeConfig, layer: int, device, dtype) -> torch.nn.Module:
        mlp = DeepseekMoE(config, device, dtype) if config.is_moe_layer(layer) else MLP(config, device, dtype)
        return DecoderLayer(config, layer, device, dtype, attention=self.attention_class(config, layer, device, dtype),
                            mlp=mlp)

    def mlp_weight_plan(self, mlp: torch.nn.Module, prefix: str, layer: int) -> list[tuple[torch.Tensor, list[str]]]:
        if not isinstance(mlp, DeepseekMoE):
            return super().mlp_weight_plan(mlp, prefix, layer)
        block = prefix.removesuffix("mlp.") + self.expert_naming.block + "."
        plan = [(mlp.router, [block + "gate.weight"])]
        if mlp.correction_bias is not None:
            plan.append((mlp.correction_bias, [block + self.correction_bias_name]))
        plan += mlp.experts.weight_plan(block + "experts.", self.expert_naming)
        if mlp.shared_experts is not None:
            plan += super().mlp_weight_plan(mlp.shared_experts, block + "shared_experts.", layer)
        return plan

    def load_weights(self, get: Callable[[str], torch.Tensor]) -> None:
        super().load_weights(ExpertTensors(get))
