"""Scheduler: continuous batching with chunked prefill, priority-then-FCFS admission and recompute
preemption.

Each step runs under a token budget (max_num_batched_tokens). Running sequences come first, in the
order they were admitted: a decode takes one token, a prompt still being prefilled takes the next
chunk that fits. When the KV cache runs out, the most recently admitted running sequence is
preempted: its blocks are freed and it goes back to the head of the waiting queue, to be computed
again later (its cached prefix blocks usually make that cheap). Waiting sequences are admitted in
order of priority (lower first, vLLM's meaning), then arrival, while budget, sequence slots and
blocks last; none is admitted in a step that preempted. A preempted sequence goes back ahead of the
waiting ones of its priority.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from toolwire.engine.block_manager import BlockManager
from toolwire.engine.sequence import Sequence, SequenceStatus


@dataclass
class ScheduledBatch:
    seqs: list[Sequence] = field(default_factory=list)
    # How many new tokens each sequence computes this step.
    num_new_tokens: list[int] = field(default_factory=list)
    preempted: list[Sequence] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.seqs

    def add(self, seq: Sequence, num_new_tokens: int) -> None:
        self.seqs.append(seq)
        self.num_new_tokens.append(num_new_tokens)


class Scheduler:
    def __init__(self, block_manager: BlockManager, max_num_seqs: int, max_num_batched_tokens: int):
        self.block_manager = block_manager
        self.max_num_seqs = max_num_seqs
        self.max_num_batched_tokens = max_num_batched_tokens
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.num_preemptions = 0
        # When each sequence not yet scheduled was added (by seq_id).
        self._added_at: dict[int, float] = {}
        # Called with the seconds a sequence waited from add() to its first step (for metrics).
        self.on_first_scheduled: Callable[[float], None] | None = None

    def add(self, seq: Sequence) -> None:
        self._added_at[seq.seq_id] = time.monotonic()
        self._enqueue(seq, ahead_of_equals=False)

    def has_unfinished(self) -> bool:
        return bool(self.waiting or self.running)

    def schedule(self) -> ScheduledBatch:
        batch = ScheduledBatch()
        budget = self._schedule_running(batch, self.max_num_batched_tokens)
        if not batch.preempted:
            self._admit_waiting(batch, budget)
        return batch

    def finish(self, seq: Sequence) -> None:
        """Take seq out of the queues (finished or aborted) and free its blocks."""
        if seq.status is SequenceStatus.RUNNING:
            self.running.remove(seq)
        elif seq.status is SequenceStatus.WAITING:
            self.waiting.remove(seq)
        self.block_manager.free(seq)
        self._added_at.pop(seq.seq_id, None)
        seq.status = SequenceStatus.FINISHED

    def _schedule_running(self, batch: ScheduledBatch, budget: int) -> int:
        i = 0
        while i < len(self.running) and budget > 0:
            seq = self.running[i]
            num_new = min(seq.num_uncomputed_tokens, budget)
            while not self.block_manager.allocate(seq, num_new):
                victim = self.running.pop()
                self._preempt(victim)
                batch.preempted.append(victim)
                if victim is seq:
                    return budget
            batch.add(seq, num_new)
            budget -= num_new
            i += 1
        return budget

    def _admit_waiting(self, batch: ScheduledBatch, budget: int) -> None:
        while self.waiting and budget > 0 and len(self.running) < self.max_num_seqs:
            seq = self.waiting[0]
            cached = self.block_manager.match_prefix(seq)
            num_new = min(seq.num_uncomputed_tokens, budget)
            if not self.block_manager.allocate(seq, num_new):
                self.block_manager.free(seq)
                seq.reset_for_recompute()
                return
            if seq.num_output_tokens == 0:
                seq.num_cached_tokens = cached
            self.waiting.popleft()
            added_at = self._added_at.pop(seq.seq_id, None)
            if added_at is not None and self.on_first_scheduled is not None:
                self.on_first_scheduled(time.monotonic() - added_at)
            seq.status = SequenceStatus.RUNNING
            self.running.append(seq)
            batch.add(seq, num_new)
            budget -= num_new

    def _preempt(self, seq: Sequence) -> None:
        self.num_preemptions += 1
        self.block_manager.free(seq)
        seq.reset_for_recompute()
        self._enqueue(seq, ahead_of_equals=True)

    def _enqueue(self, seq: Sequence, ahead_of_equals: bool) -> None:
        """Keep `waiting` sorted by priority; among equals a new sequence goes last, a preempted one
        first."""
        priority = seq.params.priority
        if not self.waiting or (not ahead_of_equals and self.waiting[-1].params.priority <= priority):
            self.waiting.append(seq)
            return
        for i, other in enumerate(self.waiting):
            if other.params.priority > priority or (ahead_of_equals and other.params.priority == priority):
                self.waiting.insert(i, seq)
                return
        self.waiting.append(seq)
