"""Fewer full garbage collections while a long form is built or an exact pass runs.

Building a form at T = 10⁴ makes a few hundred thousand SymPy objects that stay alive until the form is
printed.  CPython's collector runs a full collection whenever ten collections of its middle generation
have passed and the objects waiting to be examined have grown by a quarter, and each full collection walks
every live object: four of them cost a quarter of the recursive form's build at T = 10⁴ (0.27 s of
1.4 s, measured with gc.callbacks).  The objects are not garbage: with the collector off for that
whole build, one collection at its end found 45 unreachable objects among 261,000 live ones.  An exact
(mpmath) pass is the same story the other way round: every operation makes short-lived tuples, which keep
the young generations busy and so bring on full collections that walk SymPy's live objects each time (the
chaotic tanh network of docs/performance.md, n = 16, T = 1000: the report took 0.66 s with them, 0.50 s
with the collector off and 0.50 s with full collections rarer).

``while_built`` wraps the generators that build forms, and ``fewer_full_collections`` the exact passes:
while at least one of them runs, full collections wait for FULL_EVERY middle collections instead of ten.
The young generations are collected as before, so cyclic garbage made meanwhile is still freed; the
thresholds in force before the first one started are put back when the last one finishes or is dropped
(unless someone changed them meanwhile, in which case theirs stay).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from functools import wraps
from typing import ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")

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


def fewer_full_collections(func: Callable[P, T]) -> Callable[P, T]:
    """``func`` with full collections rarer (FULL_EVERY) while it runs: for the functions that run exact
    passes.

    Args:
        func: the function to wrap.

    Returns:
        A function that calls it with the same arguments and returns what it returns.
    """
    @wraps(func)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        _enter()
        try:
            return func(*args, **kwargs)
        finally:
            _leave()

    return call


__all__ = ["FULL_EVERY", "fewer_full_collections", "while_built"]
