"""Sequence: one stream of tokens being generated (a request with n > 1 has n of them)."""

from __future__ import annotations

import enum
import itertools
from typing import TYPE_CHECKING

import torch

from toolwire.engine.sampling_params import SamplingParams

if TYPE_CHECKING:
    from toolwire.engine.constraint import TokenConstraint

_seq_ids = itertools.count()


class SequenceStatus(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


class Sequence:
    def __init__(
        self,
        request_id: str,
        prompt_token_ids: list[int],
        params: SamplingParams,
        index: int = 0,
        generator: torch.Generator | None = None,
        constraint: TokenConstraint | None = None,
    ):
        self.seq_id = next(_seq_ids)
        self.request_id = request_id
        self.index = index
        self.params = params
        self.token_ids: list[int] = list(prompt_token_ids)
        self.num_prompt_tokens = len(prompt_token_ids)
        # Tokens whose key/value are in the cache (computed, or found there by prefix caching).
        self.num_computed_tokens = 0
        # Prompt tokens found in the prefix cache when the sequence was first scheduled.
        self.num_cached_tokens = 0
        self.block_table: list[int] = []
        # Hashes of this sequence's full blocks that are registered in the prefix cache, in order.
        self.block_hashes: list[int] = []
        self.status = SequenceStatus.WAITING
        # Only seeded sequences get their own generator; the others share the engine's.
        self.generator = generator
        self.constraint = constraint
        self.finish_reason: str | None = None
        self.stop_reason: str | int | None = None

    def __repr__(self) -> str:
        return (f"Sequence({self.request_id}#{self.index}, tokens={self.num_tokens}, "
                f"computed={self.num_computed_tokens}, {self.status.value})")

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def num_output_tokens(self) -> int:
        return len(self.token_ids) - self.num_prompt_tokens

    @property
    def output_token_ids(self) -> list[int]:
        return self.token_ids[self.num_prompt_tokens:]

    @property
    def num_uncomputed_tokens(self) -> int:
        return len(self.token_ids) - self.num_computed_tokens

    @property
    def is_finished(self) -> bool:
        return self.status is SequenceStatus.FINISHED

    def append_token(self, token_id: int) -> None:
        self.token_ids.append(token_id)

    def reset_for_recompute(self) -> None:
        """After preemption: the cache is gone; everything is computed again from the start."""
        self.num_computed_tokens = 0
        self.block_table = []
        self.block_hashes = []
        self.status = SequenceStatus.WAITING
