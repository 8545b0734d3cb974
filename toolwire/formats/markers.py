"""Finding markers in streamed text: in running content, and at an expected place inside a block.

Markers may arrive split over several deltas (they are not always single tokens), so both helpers
work incrementally: `MarkerFinder` reports how much of a text's end could still be the beginning of a
marker (that part is held back, not yet content); `LiteralMatcher` matches one of several markers
character by character across deltas.
"""

from __future__ import annotations


class MarkerFinder:
    """Finds the first of several markers in a text, and a marker's beginning cut off at its end."""

    def __init__(self, markers: tuple[str, ...] | list[str]):
        self.markers = tuple(m for m in markers if m)
        # markers that begin with another marker (xLAM's "[TOOL_CALLS]" and "[", "```json" and "```")
        self._longer = {m: [k for k in self.markers if len(k) > len(m) and k.startswith(m)] for m in self.markers}

    def find(self, text: str, start: int = 0) -> tuple[int, str] | None:
        """(position, marker) of the earliest marker in text[start:], the longest where several
        begin there, or None. A marker that a longer one begins with, found where the text ends
        before the longer one could be told apart, is not found yet: the text from there is held as
        a marker's beginning (`partial_at_end`) until more arrives, so chunking cannot change the
        marker found."""
        best: tuple[int, str] | None = None
        for marker in self.markers:
            at = text.find(marker, start)
            if at != -1 and (best is None or at < best[0] or (at == best[0] and len(marker) > len(best[1]))):
                best = (at, marker)
        if best is not None:
            at, left = best[0], len(text) - best[0]
            if any(left < len(longer) and longer.startswith(text[at:]) for longer in self._longer[best[1]]):
                return None
        return best

    def partial_at_end(self, text: str) -> int:
        """Length of the longest end of `text` that is a proper beginning of some marker (0 if none)."""
        longest = 0
        for marker in self.markers:
            at = text.find(marker[0], max(0, len(text) - len(marker) + 1))
            while at != -1:
                if len(text) - at > longest and marker.startswith(text[at:]):
                    longest = len(text) - at
                    break
                at = text.find(marker[0], at + 1)
        return longest


class LiteralMatcher:
    """Matches one of several markers, character by character, as text arrives.

    The markers given together must not be beginnings of one another; `feed` returns the index just
    past the match, or the index of the first character that matches none (then `matched` stays None).
    """

    __slots__ = ("choices", "matched_length", "start", "matched", "failed")

    def __init__(self, choices: tuple[str, ...] | list[str], start: int):
        self.choices = [c for c in choices if c]
        self.matched_length = 0
        self.start = start  # absolute position where the marker begins
        self.matched: str | None = None
        self.failed = False

    def feed(self, text: str, i: int) -> int:
        k, choices, n = self.matched_length, self.choices, len(text)
        while i < n:
            ch = text[i]
            choices = [c for c in choices if c[k] == ch]
            if not choices:
                self.failed = True
                self.choices = choices
                self.matched_length = k
                return i
            k += 1
            i += 1
            for c in choices:
                if len(c) == k:
                    self.matched = c
                    self.choices, self.matched_length = choices, k
                    return i
        self.choices, self.matched_length = choices, k
        return i
