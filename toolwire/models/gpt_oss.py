"""gpt-oss (OpenAI's gpt-oss-20b and gpt-oss-120b): a mixture-of-experts decoder on the Llama skeleton.

What differs from Llama:
- attention has biases on q/k/v/o, and each head a learned *sink*: one more logit in its softmax's
  denominator, which takes probability mass but adds no value (the backend's `sinks`);
- layers alternate between a sliding window (`layer_types`, even layers by default) and full attention;
- rope is YaRN over the two halves of each head (the layout `apply_rotary` uses);
- the feed-forward is a router with a bias (the k largest logits, softmaxed over those k) and experts
  with biases and a clamped SwiGLU: gate clamped above at `limit`, up to [-limit, limit], then
  (up + 1) * gate * sigmoid(alpha * gate).

Checkpoints hold each layer's experts stacked, [E, in, out], gate and up *interleaved* (output 2j is
gate j, 2j + 1 up j): OpenAI's release as MXFP4 (`*_blocks` + `*_scales`, "quant_method": "mxfp4"),
which are dequantized at load, so the expert bank holds the model's dtype (exact: every MXFP4 value
is a bf16 value); transformers' save_pretrained (and the bf16 re-uploads) as plain `gate_up_proj`
[E, H, 2I] / `down_proj` [E, I, H]. Either way experts.ExpertTensors cuts each expert out of them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F

from toolwire.models.config import ModelConfig, dense_config_from_hf, model_config_fields
from toolwire.models.experts import ExpertBank, ExpertTensors, StackedLayout
from toolwire.models.llama import Attention, DecoderLayer, LlamaForCausalLM
from toolwire.models.routing import top_k_softmax

# transformers' defaults when config.json leaves them out.
DEFAULT_ROPE_THETA = 150000.0
DEFAULT_ROPE_SCALING = {"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0, "beta_slow": 1.0,
                        "truncate": False, "original_max_position_embeddings": 4096}

# The 16 FP4 (E2M1) values by their 4-bit code: sign bit, 2 exponent bits, 1 mantissa bit.
FP4_E2M1_VALUES = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0)


@dataclass
class GptOssConfig(ModelConfig):
    num_experts: int = 32
    num_experts_per_tok: int = 4
    swiglu_alpha: float = 1.702
    swiglu_limit: float = 7.0


def gpt_oss_config_from_hf(cfg: Mapping[str, Any], generation_config: Mapping[str, Any] | None = None) -> GptOssConfig:
    cfg = {"rope_theta": DEFAULT_ROPE_THETA, **cfg}
    if not cfg.get("rope_scaling") and "rope_type" not in (cfg.get("rope_parameters") or {}):
        cfg["rope_scaling"] = DEFAULT_ROPE_SCALING
    base = dense_config_from_hf(cfg, generation_config)
    window = cfg.get("sliding_window")
    layer_types = cfg.get("layer_types") or ["sliding_attention" if i % 2 == 0 else "full_attention"
                                             for i in range(base.num_layers)]
    common = model_config_fields(base)
    common["layer_windows"] = tuple(window if t == "sliding_attention" and window else None for t in layer_types)
    return GptOssConfig(
        **common,
        num_experts=cfg.get("num_local_experts", 32),
        num_experts_per_tok=cfg.get("num_experts_per_tok", 4),
        swiglu_alpha=float(cfg.get("swiglu_alpha", 1.702)),
        swiglu_limit=float(cfg.get("swiglu_limit", 7.0)),
    )


# -- the layers -------------------------------------------------------------------------------------

class SinkAttention(Attention):
    """Llama's attention with a learned sink logit per head, passed to the backend."""

    def __init__(self, config: GptOssConfig, layer: int, device=None, dtype=None):
        super().__init__(config, layer, device, dtype)
        self.sinks = torch.nn.Parameter(torch.empty(config.num_heads, device=device, dtype=dtype), requires_grad=False)

    def forward(self, x, cos, sin, cache, backend, meta) -> torch.Tensor:
        return super().forward(x, cos, sin, cache, _WithSinks(backend, self.sinks), meta)


class _WithSinks:
    """The attention backend as `Attention.forward` calls it, with one layer's sinks passed along."""

    def __init__(self, backend, sinks: torch.Tensor):
        self.backend, self.sinks = backend, sinks

    def forward(self, q, k, v, cache, meta, window):
        return self.backend.forward(q, k, v, cache, meta, window, sinks=self.sinks)


def clamped_swiglu(gate_up: torch.Tensor, alpha: float, limit: float) -> torch.Tensor:
    """[n, 2I] (gate columns first, then up) -> [n, I]."""
    gate, up = gate_up.chunk(2, dim=-1)
    gate = gate.clamp(max=limit)
    return (up.clamp(-limit, limit) + 1) * gate * torch.sigmoid(gate * alpha)


