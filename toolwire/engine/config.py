"""EngineConfig: everything that shapes one engine instance."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass
class EngineConfig:
    # A model path (HF folder or GGUF file) or hub id; None serves the default model.
    model: str | None = None
    dtype: str = "auto"
    device: str = "auto"
    # The weights the linear layers multiply with (toolwire.models.load_model's `weights`).
    weights: str = "auto"
    block_size: int = 16
    # GiB of memory given to the paged KV cache.
    kv_cache_memory: float = 1.0
    max_num_seqs: int = 64
    # Token budget of one step (prefill chunks + decodes). None: 512 on CPU, 8192 on CUDA.
    max_num_batched_tokens: int | None = None
    # None: the model's own limit, capped by what the KV cache can hold.
    max_model_len: int | None = None
    enable_prefix_caching: bool = True
    # True turns CUDA graphs for decode off (CPU always runs eagerly).
    enforce_eager: bool = False
    # Seeds the engine's generator for requests that bring no seed of their own.
    seed: int = 0
    # Decode batch sizes captured as CUDA graphs; None: 1, 2, 4, 8 and multiples of 16.
    cuda_graph_batch_sizes: list[int] | None = None

    def __post_init__(self) -> None:
        if self.block_size <= 0:
            raise ValueError("block_size must be positive")
        if self.kv_cache_memory <= 0:
            raise ValueError("kv_cache_memory must be positive")
        if self.max_num_seqs <= 0:
            raise ValueError("max_num_seqs must be positive")
        if self.max_num_batched_tokens is not None and self.max_num_batched_tokens <= 0:
            raise ValueError("max_num_batched_tokens must be positive")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> EngineConfig:
        """A config from the options named like its fields (command-line dests); other options are
        ignored, and a field no option names keeps its default."""
        names = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in options.items() if name in names})

    def load_model(self):
        """The model this config names, loaded with its dtype, device and weights (a LoadedModel)."""
        from toolwire.models import load_model

        return load_model(self.model, dtype=self.dtype, device=self.device, weights=self.weights)
