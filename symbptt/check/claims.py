"""Whether the digits a `grad` report claims are held: its "float64_digits" beside the exact values.

The report measures what rounding cost its float64 pass (numeric/reruns.py's kept_digits) and says so in
words; here the claim is compared with the exact gradients.  The shortfall is counted in decimal digits:
0 when every entry holds at least the digits claimed for it, else how many fewer it holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import mpmath
import numpy as np


def held_digits(found: Sequence[Any], exact: Sequence[Any]) -> tuple[float, float]:
    """(digits relative to the largest exact entry, digits of the worst entry) that ``found`` holds of
    ``exact`` (16 when they agree exactly); entries printed as {sign, log10} are left out."""
    pairs = [(float(f), mpmath.mpf(e)) for f, e in zip(found, exact, strict=True) if isinstance(f, (int, float))]
    largest = max((abs(e) for _, e in pairs), default=mpmath.mpf(0))
    if not pairs or largest == 0:
        return 16.0, 16.0
    block = max(abs(f - e) for f, e in pairs) / largest
    worst = max((abs(f - e) / abs(e) if e else (mpmath.mpf(0) if f == 0 else mpmath.inf)) for f, e in pairs)

    def digits(x: Any) -> float:
        return 16.0 if x == 0 else min(16.0, -float(mpmath.log10(x)))

    return digits(block), digits(worst)


def shortfall(report: dict, exact_by_param: list[dict[str, Any]], params: Sequence[str]) -> list[float]:
    """For a report whose gradients are float64 (a float64 pass, or an exact forward pass read in float64):
    how many digits each gradient holds fewer than claimed, relative to its largest entry and in its worst
    entry (0 where the claim is held); [] for an mpmath report."""
    from ..numeric.grad_report import gradients_in_float64

    if not gradients_in_float64(report):
        return []
    claim = report["float64_digits"]
    layers = report["grad"] if isinstance(report["grad"], list) else [report["grad"]]
    out = []
    for found, exact in zip(layers, exact_by_param, strict=True):
        for p in params:
            f = np.ravel(np.array(found[p], dtype=object))
            e = np.ravel(np.array(exact[p], dtype=object))
            block, worst = held_digits(list(f), list(e))
            out += [max(0.0, claim["relative_to_largest"] - block), max(0.0, claim["worst_entry"] - worst)]
    return [x if math.isfinite(x) else math.inf for x in out]
