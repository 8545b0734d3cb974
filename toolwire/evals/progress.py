"""A dependency-free progress bar on stderr.

On a terminal it redraws one line in place; elsewhere (CI logs, pipes) it prints a line at every
quarter so logs stay short. `enabled=False` makes it silent.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    WIDTH = 28

    def __init__(self, total: int, label: str = "", *, stream: TextIO | None = None, enabled: bool = True):
        self.total = max(total, 0)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._next_quarter = 1
        self._last_draw = 0.0

    def advance(self, ok: bool = True) -> None:
        self.done += 1
        if not ok:
            self.failed += 1
        if not self.enabled:
            return
        if self._tty:
            now = time.monotonic()
            if now - self._last_draw >= 0.1 or self.done >= self.total:
                self._last_draw = now
                self.stream.write("\r" + self.line())
                self.stream.flush()
        elif self.total and self.done * 4 >= self._next_quarter * self.total:
            while self._next_quarter <= 4 and self.done * 4 >= self._next_quarter * self.total:
                self._next_quarter += 1
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._tty:
            self.stream.write("\n")
            self.stream.flush()

    def line(self) -> str:
        share = self.done / self.total if self.total else 1.0
        filled = int(round(share * self.WIDTH))
        bar = "#" * filled + "." * (self.WIDTH - filled)
        elapsed = time.monotonic() - self.started
        failed = f" {self.failed} failed" if self.failed else ""
        label = f"{self.label} " if self.label else ""
        return f"{label}[{bar}] {self.done}/{self.total}{failed} {elapsed:6.1f}s"
