"""The error surface of the single-unit model of Pascanu, Mikolov & Bengio (2013, "On the difficulty of
training recurrent neural networks", fig. 6): a_t = w σ(a_{t−1}) + b, no input, L = ½(σ(a_T) − target)²."""

from __future__ import annotations

import numpy as np

from ..activations import get_activation
from ..budget import check_grid
from ..escape import plot_text
from ..numeric.sweeps import AMPLIFIED, DIGITS_LEFT, rounding_decides
from ..validate import integer, number
from .common import Drawn, Plotted, caption, check_range, check_steps, hatch_decided, new_figure

CLIFF = 0.25  # a cliff: the loss changes by more than this share of its range between neighbouring points,
TYPICAL = 10.0  # and by more than this many times the median change


def jumps(loss: np.ndarray) -> np.ndarray:
    """For each grid point, the largest change of L to its right or upper neighbour."""
    out = np.zeros(loss.shape)
    with np.errstate(invalid="ignore"):
        out[:, :-1] = np.fmax(out[:, :-1], np.abs(np.diff(loss, axis=1)))
        out[:-1, :] = np.fmax(out[:-1, :], np.abs(np.diff(loss, axis=0)))
    return out


def cliff_mask(loss: np.ndarray) -> tuple[np.ndarray, float]:
    """The grid points at a cliff — where L changes to a neighbour by more than CLIFF of its range over the
    grid and more than TYPICAL times the median change (a smooth slope is not a cliff) — and that
    threshold."""
    finite = loss[np.isfinite(loss)]
    spread = float(finite.max() - finite.min()) if finite.size else 0.0
    jump = jumps(loss)
    threshold = max(CLIFF * spread, TYPICAL * float(np.nanmedian(jump)))
    return (jump > threshold) if spread > 0 else np.zeros(loss.shape, dtype=bool), threshold


def cliff_sentence(w: np.ndarray, b: np.ndarray, loss: np.ndarray, log_grad: np.ndarray,
                   decided: np.ndarray | None = None) -> str:
    """What the red outline marks, from the grid: how many points sit at a cliff and how high it is, the
    loss's change elsewhere, and the steepest gradient among the points whose values float64 holds
    (``decided``: those rounding decides, hatched and counted)."""
    cliff, threshold = cliff_mask(loss)
    jump = jumps(loss)
    decided = np.zeros(loss.shape, dtype=bool) if decided is None else decided
    hatched = ""
    if decided.any():
        hatched = (f"Hatched ({int(decided.sum())} of {decided.size} points): over the T steps the unit amplifies "
                   f"rounding by more than {AMPLIFIED}, so float64 keeps under {DIGITS_LEFT} digits of a_T and "
                   "rounding, not the model, decides the values drawn there. ")
    held = np.where(decided, np.nan, log_grad)
    steepest = hatched
    if not np.isnan(held).all():
        i = np.unravel_index(int(np.nanargmax(held)), log_grad.shape)
        steepest += (f"The largest gradient on the grid{' outside the hatching' if decided.any() else ''} is "
                     f"10^{log_grad[i]:.2f} at w = {w[i]:.3g}, b = {b[i]:.3g}.")
    if not cliff.any():
        return (f"No two neighbouring grid points differ in L by more than {threshold:.2g} ({CLIFF:g} of its "
                f"range, at least {TYPICAL:g}× the median change): no cliff at this resolution. " + steepest)
    flat = float(np.nanmedian(jump[~cliff])) if (~cliff).any() else float("nan")
    return (f"Red: the cliffs, where L changes by more than {threshold:.2g} between neighbouring grid points ("
            f"{CLIFF:g} of its range over the grid, at least {TYPICAL:g}× the median change): "
            f"{int(cliff.sum())} of {cliff.size} points, jumps up to "
            f"{float(np.nanmax(jump)):.2g}; elsewhere a median {flat:.2g}. " + steepest)


