"""RepetitionGuard: stops a constrained reply from looping inside a value.

A small model held to a grammar sometimes falls into a loop the grammar cannot see: a string value
that goes `"police_police_police...` or an array that repeats the same items, until max_tokens cuts
the call short and it no longer matches its schema. Once the reply's last tokens are one short run
repeated (a period of at most `max_period` tokens, seen `min_repeats` times in a row and spanning at
least `min_span` tokens), the token that would continue the loop is disallowed, so the model takes
its next choice among what the grammar allows (usually closing the value). A value the user really
wants repetitive is rarely that long and that regular in a tool call -- except a run of equal
numbers, booleans or nulls in an array (`[0, 0, 0, ...]`), which is left alone when the tokens' text
is known. `GuidedDecoding(..., repetition_guard=None)` (the server's `--no-repetition-guard`) turns it
off, and the guard against loops with variation (variation.py) with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

_SCALAR_ITEM = re.compile(r"\s*,?\s*(-?\d+(\.\d+)?([eE][-+]?\d+)?|true|false|null|True|False|None)\s*,?\s*")


@dataclass(frozen=True)
class RepetitionGuard:
    max_period: int = 12
    min_repeats: int = 4
    min_span: int = 16

    def looping_token(self, history: list[int], text_of: Callable[[int], str] | None = None) -> int | None:
        """The token that would continue a loop at the end of `history`, or None. `text_of`: a
        token's text, to tell a run of equal array scalars (not a loop) from one."""
        n = len(history)
        for period in range(1, self.max_period + 1):
            span = max(self.min_span, self.min_repeats * period)
            if span > n:
                break
            if all(history[n - k] == history[n - k - period] for k in range(1, span - period + 1)):
                unit = history[n - period:]
                if text_of is not None and _SCALAR_ITEM.fullmatch("".join(map(text_of, unit))):
                    return None
                return history[n - period]
        return None
