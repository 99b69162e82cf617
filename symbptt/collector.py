"""Fewer full garbage collections while a long form is built.

Building a form at T = 10⁴ makes a few hundred thousand SymPy objects that stay alive until the form is
printed.  CPython's collector runs a full collection whenever ten collections of its middle generation
have passed and the objects waiting to be examined have grown by a quarter, and each full collection walks
every live object: four of them cost a quarter of the recursive form's build at T = 10⁴ (0.27 s of
1.4 s, measured with gc.callbacks).  The objects are not garbage: with the collector off for that
whole build, one collection at its end found 45 unreachable objects among 261,000 live ones.

``while_built`` wraps the generators that build forms: while at least one of them is being iterated,
full collections wait for FULL_EVERY middle collections instead of ten.  The young generations are
collected as before, so cyclic garbage made meanwhile is still freed; the thresholds in force before the
first generator started are put back when the last one finishes or is dropped (unless someone changed
them meanwhile, in which case theirs stay).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

FULL_EVERY = 100  # middle-generation collections between two full ones while a form is built (CPython: 10)


class _Raised:
    """How many form generators are running, and the thresholds before the first of them (and ours)."""

    depth = 0
    saved: tuple[int, ...] | None = None
    ours: tuple[int, ...] | None = None


def _enter() -> None:
    if _Raised.depth == 0:
        saved = gc.get_threshold()
        gc.set_threshold(saved[0], saved[1], max(saved[2], FULL_EVERY))
        _Raised.saved, _Raised.ours = saved, gc.get_threshold()
    _Raised.depth += 1


def _leave() -> None:
    _Raised.depth -= 1
    if _Raised.depth == 0:
        if _Raised.saved is not None and gc.get_threshold() == _Raised.ours:  # nobody changed them meanwhile
            gc.set_threshold(*_Raised.saved)
        _Raised.saved = _Raised.ours = None


def while_built(items: Iterator[T]) -> Iterator[T]:
    """The items of ``items``, with full collections rarer (FULL_EVERY) while they are being made.

    Args:
        items: a generator that builds a form (equations, or the terms of a long sum).

    Returns:
        An iterator over the same items in the same order.
    """
    _enter()
    try:
        yield from items
    finally:
        _leave()


__all__ = ["FULL_EVERY", "while_built"]