def surface(activation: str = "tanh", w_min: float = -3.0, w_max: float = 3.0, b_min: float = -3.0,
            b_max: float = 3.0, points: int = 161, T: int = 30, target: float = 0.5, a0: float = 0.5
            ) -> Drawn:
    """log10 L and log10‖∇L‖ over (w, b): the cliffs where the gradient explodes sit beside plateaus."""
    get_activation(activation)  # a name or an expression, refused in one line before it is compared
    points, T = integer("points (--points)", points, 2), integer("T (-T)", T)
    target, a0 = number("target (--target)", target), number("a0 (--a0)", a0)
    check_range("weight", number("w_min (--min)", w_min), number("w_max (--max)", w_max))
    check_range("bias", number("b_min (--b-min)", b_min), number("b_max (--b-max)", b_max))
    check_steps(T)
    check_grid("plot surface", points**2, T, arrays=2)
    act = get_activation(activation)
    w, b = np.meshgrid(np.linspace(w_min, w_max, points), np.linspace(b_min, b_max, points))
    a, hs, ds, factors = np.full(w.shape, a0), [], [], np.empty((T, *w.shape))
    with np.errstate(all="ignore"):
        for t in range(T):
            factors[t] = np.log10(np.abs(w * act.np_dsigma(a)))  # ∂a_t/∂a_{t−1} = w σ'(a_{t−1})
            h = act.np_sigma(a)
            hs.append(h)
            a = w * h + b
            ds.append(act.np_dsigma(a))
        out = act.np_sigma(a)
        loss = 0.5 * (out - target) ** 2
        delta = (out - target) * ds[-1]  # ∂L/∂a_T
        gw, gb = np.zeros(w.shape), np.zeros(w.shape)
        for t in range(T - 1, -1, -1):
            gw += delta * hs[t]
            gb += delta
            if t:
                delta = delta * w * ds[t - 1]
        gnorm = np.sqrt(gw**2 + gb**2)
        log_loss, log_grad = np.log10(loss + 1e-300), np.log10(gnorm + 1e-300)
    # rounding made at step k reaches a_T times |∂a_T/∂a_k| = 10^(v_T − v_k), v_t = Σ_{s≤t} log10|w σ'(a_{s−1})|
    with np.errstate(invalid="ignore"):
        decided = rounding_decides(np.cumsum(factors, axis=0).reshape(T, -1), activation)[-1].reshape(w.shape)
    fig, axes = new_figure(1, 2, figsize=(11.5, 5.2))
    fig.subplots_adjust(bottom=0.22, top=0.86, wspace=0.25)
    cliff, _ = cliff_mask(loss)
    for ax, data, label in ((axes[0], log_loss, r"$\log_{10} L$"), (axes[1], log_grad, r"$\log_{10}\|\nabla L\|$")):
        mesh = ax.pcolormesh(w, b, data, cmap="viridis", shading="nearest", rasterized=True)
        fig.colorbar(mesh, ax=ax, label=label)
        if cliff.any():  # the cliffs, outlined on both panels
            ax.contour(w, b, cliff.astype(float), levels=[0.5], colors="red", linewidths=0.9)
        hatch_decided(ax, w, b, decided)  # the points whose values rounding decides
        ax.set_xlabel("$w$")
        ax.set_ylabel("$b$")
    fig.suptitle("Pascanu, Mikolov & Bengio's single unit: $a_t = w\\,\\sigma(a_{t-1}) + b$ "
                 f"({plot_text(activation)}, no input), $a_0$ = {a0:g}, T = {T}, "
                 f"$L = \\frac{{1}}{{2}}(\\sigma(a_T) - {target:g})^2$",
                 fontsize=10)
    caption(fig, "This is not the RNN of the other figures: the unit feeds back its own output and gets no input, "
                 "the model Pascanu et al. (2013) used to show that exploding gradients come with cliffs in the "
                 "error surface. " + cliff_sentence(w, b, loss, log_grad, decided))
    return Drawn(fig, Plotted({"w": w, "b": b, "log10_loss": log_loss, "log10_grad_norm": log_grad}))
