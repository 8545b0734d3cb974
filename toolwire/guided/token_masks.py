"""Per vocabulary: each token's text, and the fixed token sets the constraint narrows a step to.

Built once per served tokenizer (a pass over the vocabulary) and shared by every sequence. Each set
is an int32 bitmask row in the engine's convention (bit j of word i: token 32 * i + j).
"""

from __future__ import annotations

import re
from typing import Sequence

import torch

# Characters that open (or separate) a structure: a token holding none of them cannot lengthen the
# shortest completion of a JSON / Python / XML-tag output.
_OPENERS = "\"'[{(<,:="
_END_THEN_SEPARATOR = re.compile(r"[\"'\]\})][\s\"'\]\})]*,")


class TokenMasks:
    def __init__(self, token_texts: Sequence[bytes]):
        self._texts = [t.decode("utf-8", errors="ignore") for t in token_texts]
        self._without: dict[str, torch.Tensor] = {}
        texts = self._texts
        self.quiet = pack_bitmask([bool(t) and not any(ch in _OPENERS for ch in t) and not _ends_mid_character(raw)
                                   for t, raw in zip(texts, token_texts)])
        self.no_separator = pack_bitmask(["," not in t for t in texts])
        # Inside an array's item: tokens that do not end the item and go on to the next one.
        self.no_end_then_separator = pack_bitmask([not _END_THEN_SEPARATOR.search(t) for t in texts])
        self._ends_string = {q: pack_bitmask([q in t and "\\" + q not in t for t in texts]) for q in "\"'"}
        # Tokens of one UTF-8 continuation byte (0x80-0xBF), to finish a character split across tokens.
        self.continuation_byte_tokens = [i for i, t in enumerate(token_texts) if len(t) == 1 and 0x80 <= t[0] < 0xC0]

    def without_any_of(self, characters: str) -> torch.Tensor:
        """Tokens that hold none of `characters`."""
        if characters not in self._without:
            self._without[characters] = pack_bitmask([not any(ch in t for ch in characters) for t in self._texts])
        return self._without[characters]

    def text(self, token_id: int) -> str:
        return self._texts[token_id] if 0 <= token_id < len(self._texts) else ""

    def ends_string(self, quote: str) -> torch.Tensor:
        """Tokens that hold the quote unescaped (inside a string: tokens that end it)."""
        return self._ends_string[quote]


def _ends_mid_character(raw: bytes) -> bool:
    """Whether the bytes end with a UTF-8 character begun but not finished (its rest is still to come,
    so the shortest completion grows by the bytes that finish it)."""
    for back in range(1, min(4, len(raw)) + 1):
        byte = raw[-back]
        if byte < 0x80:
            return False
        if byte >= 0xC0:  # the lead byte: it announces 2, 3 or 4 bytes
            return back < (2 if byte < 0xE0 else 3 if byte < 0xF0 else 4)
    return False


def narrow(bitmask_row: torch.Tensor, allowed: torch.Tensor) -> bool:
    """bitmask_row &= allowed, unless that would leave no token; returns whether it narrowed."""
    width = min(bitmask_row.shape[0], allowed.shape[0])
    narrowed = bitmask_row[:width] & allowed[:width]
    if not bool(narrowed.any()):
        return False
    bitmask_row[:width] = narrowed
    return True


def pack_bitmask(allowed: Sequence[bool]) -> torch.Tensor:
    width = (len(allowed) + 31) // 32
    bits = torch.tensor(list(allowed) + [False] * (32 * width - len(allowed)), dtype=torch.int64)
    words = (bits.view(width, 32) << torch.arange(32, dtype=torch.int64)).sum(dim=1)
    return ((words + 2**31) % 2**32 - 2**31).to(torch.int32)
