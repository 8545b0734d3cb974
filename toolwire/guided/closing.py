"""The shortest way from a matcher's state to a complete output, so a reply can end valid at its limit.

A grammar-held reply that is cut by max_tokens (or the context length) in the middle of a call is a
call that cannot parse. `ShortestCompletion` searches, from the matcher's current state, a short
text that completes the grammar: what the grammar forces is taken as it is (xgrammar's jump-forward
string), and where it leaves a choice, the candidates are tried in an order that closes things soonest:
the family's own value-end markers (`</parameter>`), then the JSON / Python / tag closers (`"`, `]`,
`}`, `)`, `'`, `/`), separators, a zero, and only then any other printable character. So an open string is closed,
open arrays and objects are closed, a missing required key is written with the shortest value the
schema allows (`""`, `0`, `[]`, the first enum member reached), and the end marker follows. The text is
then tokenized with the model's tokenizer and the tokens are checked against a copy of the matcher.

Inside free text (a string value, an XML parameter's text) every closer is also just text, and
taking it changes nothing. There, a candidate is taken only if it moves the matcher to another
state, seen as another answer to "which closers may come next?" -- so `'` ends a Python string
where `"` would only lengthen it, and `"` ends a JSON string inside an XML parameter where
`</parameter>` would be text.

The search is greedy, not exhaustive: it finds a complete output, short but not always the
shortest. It costs one to a few milliseconds; the constraint runs it only in a reply's last tokens.
"""

from __future__ import annotations

import logging
import string
from typing import Any, Callable, Sequence

import torch

from toolwire.guided.token_masks import TokenMasks

logger = logging.getLogger("toolwire.guided")

_CLOSERS = ('"', "]", "}", ")", "'", "/", ",", ":", "0")
_OTHERS = tuple(ch for ch in string.ascii_letters + string.digits + string.punctuation if ch not in _CLOSERS)
_WHITESPACE = (" ", "\n", "\t")
# Most states outside free text take at most two of the closers (`,` and `]` after an array item);
# with more (text, or a number, which goes on with `0`), a closer must also change the state.
_MOST_CLOSERS_OUTSIDE_TEXT = 2
# A completion longer than this is not searched further (a grammar whose values cannot be closed
# by these candidates, e.g. a long fixed pattern, gets no completion rather than a slow search).
MAX_COMPLETION_CHARS = 4096


class ShortestCompletion:
    """`encode`: text -> token ids of the model's tokenizer (no special tokens added);
    `value_end_markers`: strings that end a free-text value in the output's syntax."""

    def __init__(self, encode: Callable[[str], list[int]], value_end_markers: Sequence[str] = (),
                 token_masks: TokenMasks | None = None, call_openers: Sequence[str] = ()):
        """`token_masks`: the vocabulary's token sets: the tokens that open nothing (used near the
        limit) and the one-byte tokens (to finish a character the reply has written part of).
        `call_openers`: what opens a call in free text (tool_choice auto), so that near the limit a
        call that could not end is not begun."""
        self._encode = encode
        self._masks = token_masks
        self.quiet_tokens = token_masks.quiet if token_masks is not None else None
        self._call_openers = tuple(call_openers)
        self.no_call_opener = (token_masks.without_any_of("".join(o[0] for o in call_openers))
                               if call_openers and token_masks is not None else None)
        self._closers = tuple(value_end_markers) + _CLOSERS
        self._others = _OTHERS + _WHITESPACE

    def text(self, matcher: Any) -> str | None:
        """A text that takes a copy of `matcher` to a complete state ("" if it is complete); None if
        the search finds none."""
        matcher = matcher.fork()
        pieces: list[str] = []
        length = 0
        while not matcher.is_completed():
            piece = matcher.find_jump_forward_string() or self._first_accepted(matcher)
            if piece is None or length + len(piece) > MAX_COMPLETION_CHARS:
                return None
            if not matcher.accept_string(piece):
                return None
            pieces.append(piece)
            length += len(piece)
        return "".join(pieces)

    def _first_accepted(self, matcher: Any) -> str | None:
        closers = [c for c in self._closers if _accepts(matcher, c)]
        if len(closers) > _MOST_CLOSERS_OUTSIDE_TEXT:
            # Free text: the closer that leaves it.
            before = self._closers_allowed(matcher)
            for closer in closers:
                after = matcher.fork()
                after.accept_string(closer)
                if self._closers_allowed(after) != before:
                    return closer
        if closers:
            return closers[0]
        return next((c for c in self._others if _accepts(matcher, c)), None)

    def _closers_allowed(self, matcher: Any) -> tuple[bool, ...]:
        return tuple(_accepts(matcher, c) for c in self._closers)

    def tokens(self, matcher: Any) -> list[int] | None:
        """The completion as token ids that `matcher` accepts one by one; None if there is none (or
        the tokenizer writes it with tokens the grammar does not take, such as special tokens)."""
        head = self._finish_character(matcher)
        if head is None:
            return None
        after_head = matcher.fork()
        for token_id in head:
            after_head.accept_token(token_id)
        text = self.text(after_head)
        if text is None:
            return None
        if not text:
            return head
        token_ids = list(self._encode(text))
        check = after_head
        for token_id in token_ids:
            if not check.accept_token(token_id):
                logger.debug("the completion %r does not tokenize into tokens the grammar accepts", text)
                return None
        return head + token_ids if check.is_completed() else None

    def call_tokens(self, matcher: Any) -> int | None:
        """From free text: the fewest tokens a call takes, its opener included (None: no openers)."""
        lengths = []
        for opener in self._call_openers:
            opened = matcher.fork()
            if opened.accept_string(opener) and (rest := self.tokens(opened)) is not None:
                lengths.append(len(self._encode(opener)) + len(rest))
        return min(lengths, default=None)

    def _finish_character(self, matcher: Any) -> list[int] | None:
        """One-byte tokens that finish a UTF-8 character the output has written only part of (the
        vocabulary split it): [] when none is open, None when it cannot be finished."""
        if self._masks is None or any(_accepts(matcher, c) for c in self._closers + self._others):
            return []
        matcher = matcher.fork()
        head: list[int] = []
        for _ in range(3):
            token_id = next((t for t in self._masks.continuation_byte_tokens if matcher.fork().accept_token(t)), None)
            if token_id is None:
                return None
            matcher.accept_token(token_id)
            head.append(token_id)
            if any(_accepts(matcher, c) for c in self._closers + self._others):
                return head
        return None


def _accepts(matcher: Any, text: str) -> bool:
    return matcher.fork().accept_string(text)

