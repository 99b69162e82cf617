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
- underflow: some entry may hold a term a_ik·b_kj below the smallest normal number, TINY (the smallest
  nonzero magnitudes of row i of a and column j of b meet below it), and the sum of its terms' magnitudes
  is below 2·K·TINY (K the inner size).  Where that sum is larger, what the tiny terms
  lost (at most K·2⁻¹⁰⁷⁵) is below half an ulp of it, the rounding every sum already carries.  OpenBLAS
  on the calling thread raises the flag for such a term all the same (measured), so the share of a
  product that this thread computes may still report an underflow this rule would not.

The check costs a pass over the result: an entry whose terms' magnitudes sum below 2·K·TINY is itself
below it, so most products stop there.  Past that, a pass over the operands finds whether a term can be
tiny at all (the smallest nonzero magnitudes met over an inner index), and only then do two more
products find the entries' sums of magnitudes and their counts of nonzero terms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

TINY = 2.0 ** -1022  # float64's smallest normal number
CHECKED_WORK = 1 << 18  # multiply–adds per product from which events are read off the numbers (and up to
# which the compiled kernel gives a product to BLAS: jit_source.BLAS_WORK)


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
    if c.size * a.shape[-1] < CHECKED_WORK:  # the whole product's work bounds each slice's: most stop here
        return c
    a2 = a if a.ndim > 1 else a[None]  # a vector as a one-row or one-column matrix
    b2 = b if b.ndim > 1 else b[:, None]
    if c.dtype.kind == "f" and a2.shape[-2] * a2.shape[-1] * b2.shape[-1] >= CHECKED_WORK:  # not mpf objects
        _raise_hidden(a2, b2, c)
    return c


def product_for(work: int) -> Callable[..., np.ndarray]:
    """The product for a loop whose products have at most ``work`` multiply–adds each (a pass's steps):
    NumPy's own below CHECKED_WORK, where its thread sees every event and a call to ``matmul`` would only
    add its cost to each step, else ``matmul``.

    Args:
        work: the most multiply–adds of one product in the loop (m·k·n).

    Returns:
        np.matmul or matmul, called as np.matmul is.
    """
    return matmul if work >= CHECKED_WORK else np.matmul


def underflowing(fn: Callable[..., Any], flat: list[np.ndarray], entries: np.ndarray) -> list[int]:
    """The entries at which an elementwise function raises underflow, found by halving: ``fn`` is called
    on the entries, then on halves of whichever part raises it again (about 2k·log₂(N/k) small calls for
    k of N entries).

    Args:
        fn: an elementwise function of the arrays in ``flat`` (what it returns is not read).
        flat: its arguments, one-dimensional and of one length.
        entries: the indices into them to look at.

    Returns:
        The indices at which fn raised underflow, in increasing order.
    """
    def raises(part: np.ndarray) -> bool:
        try:
            with np.errstate(all="ignore", under="raise"):
                fn(*(v[part] for v in flat))
        except FloatingPointError:
            return True
        return False

    found: list[int] = []
    pending = [entries] if entries.size and raises(entries) else []
    while pending:
        part = pending.pop()
        if part.size == 1:
            found.append(int(part[0]))
            continue
        half = part.size // 2
        for piece in (part[:half], part[half:]):
            if raises(piece):
                pending.append(piece)
    return sorted(found)


def _raise_hidden(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
    magnitudes = np.abs(c)
    low, high = float(magnitudes.min()), float(magnitudes.max())  # a NaN anywhere makes high NaN
    margin = _margin(a)
    if not high < np.inf and np.isfinite(a).all() and np.isfinite(b).all():
        if np.isinf(c).any():
            np.multiply(np.float64(1e300), np.float64(1e300))  # raises 'overflow' here
        if np.isnan(c).any():
            np.subtract(np.float64(np.inf), np.float64(np.inf))  # raises 'invalid value' here
    # an entry whose terms' magnitudes sum below the margin is itself below it: most products end here
    if low < margin and np.geterr()["under"] != "ignore" and _lost_to_underflow(a, b):
        np.multiply(np.float64(1e-300), np.float64(1e-300))  # raises 'underflow' here


def _margin(a: np.ndarray) -> float:
    """2·K·TINY, K the inner size: below it an entry's sum of magnitudes may have lost more than rounding."""
    return 2 * a.shape[-1] * TINY


def _lost_to_underflow(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether some entry of a·b may hold a term below TINY (the smallest nonzero magnitudes of its row
    of a and of its column of b meet below TINY) while its terms' magnitudes sum below the margin."""
    margin = _margin(a)
    with np.errstate(all="ignore"):
        abs_a, abs_b = np.abs(a), np.abs(b)
        low_a, low_b = np.where(abs_a == 0, np.inf, abs_a), np.where(abs_b == 0, np.inf, abs_b)
        by_inner = low_a.min(axis=tuple(range(a.ndim - 1))) * low_b.min(
            axis=tuple(i for i in range(b.ndim) if i != b.ndim - 2))
        if not np.any(by_inner < TINY):  # no term anywhere is below TINY
            return False
        may = low_a.min(axis=-1)[..., :, None] * low_b.min(axis=-2)[..., None, :] < TINY
        sizes = np.matmul(abs_a, abs_b)
        terms = np.matmul((a != 0).astype(float), (b != 0).astype(float))
        return bool(np.any(may & (terms > 0) & (sizes < margin)))
