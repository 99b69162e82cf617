"""Numbers with an exponent of their own: a float64 mantissa beside an int64 exponent, arrays of them.

The distances to ±1 of a pass saturated beyond float64's range (e^{−2|a|} for |a| > 354), and the gates
and factors that multiply them, are held this way (numeric/distances.py): every operation rounds as
float64's does, once, while the exponent never leaves its range.
"""

from __future__ import annotations

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


__all__ = ["Wide", "choose", "mul"]
