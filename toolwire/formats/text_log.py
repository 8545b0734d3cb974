"""The text a streaming parser has received, addressed by absolute position.

Deltas are kept as they came (appending to one growing string would copy it on every delta); a slice
joins only the chunks it covers. Text before a low-water mark that the parser will never read again is
forgotten, so a long reply that is emitted as it arrives keeps only a few chunks in memory.
"""

from __future__ import annotations

from bisect import bisect_right


class TextLog:
    def __init__(self) -> None:
        self._chunks: list[str] = []
        self._starts: list[int] = []
        self._first = 0  # index of the first chunk still kept
        self.end = 0  # absolute position just past the last character received

    def append(self, text: str) -> None:
        if text:
            self._starts.append(self.end)
            self._chunks.append(text)
            self.end += len(text)

    def slice(self, start: int, stop: int) -> str:
        """text[start:stop] in absolute positions; start must not be before a forgotten position."""
        if start >= stop:
            return ""
        k = bisect_right(self._starts, start, self._first) - 1
        chunk_start, chunk = self._starts[k], self._chunks[k]
        if stop - chunk_start <= len(chunk):
            return chunk[start - chunk_start : stop - chunk_start]
        parts = [chunk[start - chunk_start :]]
        while True:
            k += 1
            chunk_start, chunk = self._starts[k], self._chunks[k]
            if stop - chunk_start <= len(chunk):
                parts.append(chunk[: stop - chunk_start])
                return "".join(parts)
            parts.append(chunk)

    def forget_before(self, position: int) -> None:
        chunks, starts, first = self._chunks, self._starts, self._first
        last = len(chunks) - 1
        while first < last and starts[first + 1] <= position:
            chunks[first] = ""
            first += 1
        if first > 64 and first * 2 > len(chunks):
            del chunks[:first], starts[:first]
            first = 0
        self._first = first
