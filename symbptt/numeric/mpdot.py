"""Exact sums of products in mpmath: a matrix times vectors, each entry rounded once.

An mpmath pass multiplies its weights by a state at every step.  NumPy's object matmul would round
after every product and every addition and cost about ten times as much; here each entry is the exact
sum of its products (and of any addends: a linear map's bias and input terms), kept as integers over one
exponent where the entries allow it, and rounded once to the working precision.
"""

from __future__ import annotations

import operator
from typing import Any

import mpmath
import numpy as np
from mpmath.libmp import from_man_exp

from .flags import matmul


def matvec(matrix: np.ndarray | MpRows, vector: np.ndarray) -> np.ndarray:
    """M·v for columns over the batch; a matrix with a batch axis (n, k, B) acts per batch element."""
    if isinstance(matrix, np.ndarray) and matrix.ndim == 3:
        return np.einsum("ikb,kb->ib", matrix, vector)
    return dot(matrix, vector)


class MpRows:
    """The rows of an mpf matrix in mpmath's own parts (sign, mantissa, exponent, bits), and each row as
    integers over one exponent (see _aligned), made once for a matrix that multiplies many vectors (a
    weight, every step)."""

    def __init__(self, matrix: np.ndarray) -> None:
        self.rows = [[_parts(v) for v in row] for row in matrix.tolist()]
        self.aligned = [_aligned(row) for row in self.rows]


def dot(a: np.ndarray | MpRows, b: np.ndarray, plus: list[np.ndarray] | None = None) -> np.ndarray:
    """A·B (+ every array of ``plus``, each of A·B's shape or one column); for mpf object arrays each entry
    is the exact sum of its products (and its addends), rounded once to the working precision: a row and a
    column whose entries share one exponent as integers (_aligned) are multiplied and summed in integers,
    others term by term (_mp_dot, the addends then added one by one).  NumPy's object matmul rounds after
    every product and every addition, and costs about ten times as much.  ``a`` may be given as MpRows."""
    if isinstance(a, np.ndarray) and a.dtype != object and b.dtype != object:
        out = matmul(a, b)
        for addend in plus or []:
            out = out + addend
        return out
    rows = a if isinstance(a, MpRows) else MpRows(a)
    prec = mpmath.mp.prec
    make = mpmath.mp.make_mpf
    cols = [[_parts(v) for v in col] for col in b.T.tolist()]
    out = np.empty((len(rows.rows), len(cols)), dtype=object)
    added = [np.broadcast_to(np.asarray(v, dtype=object), out.shape).tolist() for v in plus or []]
    for j, col in enumerate(cols):
        col_aligned = _aligned(col)
        for i, row in enumerate(rows.rows):
            row_aligned = rows.aligned[i]
            folded = None
            if row_aligned is not None and col_aligned is not None:
                total = sum(map(operator.mul, row_aligned[0], col_aligned[0]))
                folded = _fold(total, row_aligned[1] + col_aligned[1], [v[i][j] for v in added])
            if folded is None:  # term by term: the products' sum rounded once, then each addend
                value = _mp_dot(row, col, prec)
                for v in added:
                    value = value + v[i][j]
                out[i, j] = value
                continue
            out[i, j] = make(from_man_exp(folded[0], folded[1], prec, "n"))
    return out


def _fold(total: int, exp: int, addends: list[Any]) -> tuple[int, int] | None:
    """total·2^exp + Σ addends exactly, as (integer, exponent); None when an addend is inf or NaN or lies
    more than SPREAD_BITS bits above or below the sum's exponent (the integer would be long)."""
    for value in addends:
        sign, man, e, bits = _parts(value)
        if not man:
            if e or bits:
                return None
            continue
        if sign:
            man = -man
        if abs(e - exp) > SPREAD_BITS:
            return None
        if e >= exp:
            total += man << (e - exp)
        else:
            total, exp = (total << (exp - e)) + man, e
    return total, exp


SPREAD_BITS = 4096  # entries further apart than this are not put over one exponent (their integers would be long)


def _aligned(parts: list[tuple[int, int, int, int]]) -> tuple[list[int], int] | None:
    """Entries x_l = n_l · 2^e exactly, as (the integers n_l, e): every mantissa shifted to the smallest
    exponent; None when an entry is inf or NaN or the entries span more than SPREAD_BITS bits."""
    low = high = None
    for _, man, exp, bits in parts:
        if not man:
            if exp or bits:
                return None
            continue
        low = exp if low is None else min(low, exp)
        high = exp + bits if high is None else max(high, exp + bits)
    if low is None or high is None:
        return [0] * len(parts), 0
    if high - low > SPREAD_BITS:
        return None
    return [((-man if sign else man) << (exp - low)) if man else 0 for sign, man, exp, _ in parts], low


def _parts(value: object) -> tuple[int, int, int, int]:
    """(sign, mantissa, exponent, bits) of an mpf (mpmath's own representation), or of a number made one."""
    return (value if isinstance(value, mpmath.mpf) else mpmath.mpf(value))._mpf_


def _mp_dot(xs: list, ys: list, prec: int) -> mpmath.mpf:
    """Σ x_i·y_i with one rounding: every product is exact in integers, the sum is exact over the terms
    within prec + 64 bits of the largest (a smaller term changes the sum by less than 2^-prec of Σ|terms|,
    less than one rounding of a term-by-term sum costs), and the total is rounded once to ``prec`` bits.
    inf or NaN in a term: mpmath.fdot."""
    ms, es, tops = [], [], []
    for (s1, m1, e1, b1), (s2, m2, e2, b2) in zip(xs, ys, strict=True):
        if m1 and m2:
            ms.append(-(m1 * m2) if s1 != s2 else m1 * m2)
            es.append(e1 + e2)
            tops.append(e1 + e2 + b1 + b2)
        elif (not m1 and (e1 or b1)) or (not m2 and (e2 or b2)):  # inf or nan (a zero is all zeros)
            return mpmath.fdot([mpmath.mp.make_mpf(x) for x in xs], [mpmath.mp.make_mpf(y) for y in ys])
    if not ms:
        return mpmath.mpf(0)
    low, floor = min(es), max(tops) - prec - 64
    if low < floor - 2 * prec:  # a term far below the others: left out (bounded, above)
        kept = [(m, e) for m, e, top in zip(ms, es, tops, strict=True) if top >= floor]
        ms, es = [m for m, _ in kept], [e for _, e in kept]
        low = min(es)
    total = 0
    for m, e in zip(ms, es, strict=True):
        total += m << (e - low)
    return mpmath.mp.make_mpf(from_man_exp(total, low, prec, "n"))


__all__ = ["MpRows", "SPREAD_BITS", "dot", "matvec"]
