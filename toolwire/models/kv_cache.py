"""The paged KV cache: per layer one tensor [2, num_blocks, num_kv_heads, block_size, head_dim].

Index 0 holds keys, 1 values. A token's slot is block_id * block_size + offset. Within a block each
kv head's keys are contiguous ([block_size, head_dim]), so gathered blocks feed batched matmuls
without a transposing copy. All layers share one allocation. On CPU it is taken zero-filled from
the OS (calloc), so pages cost memory only once a block is written: a 1 GiB cache does not add
1 GiB to the RSS up front. Zero-filled matters for correctness too: attention reads masked-out slots
and multiplies them by zero, which garbage NaNs would survive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

_NUMPY_STORAGE = {torch.float32: np.float32, torch.float16: np.float16, torch.bfloat16: np.uint16}


@dataclass
class PagedKVCache:
    layers: list[torch.Tensor]
    num_blocks: int
    block_size: int

    @property
    def dtype(self) -> torch.dtype:
        return self.layers[0].dtype


def kv_cache_bytes_per_block(num_layers: int, num_kv_heads: int, head_dim: int, block_size: int,
                             dtype: torch.dtype) -> int:
    return num_layers * 2 * block_size * num_kv_heads * head_dim * dtype.itemsize


def allocate_kv_cache(num_layers: int, num_kv_heads: int, head_dim: int, num_blocks: int, block_size: int,
                      dtype: torch.dtype, device: torch.device | str) -> PagedKVCache:
    storage = zeroed_storage((num_layers, 2, num_blocks, num_kv_heads, block_size, head_dim), dtype, device)
    return PagedKVCache(list(storage.unbind(0)), num_blocks, block_size)


def zeroed_storage(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device | str) -> torch.Tensor:
    """A zero-filled tensor for a cache of any layout (on CPU from calloc, so untouched pages cost nothing)."""
    device = torch.device(device)
    if device.type == "cpu" and dtype in _NUMPY_STORAGE:
        return torch.from_numpy(np.zeros(shape, dtype=_NUMPY_STORAGE[dtype])).view(dtype)
    return torch.zeros(shape, dtype=dtype, device=device)
