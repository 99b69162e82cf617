"""How far one finite network is from the mean-field prediction, against its width n: the observed rate
(1/T)·ln‖∂h_T/∂h_0‖₂ averaged over seeds beside ½ ln χ(g), at gains below, at and above the predicted
edge of chaos.  The prediction is for n → ∞; the figure shows what the gap does as n grows."""

from __future__ import annotations

import math

import numpy as np

from ..activations import get_activation
from ..errors import SymbpttError
from ..escape import plot_text
from ..numeric.sweeps import AMPLIFIED, DIGITS_LEFT, random_recurrent_matrix, rounding_decides, sweep_gain
from ..validate import integer
from ..validate import seed as checked_seed
from .common import Drawn, Plotted, caption, check_steps, new_figure

SHARES = (0.5, 1.0, 1.5)  # the gains drawn, as multiples of the predicted edge


def meanfield_gap(activation: str = "tanh", sizes: tuple[int, ...] = (4, 8, 16, 32, 64, 128), T: int = 100,
                  seeds: int = 4, seed: int = 0) -> Drawn:
    """|mean observed rate − ½ ln χ(g)| against n (log–log), one line per gain, the band the seeds span."""
    get_activation(activation)  # a name or an expression, refused in one line before it is compared
    from ..budget import check_sweep
    from ..numeric.theory import theory as mean_field

    check_steps(integer("T (-T)", T))
    if not isinstance(sizes, (tuple, list)) or not 1 <= len(sizes) <= 10:
        raise SymbpttError("give one to ten sizes n, each from 2 to 256")
    sizes = tuple(integer("a size n (--sizes)", n, 2, 256) for n in sizes)
    seeds, seed = integer("seeds (--seeds)", seeds, 1, 20), checked_seed(seed)
    for n in sizes:
        check_sweep(T, len(SHARES) * seeds, n)
    edge = mean_field(activation, 1.0, 0.0, 1.0, 1.0).critical_sigma_w
    if edge is None:
        raise SymbpttError(f"{activation} has no edge of chaos for gains up to 10: nothing to compare across it")
    gains = np.array([share * edge for share in SHARES])
    # NaN where there is no fixed point (a linear network above the edge: the variance grows past any
    # bound looked at): no prediction
    predicted = np.array([mean_field(activation, float(g), 0.0, 1.0, 1.0, edge=False).rate for g in gains])
    sizes = tuple(sorted(set(sizes)))
    observed = np.empty((len(sizes), seeds, len(gains)))
    decided = np.zeros((len(sizes), seeds, len(gains)), dtype=bool)  # rounding decides the trajectory by T
    for i, n in enumerate(sizes):
        for j, s in enumerate(range(seed, seed + seeds)):
            every = sweep_gain(gains, T, activation, n, seed=s, W0=random_recurrent_matrix(n, s))
            observed[i, j] = every[-1] * math.log(10.0) / T
            decided[i, j] = rounding_decides(every, activation)[-1]
    gap = np.abs(observed.mean(axis=1) - predicted[None, :])
    spread = observed.max(axis=1) - observed.min(axis=1)
    fig, ax = new_figure(figsize=(7.4, 5.0))
    fig.subplots_adjust(bottom=0.27, top=0.9)
    for k, (share, g) in enumerate(zip(SHARES, gains, strict=True)):
        where = "the edge" if share == 1.0 else f"{share:g} × the edge"
        line, = ax.plot(sizes, gap[:, k], marker="o", label=f"g = {g:.3g} ({where})")
        ax.plot(sizes, spread[:, k], linestyle=":", color=line.get_color(), linewidth=1.2)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("width n")
    ax.set_ylabel("|mean observed rate − mean-field rate| per step")
    ax.set_title(f"{plot_text(activation)}, T = {T}, {seeds} networks per n (seeds {seed}..{seed + seeds - 1}), "
                 "inputs N(0, 1); dotted: the seeds' spread", fontsize=9)
    ax.legend(fontsize=7.5)
    caption(fig, _sentence(sizes, gains, gap, spread, edge) + _rounding_sentence(gains, decided, T))
    return Drawn(fig, Plotted({"sizes": np.array(sizes), "gains": gains, "predicted": predicted,
                               "observed": observed, "gap": gap, "rounding_decides": decided}))


def _rounding_sentence(gains: np.ndarray, decided: np.ndarray, T: int) -> str:
    """Where rounding decides some networks' trajectories by T (they amplify rounding past AMPLIFIED): how
    many, at which gains; nothing when none."""
    if not decided.any():
        return ""
    at = [f"{int(decided[:, :, k].sum())} at g = {g:.3g}" for k, g in enumerate(gains) if decided[:, :, k].any()]
    count = int(decided.sum())
    one = count == 1
    return (f" By T = {T} rounding decides the {'trajectory' if one else 'trajectories'} of {count} of the "
            f"{decided.size} networks ({', '.join(at)}; {'it amplifies' if one else 'they amplify'} rounding past "
            f"{AMPLIFIED}): float64 holds under {DIGITS_LEFT} digits of {'its state' if one else 'their states'}, so "
            f"{'its rate is that' if one else 'their rates are those'} of a trajectory rounding chose.")


def _sentence(sizes: tuple[int, ...], gains: np.ndarray, gap: np.ndarray, spread: np.ndarray, edge: float) -> str:
    """For each gain: the gap at the smallest and the largest n, and whether it is smaller than the seeds'
    spread there — what the figure shows, from its arrays."""
    parts = []
    for k, g in enumerate(gains):
        first, last = gap[0, k], gap[-1, k]
        if not math.isfinite(first):
            parts.append(f"at g = {g:.3g} the theory has no fixed point (the variance grows without bound) and "
                         "predicts nothing")
            continue
        trend = "shrinks" if last < first else "does not shrink"
        within = "within" if last <= spread[-1, k] else "outside"
        parts.append(f"at g = {g:.3g} it {trend} from {first:.2g} (n = {sizes[0]}) to {last:.2g} (n = {sizes[-1]}), "
                     f"{within} the seeds' spread there")
    return (f"The mean-field rate ½ ln χ(g) is a prediction for n → ∞ (edge of chaos at g = {edge:.3g}). The gap "
            "between it and the mean observed rate: " + "; ".join(parts) + ".")
