"""DeepSeek-V3 (V3-0324, V3.1, R1) and the models that ship its architecture: Kimi-K2, Moonlight.

What differs from Llama:
- attention is multi-head latent attention (latent_attention.py): the cache holds one compressed
  latent and one rope key per token, the rope part of q/k rotates interleaved pairs, and the softmax
  scale carries YaRN's mscale_all_dim correction squared;
- after the first `first_k_dense_replace` dense layers, the feed-forward is DeepSeek's mixture of
  experts (deepseek_moe.py: biased grouped sigmoid router, routed experts, shared experts).
The multi-token-prediction layer real checkpoints carry (model.layers.{num_layers}) is not read. Their
float8 weights (128 x 128 blocks with weight_scale_inv) load dequantized, as every family's (fp8.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch

from toolwire.models.config import dense_config_from_hf, hf_rope_parameters, model_config_fields
from toolwire.models.deepseek_moe import DeepseekMoeConfig, DeepseekMoeForCausalLM, deepseek_moe_fields_from_hf
from toolwire.models.kv_cache import PagedKVCache
from toolwire.models.latent_attention import (
    LatentAttention,
    LatentPagedAttention,
    allocate_latent_cache,
    latent_cache_bytes_per_block,
)
from toolwire.models.rotary import RotaryEmbedding, interleaved_cos_sin, yarn_magnitude

HF_MODEL_TYPES = ("deepseek_v3", "kimi_k2")


@dataclass
class DeepseekV3Config(DeepseekMoeConfig):
    # Latent attention. head_dim (inherited) is the rotary part, qk_rope_head_dim.
    q_lora_rank: int | None = None  # None: one q_proj instead of q_a_proj -> q_a_layernorm -> q_b_proj
    kv_lora_rank: int = 512
    qk_nope_head_dim: int = 128
    qk_rope_head_dim: int = 64
    v_head_dim: int = 128
    rope_interleave: bool = True
    # YaRN's correction of the softmax scale: mscale(factor, mscale_all_dim) squared (1: none).
    attention_mscale: float = 1.0

    @property
    def qk_head_dim(self) -> int:
        return self.qk_nope_head_dim + self.qk_rope_head_dim

    @property
    def attention_scale(self) -> float:
        return self.qk_head_dim ** -0.5 * self.attention_mscale

    @property
    def cached_dim(self) -> int:
        """What the cache keeps per token and layer: the latent and the rope key."""
        return self.kv_lora_rank + self.qk_rope_head_dim


def deepseek_v3_config_from_hf(cfg: Mapping[str, Any],
                               generation_config: Mapping[str, Any] | None = None) -> DeepseekV3Config:
    base = dense_config_from_hf(cfg, generation_config)
    if cfg.get("attention_bias") and not cfg.get("q_lora_rank"):
        raise ValueError("attention_bias without q_lora_rank is not supported (q_proj has no bias)")
    rope = hf_rope_parameters(cfg)
    mscale_all_dim = rope.get("mscale_all_dim")
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    attention_mscale = 1.0
    if rope_type != "default" and mscale_all_dim:
        attention_mscale = yarn_magnitude(float(rope["factor"]), float(mscale_all_dim)) ** 2
    fields = model_config_fields(base)
    fields.update(
        num_kv_heads=base.num_heads,
        head_dim=cfg.get("qk_rope_head_dim", 64),
        q_lora_rank=cfg.get("q_lora_rank"),
        kv_lora_rank=cfg.get("kv_lora_rank", 512),
        qk_nope_head_dim=cfg.get("qk_nope_head_dim", 128),
        qk_rope_head_dim=cfg.get("qk_rope_head_dim", 64),
        v_head_dim=cfg.get("v_head_dim", 128),
        rope_interleave=bool(cfg.get("rope_interleave", True)),
        attention_mscale=attention_mscale,
        **deepseek_moe_fields_from_hf(cfg),
    )
    return DeepseekV3Config(**fields)


class InterleavedRotaryEmbedding(RotaryEmbedding):
    """cos / sin laid out for apply_rotary_interleaved (DeepSeek rotates adjacent pairs)."""

    def cos_sin(self, positions: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        return interleaved_cos_sin(*super().cos_sin(positions, dtype))


class DeepseekV3ForCausalLM(DeepseekMoeForCausalLM):
    attention_class = LatentAttention

    def __init__(self, config: DeepseekV3Config, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32):
        super().__init__(config, device, dtype)
        c = config
        if c.rope_interleave:
            self.rotary = InterleavedRotaryEmbedding(c, torch.device(device))
        self.attention = LatentPagedAttention(c.num_heads, c.qk_nope_head_dim, c.qk_rope_head_dim, c.v_head_dim,
                                              c.kv_lora_rank, c.attention_scale)

    # -- the KV cache: latents, not per-head keys and values --------------------------------------

    def kv_cache_bytes_per_block(self, block_size: int, dtype: torch.dtype) -> int:
        return latent_cache_bytes_per_block(self.config.num_layers, self.config.cached_dim, block_size, dtype)

    def make_kv_cache(self, num_blocks: int, block_size: int, dtype: torch.dtype | None = None,
                      device: torch.device | str | None = None) -> PagedKVCache:
        return allocate_latent_cache(self.config.num_layers, self.config.cached_dim, num_blocks, block_size,
                                     dtype or self.dtype, device or self.device)

    # -- weights ------------------------------------------------------------------------------------

    def attention_weight_plan(self, attn: LatentAttention, prefix: str) -> list[tuple[torch.Tensor, list[str]]]:
        q_name = prefix + ("q_a_proj" if attn.q_b_proj is not None else "q_proj")
        plan = [(attn.a_proj.weight, [q_name + ".weight", prefix + "kv_a_proj_with_mqa.weight"]),
                (attn.kv_a_layernorm.weight, [prefix + "kv_a_layernorm.weight"]),
                (attn.kv_b_proj, [prefix + "kv_b_proj.weight"]),
                (attn.o_proj.weight, [prefix + "o_proj.weight"])]
        if attn.q_b_proj is not None:
            plan += [(attn.q_a_layernorm.weight, [prefix + "q_a_layernorm.weight"]),
                     (attn.q_b_proj.weight, [prefix + "q_b_proj.weight"])]
        if self.config.attention_bias:
            plan += [(attn.a_proj.bias, [q_name + ".bias", prefix + "kv_a_proj_with_mqa.bias"]),
                     (attn.o_proj.bias, [prefix + "o_proj.bias"])]
        return plan


def _architectures():
    from toolwire.models.architectures import Architecture

    return (Architecture(
        name="deepseek_v3", hf_model_types=HF_MODEL_TYPES, read_hf_config=deepseek_v3_config_from_hf,
        model_class=DeepseekV3ForCausalLM,
        covers="DeepSeek-V3 / V3-0324 / V3.1, DeepSeek-R1 / R1-0528, Kimi-K2-Instruct / K2-Base, Moonlight-16B-A3B"),)


ARCHITECTURES = _architectures()
