"""Loops with variation: an array whose items keep coming back changed a little, a string that
restarts the same sentence. The exact-repeat guard (repetition.py) cannot see them, and a small
model writes them until max_tokens: `["restaurant_name", "restaurant_name_id", "restaurant_name_id_id",
...]`, `["e.g.", "E.g.", "Eg.", ...]`, "Find the weather. Find the weather in. Find the weather for. ...".

`VariationGuard` follows the reply's text through a light scanner of JSON / Python literals (strings,
arrays, objects; the innermost array's items and the open string's sentences). An item is a *variant*
of the one before it when the two differ but are the same once case and punctuation are dropped, or
the later one only extends the earlier (`x` -> `x_id`). After VARIANTS_IN_A_ROW variants in a row,
the array is steered to close: a separator may no longer follow its items, so the grammar's only
way on is `]`. A sentence (at least MIN_SENTENCE characters) that comes back a third time nearly the
same (difflib ratio >= SENTENCE_SIMILARITY) steers its string to close: only tokens that end the
string may come next. An item equal to the one before counts too when it is a string, object or
array (`{"city": "X", "nights": 2}` again and again, too long a period for the exact-repeat guard),
but never a number, boolean or null (an array of 20 equal numbers is a legitimate request); items that
differ in their digits (`file1`, `file2`, dates) are not variants.
"""

from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass, field

import torch

from toolwire.guided.token_masks import TokenMasks, narrow

VARIANTS_IN_A_ROW = 3
MIN_SENTENCE = 20
SENTENCE_SIMILARITY = 0.8
_SENTENCE_END = ".!?"
_NOT_WORD = re.compile(r"[^0-9a-z]+")
_SCALAR = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?|true|false|null|True|False|None")


def _normal(text: str) -> str:
    return _NOT_WORD.sub("", text.lower())


def is_variant(item: str, before: str) -> bool:
    """Whether `item` is `before` changed a little: equal once case and punctuation are dropped, or
    `before` extended; never when they are equal."""
    if item == before:
        return False
    a, b = _normal(item), _normal(before)
    return bool(b) and (a == b or (a.startswith(b) and len(a) > len(b)))


@dataclass
class _Array:
    items: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    variants: int = 0
    closing: bool = False

    def end_item(self) -> None:
        item = "".join(self.current).strip()
        self.current.clear()
        if not item:
            return
        repeated = bool(self.items) and (is_variant(item, self.items[-1])
                                         or (item == self.items[-1] and not _SCALAR.fullmatch(item)))
        self.variants = self.variants + 1 if repeated else 0
        self.items.append(item)
        del self.items[:-2]
        if self.variants >= VARIANTS_IN_A_ROW:
            self.closing = True


@dataclass
class _String:
    quote: str
    sentence: list[str] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)
    escaped: bool = False
    closing: bool = False

    def add(self, ch: str) -> None:
        self.sentence.append(ch)
        if ch in _SENTENCE_END:
            self._end_sentence()

    def _end_sentence(self) -> None:
        sentence = _normal("".join(self.sentence))
        self.sentence.clear()
        if len(sentence) < MIN_SENTENCE:
            return
        again = sum(1 for earlier in self.sentences
                    if difflib.SequenceMatcher(None, sentence, earlier).ratio() >= SENTENCE_SIMILARITY)
        self.sentences.append(sentence)
        if again >= 2:
            self.closing = True


class VariationGuard:
    """Per sequence. `feed` each accepted token; `restrict` a filled bitmask row."""

    def __init__(self, masks: TokenMasks):
        self._masks = masks
        self._stack: list[object] = []  # _Array, _String, or "{" / "(" for objects and calls

    def __deepcopy__(self, memo) -> "VariationGuard":
        clone = VariationGuard(self._masks)  # the masks are shared, never copied
        clone._stack = copy.deepcopy(self._stack, memo)
        return clone

    def text_of(self, token_id: int) -> str:
        return self._masks.text(token_id)

    def feed(self, token_id: int) -> None:
        for ch in self._masks.text(token_id):
            self._scan(ch)

    def _scan(self, ch: str) -> None:
        top = self._stack[-1] if self._stack else None
        array = self._innermost_array()
        if isinstance(top, _String):
            if array is not None:
                array.current.append(ch)
            if top.escaped:
                top.escaped = False
            elif ch == "\\":
                top.escaped = True
            elif ch == top.quote:
                self._stack.pop()
            else:
                top.add(ch)
            return
        if ch in "]})":
            if self._stack:
                popped = self._stack.pop()
                if isinstance(popped, _Array):
                    popped.end_item()
            array = self._innermost_array()
        elif ch == "," and isinstance(top, _Array):
            top.end_item()
            return
        if array is not None:
            array.current.append(ch)
        if ch in "\"'":
            self._stack.append(_String(ch))
        elif ch == "[":
            self._stack.append(_Array())
        elif ch in "{(":
            self._stack.append(ch)

    def _innermost_array(self) -> _Array | None:
        return next((f for f in reversed(self._stack) if isinstance(f, _Array)), None)

    def restrict(self, bitmask_row: torch.Tensor) -> bool:
        """Steer a looping value to close (only where the grammar leaves a way); returns whether it did."""
        if not self._stack:
            return False
        top = self._stack[-1]
        if isinstance(top, _String) and top.closing:
            allowed = self._masks.ends_string(top.quote)
        elif isinstance(top, _Array) and top.closing:
            allowed = self._masks.no_separator
        elif len(self._stack) >= 2 and isinstance(self._stack[-2], _Array) and self._stack[-2].closing:
            allowed = self._masks.no_end_then_separator  # in an item (a string, an object) of that array
        else:
            return False
        return narrow(bitmask_row, allowed)
