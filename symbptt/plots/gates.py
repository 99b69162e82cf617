"""Why a forget bias keeps an LSTM's gradient alive: heat maps over the forget-gate bias b_f × T of
log10‖∂c_T/∂c_0‖ and log10‖∂h_T/∂h_0‖, with the carousel's own product Π_j f_j as contours."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import TwoSlopeNorm

from ..budget import estimate, norm_sweep_cost
from ..numeric.examples import example_config, with_param
from ..numeric.factors import ArrayFactors, NumericModel
from ..numeric.logspace import log10_norms_by_T
from ..numeric.sweeps import AMPLIFIED, DIGITS_LEFT, cell_rounding_decides
from ..progress import Progress
from ..validate import integer, number
from ..validate import seed as checked_seed
from .common import Drawn, Plotted, caption, check_range, check_steps, colour_map, hatch_decided, masked, new_figure

LEVELS = (-40, -20, -10, -5, -2, -1)
HELD = -2.0  # the colour scale is fitted to where the carousel alone keeps Π f ≥ 10^HELD


def fitted_scale(c_vals: np.ndarray, h_vals: np.ndarray, carousel: np.ndarray) -> tuple[float, str]:
    """One colour limit for both panels, fitted to the region that carries the message — where the
    carousel alone keeps Π f ≥ 10^-2, and c and h part ways — so that the contrast there is not white on
    white; with the sentence that says so (values beyond it saturate)."""
    region = carousel >= HELD
    held = np.concatenate([c_vals[region], h_vals[region]]) if region.any() else np.array([])
    held = held[np.isfinite(held)]
    everything = np.concatenate([c_vals.ravel(), h_vals.ravel()])
    everything = everything[np.isfinite(everything)]
    if not held.size:
        limit = float(np.max(np.abs(everything))) if everything.size else 1.0
        return max(limit, 1e-3), ""
    limit = max(float(np.max(np.abs(held))), 1.0)
    beyond = int(np.sum(np.abs(everything) > limit))
    if not beyond:
        return limit, ""
    return limit, (f" Colours are fitted to where the carousel alone keeps Π f ≥ 10^{HELD:g} (±{limit:.3g} "
                   f"decades); {beyond} of {everything.size} values lie beyond and take the end colour.")


def contrast_sentence(grid: np.ndarray, c_last: np.ndarray, h_last: np.ndarray, T_max: int) -> str:
    """The two norms at the largest forget bias drawn, at the last T: how far c and h part there."""
    c, h = float(c_last[-1]), float(h_last[-1])
    if not (np.isfinite(c) and np.isfinite(h)):
        return ""
    return (f" At b_f = {float(grid[-1]):.3g}, T = {T_max}: ‖∂c_T/∂c_0‖ = 10^{c:.3g} while "
            f"‖∂h_T/∂h_0‖ = 10^{h:.3g}.")


def carousel_sentence(biases: np.ndarray, last: np.ndarray, T_max: int) -> str:
    """Where the drawn carousel log10 Π f_j (at the last T) stays above 10^-1 and where it falls below
    10^-10, as forget biases of the grid; the gate value σ(b_f) at the first of them."""
    parts = []
    kept = biases[last >= -1.0]
    if kept.size:
        b = float(kept.min())
        parts.append(f"stays above 10^-1 for b_f ≥ {b:.3g} (σ({b:.3g}) = {1 / (1 + np.exp(-b)):.2f})")
    lost = biases[last <= -10.0]
    if lost.size:
        parts.append(f"falls below 10^-10 for b_f ≤ {float(lost.max()):.3g}")
    if not parts:
        return f"Over T = {T_max} the carousel stays between 10^-10 and 10^-1 for every b_f drawn."
    return f"Over T = {T_max} the carousel " + " and ".join(parts) + "."


def zero_note(*panels: np.ndarray) -> str:
    """The grey cells in words, counted from the data: norms the float64 pass makes exactly 0 (a gate
    beyond float64's range, σ(b) for b below −745, rounds to 0), which have no log10 to colour."""
    zeros = sum(int(np.sum(np.isneginf(p))) for p in panels)
    if not zeros:
        return ""
    total = sum(p.size for p in panels)
    return (f" Grey: {zeros} of {total} values {'is' if zeros == 1 else 'are'} exactly 0 in float64 (a gate beyond "
            "its range rounds to 0), "
            "with no log10 to colour.")


def rounding_note(decided: np.ndarray, grid: np.ndarray) -> str:
    """The hatched cells in words, counted from ``decided`` (T, biases): where the forward pass amplifies
    rounding past what float64 holds, so that rounding, not the model, decides the norms and Π f drawn."""
    if not decided.any():
        return ""
    biases = grid[decided.any(axis=0)]
    first = int(np.argmax(decided.any(axis=1))) + 1
    return (f" Hatched ({int(decided.sum())} of {decided.size} cells, b_f from {float(biases.min()):.3g} to "
            f"{float(biases.max()):.3g}, from T = {first}): the forward pass amplifies rounding by more than "
            f"{AMPLIFIED}, so float64 keeps under {DIGITS_LEFT} digits of the state and rounding, not the model, "
            "decides the values drawn there.")


def gates(b_min: float = -2.0, b_max: float = 6.0, points: int = 81, T_max: int = 100, n: int = 1,
          gain: float = 1.0, drive: float = 1.0, seed: int = 0) -> Drawn:
    """For each forget bias: one forward pass of an LSTM with seeded random weights (W ~ N(0, gain²/n),
    U ~ N(0, drive²), other biases 0), the accumulated state Jacobian's blocks for every T, and the
    product of the forget gates log10 Π_{j≤T} f_j (largest unit)."""
    points, T_max = integer("points (--points)", points, 2), integer("T_max (-T)", T_max)
    n = integer("n (-n)", n, 1, 256)
    gain, drive, seed = number("gain (--gain)", gain), number("drive (-u)", drive), checked_seed(seed)
    check_range("forget bias", number("b_min (--min)", b_min), number("b_max (--max)", b_max))
    check_steps(T_max)
    from ..activations import get_activation
    from ..cells import get_cell

    estimate(f"plot gates with {points} forget biases at n = {n}, T = {T_max}", "lower --points, -n or -T",
             **norm_sweep_cost(get_cell("lstm", get_activation("tanh")), n, T_max, points))
    grid = np.linspace(b_min, b_max, points)
    base = example_config("lstm", T_max, n, gain=gain, drive=drive, seed=seed)
    c_vals, h_vals, carousel, state = (np.empty((T_max, points)) for _ in range(4))
    progress = Progress(points * T_max, "plot gates")  # counted in steps: one bias can take minutes
    with np.errstate(all="ignore"):
        for j, value in enumerate(grid):
            values = ArrayFactors(NumericModel.of(with_param(base, "b_f", float(value))))
            norms = log10_norms_by_T(values, on_step=progress.counter(j * T_max))
            c_vals[:, j], h_vals[:, j], state[:, j] = norms["c"], norms["h"], norms["state"]
            f = values.traj.values[0]["f"][1:, :, 0]  # (T, n)
            carousel[:, j] = np.max(np.cumsum(np.log10(f), axis=0), axis=1)
    progress.clear()
    decided = cell_rounding_decides(base.spec, "tanh", state)  # a chaotic LSTM (large gain, many units)
    decided = np.zeros(state.shape, dtype=bool) if decided is None else decided
    fig, axes = new_figure(1, 2, figsize=(12.2, 5.4))
    fig.subplots_adjust(bottom=0.24, top=0.88, wspace=0.28)
    Ts = np.arange(1, T_max + 1)
    cmap = colour_map("RdBu_r")
    limit, note = fitted_scale(c_vals, h_vals, carousel)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)
    for ax, data, label in ((axes[0], c_vals, r"$\log_{10}\|\partial c_T/\partial c_0\|$"),
                            (axes[1], h_vals, r"$\log_{10}\|\partial h_T/\partial h_0\|$")):
        mesh = ax.pcolormesh(grid, Ts, masked(data), cmap=cmap, norm=norm, shading="nearest", rasterized=True)
        finite = data[np.isfinite(data)]
        extend = {(True, True): "both", (True, False): "min", (False, True): "max"}.get(
            (bool(finite.size and finite.min() < -limit), bool(finite.size and finite.max() > limit)), "neither")
        fig.colorbar(mesh, ax=ax, label=label, extend=extend)
        hatch_decided(ax, grid, Ts, decided)  # the cells whose values rounding decides
        levels = [v for v in LEVELS if np.nanmin(carousel) < v < np.nanmax(carousel)]
        if levels:
            cs = ax.contour(grid, Ts, carousel, levels=levels, colors="k", linewidths=0.7, linestyles="--")
            ax.clabel(cs, fmt=lambda v: rf"$\Pi f = 10^{{{int(v)}}}$", fontsize=7)
        ax.set_xlabel("forget-gate bias $b_f$")
        ax.set_ylabel("sequence length $T$")
        ax.set_title(label + " (dashed: the carousel alone, $\\Pi_j f_j$)", fontsize=9)
    fig.suptitle(f"LSTM, n = {n}: W ~ N(0, {gain:g}²/n), U ~ N(0, {drive:g}²), other biases 0, inputs U(-1, 1) "
                 f"seed {seed}", fontsize=10)
    caption(fig, "The cell state c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t passes gradient back through the forget gate "
                 "alone: ∂c_t/∂c_{t-1} = diag(f_t) plus paths through h, so the path through c alone "
                 "multiplies by Π f_j. "
                 + carousel_sentence(grid, carousel[-1], T_max) + " ∂h_T/∂h_0 also passes through the output "
                 "gate and tanh'(c_t), so it can decay even where c keeps its gradient."
                 + contrast_sentence(grid, c_vals[-1], h_vals[-1], T_max) + note + zero_note(c_vals, h_vals)
                 + rounding_note(decided, grid))
    return Drawn(fig, Plotted({"b_f": grid, "T": Ts, "c": c_vals, "h": h_vals, "carousel": carousel}))