class GptOssMoE(torch.nn.Module):
    """The router (exact weights: `set_matmul_weights` leaves it alone, so a near tie is decided as in
    the reference) and the expert bank."""

    def __init__(self, config: GptOssConfig, device=None, dtype=None):
        super().__init__()
        self.top_k = config.num_experts_per_tok
        self.router_weight = torch.nn.Parameter(
            torch.empty(config.num_experts, config.hidden_size, device=device, dtype=dtype), requires_grad=False)
        self.router_bias = torch.nn.Parameter(torch.empty(config.num_experts, device=device, dtype=dtype),
                                              requires_grad=False)
        activation = functools.partial(clamped_swiglu, alpha=config.swiglu_alpha, limit=config.swiglu_limit)
        self.experts = ExpertBank(config.num_experts, config.hidden_size, config.intermediate_size, bias=True,
                                  activation=activation, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids, weights = top_k_softmax(F.linear(x, self.router_weight, self.router_bias), self.top_k)
        return self.experts.forward(x, ids, weights)


# -- the model --------------------------------------------------------------------------------------

class GptOssForCausalLM(LlamaForCausalLM):
    config: GptOssConfig

    def make_layer(self, config: GptOssConfig, layer: int, device, dtype) -> torch.nn.Module:
        return DecoderLayer(config, layer, device, dtype, attention=SinkAttention(config, layer, device, dtype),
                            mlp=GptOssMoE(config, device, dtype))

    def attention_weight_plan(self, attn: SinkAttention, prefix: str) -> list[tuple[torch.Tensor, list[str]]]:
        return super().attention_weight_plan(attn, prefix) + [(attn.sinks, [prefix + "sinks"])]

    def mlp_weight_plan(self, mlp: GptOssMoE, prefix: str, layer: int) -> list[tuple[torch.Tensor, list[str]]]:
        return ([(mlp.router_weight, [prefix + "router.weight"]), (mlp.router_bias, [prefix + "router.bias"])]
                + mlp.experts.weight_plan(prefix + "experts."))

    def load_weights(self, get: Callable[[str], torch.Tensor]) -> None:
        stacks = functools.partial(read_mxfp4_aware, get, device=self.device)
        super().load_weights(ExpertTensors(stacks, StackedLayout(transposed=True, interleaved=True)))


def read_mxfp4_aware(get: Callable[[str], torch.Tensor], name: str, device: torch.device) -> torch.Tensor:
    """A checkpoint tensor by its HF name; a stacked expert weight the checkpoint holds as MXFP4
    comes back dequantized, in the plain layout [E, in, out]."""
    try:
        return get(name)
    except KeyError:
        if not name.endswith(("experts.gate_up_proj", "experts.down_proj")):
            raise
    # Dequantized where it will be used: on a GPU, a layer takes milliseconds.
    blocks, scales = get(name + "_blocks").to(device), get(name + "_scales").to(device)
    return dequantize_mxfp4(blocks, scales).transpose(1, 2)  # the blocks are [E, out, in / 32, 16]


def dequantize_mxfp4(blocks: torch.Tensor, scales: torch.Tensor, dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    """MXFP4 -> [..., G * 32]: blocks [..., G, 16] uint8, two FP4 (E2M1) codes a byte, the low nibble
    the earlier value; scales [..., G] uint8, E8M0: group g's 32 values times 2 ** (scales[g] - 127).
    bfloat16 holds every such value exactly (3 significant bits, fp32's exponent range).
    Done one leading slice (expert) at a time, so the temporaries stay small."""
    if blocks.shape[:-1] != scales.shape or blocks.shape[-1] != 16:
        raise ValueError(f"MXFP4 blocks {tuple(blocks.shape)} and scales {tuple(scales.shape)} do not match")
    if blocks.dim() > 2:
        return torch.stack([dequantize_mxfp4(b, s, dtype) for b, s in zip(blocks, scales)])
    lut = torch.tensor(FP4_E2M1_VALUES, dtype=torch.float32, device=blocks.device)
    codes = torch.stack((blocks & 0x0F, blocks >> 4), dim=-1).flatten(-2).long()  # [..., G, 32]
    powers = torch.exp2(scales.to(torch.float32) - 127).unsqueeze(-1)
    return (lut[codes] * powers).to(dtype).flatten(-2)


def _architectures():
    from toolwire.models.architectures import Architecture

    return (Architecture(name="gpt_oss", hf_model_types=("gpt_oss",), read_hf_config=gpt_oss_config_from_hf,
                         model_class=GptOssForCausalLM, covers="gpt-oss-20b, gpt-oss-120b",
                         hf_quant_methods=("mxfp4",)),)


ARCHITECTURES = _architectures()
