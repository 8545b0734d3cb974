"""BlockManager: hands out KV cache blocks to sequences and keeps the prefix cache.

A full block is known by a hash chained over all the tokens up to its end:
hash(parent block's hash, this block's tokens). Blocks whose hash is registered stay in the cache
after their last user frees them, on an LRU list that allocation evicts from only when no never-
cached block is left. A hash hit is trusted only after comparing the stored parent hash and tokens,
so a hash collision costs a cache miss, never a wrong answer.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Callable, Hashable

from toolwire.engine.sequence import Sequence

HashFn = Callable[[int | None, tuple[int, ...]], int]

# Block 0 is never handed out: padding in block tables (and CUDA-graph padding rows) points at it.
NULL_BLOCK = 0


def chained_block_hash(parent_hash: int | None, tokens: tuple[int, ...]) -> int:
    return hash((parent_hash, tokens))


class BlockManager:
    def __init__(self, num_blocks: int, block_size: int, enable_prefix_caching: bool = True,
                 hash_fn: HashFn = chained_block_hash):
        if num_blocks < 2:
            raise ValueError("the KV cache needs at least 2 blocks")
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.enable_prefix_caching = enable_prefix_caching
        self.hash_fn = hash_fn
        self.ref_counts = [0] * num_blocks
        # For blocks registered in the cache: their hash and (parent hash, tokens) for verification.
        self.block_hash: list[int | None] = [None] * num_blocks
        self.block_content: list[Hashable] = [None] * num_blocks
        self.cached_blocks: dict[int, int] = {}  # hash -> block id
        self.free_uncached: deque[int] = deque(range(1, num_blocks))
        self.free_cached: OrderedDict[int, None] = OrderedDict()  # least recently used first

    @property
    def num_usable_blocks(self) -> int:
        return self.num_blocks - 1

    @property
    def num_free_blocks(self) -> int:
        return len(self.free_uncached) + len(self.free_cached)

    def blocks_needed(self, seq: Sequence, num_new_tokens: int) -> int:
        num_slots = seq.num_computed_tokens + num_new_tokens
        return max(0, -(-num_slots // self.block_size) - len(seq.block_table))

    def match_prefix(self, seq: Sequence) -> int:
        """Attach cached blocks to a sequence that has none yet; return the tokens they cover.

        At least one token is left to compute, so the step still yields the next token's logits.
        """
        assert not seq.block_table
        if not self.enable_prefix_caching:
            return 0
        size = self.block_size
        parent = None
        for i in range((seq.num_tokens - 1) // size):
            tokens = tuple(seq.token_ids[i * size:(i + 1) * size])
            block_hash = self.hash_fn(parent, tokens)
            block_id = self.cached_blocks.get(block_hash)
            if block_id is None or self.block_content[block_id] != (parent, tokens):
                break
            self._take(block_id)
            seq.block_table.append(block_id)
            seq.block_hashes.append(block_hash)
            parent = block_hash
        seq.num_computed_tokens = len(seq.block_table) * size
        return seq.num_computed_tokens

    def allocate(self, seq: Sequence, num_new_tokens: int) -> bool:
        """Give seq the blocks for num_new_tokens more tokens; False (and nothing taken) if short."""
        needed = self.blocks_needed(seq, num_new_tokens)
        if needed > self.num_free_blocks:
            return False
        for _ in range(needed):
            block_id = self._pop_free_block()
            self.ref_counts[block_id] = 1
            seq.block_table.append(block_id)
        return True

    def free(self, seq: Sequence) -> None:
        # Tail first, so a sequence's later blocks are evicted before its (more shareable) head.
        for block_id in reversed(seq.block_table):
            self.ref_counts[block_id] -= 1
            if self.ref_counts[block_id] == 0:
                if self.block_hash[block_id] is None:
                    self.free_uncached.append(block_id)
                else:
                    self.free_cached[block_id] = None
        seq.block_table = []
        seq.block_hashes = []

    def commit_full_blocks(self, seq: Sequence) -> None:
        """Register the sequence's blocks that became full of computed tokens in the prefix cache."""
        if not self.enable_prefix_caching:
            return
        size = self.block_size
        for i in range(len(seq.block_hashes), seq.num_computed_tokens // size):
            parent = seq.block_hashes[-1] if seq.block_hashes else None
            tokens = tuple(seq.token_ids[i * size:(i + 1) * size])
            block_hash = self.hash_fn(parent, tokens)
            block_id = seq.block_table[i]
            # A hash already taken (same prefix computed twice, or a collision) keeps its block.
            if block_hash not in self.cached_blocks and self.block_hash[block_id] is None:
                self.cached_blocks[block_hash] = block_id
                self.block_hash[block_id] = block_hash
                self.block_content[block_id] = (parent, tokens)
            seq.block_hashes.append(block_hash)

    def _take(self, block_id: int) -> None:
        if self.ref_counts[block_id] == 0:
            del self.free_cached[block_id]
        self.ref_counts[block_id] += 1

    def _pop_free_block(self) -> int:
        if self.free_uncached:
            return self.free_uncached.popleft()
        block_id, _ = self.free_cached.popitem(last=False)
        del self.cached_blocks[self.block_hash[block_id]]
        self.block_hash[block_id] = None
        self.block_content[block_id] = None
        return block_id
