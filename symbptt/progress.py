"""A progress line on stderr for long runs, only on a terminal (never in pipes or tests)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType


class Progress:
    """``with Progress(total, "check") as p: … p.update(i)`` — draws ``check 12/100 (0:42 left)`` once
    the run has taken more than ``after`` seconds, and clears it at the end."""

    def __init__(self, total: int, label: str, after: float = 2.0, stream=None) -> None:
        self.total, self.label, self.after = total, label, after
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.monotonic()
        self.shown = False
        self.done = 0
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())

    def __enter__(self) -> Progress:
        return self

    def update(self, done: int, note: str = "") -> None:
        self.done = done
        if not self.enabled or done <= 0:  # nothing done yet: no rate to estimate from
            return
        elapsed = time.monotonic() - self.start
        if elapsed < self.after:
            return
        left = elapsed / max(done, 1) * (self.total - done)
        line = f"{self.label} {done}/{self.total} ({int(left) // 60}:{int(left) % 60:02d} left){note}"
        self.stream.write("\r" + line[:79].ljust(79))
        self.stream.flush()
        self.shown = True

    def counter(self, offset: int) -> Callable[[int], None]:
        """A callback for an inner loop: its count i shows as ``offset + i`` done."""
        return lambda i: self.update(offset + i)

    def clear(self) -> None:
        """Remove the line, if one was drawn (a finished loop leaves nothing on the terminal)."""
        if self.shown:
            self.stream.write("\r" + " " * 79 + "\r")
            self.stream.flush()
            self.shown = False

    def __exit__(self, kind: type | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.clear()
