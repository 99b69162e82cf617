"""Bounding work that could run for ever: a wall-clock limit around SymPy calls that may not return.

``time_limit`` uses SIGALRM in the main thread (elsewhere it only reports success) and restores any
timer that was already armed (pytest-timeout's, for instance), so an outer limit still fires.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class _Expired(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[Callable[[], bool]]:
    """``with time_limit(2.0) as ok: …``: the block is interrupted after ``seconds``; ``ok()`` says
    whether it ran to the end."""
    state = {"ok": True}

    def ok() -> bool:
        return state["ok"]

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield ok
        return

    def expire(signum, frame):  # noqa: ARG001 - signal handler signature
        raise _Expired

    previous = signal.signal(signal.SIGALRM, expire)
    outer_delay, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    start = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, seconds if not outer_delay else min(seconds, outer_delay))
    try:
        yield ok
    except _Expired:
        state["ok"] = False
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay:
            left = outer_delay - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), outer_interval)
