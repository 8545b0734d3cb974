"""ModelRunner: lays a scheduled batch out as a ForwardBatch, runs the model, masks and samples.

Constraint bitmasks are filled on a helper thread while the forward pass runs (torch releases the
GIL inside its kernels), then applied to the float32 logits before the sampler sees them.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import torch

from toolwire.engine.constraint import allow_all_bitmask, apply_bitmask
from toolwire.engine.cuda_graphs import DecodeGraphs
from toolwire.engine.forward_batch import ForwardBatch
from toolwire.engine.sampler import Sampler, SamplerOutput
from toolwire.engine.scheduler import ScheduledBatch
from toolwire.engine.sequence import Sequence


class ModelRunner:
    def __init__(self, model, kv_cache, block_size: int, vocab_size: int, sampler: Sampler,
                 device: torch.device, decode_graphs: DecodeGraphs | None = None):
        self.model = model
        self.kv_cache = kv_cache
        self.block_size = block_size
        self.vocab_size = vocab_size
        self.sampler = sampler
        self.device = device
        self.decode_graphs = decode_graphs
        self._mask_filler = ThreadPoolExecutor(max_workers=1, thread_name_prefix="toolwire-masks")

    def run(self, batch: ScheduledBatch) -> tuple[list[Sequence], SamplerOutput | None]:
        """Run one step; return the sequences that got a next token, and their tokens."""
        forward_batch, sample_seqs = self.prepare(batch)
        bitmask = self._start_filling_bitmasks(sample_seqs)
        with torch.inference_mode():
            hidden = self._forward(forward_batch)
            if not sample_seqs:
                return [], None
            logits = self.model.compute_logits(hidden[forward_batch.logits_indices]).float()
            if bitmask is not None:
                rows, masks = bitmask.result()
                constrained = logits[rows]
                apply_bitmask(constrained, masks)
                logits[rows] = constrained
            return sample_seqs, self.sampler(logits, sample_seqs)

    def prepare(self, batch: ScheduledBatch) -> tuple[ForwardBatch, list[Sequence]]:
        size = self.block_size
        input_ids: list[int] = []
        positions: list[int] = []
        slots: list[int] = []
        context_lens: list[int] = []
        logits_indices: list[int] = []
        sample_seqs: list[Sequence] = []
        for seq, num_new in zip(batch.seqs, batch.num_new_tokens):
            start, end = seq.num_computed_tokens, seq.num_computed_tokens + num_new
            table = seq.block_table
            input_ids += seq.token_ids[start:end]
            positions += range(start, end)
            slots += [table[p // size] * size + p % size for p in range(start, end)]
            context_lens.append(end)
            if end == seq.num_tokens:
                logits_indices.append(len(input_ids) - 1)
                sample_seqs.append(seq)
        width = max(len(seq.block_table) for seq in batch.seqs)
        tables = [seq.block_table + [0] * (width - len(seq.block_table)) for seq in batch.seqs]
        device = self.device
        forward_batch = ForwardBatch(
            input_ids=torch.tensor(input_ids, dtype=torch.long, device=device),
            positions=torch.tensor(positions, dtype=torch.long, device=device),
            slot_mapping=torch.tensor(slots, dtype=torch.long, device=device),
            block_tables=torch.tensor(tables, dtype=torch.int32, device=device),
            query_lens=list(batch.num_new_tokens),
            context_lens=context_lens,
            logits_indices=torch.tensor(logits_indices, dtype=torch.long, device=device),
            context_lens_tensor=torch.tensor(context_lens, dtype=torch.int32, device=device),
        )
        return forward_batch, sample_seqs

    def _forward(self, forward_batch: ForwardBatch) -> torch.Tensor:
        if self.decode_graphs is not None and self.decode_graphs.can_run(forward_batch):
            return self.decode_graphs.run(forward_batch)
        return self.model.forward(forward_batch, self.kv_cache)

    def _start_filling_bitmasks(self, seqs: list[Sequence]) -> Future | None:
        rows = [i for i, seq in enumerate(seqs) if seq.constraint is not None]
        if not rows:
            return None
        constraints = [seqs[i].constraint for i in rows]

        def fill() -> tuple[list[int], torch.Tensor]:
            masks = allow_all_bitmask(len(rows), self.vocab_size)
            for row, constraint in enumerate(constraints):
                constraint.fill_bitmask(masks[row])
            return rows, masks

        return self._mask_filler.submit(fill)

    def close(self) -> None:
        self._mask_filler.shutdown(wait=False)
