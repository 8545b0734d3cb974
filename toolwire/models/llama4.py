"""Llama 4 (Scout, Maverick): the text tower, from a Llama4ForCausalLM folder ("llama4_text") or the
language model of a Llama4ForConditionalGeneration folder ("llama4", its tensors under
"language_model."; the vision tower is not read).

What differs from Llama:
- Rotary over adjacent pairs (x[2i], x[2i + 1]), transformers' complex form, and only on the "rope
  layers" (`no_rope_layers[i] == 1`); the other layers (NoPE) have no position embedding at all.
- Rope layers attend in chunks (a query sees its own chunk of attention_chunk_size tokens) and,
  with use_qk_norm, L2-normalise q and k per head after the rotary (an RMS norm without weight).
  NoPE layers attend to everything and, with attn_temperature_tuning, scale each query by
  1 + attn_scale * log(1 + floor((position + 1) / floor_scale)).
- Every interleave_moe_layer_step-th layer (or those listed in moe_layers) is a mixture of experts:
  a shared expert plus top-k routed ones, whose router weight sigmoid(logit) scales the routed
  expert's INPUT, not its output. The other layers are dense MLPs of intermediate_size_mlp.
- Checkpoints hold the experts stacked: experts.gate_up_proj [E, hidden, 2 * I] and
  experts.down_proj [E, I, hidden] (transposed against nn.Linear; experts.ExpertTensors cuts them);
  per-expert tensors (experts.N.gate_proj.weight, ...) are read too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F

from toolwire.models.attention import ChunkedAttention
from toolwire.models.config import ModelConfig, dense_config_from_hf, model_config_fields
from toolwire.models.experts import ExpertBank, ExpertTensors, StackedLayout
from toolwire.models.llama import MLP, Attention, DecoderLayer, LlamaForCausalLM
from toolwire.models.rotary import RotaryEmbedding, apply_rotary_interleaved, interleaved_cos_sin


@dataclass
class Llama4Config(ModelConfig):
    # Per layer: True where the layer applies the rotary (and attends in chunks), False for NoPE layers.
    rope_layers: tuple[bool, ...] = ()
    moe_layers: tuple[int, ...] = ()
    num_experts: int = 16
    num_experts_per_tok: int = 1
    intermediate_size_mlp: int = 16384  # the dense layers' (intermediate_size is an expert's)
    use_qk_norm: bool = True
    attn_temperature_tuning: bool = True
    floor_scale: float = 8192.0
    attn_scale: float = 0.1
    # What the checkpoint's tensor names start with before "model." / "lm_head." ("language_model."
    # in a Llama4ForConditionalGeneration folder).
    checkpoint_prefix: str = ""


def llama4_config_from_hf(cfg: Mapping[str, Any], generation_config: Mapping[str, Any] | None = None) -> Llama4Config:
    model_type = cfg.get("model_type")
    text = dict(cfg["text_config"]) if model_type == "llama4" else dict(cfg)
    text["model_type"] = model_type
    base = dense_config_from_hf(text, generation_config)
    num_layers = base.num_layers
    # transformers' no_rope_layers[i] is 1 where layer i DOES apply the rotary.
    rope_layers = text.get("no_rope_layers") or [
        int((i + 1) % text.get("no_rope_layer_interval", 4) != 0) for i in range(num_layers)]
    rope_layers = tuple(bool(r) for r in rope_layers[:num_layers])
    chunk = text.get("attention_chunk_size")
    layer_types = text.get("layer_types") or [
        "chunked_attention" if rope and chunk else "full_attention" for rope in rope_layers]
    moe_layers = text.get("moe_layers")
    if moe_layers is None:
        step = text.get("interleave_moe_layer_step", 1)
        moe_layers = range(step - 1, num_layers, step)
    common = model_config_fields(base)
    common["layer_windows"] = tuple(ChunkedAttention(int(chunk)) if t == "chunked_attention" else None
                                    for t in layer_types)
    return Llama4Config(
        **common,
        rope_layers=rope_layers,
        moe_layers=tuple(moe_layers),
        num_experts=text.get("num_local_experts", 16),
        num_experts_per_tok=text.get("num_experts_per_tok", 1),
        intermediate_size_mlp=text.get("intermediate_size_mlp", 16384),
        use_qk_norm=bool(text.get("use_qk_norm", True)),
        attn_temperature_tuning=bool(text.get("attn_temperature_tuning", True)),
        floor_scale=float(text.get("floor_scale", 8192)),
        attn_scale=float(text.get("attn_scale", 0.1)),
        checkpoint_prefix="language_model." if model_type == "llama4" else "",
    )


# -- position terms ---------------------------------------------------------------------------------

class Llama4PositionTerms(torch.nn.Module):
    """Stands in for the model's rotary: the model hands the pair `cos_sin` returns to every layer's
    attention untouched, and Llama 4's pair is ((cos, sin) in the interleaved layout, the NoPE
    layers' query temperatures [T, 1, 1] float32 or None)."""

    def __init__(self, config: Llama4Config, device=None):
        super().__init__()
        self.rotary = RotaryEmbedding(config, device)
        self.tuning = config.attn_temperature_tuning and not all(config.rope_layers)
        self.floor_scale, self.attn_scale = config.floor_scale, config.attn_scale

    def cos_sin(self, positions: torch.Tensor, dtype: torch.dtype):
        rope = interleaved_cos_sin(*self.rotary.cos_sin(positions, dtype))
        if not self.tuning:
            return rope, None
        steps = torch.floor((positions.float() + 1.0) / self.floor_scale)
        return rope, (torch.log1p(steps) * self.attn_scale + 1.0)[:, None, None]


