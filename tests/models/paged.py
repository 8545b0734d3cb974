"""Hand-built ForwardBatches over a paged cache: block tables, slot mappings, shared prefixes.

    pages = PagedLayout(num_blocks=64, block_size=4)
    seq = pages.sequence(token_ids)
    batch, rows = pages.step([(seq, 5)])      # seq's next 5 tokens; rows[i] = (seq, position) of row i
    logits = paged_logits(model, token_ids, (9, 1, 1, 3))  # a whole sequence's logits, in those chunks

Blocks are handed out in a scrambled order (never block 0, which engines keep as a null block), so a
sequence's blocks are not contiguous in the cache.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch

from toolwire.engine.forward_batch import ForwardBatch


@dataclass(eq=False)
class PagedSequence:
    token_ids: list[int]
    block_table: list[int] = field(default_factory=list)
    num_computed: int = 0


class PagedLayout:
    def __init__(self, num_blocks: int, block_size: int, seed: int = 0):
        self.block_size = block_size
        self.num_blocks = num_blocks
        self.free = list(range(1, num_blocks))
        random.Random(seed).shuffle(self.free)

    def sequence(self, token_ids: list[int], share_prefix_of: PagedSequence | None = None,
                 shared_blocks: int = 0) -> PagedSequence:
        """A new sequence; with share_prefix_of, its first shared_blocks blocks are that sequence's
        (a prefix-cache hit: those tokens count as computed already)."""
        seq = PagedSequence(list(token_ids))
        if share_prefix_of is not None:
            seq.block_table = share_prefix_of.block_table[:shared_blocks]
            seq.num_computed = shared_blocks * self.block_size
            assert seq.token_ids[:seq.num_computed] == share_prefix_of.token_ids[:seq.num_computed]
        return seq

    def preempt(self, seq: PagedSequence) -> None:
        """Recompute preemption: the sequence loses its blocks and will be prefilled again."""
        seq.block_table = []
        seq.num_computed = 0

    def _slot(self, seq: PagedSequence, position: int) -> int:
        while len(seq.block_table) <= position // self.block_size:
            seq.block_table.append(self.free.pop())
        return seq.block_table[position // self.block_size] * self.block_size + position % self.block_size

    def step(self, work: list[tuple[PagedSequence, int]]) -> tuple[ForwardBatch, list[tuple[PagedSequence, int]]]:
        """One batch: each (seq, n) brings seq's next n tokens. Logits are asked for every row."""
        ids, positions, slots, rows, query_lens, context_lens = [], [], [], [], [], []
        for seq, count in work:
            start = seq.num_computed
            assert start + count <= len(seq.token_ids)
            for p in range(start, start + count):
                ids.append(seq.token_ids[p])
                positions.append(p)
                slots.append(self._slot(seq, p))
                rows.append((seq, p))
            seq.num_computed += count
            query_lens.append(count)
            context_lens.append(seq.num_computed)
        width = max(len(seq.block_table) for seq, _ in work)
        tables = [seq.block_table + [0] * (width - len(seq.block_table)) for seq, _ in work]
        batch = ForwardBatch(
            input_ids=torch.tensor(ids), positions=torch.tensor(positions), slot_mapping=torch.tensor(slots),
            block_tables=torch.tensor(tables, dtype=torch.int32), query_lens=query_lens,
            context_lens=context_lens, logits_indices=torch.arange(len(ids)),
            context_lens_tensor=torch.tensor(context_lens, dtype=torch.int32))
        return batch, rows


def paged_logits(model, token_ids: list[int], chunks: tuple[int, ...], block_size: int = 4) -> torch.Tensor:
    """The logits [len(token_ids), vocab] of one sequence fed to `model` chunk by chunk over a fresh
    paged cache, e.g. chunks (9, 1, 1, 3): a prefill, two decodes, a chunk after a cached prefix."""
    assert sum(chunks) == len(token_ids)
    pages = PagedLayout(num_blocks=len(token_ids) // block_size + 2, block_size=block_size)
    cache = model.make_kv_cache(pages.num_blocks, block_size)
    seq = pages.sequence(token_ids)
    logits = []
    with torch.inference_mode():
        for count in chunks:
            batch, _ = pages.step([(seq, count)])
            logits.append(model.compute_logits(model.forward(batch, cache)))
    return torch.cat(logits)
