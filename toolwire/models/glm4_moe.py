"""GLM-4.5 / 4.5-Air / 4.6 (HF model_type "glm4_moe"): the Llama layer with three changes.

- Partial rotary: only the first `rotary_dim` dimensions of each q/k head rotate (half of them in the
  released models), in the halves layout within that part; the rest pass through unchanged.
- Attention: biases on q/k/v (none on o), and an optional RMSNorm per q/k head before the rotary.
- Feed-forward: the first `first_k_dense_replace` layers are dense MLPs; every later one is
  DeepSeek-V3's mixture of experts (deepseek_moe.py: sigmoid router with a correction bias and
  grouped top-k, routed experts, shared experts).

Checkpoints also ship the multi-token-prediction layer (layer index num_hidden_layers); it is not
read. The -FP8 releases load dequantized, as every family's (fp8.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch

from toolwire.models.config import dense_config_from_hf, hf_rope_parameters, model_config_fields
from toolwire.models.deepseek_moe import DeepseekMoeConfig, DeepseekMoeForCausalLM, deepseek_moe_fields_from_hf
from toolwire.models.llama import Attention
from toolwire.models.rotary import RotaryEmbedding, apply_rotary


@dataclass
class Glm4MoeConfig(DeepseekMoeConfig):
    rotary_dim: int = 0  # the rotated dimensions of each head; 0: all of them

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.rotary_dim:
            self.rotary_dim = self.head_dim
        if self.rotary_dim % 2 or self.rotary_dim > self.head_dim:
            raise ValueError(f"rotary_dim {self.rotary_dim} must be even and at most head_dim {self.head_dim}")


def hf_rotary_dim(cfg: Mapping[str, Any], head_dim: int, default_factor: float) -> int:
    """`rotary_dim` (MiniMax), or head_dim * partial_rotary_factor (in rope_parameters, as
    transformers 5 writes it, or at the top level, as the released GLM configs do)."""
    if cfg.get("rotary_dim"):
        return int(cfg["rotary_dim"])
    factor = hf_rope_parameters(cfg).get("partial_rotary_factor", cfg.get("partial_rotary_factor", default_factor))
    return int(head_dim * factor)


def glm4_moe_config_from_hf(cfg: Mapping[str, Any],
                            generation_config: Mapping[str, Any] | None = None) -> Glm4MoeConfig:
    base = dense_config_from_hf(cfg, generation_config)
    return Glm4MoeConfig(
        **model_config_fields(base) | dict(attention_out_bias=False, qk_norm=bool(cfg.get("use_qk_norm", False))),
        rotary_dim=hf_rotary_dim(cfg, base.head_dim, default_factor=0.5),
        **deepseek_moe_fields_from_hf(cfg),
    )


def apply_partial_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [T, heads, head_dim]: the first cos.shape[-1] dimensions rotate (halves layout), the rest pass."""
    rotary_dim = cos.shape[-1]
    if rotary_dim == x.shape[-1]:
        return apply_rotary(x, cos, sin)
    return torch.cat((apply_rotary(x[..., :rotary_dim], cos, sin), x[..., rotary_dim:]), dim=-1)


class PartialRotaryAttention(Attention):
    """Llama's attention (fused q/k/v, optional per-head q/k norm) with partial rotary."""

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: torch.Tensor,
                backend, meta) -> torch.Tensor:
        tokens = x.shape[0]
        qkv = self.qkv_proj(x)
        q, k, v = qkv.split((self.q_size, self.kv_size, self.kv_size), dim=-1)
        q, k = self.normalize_qk(q, k)
        q = apply_partial_rotary(q.reshape(tokens, self.num_heads, self.head_dim), cos, sin)
        k = apply_partial_rotary(k.reshape(tokens, self.num_kv_heads, self.head_dim), cos, sin)
        v = v.reshape(tokens, self.num_kv_heads, self.head_dim)
        return self.o_proj(backend.forward(q, k, v, cache, meta, self.window))

    def normalize_qk(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q [T, q_size], k [T, kv_size] -> the same, each head RMS-normalised (when the model has q/k norms)."""
        if self.q_norm is None:
            return q, k
        tokens = q.shape[0]
        q = self.q_norm(q.reshape(tokens, self.num_heads, self.head_dim)).reshape(tokens, self.q_size)
        k = self.k_norm(k.reshape(tokens, self.num_kv_heads, self.head_dim)).reshape(tokens, self.kv_size)
        return q, k


class Glm4MoeForCausalLM(DeepseekMoeForCausalLM):
    attention_class = PartialRotaryAttention

    def __init__(self, config: Glm4MoeConfig, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32):
        super().__init__(config, device, dtype)
        self.rotary = RotaryEmbedding(config, torch.device(device), rotary_dim=config.rotary_dim)


def _architectures():
    from toolwire.models.architectures import Architecture

    return (Architecture(
        name="glm4_moe", hf_model_types=("glm4_moe",), read_hf_config=glm4_moe_config_from_hf,
        model_class=Glm4MoeForCausalLM, covers="GLM-4.5, GLM-4.5-Air, GLM-4.6"),)


ARCHITECTURES = _architectures()
