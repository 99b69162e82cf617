"""Numbers with an exponent of their own: a float64 mantissa beside an int64 exponent, arrays of them.

The distances to ±1 of a pass saturated beyond float64's range (e^{−2|a|} for |a| > 354), and the gates
and factors that multiply them, are held this way (numeric/distances.py): every operation rounds as
float64's does, once, while the exponent never leaves its range.
"""

from __future__ import annotations

import math
from typing import Any, overload

import mpmath
import numpy as np

LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that k·LN2_HI is exact for |k| < 2²⁰ (Cody and Waite)
LN2_LO = 1.90821492927058770002e-10
WIDE_EXPONENT = 1 << 40  # the exponent of a Wide 0 (below every other: an addend 0 never shifts the sum)


class Wide:
    """Numbers m·2^e with an int64 exponent beside a float64 mantissa (|m| in [1/2, 1), or m = 0): the
    distances of a pass saturated beyond float64's range (e^{−2|a|} for |a| > 354).  Products and sums
    round like float64's (one rounding each, an addend below 2⁻¹⁰⁷⁴ of the other dropped), never by the
    exponent's range."""

    __slots__ = ("e", "m")

    def __init__(self, m: np.ndarray, e: np.ndarray | int = 0) -> None:
        mantissa, shift = np.frexp(np.asarray(m, dtype=float))
        self.m = mantissa
        self.e = np.where(mantissa == 0, -WIDE_EXPONENT, shift.astype(np.int64) + e)

    @classmethod
    def exp_minus(cls, x: np.ndarray) -> Wide:
        """e^{−x} for x ≥ 0, to a relative ulp or two whatever x (−x = k ln 2 + r, |r| ≤ ln 2 / 2)."""
        k = np.rint(-x / np.log(2.0))
        r = (-x - k * LN2_HI) - k * LN2_LO
        return cls(np.exp(r), k.astype(np.int64))

    def __getitem__(self, index: Any) -> Wide:
        out = Wide.__new__(Wide)
        out.m, out.e = self.m[index], self.e[index]
        return out

    def __setitem__(self, index: Any, value: Wide) -> None:
        self.m[index], self.e[index] = value.m, value.e

    def times(self, c: np.ndarray | float) -> Wide:
        """self · c for a float64 array c."""
        return Wide(self.m * c, self.e)

    def times_wide(self, other: Wide) -> Wide:
        """self · other: the mantissas' product (in [1/4, 1): it cannot leave the range), rounded once."""
        return Wide(self.m * other.m, self.e + other.e)

    def put(self, index: Any, value: mpmath.mpf) -> None:
        """Entry ``index`` set to an mpf, rounded to a 53-bit mantissa (its exponent kept whole)."""
        m, e = mpmath.frexp(value)
        self.m[index], self.e[index] = (float(m), int(e)) if m else (0.0, -WIDE_EXPONENT)

    def __add__(self, other: Wide) -> Wide:
        top = np.maximum(self.e, other.e)
        with np.errstate(under="ignore"):
            total = (np.ldexp(self.m, np.maximum(self.e - top, -2000))
                     + np.ldexp(other.m, np.maximum(other.e - top, -2000)))
        return Wide(total, top)

    def __sub__(self, other: Wide) -> Wide:
        return self + other.times(-1.0)

    def __abs__(self) -> Wide:
        out = Wide.__new__(Wide)
        out.m, out.e = np.abs(self.m), self.e
        return out

    def over(self, other: Wide) -> np.ndarray:
        """self / other as float64 (inf where other is 0 and self is not, 0 where both are)."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            ratio = np.ldexp(self.m / np.where(other.m == 0, 1.0, other.m), np.clip(self.e - other.e, -4000, 4000))
        return np.where(other.m == 0, np.where(self.m == 0, 0.0, np.inf), ratio)

    def log10(self) -> np.ndarray:
        """log10|self| (−inf for 0)."""
        with np.errstate(divide="ignore"):
            return np.where(self.m == 0, -np.inf, np.log10(np.abs(self.m)) + self.e * np.log10(2.0))

    def value(self) -> np.ndarray:
        """As float64: below the normal range a subnormal or 0, rounded once."""
        with np.errstate(under="ignore", over="ignore"):
            return np.ldexp(self.m, np.clip(self.e, -2000, 2000))

    @classmethod
    def empty(cls, shape: tuple) -> Wide:
        out = cls.__new__(cls)
        out.m, out.e = np.zeros(shape), np.full(shape, -WIDE_EXPONENT, dtype=np.int64)
        return out


def choose(mask: np.ndarray, a: Wide, b: Wide) -> Wide:
    out = Wide.__new__(Wide)
    out.m, out.e = np.where(mask, a.m, b.m), np.where(mask, a.e, b.e)
    return out


@overload
def mul(a: Wide, b: Wide | np.ndarray) -> Wide: ...
@overload
def mul(a: np.ndarray, b: Wide) -> Wide: ...
@overload
def mul(a: np.ndarray, b: np.ndarray) -> np.ndarray: ...
def mul(a: Wide | np.ndarray, b: Wide | np.ndarray) -> Wide | np.ndarray:
    """a · b for Wide numbers or float64 arrays, either way round: a Wide product whenever one is Wide."""
    if isinstance(a, Wide):
        return a.times_wide(b) if isinstance(b, Wide) else a.times(b)
    if isinstance(b, Wide):
        return b.times(a)
    return a * b


def carry(d0: Wide, fixed: Wide, own: Wide | np.ndarray, held: Wide, size: Wide, error0: float,
          gate_error: np.ndarray, operations: float) -> tuple[Wide, np.ndarray]:
    """A distance carried step by step, d_{t+1} = fixed_t + d_t·own_t for t = 0..T−1, beside the bound on
    its relative error: error_{t+1} = (held_t + terms·(error_t + gate_error_t) + (size_t + terms)·operations)
    / d_{t+1}, terms = d_t·|own_t| (numeric/distances.py reads the terms).  Returns d (T + 1 rows: d0 first)
    and the errors.  Up to PER_ENTRY entries a step, entry by entry in Python floats, whose arithmetic
    is float64's operation for operation (the same bits as the arrays': tests/test_distances.py), where
    that costs less than the arrays' fixed cost a step; above, on the arrays."""
    steps, shape = fixed.m.shape[0], fixed.m.shape[1:]
    d, error = Wide.empty((steps + 1, *shape)), np.empty((steps + 1, *shape))
    d[0], error[0] = d0, error0
    if math.prod(shape) > PER_ENTRY:
        for t in range(steps):
            d[t + 1] = fixed[t] + mul(d[t], own[t])
            terms = mul(d[t], abs(own[t]))
            bound = held[t] + terms.times(error[t] + gate_error[t]) + (size[t] + terms).times(operations)
            error[t + 1] = bound.over(d[t + 1])
        return d, error
    own_m = own.m if isinstance(own, Wide) else np.asarray(own, dtype=float)
    own_e = own.e if isinstance(own, Wide) else np.zeros(own_m.shape, dtype=np.int64)
    for j in np.ndindex(*shape):
        dm, de, err = float(d.m[(0, *j)]), int(d.e[(0, *j)]), float(error[(0, *j)])
        fm, fe = fixed.m[(slice(None), *j)].tolist(), fixed.e[(slice(None), *j)].tolist()
        hm, he = held.m[(slice(None), *j)].tolist(), held.e[(slice(None), *j)].tolist()
        sm, se = size.m[(slice(None), *j)].tolist(), size.e[(slice(None), *j)].tolist()
        om, oe = own_m[(slice(None), *j)].tolist(), own_e[(slice(None), *j)].tolist()
        ge = gate_error[(slice(None), *j)].tolist()
        for t in range(steps):
            pm, pe = _made(dm * om[t], de + oe[t])  # d_t·own_t, and the terms d_t·|own_t|
            tm, te = _made(dm * abs(om[t]), de + oe[t])
            dm, de = _sum(fm[t], fe[t], pm, pe)
            xm, xe = _made(tm * (err + ge[t]), te)
            ym, ye = _sum(sm[t], se[t], tm, te)
            ym, ye = _made(ym * operations, ye)
            bm, be = _sum(*_sum(hm[t], he[t], xm, xe), ym, ye)
            err = _over(bm, be, dm, de)
            d.m[(t + 1, *j)], d.e[(t + 1, *j)], error[(t + 1, *j)] = dm, de, err
    return d, error


# entries a step up to which carry runs entry by entry: at T = 100, 4 entries take 1.3 ms against 5.1 on
# the arrays, 8 take 2.7 against 5.2; the two meet at about 15
PER_ENTRY = 12


def _made(m: float, e: int) -> tuple[float, int]:
    """Wide(m, e) for one number."""
    mantissa, shift = math.frexp(m)
    return mantissa, (shift + e if mantissa != 0 else -WIDE_EXPONENT)


def _sum(am: float, ae: int, bm: float, be: int) -> tuple[float, int]:
    """Wide.__add__ for one number."""
    top = max(ae, be)
    return _made(math.ldexp(am, max(ae - top, -2000)) + math.ldexp(bm, max(be - top, -2000)), top)


def _over(am: float, ae: int, bm: float, be: int) -> float:
    """Wide.over for one number."""
    if bm == 0:
        return 0.0 if am == 0 else math.inf
    try:
        return math.ldexp(am / bm, min(max(ae - be, -4000), 4000))
    except OverflowError:
        return math.copysign(math.inf, am / bm)


__all__ = ["PER_ENTRY", "Wide", "carry", "choose", "mul"]
