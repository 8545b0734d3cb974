"""ModelConfig: one normalised description of a Llama-family model, from HF config.json or GGUF metadata.

The architectures differ only in flags: qwen2 has biases on q/k/v, qwen3 normalises q and k per head,
granite scales embeddings, residuals, attention and logits, mistral (and some qwen layers) attend
through a sliding window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping


DENSE_ARCHITECTURES = ("llama", "mistral", "qwen2", "qwen3", "granite")


@dataclass(frozen=True)
class RopeScaling:
    # "linear" (positions divided by factor), "llama3" (per-frequency smooth scaling),
    # "freq_factors": explicit per-frequency divisors (GGUF files store llama3 scaling that way), or
    # "yarn" (frequencies blended between interpolated and original by a ramp over the dimensions,
    # cos/sin scaled by attention_factor).
    rope_type: str
    factor: float = 1.0
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0
    original_max_position_embeddings: int = 8192
    freq_factors: tuple[float, ...] | None = None
    beta_fast: float = 32.0
    beta_slow: float = 1.0
    attention_factor: float | None = None
    mscale: float | None = None
    mscale_all_dim: float | None = None
    truncate: bool = True


@dataclass
class ModelConfig:
    architecture: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling: RopeScaling | None = None
    max_position_embeddings: int = 2048
    tie_word_embeddings: bool = False
    # Biases: on the q/k/v projections (qwen2 always), on o_proj, on the MLP projections.
    attention_bias: bool = False
    attention_out_bias: bool = False
    mlp_bias: bool = False
    # qwen3: RMSNorm over each head of q and k, before the rotary embedding.
    qk_norm: bool = False
    # Per layer: the sliding attention window in tokens, or None for full attention.
    layer_windows: tuple[int | None, ...] = ()
    # granite: embeddings * embedding_multiplier, each residual branch * residual_multiplier,
    # attention scale = attention_multiplier (instead of 1/sqrt(head_dim)), logits / logits_scaling.
    embedding_multiplier: float = 1.0
    residual_multiplier: float = 1.0
    attention_multiplier: float | None = None
    logits_scaling: float = 1.0
    bos_token_id: int | None = None
    eos_token_ids: tuple[int, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.layer_windows:
            self.layer_windows = (None,) * self.num_layers
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"{self.num_heads} attention heads cannot share {self.num_kv_heads} kv heads")

    @property
    def attention_scale(self) -> float:
        if self.attention_multiplier is not None:
            return self.attention_multiplier
        return 1.0 / math.sqrt(self.head_dim)

    @property
    def q_size(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_size(self) -> int:
        return self.num_kv_heads * self.head_dim


def model_config_fields(config: ModelConfig) -> dict[str, Any]:
    """The ModelConfig fields of `config` by name: what a family's config subclass starts from
    (e.g. the attention half, read as Llama's by dense_config_from_hf)."""
    return {f.name: getattr(config, f.name) for f in fields(ModelConfig)}


# -- HF config.json ---------------------------------------------------------------------------------

_HF_REQUIRED = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")


def dense_config_from_hf(cfg: Mapping[str, Any], generation_config: Mapping[str, Any] | None = None) -> ModelConfig:
    arch = cfg.get("model_type")
    missing = [key for key in _HF_REQUIRED if key not in cfg]
    if missing:
        raise ValueError(f"config.json lacks {', '.join(missing)}")
    hidden, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    num_layers = cfg["num_hidden_layers"]
    rope = hf_rope_parameters(cfg)
    attention_bias = bool(cfg.get("attention_bias", False))
    generation_config = generation_config or {}
    bos = cfg.get("bos_token_id", generation_config.get("bos_token_id"))
    return ModelConfig(
        architecture=arch,
        vocab_size=cfg["vocab_size"],
        hidden_size=hidden,
        intermediate_size=cfg["intermediate_size"],
        num_layers=num_layers,
        num_heads=heads,
        num_kv_heads=cfg.get("num_key_value_heads") or heads,
        head_dim=cfg.get("head_dim") or hidden // heads,
        rms_norm_eps=cfg.get("rms_norm_eps", 1e-6),
        rope_theta=float(rope.get("rope_theta", 10000.0)),
        rope_scaling=hf_rope_scaling(rope),
        max_position_embeddings=cfg.get("max_position_embeddings", 2048),
        tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        attention_bias=True if arch == "qwen2" else attention_bias,
        attention_out_bias=False if arch == "qwen2" else attention_bias,
        mlp_bias=bool(cfg.get("mlp_bias", False)),
        qk_norm=arch == "qwen3",
        layer_windows=_hf_layer_windows(cfg, arch, num_layers),
        embedding_multiplier=cfg.get("embedding_multiplier", 1.0) if arch == "granite" else 1.0,
        residual_multiplier=cfg.get("residual_multiplier", 1.0) if arch == "granite" else 1.0,
        attention_multiplier=cfg.get("attention_multiplier", 1.0) if arch == "granite" else None,
        logits_scaling=cfg.get("logits_scaling", 1.0) if arch == "granite" else 1.0,
        bos_token_id=bos if isinstance(bos, int) else None,
        eos_token_ids=unique_ids(token_ids(cfg.get("eos_token_id")) + token_ids(generation_config.get("eos_token_id"))),
    )


def token_ids(value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    if isinstance(value, int):
        return (value,)
    return tuple(int(v) for v in value)


def unique_ids(ids: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(ids))


def hf_rope_parameters(cfg: Mapping[str, Any]) -> dict[str, Any]:
    # transformers 5 writes "rope_parameters" (theta included); older files "rope_theta" + "rope_scaling".
    params = {"rope_theta": cfg.get("rope_theta", 10000.0)}
    params.update(cfg.get("rope_scaling") or {})
    params.update(cfg.get("rope_parameters") or {})
    return params


def hf_rope_scaling(params: Mapping[str, Any]) -> RopeScaling | None:
    rope_type = params.get("rope_type", params.get("type", "default"))
    if rope_type == "default":
        return None
    if rope_type == "linear":
        return RopeScaling("linear", factor=float(params["factor"]))
    if rope_type == "llama3":
        return RopeScaling(
            "llama3", factor=float(params["factor"]),
            low_freq_factor=float(params["low_freq_factor"]),
            high_freq_factor=float(params["high_freq_factor"]),
            original_max_position_embeddings=int(params["original_max_position_embeddings"]))
    if rope_type == "yarn":
        return RopeScaling(
            "yarn", factor=float(params["factor"]),
            original_max_position_embeddings=int(params["original_max_position_embeddings"]),
            beta_fast=float(params.get("beta_fast") or 32.0), beta_slow=float(params.get("beta_slow") or 1.0),
            attention_factor=params.get("attention_factor"), mscale=params.get("mscale"),
            mscale_all_dim=params.get("mscale_all_dim"), truncate=bool(params.get("truncate", True)))
    raise ValueError(f"rope scaling type {rope_type!r} is not supported (supported: linear, llama3, yarn)")


def _hf_layer_windows(cfg: Mapping[str, Any], arch: str, num_layers: int) -> tuple[int | None, ...]:
    window = cfg.get("sliding_window")
    if not window:
        return (None,) * num_layers
    if arch == "mistral":
        return (window,) * num_layers
    if arch in ("qwen2", "qwen3") and cfg.get("use_sliding_window"):
        layer_types = cfg.get("layer_types")
        if layer_types:
            return tuple(window if t == "sliding_attention" else None for t in layer_types)
        first_sliding = cfg.get("max_window_layers", num_layers)
        return tuple(window if i >= first_sliding else None for i in range(num_layers))
    return (None,) * num_layers


# -- GGUF metadata ----------------------------------------------------------------------------------

# GGUF's general.architecture -> ours. Mistral models are written as "llama" by llama.cpp.
DENSE_GGUF_ARCHITECTURES = {"llama": "llama", "mistral": "mistral", "qwen2": "qwen2", "qwen3": "qwen3",
                       "granite": "granite"}


_GGUF_REQUIRED = ("embedding_length", "attention.head_count", "block_count", "feed_forward_length")


def dense_config_from_gguf(meta: Mapping[str, Any], tensor_names: set[str],
                     freq_factors: tuple[float, ...] | None = None) -> ModelConfig:
    """meta: GGUF key/values (tokenizer arrays may be left out); tensor_names: the file's tensors.

    Biases, q/k norms and tied embeddings are read off which tensors the file holds.
    """
    gguf_arch = meta.get("general.architecture")
    arch = DENSE_GGUF_ARCHITECTURES[gguf_arch]

    def get(key: str, default: Any = None) -> Any:
        return meta.get(f"{gguf_arch}.{key}", default)

    missing = [f"{gguf_arch}.{key}" for key in _GGUF_REQUIRED if get(key) is None]
    if missing:
        raise ValueError(f"GGUF metadata lacks {', '.join(missing)}")

    hidden, heads = int(get("embedding_length")), int(get("attention.head_count"))
    num_layers = int(get("block_count"))
    kv_heads = get("attention.head_count_kv", heads)
    if isinstance(kv_heads, (list, tuple)):  # some files list it per layer
        kv_heads = kv_heads[0]
    head_dim = get("attention.key_length") or get("rope.dimension_count") or hidden // heads
    vocab = get("vocab_size") or len(meta.get("tokenizer.ggml.tokens", ()))
    window = get("attention.sliding_window")
    eos = meta.get("tokenizer.ggml.eos_token_id")
    eot = meta.get("tokenizer.ggml.eot_token_id")
    granite = arch == "granite"
    return ModelConfig(
        architecture=arch,
        vocab_size=int(vocab),
        hidden_size=hidden,
        intermediate_size=int(get("feed_forward_length")),
        num_layers=num_layers,
        num_heads=heads,
        num_kv_heads=int(kv_heads),
        head_dim=int(head_dim),
        rms_norm_eps=float(get("attention.layer_norm_rms_epsilon", 1e-6)),
        rope_theta=float(get("rope.freq_base", 10000.0)),
        rope_scaling=_gguf_rope_scaling(get, freq_factors),
        max_position_embeddings=int(get("context_length", 2048)),
        tie_word_embeddings="output.weight" not in tensor_names,
        attention_bias="blk.0.attn_q.bias" in tensor_names,
        attention_out_bias="blk.0.attn_output.bias" in tensor_names,
        mlp_bias="blk.0.ffn_up.bias" in tensor_names,
        qk_norm="blk.0.attn_q_norm.weight" in tensor_names,
        layer_windows=(int(window) if window else None,) * num_layers,
        embedding_multiplier=float(get("embedding_scale", 1.0)) if granite else 1.0,
        residual_multiplier=float(get("residual_scale", 1.0)) if granite else 1.0,
        attention_multiplier=float(get("attention.scale", 1.0)) if granite else None,
        logits_scaling=float(get("logit_scale", 1.0)) if granite else 1.0,
        bos_token_id=meta.get("tokenizer.ggml.bos_token_id"),
        eos_token_ids=unique_ids(token_ids(eos) + token_ids(eot)),
    )


def _gguf_rope_scaling(get, freq_factors: tuple[float, ...] | None) -> RopeScaling | None:
    if freq_factors is not None:
        return RopeScaling("freq_factors", freq_factors=freq_factors)
    rope_type = get("rope.scaling.type", "none")
    factor = get("rope.scaling.factor")
    if rope_type in ("none", "") or not factor or float(factor) == 1.0:
        return None
    if rope_type == "linear":
        return RopeScaling("linear", factor=float(factor))
    raise ValueError(f"GGUF rope scaling type {rope_type!r} is not supported (supported: linear, llama3)")
