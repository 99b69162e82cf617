"""How many digits a forward pass lost to cancellation, read off its trajectory: in the nodes that are sums
(the LSTM's c_t = f c_{t−1} + i g) and in the cell's differences of computed values (the GRU's h_{t−1} − n_t),
on an exact trajectory or on one rounded to float64.  Each count is the largest log10(Σ|terms| / |Σ terms|)
over every step, unit and layer.
"""

from __future__ import annotations

import math

import numpy as np

from .. import primitives as P
from .forward import CompiledCell, Trajectory, step_rows


def cancelled_digits(cc: CompiledCell, traj: Trajectory) -> float:
    """Decimal digits the forward pass lost to cancellation: the largest log10(Σ|terms| / |sum|) over the
    nodes that are sums, every step, unit and layer (0 when no sum is much smaller than its terms)."""
    worst = 0.0
    for ell in range(1, len(traj.values) + 1):
        row = step_rows(cc, traj, ell) if cc.sums else []
        for name, terms in cc.sums.items():
            with np.errstate(all="ignore"):
                size = sum(np.abs(np.asarray(term(*row), dtype=float)) for term in terms)
                ratio = size / np.abs(traj.values[ell - 1][name][1:].astype(float))
            finite = ratio[np.isfinite(ratio)]
            if finite.size:
                worst = max(worst, float(np.log10(max(float(finite.max()), 1.0))))
    return worst


def difference_digits(cc: CompiledCell, traj: Trajectory) -> float:
    """Decimal digits the cell's differences of computed values (CompiledCell.difference_terms, the GRU's
    h_{t-1} − n_t) cancel on an exact trajectory: the largest log10(Σ|terms| / |Σ terms|) over every step,
    unit and layer; ∞ where a difference is 0 and its terms are not (it cancelled every digit the working
    precision holds), 0 without differences.  Each term is computed to the working precision, so a count
    well below the precision's digits is the difference's own."""
    worst = 0.0
    for ell in range(1, len(traj.values) + 1):
        row = step_rows(cc, traj, ell) if cc.difference_terms else []
        for terms in cc.difference_terms:
            values = [np.broadcast_to(np.asarray(term(*row), dtype=object), row[0].shape).ravel() for term in terms]
            for parts in zip(*values, strict=True):
                size = sum(abs(v) for v in parts)
                if not size:  # 0 − 0: nothing to cancel
                    continue
                total = sum(parts)
                if not total:
                    return math.inf
                worst = max(worst, P.mp_log10_abs(size) - P.mp_log10_abs(total))
    return worst


def float_difference_digits(cc: CompiledCell, traj: Trajectory) -> float:
    """difference_digits on a float64 trajectory (an exact one rounded once to float64, numeric/split.py),
    with float64 terms: each difference within a few units in the last place of its largest term of the
    exact one, so a count well below float64's 16 digits is the difference's own, and one near or above
    it (∞ where a difference came out 0 and its terms did not) says float64 holds none of its digits."""
    worst = 0.0
    for ell in range(1, len(traj.values) + 1):
        row = step_rows(cc, traj, ell) if cc.difference_terms else []
        for terms in cc.difference_terms:
            parts = [np.broadcast_to(np.asarray(term(*row), dtype=float), row[0].shape) for term in terms]
            size, total = sum(np.abs(p) for p in parts), np.abs(sum(parts))
            seen = size > 0  # 0 − 0: nothing to cancel
            if not seen.any():
                continue
            if np.any(total[seen] == 0):
                return math.inf
            with np.errstate(all="ignore"):
                worst = max(worst, float(np.max(np.log10(size[seen]) - np.log10(total[seen]))))
    return worst


__all__ = ["cancelled_digits", "difference_digits", "float_difference_digits"]
