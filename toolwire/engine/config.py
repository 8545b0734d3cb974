"""EngineConfig: everything that shapes one engine instance."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class EngineConfig:
    # A model path (HF folder or GGUF file) or hub id; None serves the default model.
    model: str | None = None
    dtype: str = "auto"
    device: str = "auto"
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