class Llama4Attention(Attention):
    def __init__(self, config: Llama4Config, layer: int, device=None, dtype=None):
        super().__init__(config, layer, device, dtype)
        self.uses_rope = config.rope_layers[layer]
        self.normalizes_qk = config.use_qk_norm and self.uses_rope
        self.tunes_temperature = config.attn_temperature_tuning and not self.uses_rope
        self.eps = config.rms_norm_eps

    def forward(self, x: torch.Tensor, rope, temperatures, cache, backend, meta) -> torch.Tensor:
        tokens, heads = x.shape[0], self.num_heads + self.num_kv_heads
        qkv = self.qkv_proj(x)
        qk = qkv[:, :self.q_size + self.kv_size].view(tokens, heads, self.head_dim)
        if self.uses_rope:
            qk = apply_rotary_interleaved(qk, *rope)
            if self.normalizes_qk:
                qk = F.rms_norm(qk.float(), (self.head_dim,), eps=self.eps).to(qk.dtype)
        q, k = qk[:, :self.num_heads], qk[:, self.num_heads:]
        if self.tunes_temperature:
            q = (q * temperatures).to(q.dtype)
        v = qkv[:, self.q_size + self.kv_size:].view(tokens, self.num_kv_heads, self.head_dim)
        return self.o_proj(backend.forward(q, k, v, cache, meta, self.window))


# -- feed-forward -----------------------------------------------------------------------------------

def sigmoid_top_k(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Llama 4's router: the k largest logits, each weighted by its own sigmoid (no normalisation)."""
    top, ids = logits.float().topk(k, dim=-1)
    return ids, top.sigmoid()


class Llama4MoE(torch.nn.Module):
    """shared_expert(x) + sum over the chosen experts e of expert_e(sigmoid(logit_e) * x)."""

    def __init__(self, config: Llama4Config, device=None, dtype=None):
        super().__init__()
        self.top_k = config.num_experts_per_tok
        # Kept exact (not a Linear, which set_matmul_weights would re-pack): the choice of expert
        # must not flip on quantisation noise.
        self.router = torch.nn.Parameter(torch.empty(config.num_experts, config.hidden_size, device=device,
                                                     dtype=dtype), requires_grad=False)
        self.experts = ExpertBank(config.num_experts, config.hidden_size, config.intermediate_size,
                                  device=device, dtype=dtype)
        self.shared_expert = MLP(config, device, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids, weights = sigmoid_top_k(F.linear(x, self.router), self.top_k)
        # Each (row, expert) pair runs on its own scaled copy of the row, with weight 1 on the output.
        scaled = (x.unsqueeze(1) * weights.unsqueeze(2)).to(x.dtype).flatten(0, 1)
        pairs = ids.reshape(-1, 1)
        routed = self.experts.forward(scaled, pairs, torch.ones_like(pairs, dtype=x.dtype))
        return self.shared_expert.forward(x).add_(routed.view(x.shape[0], self.top_k, -1).sum(dim=1))


# -- the model --------------------------------------------------------------------------------------

class Llama4ForCausalLM(LlamaForCausalLM):
    config: Llama4Config

    def __init__(self, config: Llama4Config, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32):
        super().__init__(config, device, dtype)
        self.rotary = Llama4PositionTerms(config, torch.device(device))

    def make_layer(self, config: Llama4Config, layer: int, device, dtype) -> torch.nn.Module:
        if layer in config.moe_layers:
            feed_forward = Llama4MoE(config, device, dtype)
        else:
            feed_forward = MLP(replace(config, intermediate_size=config.intermediate_size_mlp), device, dtype)
        return DecoderLayer(config, layer, device, dtype, attention=Llama4Attention(config, layer, device, dtype),
                            mlp=feed_forward)

    def mlp_weight_plan(self, mlp: torch.nn.Module, prefix: str, layer: int) -> list[tuple[torch.Tensor, list[str]]]:
        prefix = prefix.removesuffix("mlp.") + "feed_forward."  # Llama 4 names the block feed_forward
        if not isinstance(mlp, Llama4MoE):
            return super().mlp_weight_plan(mlp, prefix, layer)
        return ([(mlp.router, [prefix + "router.weight"])]
                + super().mlp_weight_plan(mlp.shared_expert, prefix + "shared_expert.", layer)
                + mlp.experts.weight_plan(prefix + "experts."))

    def load_weights(self, get: Callable[[str], torch.Tensor]) -> None:
        prefix = self.config.checkpoint_prefix

        def prefixed(name: str) -> torch.Tensor:
            return get(prefix + name)

        super().load_weights(ExpertTensors(prefixed, StackedLayout(transposed=True)))


def _architectures():
    from toolwire.models.architectures import Architecture

    return (Architecture(
        name="llama4", hf_model_types=("llama4_text", "llama4"), read_hf_config=llama4_config_from_hf,
        model_class=Llama4ForCausalLM,
        covers="Llama 4 Scout (17B-16E), Llama 4 Maverick (17B-128E); text only"),)


ARCHITECTURES = _architectures()
