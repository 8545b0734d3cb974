"""Which model code runs which checkpoint.

Each model family's module declares its `ARCHITECTURES`: the HF `model_type`s (and GGUF
`general.architecture`s) it reads, how it turns their config into a ModelConfig (or a subclass with
the family's own fields), the model class, and the real models it covers (the README's table).
A family lives in its one module; this file only lists the modules.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from toolwire.models.config import ModelConfig

FAMILY_MODULES = (
    "toolwire.models.llama",
    "toolwire.models.sparse_moe",
    "toolwire.models.glm4_moe",
    "toolwire.models.minimax_m2",
    "toolwire.models.llama4",
    "toolwire.models.gpt_oss",
    "toolwire.models.deepseek_v3",
)


@dataclass(frozen=True)
class Architecture:
    name: str
    hf_model_types: tuple[str, ...]
    read_hf_config: Callable[[Mapping[str, Any], Mapping[str, Any] | None], ModelConfig]
    model_class: type
    covers: str  # the real models it runs, e.g. "Llama 3.x, SmolLM2"
    gguf_architectures: tuple[str, ...] = ()
    # (metadata, tensor names, rope frequency factors or None) -> ModelConfig
    read_gguf_config: Callable[..., ModelConfig] | None = None
    # quantization_config.quant_method values whose tensors the model's load_weights reads itself
    # (gpt-oss: "mxfp4"). Block-scaled "fp8" the HF loader dequantizes for every architecture.
    hf_quant_methods: tuple[str, ...] = ()


@functools.cache
def all_architectures() -> tuple[Architecture, ...]:
    return tuple(arch for module in FAMILY_MODULES for arch in importlib.import_module(module).ARCHITECTURES)


def _by_hf_model_type(model_type: str) -> Architecture | None:
    return next((a for a in all_architectures() if model_type in a.hf_model_types), None)


def _by_gguf_architecture(name: str) -> Architecture | None:
    return next((a for a in all_architectures() if name in a.gguf_architectures), None)


def hf_architecture(cfg: Mapping[str, Any]) -> Architecture:
    """The architecture that reads an HF config.json (by its model_type)."""
    model_type = cfg.get("model_type")
    arch = _by_hf_model_type(model_type)
    if arch is None:
        supported = sorted(t for a in all_architectures() for t in a.hf_model_types)
        raise ValueError(f"model_type {model_type!r} is not supported (supported: {', '.join(supported)})")
    return arch


def config_from_hf(cfg: Mapping[str, Any], generation_config: Mapping[str, Any] | None = None) -> ModelConfig:
    return hf_architecture(cfg).read_hf_config(cfg, generation_config)


def config_from_gguf(meta: Mapping[str, Any], tensor_names: set[str],
                     freq_factors: tuple[float, ...] | None = None) -> ModelConfig:
    name = meta.get("general.architecture")
    arch = _by_gguf_architecture(name)
    if arch is None or arch.read_gguf_config is None:
        supported = sorted(g for a in all_architectures() for g in a.gguf_architectures)
        raise ValueError(f"GGUF architecture {name!r} is not supported (supported: {', '.join(supported)})")
    return arch.read_gguf_config(meta, tensor_names, freq_factors)


def model_class_for(config: ModelConfig) -> type:
    """config.architecture is an HF model_type (GGUF readers name theirs the same way)."""
    arch = _by_hf_model_type(config.architecture)
    if arch is None:
        raise ValueError(f"no model code for architecture {config.architecture!r}")
    return arch.model_class
