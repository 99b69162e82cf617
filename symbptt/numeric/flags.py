"""Matrix products whose floating-point events reach the thread that watches them.

NumPy reports an underflow, overflow or invalid operation by reading the calling thread's floating-point
flags after the work.  OpenBLAS splits a large product over threads, and each thread's flags are its
own: an event inside another thread's share never reaches the caller, and FloatWatch would call a result
clean that is not.  Measured with NumPy's OpenBLAS on two cores (tests/test_flags.py plants the case):
a subnormal corner of the result raises the flag up to 64 × 64 × 100 (409,600 multiply–adds), 128 × 128
× 24 and a 512 × 512 matrix–vector product, and not from 700 × 700 (490,000) or 64 × 64 × 128 (524,288).

``matmul`` returns NumPy's product, bit for bit, and from CHECKED_WORK multiply–adds per product (under
half the smallest size seen to thread) reads the events off the operands and the result, then
raises each one on this thread, under whatever error state is active (FloatWatch's callback records it
with its label):

- overflow, invalid: the result holds an inf (overflow) or a NaN (invalid) although both operands are
  finite;
- underflow: some entry has a term a_ik·b_kj below the smallest normal number, TINY, and the sum of its
  terms' magnitudes is below 2·K·TINY (K the inner size).  Where that sum is larger, what the tiny terms
  lost (at most K·2⁻¹⁰⁷⁵) is below half an ulp of it, the rounding every sum already carries; an FMA on
  the calling thread, which rounds a tiny product only inside the larger sum, raises nothing there either.

The check costs a pass over the result: an entry whose terms' magnitudes sum below 2·K·TINY is itself
below it, so most products stop there.  Past that, a pass over the operands finds whether a term can be
tiny at all (the smallest nonzero magnitudes met over an inner index), and only then do two more
products find the entries' sums of magnitudes and their counts of nonzero terms.
"""

from __future__ import annotations

import numpy as np

TINY = 2.0 ** -1022  # float64's smallest normal number
CHECKED_WORK = 1 << 18  # multiply–adds per product from which events are read off the numbers


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.matmul(a, b, out=out)``, with the events a threaded BLAS hides raised on this thread.

    Args:
        a: array, shape (..., m, k) or (k,); float64 is checked (an object array of mpf is exact
            arithmetic: nothing to read).
        b: array, shape (..., k, n) or (k,).
        out: where to write the product, as for np.matmul.

    Returns:
        The product, the same bits as np.matmul's.
    """
    c = np.matmul(a, b, out=out)
    a2 = a if a.ndim > 1 else a[None]  # a vector as a one-row or one-column matrix
    b2 = b if b.ndim > 1 else b[:, None]
    if c.dtype.kind == "f" and a2.shape[-2] * a2.shape[-1] * b2.shape[-1] >= CHECKED_WORK:  # not mpf objects
        _raise_hidden(a2, b2, c)
    return c


def _raise_hidden(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
    magnitudes = np.abs(c)
    low, high = float(magnitudes.min()), float(magnitudes.max())  # a NaN anywhere makes high NaN
    margin = 2 * a.shape[-1] * TINY
    if not high < np.inf and np.isfinite(a).all() and np.isfinite(b).all():
        if np.isinf(c).any():
            np.multiply(np.float64(1e300), np.float64(1e300))  # raises 'overflow' here
        if np.isnan(c).any():
            np.subtract(np.float64(np.inf), np.float64(np.inf))  # raises 'invalid value' here
    # an entry whose terms' magnitudes sum below the margin is itself below it: most products end here
    if low < margin and np.geterr()["under"] != "ignore" and _lost_to_underflow(a, b, margin):
        np.multiply(np.float64(1e-300), np.float64(1e-300))  # raises 'underflow' here


def _lost_to_underflow(a: np.ndarray, b: np.ndarray, margin: float) -> bool:
    """Whether some entry of a·b has a term below TINY and its terms' magnitudes sum below ``margin``."""
    with np.errstate(all="ignore"):
        low_a = _smallest(np.abs(a), axis=tuple(range(a.ndim - 1)))  # per inner index k
        low_b = _smallest(np.abs(b), axis=tuple(i for i in range(b.ndim) if i != b.ndim - 2))
        if not np.any(low_a * low_b < TINY):
            return False
        sizes = np.matmul(np.abs(a), np.abs(b))
        terms = np.matmul((a != 0).astype(float), (b != 0).astype(float))
        return bool(np.any((terms > 0) & (sizes < margin)))


def _smallest(magnitudes: np.ndarray, axis: tuple[int, ...]) -> np.ndarray:
    """The smallest nonzero magnitude along ``axis`` (inf where all are 0)."""
    magnitudes[magnitudes == 0] = np.inf
    return magnitudes.min(axis=axis)
