"""Heat maps over weight × T of log10|∂h_T/∂h_0| (or log10|∂L/∂w|) for the scalar RNN, by default a
linear panel (no saturation: a clean explosion beyond |w| = 1) beside the chosen activation."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ..activations import get_activation
from ..budget import check_grid
from ..errors import SymbpttError
from ..escape import plot_text
from ..numeric.sweeps import AMPLIFIED, DIGITS_LEFT, grad_rounding_decides, rounding_decides, sweep_grad, sweep_scalar
from ..validate import integer, number
from ..validate import seed as checked_seed
from .common import (
    Drawn,
    Plotted,
    caption,
    check_range,
    check_steps,
    colour_map,
    diverging,
    gamma_of,
    hatch_decided,
    label_region,
    masked,
    new_figure,
    sequential,
)

STEPS = (1, 2, 5, 10, 20, 50, 100, 200)  # decades between contour lines, the first giving at most 3 a side
SATURATED = 0.01  # a unit counts as saturated where σ'(a) is below this share of its peak slope γ
PROBE = np.linspace(-60.0, 60.0, 120_001)  # where σ' is looked at to describe it (step 0.001)


@lru_cache(maxsize=64)
def slope_profile(activation: str) -> dict:
    """What σ' does on the line, measured on PROBE: its peak γ, whether each tail keeps the full slope
    (σ' ≥ 0.99 γ at |a| = 60, relu's a > 0) and, when both tails fall below SATURATED·γ, the threshold A
    beyond which they stay there (|a| > A is a saturated unit)."""
    act = get_activation(activation)
    with np.errstate(all="ignore"):
        d = np.abs(act.np_dsigma(PROBE))
    gamma = float(np.max(d[np.isfinite(d)]))
    low = d < SATURATED * gamma
    profile = {"gamma": gamma, "full_left": bool(d[0] >= 0.99 * gamma), "full_right": bool(d[-1] >= 0.99 * gamma),
               "threshold": None, "tail_left": float(d[0]), "tail_right": float(d[-1])}
    if low[0] and low[-1]:
        right = PROBE > 0
        # the smallest A with σ' < SATURATED·γ for every |a| ≥ A (within the probe)
        outside_r = np.nonzero(~low & right)[0]
        outside_l = np.nonzero(~low & ~right)[0]
        a_r = PROBE[outside_r[-1] + 1] if outside_r.size else 0.0
        a_l = -PROBE[outside_l[0] - 1] if outside_l.size else 0.0
        profile["threshold"] = float(max(a_r, a_l))
    return profile


def regimes(activation: str = "tanh", w_min: float = -3.0, w_max: float = 3.0, points: int = 241,
            T_max: int = 100, u: float = 1.0, b: float = 0.0, h0: float = 0.0, seed: int = 0,
            quantity: str = "jacobian", y: float = 0.5, beside: str = "linear") -> Drawn:
    """log10|∂h_T/∂h_0| = Σ_{t≤T} log10|w σ'(a_t)| (or log10|∂L/∂w| for L = ½(h_T − y)²) over the grid,
    one panel per activation: ``beside`` = 'linear' puts the linear unit next to ``activation``."""
    get_activation(activation)  # a name or an expression, refused in one line before it is compared
    points, T_max = integer("points (--points)", points, 2), integer("T_max (-T)", T_max)
    seed = checked_seed(seed)
    check_range("weight", number("w_min (--min)", w_min), number("w_max (--max)", w_max))
    check_steps(T_max)
    check_grid("plot regimes", points, T_max)
    if not isinstance(quantity, str) or quantity not in ("jacobian", "grad"):
        raise SymbpttError(f"unknown quantity {quantity!r:.40}; choose jacobian or grad")
    if not isinstance(beside, str) or beside not in ("linear", "none"):
        raise SymbpttError(f"unknown --beside {beside!r:.40}; choose linear or none")
    weights = np.linspace(w_min, w_max, points)
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, T_max)
    panels = [activation] if beside == "none" or activation == "linear" else ["linear", activation]
    fig, axes = new_figure(1, len(panels), figsize=(5.6 * len(panels) + 0.6, 5.4), squeeze=False)
    fig.subplots_adjust(bottom=0.25, top=0.85, wspace=0.3)
    drawn, labels, notes = {}, [], []
    rounded = {}
    for ax, act in zip(axes[0], panels, strict=True):
        if quantity == "jacobian":
            values = sweep_scalar(weights, T_max, act, u=u, b=b, h0=h0, x=x)
            rounded[act] = rounding_decides(values, act)
        else:
            values = sweep_grad(weights, T_max, act, u=u, b=b, h0=h0, x=x, y=y)
            rounded[act] = grad_rounding_decides(weights, T_max, act, u=u, b=b, h0=h0, x=x)
        drawn[act] = values
        note = _panel(fig, ax, act, weights, values, quantity, rounded[act])
        notes.append(note)
        if quantity == "jacobian":
            labels += [(act, text) for text in _labels(ax, act, weights, values, T_max)]
    what = (r"$\log_{10}|\partial h_T/\partial h_0| = \sum_t \log_{10}|w\,\sigma'(a_t)|$" if quantity == "jacobian"
            else rf"$\log_{{10}}|\partial L/\partial w|$, $L = \frac{{1}}{{2}}(h_T - {y:g})^2$")
    fig.suptitle(f"{what} over weight × T, one forward pass", fontsize=10)
    story = f"Inputs x_t ~ U(-1, 1) (seed {seed}), drive u = {u:g}, bias b = {b:g}, h0 = {h0:g}. "
    beyond = (", or beyond what float64 holds (NaN: a log10 past ±1.8e308, or a state past 1.8e308)"
              if any(np.isnan(v).any() for v in drawn.values()) else "")
    if quantity == "jacobian":
        story += ("Red: the product of the factors w·σ'(a_t) grows (the gradient explodes); blue: it shrinks "
                  "(vanishes); the solid contour is 10^0; grey: exactly 0 ("
                  + ("w = 0, or a step where σ'(a_t) = 0" if any(np.isneginf(v[:, weights != 0]).any()
                                                              for v in drawn.values()) else "w = 0")
                  + ")" + beyond + ". Dashed: |w| = 1/γ, inside it vanishing is guaranteed. ")
    else:  # ∂L/∂w is a sum over paths: no colour or line of it says that the gradient vanishes
        zeros = sum(int(np.isneginf(v).sum()) for v in drawn.values())
        where = " of the two panels" if len(panels) == 2 else ""
        grey = ([f"exactly 0 ({zeros} {'cell' if zeros == 1 else 'cells'}{where})"] if zeros else []) + (
            [beyond.removeprefix(", or ")] if beyond else [])
        story += ("Colour: log10|∂L/∂w|, dark where small, yellow where large; the solid contour is 10^0"
                  + (f"; grey: {', or '.join(grey)}" if grey else "")
                  + ". Dashed: |w| = 1/γ, inside it each path's product of factors w·σ'(a_t) shrinks with its "
                  "length. ")
    if len(panels) == 2:
        story += "The linear unit has no saturation, so beyond |w| = 1 it explodes" + (
            " as |w|^T. " if quantity == "jacobian" else ". ")
    if activation != "linear" and quantity == "jacobian":
        story += growth_sentence(activation, weights, drawn[activation])
    story += rounding_sentence(rounded[activation])
    caption(fig, story + "".join(sorted(set(n for n in notes if n))))
    return Drawn(fig, Plotted({"weights": weights, "T": np.arange(1, T_max + 1), "values": drawn[activation],
                         "panels": drawn, "boundary": 1.0 / gamma_of(activation), "labels": labels}))


def _panel(fig: Figure, ax: Axes, act: str, weights: np.ndarray, values: np.ndarray, quantity: str,
           mask: np.ndarray) -> str:
    Ts = np.arange(1, values.shape[0] + 1)
    cmap = colour_map("RdBu_r" if quantity == "jacobian" else "viridis")
    norm: Normalize
    if quantity == "jacobian":
        norm, note = diverging(values)
    else:
        norm, note = sequential(values), ""
    mesh = ax.pcolormesh(weights, Ts, masked(values), cmap=cmap, norm=norm, shading="nearest", rasterized=True)
    hatch_decided(ax, weights, Ts, mask)  # cells whose value rounding decides (a chaotic trajectory)
    fig.colorbar(mesh, ax=ax, label=("log10 |∂h_T/∂h_0|" if quantity == "jacobian" else "log10 |∂L/∂w|"))
    levels = contour_levels(values)
    if levels:
        contours = ax.contour(weights, Ts, np.where(np.isfinite(values), values, np.nan), levels=levels,
                              colors="k", linestyles="solid", linewidths=[1.4 if v == 0 else 0.5 for v in levels])
        ax.clabel(contours, fmt=lambda v: rf"$10^{{{v:g}}}$", fontsize=7)
    boundary = 1.0 / gamma_of(act)
    for edge in (-boundary, boundary):
        if weights[0] < edge < weights[-1]:
            ax.axvline(edge, color="k", linestyle="--", linewidth=1.0)
    ax.set_xlabel("recurrent weight $w$")
    ax.set_ylabel("sequence length $T$")
    ax.set_title(f"{plot_text(act)}: γ = sup|σ'| = {gamma_of(act):g}, boundary |w| = {boundary:g}", fontsize=9)
    return note


def contour_levels(values: np.ndarray) -> list[float]:
    """10^0 and evenly spaced decades, at most three on each side of it, inside the data's range."""
    finite = values[np.isfinite(values)]
    if not finite.size or finite.max() <= finite.min():
        return []
    low, high = float(finite.min()), float(finite.max())
    span = max(abs(low), abs(high))
    step = next((s for s in STEPS if span / s <= 3.5), STEPS[-1] * (1 + int(span // (3 * STEPS[-1]))))
    levels = [k * step for k in range(-3, 4) if low < k * step < high]
    return [float(v) for v in levels]


def _labels(ax: Axes, act: str, weights: np.ndarray, values: np.ndarray, T_max: int) -> list[str]:
    """Words only where the data agree with them, judged at the largest T."""
    end = values[-1]
    inside = np.abs(weights) * gamma_of(act) < 1.0
    out: list[str] = []
    taken: list[tuple[float, float, float, float]] = []  # the labels' boxes, so that none covers another
    if label_region(ax, weights, inside & (end < 0), "vanishing\nguaranteed", 0.86 * T_max, taken=taken):
        out.append("vanishing guaranteed")
    if label_region(ax, weights, ~inside & (end > 0.3), "exploding\n(observed)", 0.7 * T_max, "darkred", taken):
        out.append("exploding (observed)")
    zero = ~inside & np.isneginf(end)  # a factor w·σ'(a_t) was exactly 0 (relu off, w = 0)
    if label_region(ax, weights, zero, "exactly 0:\na unit is off (σ' = 0)", 0.7 * T_max, "dimgrey", taken):
        out.append("exactly 0: a unit is off (σ' = 0)")
    text = ("vanishing anyway:\nunits saturate" if slope_profile(act)["threshold"] is not None
            else "vanishing anyway")
    if label_region(ax, weights, ~inside & np.isfinite(end) & (end < -0.3), text, 0.7 * T_max, "navy", taken):
        out.append(text.replace("\n", " "))
    return out


def rounding_sentence(mask: np.ndarray) -> str:
    """A sentence for the hatched cells (``mask``: where rounding decides the value), only when there are
    some: how many, from which T."""
    if not mask.any():
        return ""
    first = int(np.argmax(mask.any(axis=1))) + 1
    return (f"Hatched ({int(mask.sum())} cells, from T = {first}): the forward pass amplifies rounding by more "
            f"than {AMPLIFIED}, so float64 keeps under {DIGITS_LEFT} digits of the state and rounding, not the "
            "model, decides the value drawn.")


def growth_sentence(activation: str, weights: np.ndarray, values: np.ndarray) -> str:
    """Where the bound allows growth (|w| > 1/γ), how much of the drawn grid grows: measured, with the
    saturation threshold of σ' when it has one."""
    profile = slope_profile(activation)
    allowed = np.abs(weights) > 1.0 / profile["gamma"]
    if not allowed.any():
        return ""
    grows = float(np.mean(values[:, allowed] > 0))
    text = f"Of the cells drawn where the bound allows growth (|w| > 1/γ), {grows:.0%} grow. "
    if profile["threshold"] is not None:
        text += (f"A {plot_text(activation)} unit driven to |a_t| > {profile['threshold']:.3g} has σ' below "
                 f"{SATURATED:g}·γ (saturated): each such step multiplies the product by less than "
                 f"{SATURATED:g}·γ|w|.")
    return text


def saturated_share(weights: np.ndarray, T_max: int, activation: str, u: float, b: float, h0: float,
                    x: np.ndarray) -> np.ndarray:
    """For each weight, the share of steps whose pre-activation lies where σ' stays below 1% of its peak
    (|a_t| > A of ``slope_profile``; zeros when the activation has no such tails)."""
    act = get_activation(activation)
    threshold = slope_profile(activation)["threshold"]
    if threshold is None:
        return np.zeros(weights.size)
    h = np.full(weights.size, float(h0))
    count = np.zeros(weights.size)
    with np.errstate(all="ignore"):
        for t in range(T_max):
            a = weights * h + u * x[t] + b
            count += np.abs(a) > threshold
            h = act.np_sigma(a)
    return count / T_max
