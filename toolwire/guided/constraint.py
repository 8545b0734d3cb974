"""The per-sequence constraint the engine drives: xgrammar's matcher behind the engine's hook.

The engine (toolwire.engine.constraint.TokenConstraint) calls, per decode step, `fill_bitmask` on a
helper thread while the forward pass runs, then `accept_token` with the sampled token and
`is_terminated` to end the sequence. The matcher ends once it has accepted a stop token at a place
where the grammar is complete.
"""

from __future__ import annotations

from typing import Any

import torch

from toolwire.guided.repetition import RepetitionGuard


class XGrammarConstraint:
    __slots__ = ("_matcher", "_stop_token_ids", "_width", "_guard", "accepted")

    def __init__(self, compiled: Any, stop_token_ids: list[int], vocab_size: int,
                 repetition_guard: RepetitionGuard | None = None):
        import xgrammar as xgr

        self._matcher = xgr.GrammarMatcher(compiled)
        self._stop_token_ids = stop_token_ids
        self._width = (vocab_size + 31) // 32
        self._guard = repetition_guard
        self.accepted: list[int] = []

    @property
    def num_accepted(self) -> int:
        return len(self.accepted)

    def fill_bitmask(self, bitmask_row: torch.Tensor) -> bool:
        """Write the allowed next tokens into bitmask_row (int32, CPU, one row); returns whether
        anything is disallowed (False: the mask allows every token and need not be applied).

        A row wider than the grammar's vocabulary (a model whose lm_head has padding rows) gets
        the extra tokens disallowed."""
        if bitmask_row.shape[0] != self._width:
            bitmask_row[self._width:] = 0
            bitmask_row = bitmask_row[:self._width]
        if self._matcher.is_terminated():
            bitmask_row.zero_()
            for token_id in self._stop_token_ids:
                word, bit = divmod(token_id, 32)
                bitmask_row[word] |= (1 << bit) - (1 << 32 if bit == 31 else 0)
            return True
        restricted = bool(self._matcher.fill_next_token_bitmask(bitmask_row))
        return self._break_loop(bitmask_row) or restricted

    def _break_loop(self, bitmask_row: torch.Tensor) -> bool:
        """Disallow the token that would continue a loop (see RepetitionGuard), unless it is the only
        one allowed; returns whether it did."""
        token_id = self._guard.looping_token(self.accepted) if self._guard else None
        if token_id is None:
            return False
        word, bit = divmod(token_id, 32)
        before = int(bitmask_row[word])
        if not (before >> bit) & 1:
            return False
        bitmask_row[word] = _as_int32(before & ~(1 << bit))
        if bool(bitmask_row[: self._width].any()):
            return True
        bitmask_row[word] = before
        return False

    def accept_token(self, token_id: int) -> bool:
        if self._matcher.accept_token(token_id):
            self.accepted.append(token_id)
            return True
        return False

    def is_terminated(self) -> bool:
        return self._matcher.is_terminated()

    def is_completed(self) -> bool:
        """Whether the output so far is complete under the grammar (a stop token may come next)."""
        return self._matcher.is_completed()

    def rollback(self, num_tokens: int = 1) -> None:
        """Forget the last `num_tokens` accepted tokens (speculative decoding, jump-forward retokenizing)."""
        self._matcher.rollback(num_tokens)
        del self.accepted[len(self.accepted) - num_tokens:]

    def jump_forward_text(self) -> str:
        """The longest text the grammar forces from here (e.g. `", "arguments": ` after a name); the
        engine may append it without running the model (retokenize it first)."""
        return self._matcher.find_jump_forward_string()

    def fork(self) -> "XGrammarConstraint":
        """An independent copy at the same state (n > 1 choices that share a prefix, beam search)."""
        clone = object.__new__(XGrammarConstraint)
        clone._matcher = self._matcher.fork()
        clone._stop_token_ids = self._stop_token_ids
        clone._width = self._width
        clone._guard = self._guard
        clone.accepted = list(self.accepted)
        return clone


def _as_int32(value: int) -> int:
    return (value + 2**31) % 2**32 - 2**31
