"""ModelRunner: lays a scheduled batch out as a ForwardBatch, runs the model, masks and samples.

Constraint bitmasks are filled on a helper thread while the forward pass runs (torch releases the
GIL inside its kernels), then applied to the float32 logits before the sampler sees them.

The forward pass is one call for the whole batch: if it fails, the step fails. What is done per
sequence is guarded per sequence: a constraint whose mask cannot be filled, or a row the sampler
cannot draw from, fails that sequence alone (its SamplerOutput row carries the failure).
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor

import torch

from toolwire.engine.constraint import allow_all_bitmask, apply_bitmask
from toolwire.engine.cuda_graphs import DecodeGraphs
from toolwire.engine.failure import SequenceFailure
from toolwire.engine.forward_batch import ForwardBatch
from toolwire.engine.sampler import Sampler, SamplerOutput
from toolwire.engine.scheduler import ScheduledBatch
from toolwire.engine.sequence import Sequence

logger = logging.getLogger(__name__)


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
            mask_failures: dict[int, SequenceFailure] = {}
            if bitmask is not None:
                rows, masks, mask_failures = bitmask.result()
                constrained = logits[rows]
                apply_bitmask(constrained, masks)
                logits[rows] = constrained
            sampled = self._sample(logits, sample_seqs)
            for row, failure in mask_failures.items():
                sampled.failures[row] = failure
            return sample_seqs, sampled

    def _sample(self, logits: torch.Tensor, seqs: list[Sequence]) -> SamplerOutput:
        """The batch sampled in one go; should that raise, each row alone, so that only the row
        that fails loses its sequence."""
        try:
            return self.sampler(logits, seqs)
        except Exception:
            logger.exception("sampling a batch of %d failed; sampling its rows one by one", len(seqs))
        return SamplerOutput.concat([self._sample_row(logits[row:row + 1], seq) for row, seq in enumerate(seqs)])

    def _sample_row(self, logits: torch.Tensor, seq: Sequence) -> SamplerOutput:
        try:
            return self.sampler(logits, [seq])
        except Exception as error:
            logger.exception("request %s: sampling failed", seq.request_id)
            return SamplerOutput([0], [None], [SequenceFailure.from_exception("sampling", error)])

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
        """A future of (rows with a constraint, their masks, {row: failure} for constraints whose fill raised)."""
        rows = [i for i, seq in enumerate(seqs) if seq.constraint is not None]
        if not rows:
            return None
        constrained = [seqs[i] for i in rows]

        def fill() -> tuple[list[int], torch.Tensor, dict[int, SequenceFailure]]:
            masks = allow_all_bitmask(len(rows), self.vocab_size)
            failures = {}
            for mask_row, (row, seq) in enumerate(zip(rows, constrained)):
                try:
                    seq.constraint.fill_bitmask(masks[mask_row])
                except Exception as error:
                    logger.exception("request %s: filling its constraint's token mask failed", seq.request_id)
                    failures[row] = SequenceFailure.from_exception("the constraint's token mask", error)
            return rows, masks, failures

        return self._mask_filler.submit(fill)

    def close(self) -> None:
        self._mask_filler.shutdown(wait=False)
