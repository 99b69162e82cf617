"""Numbers held as a float64 mantissa times a power of two with an unbounded exponent: the sums of the
step kernel (numeric/kernel.py), whose δ is kept at an exponent of its own per step (or per unit), and
their values as float64 where they are normal numbers, else as exact mpmath numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence

import mpmath
import numpy as np

# Blocks of at most this many entries are added entry by entry with Python's floats (_entrywise_sum): the
# same operations on the same numbers, without a dozen NumPy calls per part (a one-unit network's gradients
# are 1 × 1 blocks, added over one part per run of steps sharing an exponent: up to 63 at T = 1000)
ENTRYWISE = 8


def extended_sum(parts: Sequence[tuple[np.ndarray, int | np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Σ_b G_b · 2^e_b as (mantissa, exponent) arrays: float64 addition with an unbounded exponent, so an
    addend below half an ulp of the other is dropped as float64 addition drops it, never by underflow
    (e_b one exponent for the block, or one per entry)."""
    shape = np.shape(parts[0][0]) if parts else ()
    if len(parts) > 1 and math.prod(shape) <= ENTRYWISE and all(np.shape(block) == shape and np.shape(e) in ((), shape)
                                                                for block, e in parts):
        values = np.array([block for block, _ in parts], dtype=float).reshape(len(parts), -1)
        if np.all(np.isfinite(values)):
            exps = np.empty(values.shape, dtype=np.int64)
            for i, (_, e) in enumerate(parts):
                exps[i] = np.reshape(e, -1) if np.ndim(e) else e
            return _entrywise_sum(values.T.tolist(), exps.T.tolist(), shape)
    total_m, total_x = None, None
    for block, e in parts:
        m2, x2 = np.frexp(block)
        x2 = np.where(m2 == 0, np.iinfo(np.int64).min // 4, x2.astype(np.int64) + e)
        if total_m is None:
            total_m, total_x = m2, x2
            continue
        m1, x1 = np.frexp(total_m)
        x1 = np.where(m1 == 0, np.iinfo(np.int64).min // 4, x1.astype(np.int64) + total_x)
        top = np.maximum(x1, x2)
        with np.errstate(under="ignore"):
            total_m = np.ldexp(m1, np.maximum(x1 - top, -2000)) + np.ldexp(m2, np.maximum(x2 - top, -2000))
        total_x = top
    assert total_m is not None and total_x is not None
    return total_m, np.where(total_m == 0, 0, total_x)


def _entrywise_sum(values: list[list[float]], exps: list[list[int]], shape: tuple[int, ...]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """extended_sum of finite blocks of one small shape, entry by entry (values[k], exps[k]: entry k of
    every part, in order): each step of its loop on scalars (frexp, the zero's exponent, the larger
    exponent, the two ldexp and their sum), so every mantissa and exponent is the same to the bit."""
    zero = np.iinfo(np.int64).min // 4
    out_m, out_x = [], []
    for entry, entry_exps in zip(values, exps, strict=True):
        total_m, total_x = 0.0, 0
        for i, (value, e) in enumerate(zip(entry, entry_exps, strict=True)):
            m2, x2 = math.frexp(value)
            x2 = zero if m2 == 0 else x2 + e
            if i == 0:
                total_m, total_x = m2, x2
                continue
            m1, x1 = math.frexp(total_m)
            x1 = zero if m1 == 0 else x1 + total_x
            top = max(x1, x2)
            total_m = math.ldexp(m1, max(x1 - top, -2000)) + math.ldexp(m2, max(x2 - top, -2000))
            total_x = top
        out_m.append(total_m)
        out_x.append(0 if total_m == 0 else total_x)
    return np.array(out_m, dtype=float).reshape(shape), np.array(out_x, dtype=np.int64).reshape(shape)


def value_of(mantissa: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """mantissa · 2^exponent: float64 where every entry is a normal float (or 0), else mpf entries."""
    m, x = np.frexp(mantissa)
    x = x.astype(np.int64) + exponent
    nonzero = m != 0
    if np.all((x[nonzero] >= -1021) & (x[nonzero] <= 1024)):
        return np.ldexp(m, np.where(nonzero, x, 0))
    return exact_entries(mantissa, exponent)


def exact_entries(mantissa: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """mantissa · 2^exponent as an object array of mpf numbers, each exact (the shape of mantissa); a NaN or
    infinite mantissa (a sum float64 lost, which its watch has seen) as mpmath's NaN or infinity."""
    out = np.empty(mantissa.size, dtype=object)
    for i, (v, e) in enumerate(zip(mantissa.reshape(-1).tolist(), exponent.reshape(-1).tolist(), strict=True)):
        if not math.isfinite(v):
            out[i] = mpmath.mpf(v)
            continue
        m, x = math.frexp(v)  # |m| in [1/2, 1): m·2^53 is an integer, and mpf((man, exp)) is man·2^exp exactly
        out[i] = mpmath.mpf((int(m * 2.0**53), x + e - 53)) if m else mpmath.mpf(0)
    return out.reshape(mantissa.shape)
