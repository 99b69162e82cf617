"""amplification.delta_growth for loss 'last' as compiled loops (Numba, when the compiled kernel ran).

Inside a whole call of `symbptt.gradients`, the NumPy reading of the growth — ‖δ_t‖² of every step, their
logs, the largest over the batch, the step where it peaks — costs more than the compiled δ recursion it
reads (the plain cell at n = 1, T = 1000: 45–80 µs timed inside the call, against 16–21 µs for the
recursion timed alone): a dozen NumPy calls, each paying its own overhead and the caches' misses between
them.  Here the same reading is two loops: the squares, then the logs and the largest, in one pass over
the steps.

It reads what amplification._all_normal reads, the same way: every square a normal float within
amplification.NORMAL (else None: the caller then reads the steps one by one), one sequence's growth as
½(log10‖δ_k‖² − log10‖δ_T‖²), a batch's from the largest ratio of squares, plus the exponents' difference
times log10 2; the first of equal steps.  Its logs are the C library's, as the Python reading's are; NumPy's
may differ from them in the last bit.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from . import jit
from .amplification import LOG10_2, NORMAL
from .jit_source import HEADER

GROWTH_SOURCE = HEADER + f'''

LOG10_2 = {LOG10_2!r}


@njit(cache=True)
def _squares(D, SQ, first):
    """SQ[t, b] = ‖δ_t‖² of each sequence from one state's rows D (first), else that added to SQ: the
    top layer's whole state, state by state, as amplification.delta_growth adds them."""
    B = D.shape[2]
    row = np.empty(B)
    for t in range(D.shape[0]):
        for bb in range(B):
            row[bb] = 0.0
        for i in range(D.shape[1]):  # each sequence's squares added in the order of i, the batch side by side
            for bb in range(B):
                row[bb] += D[t, i, bb] * D[t, i, bb]
        for bb in range(B):
            SQ[t, bb] = row[bb] if first else SQ[t, bb] + row[bb]


@njit(cache=True)
def _growth(SQ, exps, low, high):
    """The largest growth over k < T and its k (the first of equal ones), or k = −1 where a square, or
    for a batch the largest ratio at a step, is not within [low, high] (0, ∞ and NaN included)."""
    T, B = SQ.shape[0] - 1, SQ.shape[1]
    for t in range(T + 1):
        for bb in range(B):
            if not (low <= SQ[t, bb] <= high):
                return 0.0, -1
    best, at = -math.inf, -1
    last = math.log10(SQ[T, 0])
    for k in range(T):
        if B == 1:
            g = 0.5 * (math.log10(SQ[k, 0]) - last)
        else:
            ratio = 0.0
            for bb in range(B):
                ratio = max(ratio, SQ[k, bb] / SQ[T, bb])
            if not (low <= ratio <= high):
                return 0.0, -1
            g = 0.5 * math.log10(ratio)
        g = g + LOG10_2 * (exps[k] - exps[T])
        if g > best:
            best, at = g, k
    return best, at
'''


@lru_cache(maxsize=1)
def _module() -> Any:
    """The module of the growth loops (GROWTH_SOURCE: compiled once per machine)."""
    return jit._load(GROWTH_SOURCE)[0]


def growth(deltas: tuple[dict[tuple[int, str], np.ndarray], np.ndarray], states: tuple[str, ...]
           ) -> tuple[float, int] | None:
    """How much the top layer's δ grows back through time, for loss 'last', by the compiled loops.

    Args:
        deltas: every δ_t and the power-of-two exponent of each step, as kernel.deltas returns them
            (arrays (T + 1, n, B) by (layer, state); δ_t = array[t]·2^exps[t]).
        states: the cell's states (h, or h and c).

    Returns:
        (the growth, the k at which it is largest), as amplification.delta_growth gives it, or None where
        a square or ratio is not a normal float — the caller then reads the steps with delta_growth.
    """
    store, exps = deltas
    top = max(layer for layer, _ in store)
    blocks = [np.ascontiguousarray(store[(top, state)], dtype=np.float64) for state in states]
    module = _module()
    squares = np.empty((blocks[0].shape[0], blocks[0].shape[2]))
    for k, block in enumerate(blocks):
        module._squares(block, squares, k == 0)
    value, at = module._growth(squares, np.ascontiguousarray(exps, dtype=np.int64), NORMAL[0], NORMAL[1])
    return None if at < 0 else (float(value), int(at))


__all__ = ["GROWTH_SOURCE", "growth"]
