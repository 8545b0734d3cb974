"""MiniMax-M2 (HF model_type "minimax_m2"): GLM-4.5's layer (glm4_moe.py) with these differences.

- q/k norm over the whole projection: one RMSNorm across all heads of q (num_heads * head_dim wide)
  and one across all of k, before the split into heads -- not per head as Qwen3 / GLM do.
- Partial rotary of `rotary_dim` dimensions per head (halves layout within them); no biases.
- The config is a Glm4MoeConfig, whose qk_norm here means the whole-projection norms.
- Every layer is a mixture of experts; no shared experts, no groups: sigmoid router with the
  e_score_correction_bias, top-k, always renormalised, no scaling factor.
- Checkpoint names: `block_sparse_moe.` for the feed-forward, experts' w1 / w3 / w2 (gate / up /
  down), the correction bias beside the gate rather than in it. The released weights are FP8 with
  block scales; they load dequantized, as every family's (fp8.py).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from toolwire.models.config import dense_config_from_hf, model_config_fields
from toolwire.models.experts import MIXTRAL_EXPERT_NAMING
from toolwire.models.glm4_moe import Glm4MoeConfig, Glm4MoeForCausalLM, PartialRotaryAttention, hf_rotary_dim
from toolwire.models.llama import RMSNorm


def minimax_m2_config_from_hf(cfg: Mapping[str, Any],
                              generation_config: Mapping[str, Any] | None = None) -> Glm4MoeConfig:
    scoring = cfg.get("scoring_func", "sigmoid")
    if scoring != "sigmoid":
        raise ValueError(f"MiniMax-M2 routing scoring_func {scoring!r} is not supported (supported: sigmoid)")
    base = dense_config_from_hf(cfg, generation_config)
    return Glm4MoeConfig(
        **model_config_fields(base) | dict(attention_bias=False, attention_out_bias=False, qk_norm=True),
        rotary_dim=hf_rotary_dim(cfg, base.head_dim, default_factor=1.0),
        num_experts=int(cfg.get("num_local_experts", 256)),
        num_experts_per_tok=int(cfg.get("num_experts_per_tok", 8)),
        moe_intermediate_size=base.intermediate_size,
        routing_bias=bool(cfg.get("use_routing_bias", True)),
    )


class WholeProjectionNormAttention(PartialRotaryAttention):
    def __init__(self, config: Glm4MoeConfig, layer: int, device=None, dtype=None):
        super().__init__(config, layer, device, dtype)
        self.q_norm = RMSNorm(self.q_size, config.rms_norm_eps, device, dtype)
        self.k_norm = RMSNorm(self.kv_size, config.rms_norm_eps, device, dtype)

    def normalize_qk(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q_norm(q), self.k_norm(k)


class MiniMaxM2ForCausalLM(Glm4MoeForCausalLM):
    attention_class = WholeProjectionNormAttention
    expert_naming = MIXTRAL_EXPERT_NAMING
    correction_bias_name = "e_score_correction_bias"


def _architectures():
    from toolwire.models.architectures import Architecture

    return (Architecture(
        name="minimax_m2", hf_model_types=("minimax_m2",), read_hf_config=minimax_m2_config_from_hf,
        model_class=MiniMaxM2ForCausalLM, covers="MiniMax-M2"),)


ARCHITECTURES = _architectures()
