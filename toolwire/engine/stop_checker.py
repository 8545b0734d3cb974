"""Stop strings: find them in the text stream and never let one (or its start) leak out.

Text that could still be the beginning of a stop string is held back until the next delta shows
whether it is; once a stop string appears, everything from it on is dropped.
"""

from __future__ import annotations


class StopChecker:
    def __init__(self, stop: list[str], include_stop_str_in_output: bool = False):
        self._stop = stop
        self._include = include_stop_str_in_output
        self._pending = ""
        self.matched: str | None = None

    def feed(self, delta: str) -> str:
        """Add a text delta; return what can be emitted now. Sets `matched` when a stop string hits."""
        if not self._stop:
            return delta
        text = self._pending + delta
        hit_at, hit = min(((text.find(s), s) for s in self._stop if s in text),
                          default=(-1, None), key=lambda found: found[0])
        if hit is not None:
            self.matched = hit
            self._pending = ""
            return text[:hit_at + len(hit)] if self._include else text[:hit_at]
        keep = self._partial_stop_suffix(text)
        self._pending = text[len(text) - keep:] if keep else ""
        return text[:len(text) - keep]

    def flush(self) -> str:
        """The held-back text, once the sequence ends for another reason."""
        text, self._pending = self._pending, ""
        return text

    def _partial_stop_suffix(self, text: str) -> int:
        """Length of the longest end of text that is the beginning of some stop string."""
        longest = 0
        for s in self._stop:
            for length in range(min(len(s) - 1, len(text)), longest, -1):
                if text.endswith(s[:length]):
                    longest = length
                    break
        return longest
