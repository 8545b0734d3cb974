"""The per-sequence constraint the engine drives: xgrammar's matcher behind the engine's hook.

The engine (toolwire.engine.constraint.TokenConstraint) calls, per decode step, `fill_bitmask` on a
helper thread while the forward pass runs, then `accept_token` with the sampled token and
`is_terminated` to end the sequence. The matcher ends once it has accepted a stop token at a place
where the grammar is complete.

Closing within the budget: told how many tokens the reply may still take (`limit_tokens`), the
constraint keeps an eye on how many the shortest completion from its state needs
(`ShortestCompletion`). Once the tokens left come down to that, it allows only the completion's tokens,
one per step, so the reply's last token completes the grammar: a call cut by max_tokens still ends
as a whole, schema-valid call (its finish_reason stays "length").
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from toolwire.engine.constraint import set_allowed
from toolwire.guided.closing import ShortestCompletion
from toolwire.guided.repetition import RepetitionGuard
from toolwire.guided.token_masks import TokenMasks, narrow
from toolwire.guided.variation import VariationGuard

# How many tokens of slack the completion is re-measured with every step; further from the limit it
# is re-measured every REMEASURE_EVERY tokens (one token rarely adds more than a few to it).
CLOSING_MARGIN = 24
REMEASURE_EVERY = 8
# Within this many tokens of the limit (beyond what the completion needs), only tokens that open
# nothing (no quote, bracket, brace, tag or separator: text, digits, closers) may come besides the
# completion's own next token, so the completion cannot grow past the tokens left.
CLOSING_ZONE = 12


class XGrammarConstraint:
    __slots__ = ("_matcher", "_stop_token_ids", "_width", "_guard", "_variation", "_closing", "_budget", "_need",
                 "_measured_at", "_forced", "_first_need", "_call_need", "_closing_next", "accepted")

    def __init__(self, compiled: Any, stop_token_ids: list[int], vocab_size: int,
                 repetition_guard: RepetitionGuard | None = None, closing: ShortestCompletion | None = None,
                 token_masks: TokenMasks | None = None):
        """`token_masks`: the vocabulary's token texts and sets; with a repetition guard, loops with
        variation are broken too (VariationGuard)."""
        import xgrammar as xgr

        self._matcher = xgr.GrammarMatcher(compiled)
        self._stop_token_ids = stop_token_ids
        self._width = (vocab_size + 31) // 32
        self._guard = repetition_guard
        self._variation = VariationGuard(token_masks) if repetition_guard and token_masks is not None else None
        self._closing = closing
        self._budget: int | None = None
        self._need = 0  # the completion's length in tokens when last measured
        self._measured_at = -REMEASURE_EVERY
        self._forced: list[int] = []  # the completion being written, once the limit is near
        self._first_need = 0  # the whole output's shortest length (0 when the empty output is complete)
        self._closing_next: int | None = None  # the completion's first token when last measured
        self._call_need: int | None = None  # tool_choice auto: the fewest tokens a call takes
        self.accepted: list[int] = []

    @property
    def matcher(self) -> Any:
        return self._matcher

    def limit_tokens(self, max_new_tokens: int) -> None:
        """The most tokens this reply may take (max_tokens, or what the context has left)."""
        self._budget = max_new_tokens

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
            set_allowed(bitmask_row, self._stop_token_ids)
            return True
        forced = self._completion_due()
        if forced is not None:
            set_allowed(bitmask_row, forced)
            return True
        restricted = bool(self._matcher.fill_next_token_bitmask(bitmask_row))
        if self._call_would_not_fit():
            narrow(bitmask_row, self._closing.no_call_opener)
            restricted = True
        elif self._in_closing_zone():
            next_token = self._closing_next
            keep = bool(_allowed(bitmask_row, next_token))
            bitmask_row &= self._closing.quiet_tokens[:self._width]
            if keep:
                _allow(bitmask_row, next_token)
            return True
        varied = self._variation is not None and self._variation.restrict(bitmask_row)
        return self._break_loop(bitmask_row) or varied or restricted

    def _call_would_not_fit(self) -> bool:
        """In free text near the limit, where a call begun now could end only as its shortest form
        (tool_choice auto)."""
        if self._call_need is None or self._budget is None or not self._matcher.is_completed():
            return False
        return self._budget - len(self.accepted) <= self._call_need + CLOSING_MARGIN

    def _in_closing_zone(self) -> bool:
        if self._budget is None or self._closing is None or self._closing_next is None \
                or self._closing.quiet_tokens is None:
            return False
        return self._budget - len(self.accepted) - self._need <= CLOSING_ZONE

    def _completion_due(self) -> list[int] | None:
        """The tokens allowed once the tokens left come down to what the completion needs: its next
        token, or the stop tokens when the output is complete and another call would not fit."""
        if self._forced:
            return self._forced[:1]
        if self._closing is None or self._budget is None:
            return None
        left = self._budget - len(self.accepted)
        if self._first_need and 0 < left <= self._first_need + CLOSING_MARGIN and self._matcher.is_completed():
            # Complete (a call written, more may follow): end now rather than begin one that could only
            # end as its shortest form (empty strings, zeros).
            return self._stop_token_ids
        since = len(self.accepted) - self._measured_at
        if left > self._need + CLOSING_MARGIN and since < REMEASURE_EVERY:
            return None
        completion = self._closing.tokens(self._matcher)
        self._measured_at = len(self.accepted)
        self._closing_next = completion[0] if completion else None
        if completion is None:
            return None
        if not self.accepted:
            self._first_need = len(completion)
            if self._closing.no_call_opener is not None:
                self._call_need = self._closing.call_tokens(self._matcher)
        if not completion:
            return None
        self._need = len(completion)
        if len(completion) >= left:
            self._forced = completion
            return completion[:1]
        return None

    def _break_loop(self, bitmask_row: torch.Tensor) -> bool:
        """Disallow the token that would continue a loop (see RepetitionGuard), unless it is the only
        one allowed; returns whether it did."""
        text_of = self._variation.text_of if self._variation is not None else None
        token_id = self._guard.looping_token(self.accepted, text_of) if self._guard else None
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
            if self._variation is not None:
                self._variation.feed(token_id)
            if self._forced:
                if self._forced[0] == token_id:
                    del self._forced[0]
                else:
                    self._forced.clear()
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
        self._forced.clear()
        self._measured_at = -REMEASURE_EVERY

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
        clone._variation = copy.deepcopy(self._variation)
        clone._closing, clone._budget, clone._need = self._closing, self._budget, self._need
        clone._measured_at, clone._forced = self._measured_at, list(self._forced)
        clone._first_need, clone._closing_next = self._first_need, self._closing_next
        clone._call_need = self._call_need
        clone.accepted = list(self.accepted)
        return clone


def _allow(bitmask_row: torch.Tensor, token_id: int) -> None:
    word, bit = divmod(token_id, 32)
    bitmask_row[word] = _as_int32(int(bitmask_row[word]) | (1 << bit))


def _allowed(bitmask_row: torch.Tensor, token_id: int) -> bool:
    word, bit = divmod(token_id, 32)
    return bool((int(bitmask_row[word]) >> bit) & 1)


def _as_int32(value: int) -> int:
    return (value + 2**31) % 2**32 - 2**31
