"""The whole spectrum of ∂h_T/∂h_0, not only its norm: the singular values of the product of step
Jacobians of one random network, Gaussian W beside orthogonal W at the same gain.  At the edge of chaos
an orthogonal W keeps them together (dynamical isometry, Pennington, Schoenholz & Ganguli 2017); a
Gaussian W spreads them over many decades as T grows, even where the norm stays near 1."""

from __future__ import annotations

import math

import numpy as np

from ..activations import get_activation
from ..budget import ISOMETRY_CUBE, ISOMETRY_STEP, estimate
from ..errors import SymbpttError
from ..escape import plot_text
from ..numeric.sweeps import jacobian_singular_values, orthogonal_matrix, random_recurrent_matrix
from ..validate import integer, number
from ..validate import seed as checked_seed
from .common import Drawn, Plotted, caption, check_steps, new_figure

SHOWN_AS_POINTS = 16  # up to this n each singular value is also drawn as a dot (a lone finite one shows)


def isometry(activation: str = "tanh", n: int = 64, gain: float | None = None, steps: tuple[int, ...] = (1, 10, 50),
             seed: int = 0, drive: float = 0.1) -> Drawn:
    """Sorted log10 singular values of ∂h_T/∂h_0 for W = g·W0 with W0 ~ N(0, 1/n) (left) and W0 a random
    orthogonal matrix (right), inputs N(0, drive²) per unit; ``gain`` defaults to the mean-field edge of
    chaos of the activation for those inputs (σ_b = 0)."""
    get_activation(activation)  # a name or an expression, refused in one line before it is compared
    from ..numeric.theory import theory as mean_field

    n, seed = integer("hidden size n (-n)", n, 2, 256), checked_seed(seed)
    if not isinstance(steps, (tuple, list)) or not 1 <= len(steps) <= 6:
        raise SymbpttError("give one to six values of T, e.g. (1, 10, 50)")
    steps = tuple(integer("T (--lengths)", T) for T in steps)
    for T in steps:
        check_steps(T)
    estimate(f"plot isometry at n = {n} to T = {max(steps):,}", "lower --lengths or -n",
             seconds=max(steps) * (ISOMETRY_STEP + ISOMETRY_CUBE * n**3))
    drive = number("drive (-u)", drive)
    if gain is not None:
        gain = number("gain (--gain)", gain)
    if not (math.isfinite(drive) and drive >= 0):
        raise SymbpttError(f"the input scale (-u) must be a number ≥ 0, got {drive}")
    edge = mean_field(activation, 1.0, 0.0, drive, 1.0).critical_sigma_w
    if gain is None:
        if edge is None:
            raise SymbpttError(f"{activation} has no edge of chaos for gains up to 10; give --gain")
        gain = edge
    if not (math.isfinite(gain) and gain > 0):
        raise SymbpttError(f"--gain must be a positive number, got {gain}")
    kinds = {"Gaussian W0 ~ N(0, 1/n)": random_recurrent_matrix(n, seed), "orthogonal W0": orthogonal_matrix(n, seed)}
    values = {name: jacobian_singular_values(gain * W0, activation, list(steps), seed, drive)
              for name, W0 in kinds.items()}
    fig, axes = new_figure(1, 2, figsize=(10.5, 5.0))
    fig.subplots_adjust(bottom=0.27, top=0.86, wspace=0.25)
    share = np.arange(1, n + 1) / n
    for ax, (name, by_T) in zip(axes, values.items(), strict=True):
        for T in steps:
            v = by_T[T]
            undrawn = ("" if np.isfinite(v).any() else " (all exactly 0: not drawn)" if np.all(v == -np.inf)
                       else " (none held: not drawn)")
            ax.plot(share, v, label=f"T = {T}{undrawn}", marker="o" if n <= SHOWN_AS_POINTS else None, markersize=3)
        ax.axhline(0.0, color="grey", linewidth=0.6)
        if n <= SHOWN_AS_POINTS:  # the whole of i/n, however few of its points are finite
            ax.set_xlim(0.0, 1.0 + 1.0 / n)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("i / n (singular values, largest first)")
        ax.set_ylabel(r"$\log_{10}\,\sigma_i(\partial h_T/\partial h_0)$")
        ax.legend(fontsize=7.5)
    at = "the mean-field edge of chaos" if gain == edge else "the gain given"
    fig.suptitle(f"{plot_text(activation)}, n = {n}, W = g·W0 with g = {gain:.4g} ({at}), inputs N(0, {drive:g}²), "
                 f"seed {seed}", fontsize=10)
    caption(fig, _sentence(values, max(steps)))
    return Drawn(fig, Plotted({"gain": gain, "steps": np.array(steps),
                               **{name: np.array([by_T[T] for T in steps]) for name, by_T in values.items()}}))


def _sentence(values: dict[str, dict[int, np.ndarray]], T: int) -> str:
    """How far the singular values spread at the largest T, how many are exactly 0 (−∞: units switched off
    bound the product's rank) or beyond float64's resolution (NaN), and how many directions fall below
    10^−3, for each W0, read off the arrays drawn."""
    parts: list[str] = []
    alone: list[str] = []
    for name, by_T in values.items():
        v = by_T[T]
        kept = v[np.isfinite(v)]
        zero = int(np.sum(v == -np.inf))
        lost = int(np.sum(np.isnan(v)))
        small = int(np.sum(~np.isfinite(v) | (v < -3)))
        label = name.split(" W0")[0]
        if not kept.size:  # nothing to give a range of: a sentence of its own
            alone.append(f"At T = {T}, with the {label} W0, "
                         + (f"all {v.size} singular values of ∂h_T/∂h_0 are exactly 0 (at one step no unit had "
                            "σ' ≠ 0, so the product is 0)." if zero == v.size else
                            f"none of the {v.size} singular values of ∂h_T/∂h_0 is held in float64." if not zero else
                            f"no singular value of ∂h_T/∂h_0 is held in float64: {zero} {'is' if zero == 1 else 'are'} "
                            f"exactly 0 and the other {lost} {'is' if lost == 1 else 'are'} not held."))
            continue
        low, high = kept.min(), kept.max()
        start = (f"At T = {T} the singular values of ∂h_T/∂h_0 run" if not parts else "They run")
        text = f"{start} from 10^{_dec(low)} to 10^{_dec(high)} ({_dec(high - low)} decades) with the {label} W0"
        if lost:
            text += f"; {lost} more lie below float64's resolution of the product"
        if zero:
            on = v.size - zero
            text += (f"; {zero} {'is' if zero == 1 else 'are'} exactly 0 (at one step only {on} "
                     f"unit{'' if on == 1 else 's'} had σ' ≠ 0, which bounds the product's rank)")
        parts.append(text + f"; {small} of {v.size} directions shrink{'s' if small == 1 else ''} below 10^-3.")
    return " ".join(parts + alone)


def _dec(value: float) -> str:
    """Two decimals, with no −0.00 (a product that is orthogonal to rounding)."""
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text
