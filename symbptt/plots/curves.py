"""|∂h_T/∂h_0| against T: for a few weights of the scalar RNN with the bound (γ|w|)^T beside each
(a linear panel next to the chosen activation by default), or for several cells side by side."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import sympy as sp

from .. import printing
from ..activations import get_activation
from ..budget import estimate, norm_sweep_cost
from ..errors import SymbpttError
from ..escape import plot_text
from ..numeric.logspace import lyapunov_rate
from ..numeric.sweeps import (
    AMPLIFIED,
    cell_rounding_decides,
    decimals_text,
    held_decimals,
    rounding_decides,
    sweep_scalar,
)
from ..progress import Progress
from ..validate import integer, number
from ..validate import seed as checked_seed
from .common import Drawn, Plotted, caption, check_steps, decimals, drawn_weights, gamma_of, new_figure
from .regimes import SATURATED, saturated_share, slope_profile


def curves(activation: str = "tanh", weights: tuple[float, ...] = (0.5, 1.0, 1.5), T_max: int = 100,
           u: float = 1.0, b: float = 0.0, seed: int = 0, beside: str = "linear") -> Drawn:
    """log10|∂h_T/∂h_0| (solid) and the bound T·log10(γ|w|) (dashed) for each weight; the legend gives
    the finite-time Lyapunov rate (1/T)·ln|∂h_T/∂h_0| and, for a saturating unit, the share of steps
    with |a_t| > 3."""
    get_activation(activation)  # a name or an expression, refused in one line before it is compared
    if not isinstance(weights, (tuple, list, np.ndarray)):  # a string too
        raise SymbpttError("weights must be a sequence of numbers, e.g. (0.5, 1.0)")
    T_max, seed = integer("T_max (-T)", T_max), checked_seed(seed)
    weights = tuple(number("weights (--weights)", v) for v in weights)
    check_steps(T_max)
    if not weights:
        raise SymbpttError("give at least one weight")
    if not isinstance(beside, str) or beside not in ("linear", "none"):
        raise SymbpttError(f"unknown --beside {beside!r:.40}; choose linear or none")
    panels = [activation] if beside == "none" or activation == "linear" else ["linear", activation]
    # each curve of each panel: its sweep's arrays and the line matplotlib draws, about 12 floats a step
    # (peak RSS 0.30 GB at T = 3·10^5 and 0.71 GB at 10^6, three weights beside linear)
    estimate(f"plot curves of {len(weights)} weights at T = {T_max}", "lower -T",
             seconds=len(weights) * T_max * 2e-5, floats=12.0 * len(weights) * len(panels) * T_max)
    w = np.asarray(weights, dtype=float)
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, T_max)
    fig, axes = new_figure(1, len(panels), figsize=(5.4 * len(panels) + 0.6, 5.0), squeeze=False)
    fig.subplots_adjust(bottom=0.24, top=0.88, wspace=0.28)
    T = np.arange(1, T_max + 1)
    kept = {}
    for ax, act in zip(axes[0], panels, strict=True):
        values = sweep_scalar(w, T_max, act, u=u, b=b, x=x)
        decided = rounding_decides(values, act)
        places = np.full(w.size, 3)
        if decided.any():  # measured: the same pass with every x_t one ulp larger, as rounding could have made it
            moved = sweep_scalar(w, T_max, act, u=u, b=b, x=np.nextafter(x, np.inf))
            with np.errstate(invalid="ignore"):
                shift = np.abs(moved[-1] - values[-1]) / T_max  # of the mean slope, decades per step
            places = np.where(decided[-1], held_decimals(shift, 3), 3)
        gamma = gamma_of(act)
        with np.errstate(divide="ignore"):
            bounds = np.outer(T, np.log10(gamma * np.abs(w)))
        rates = np.array([lyapunov_rate(v, T_max) for v in values[-1]])
        share = saturated_share(w, T_max, act, u, b, 0.0, x)
        for i, wi in enumerate(w):
            label = f"w = {wi:g}: {_slope_words(values[:, i], int(places[i]))}"
            if share[i] > 0:
                label += f", {share[i]:.0%} of steps saturated"
            line, = ax.plot(T, values[:, i], label=label)
            ax.plot(T, bounds[:, i], linestyle="--", color=line.get_color(), linewidth=0.9)
        ax.axhline(0.0, color="grey", linewidth=0.6)
        ax.set_xlabel("$T$")
        ax.set_ylabel(r"$\log_{10}\,|\partial h_T/\partial h_0|$")
        ax.set_title(f"{plot_text(act)} (γ = {gamma:g}): measured (solid), bound $T\\log_{{10}}(\\gamma|w|)$ (dashed)",
                     fontsize=9)
        ax.legend(fontsize=7.5, loc="best")
        kept[act] = {"values": values, "bounds": bounds, "rates": rates, "saturated": share, "decided": decided}
        if decided.any():
            kept[act]["slope_shift"] = shift
    fig.suptitle(rf"$|\partial h_T/\partial h_0|$ against T: inputs x_t ~ U(-1, 1) (seed {seed}), u = {u:g}, "
                 f"b = {b:g}", fontsize=10)
    story = ("The bound (γ|w|)^T can only promise vanishing (γ|w| < 1); above 1 it allows growth but does not "
             "cause it. The legend gives each solid line's mean slope over T in decades (powers of 10) per step: "
             "positive grows, negative shrinks (the rate in natural log, the Lyapunov exponent, is ln 10 ≈ 2.303 "
             "times it). ")
    if activation != "linear":
        story += slope_sentence(activation, kept[activation]["saturated"], w)
        said = rounding_words(w, kept[activation])
        story = f"{story.rstrip()} {said}" if said else story
    caption(fig, story)
    main = kept[activation]
    return Drawn(fig, Plotted({"T": T, "weights": w, "values": main["values"], "bounds": main["bounds"],
                         "rates": main["rates"], "saturated": main["saturated"], "panels": kept}))


def rounding_words(w: np.ndarray, panel: dict) -> str:
    """For each line rounding decides from some T on (its trajectory amplifies rounding past AMPLIFIED): from
    which T, how far every x_t one ulp larger moves its mean slope, and the decimals its legend keeps."""
    decided = panel["decided"]
    parts = []
    for i in np.flatnonzero(decided.any(axis=0)):
        first = int(np.argmax(decided[:, i])) + 1
        shift = float(panel["slope_shift"][i])
        places = int(held_decimals(shift, 3))
        parts.append(f"w = {w[i]:g} from T = {first} (every x_t one ulp larger moves its mean slope by {shift:.2g} "
                     f"decades/step, so the legend gives it to {decimals_text(places)})")
    if not parts:
        return ""
    return ("Rounding, not the model, decides " + ("the line of " if len(parts) == 1 else "the lines of ")
            + "; ".join(parts) + f": from there the forward pass amplifies rounding by more than {AMPLIFIED}.")


def _slope_words(values: np.ndarray, places: int = 3) -> str:
    """A line's mean slope over T in decades per step (the axis's unit), to ``places`` decimals — or, where
    it has none, why: an exact 0 (log10 −∞) or a value beyond float64 (NaN) from some T on."""
    end = float(values[-1])
    if math.isfinite(end):
        return f"slope {decimals(end / values.size, places, sign=True)} decades/step"
    first = int(np.argmax(~np.isfinite(values))) + 1
    return (f"exactly 0 from T = {first}" if end == -math.inf and np.isneginf(values[first - 1])
            else f"no slope: beyond float64 from T = {first}")


def slope_sentence(activation: str, shares: np.ndarray, w: np.ndarray) -> str:
    """What the activation's slope does, in words measured from σ' itself, and the saturation counts."""
    p = slope_profile(activation)
    name = plot_text(activation)
    if p["full_left"] or p["full_right"]:
        only_right, only_left = p["full_right"] and not p["full_left"], p["full_left"] and not p["full_right"]
        side = "a > 0" if only_right else "a < 0" if only_left else "both sides"
        other = p["tail_left"] if p["full_right"] and not p["full_left"] else p["tail_right"]
        text = (f"A {name} unit keeps its full slope γ = {p['gamma']:.3g} on {side}, so wherever the pre-activations "
                "stay there w·σ'(a_t) = γ|w| and the measured line follows the bound")
        text += "." if side == "both sides" else f"; on the other side its slope is {other:.3g}. "
        return text
    text = (f"A {name} unit's slope σ'(a) is below its peak γ = {p['gamma']:.3g} away from its peak, so w·σ'(a_t) "
            "can stay below 1 although γ|w| > 1: the measured line lies under the bound. ")
    if p["threshold"] is not None and np.any(shares > 0):
        most = shares == shares.max()
        named = [f"{v:g}" for v in w[most]]
        share = f"{shares.max():.0%} of steps"
        who = (f"w = {named[0]} saturates most often ({share})" if len(named) == 1 else
               f"every weight drawn saturates in {share}" if most.all() else
               f"w = {', '.join(named[:-1])} and {named[-1]} saturate most often ({share} each)")
        text += (f"Steps with |a_t| > {p['threshold']:.3g}, where σ' < {SATURATED:g}·γ (a saturated unit), are "
                 f"counted in the legend; {who}.")
    return text


def ordering_sentence(norms: dict[str, dict], T_max: int) -> str:
    """The drawn curves in words: the cells ordered by log10‖∂h_T/∂h_0‖ at the last T, and the LSTM's
    carousel where it was drawn."""
    ends = sorted(((float(v["h"][-1]), name) for name, v in norms.items()), reverse=True)
    shown = ", then ".join(f"{name} (10^{end:.3g})" for end, name in ends)
    text = (f"At T = {T_max}, ∂h_T/∂h_0 is largest for {shown}." if len(ends) > 1
            else f"At T = {T_max}, ∂h_T/∂h_0 is 10^{ends[0][0]:.3g}.")
    carousel = [(name, float(v["c"][-1])) for name, v in norms.items() if "c" in v]
    for name, end in carousel:
        text += f" The {name} carousel ∂c_T/∂c_0 ends at 10^{end:.3g}."
    return text


def cell_curves(cells: tuple[str, ...] = ("rnn", "lstm", "gru"), n: int = 8, T_max: int = 100, gain: float = 1.0,
                forget_bias: float = 1.0, drive: float = 1.0, seed: int = 0) -> Drawn:
    """log10‖∂h_T/∂h_0‖₂ against T for several cells on the same inputs, weights at the same scale
    (W_* ~ N(0, gain²/n), U_* ~ N(0, drive²)), the LSTM's forget bias set; the LSTM's cell-state block
    ∂c_T/∂c_0 (the carousel) dotted."""
    from ..numeric.examples import example_config, takes_forget_bias
    from ..numeric.factors import ArrayFactors, NumericModel
    from ..numeric.logspace import log10_norms_by_T

    if not isinstance(cells, (tuple, list)) or not all(isinstance(c, str) for c in cells):  # a string too
        raise SymbpttError("cells must be a sequence of cell names, e.g. ('rnn', 'lstm')")
    T_max, n = integer("T_max (-T)", T_max), integer("n (-n)", n, 1, 256)
    gain, drive = number("gain (--gain)", gain), number("drive (-u)", drive)
    forget_bias, seed = number("forget_bias (--forget-bias)", forget_bias), checked_seed(seed)
    check_steps(T_max)
    if not cells:
        raise SymbpttError("give at least one cell")
    from ..cells import get_cell

    specs = [get_cell(c, get_activation("tanh")) for c in cells]
    for spec in specs:  # random networks of each cell: it must take n units, and have a law for each weight
        if spec.max_hidden is not None and n > spec.max_hidden:
            raise SymbpttError(f"{spec.name} has at most {spec.max_hidden} unit(s); draw the cells with "
                               f"-n {spec.max_hidden}")
        fixed = [p for p in spec.params if spec.kind(p) == "scalar"]
        if fixed:
            raise SymbpttError(f"{spec.name}'s parameters {', '.join(fixed)} are single numbers with no random "
                               "law, so its random networks cannot be drawn (a cell file with [shapes] and "
                               "matrices W, U has one)")
    costs = [norm_sweep_cost(spec, n, T_max, 1) for spec in specs]
    estimate(f"plot curves of {len(cells)} cells at n = {n}, T = {T_max}", "lower -n or -T",
             seconds=sum(c["seconds"] for c in costs), flops=sum(c["flops"] for c in costs),
             floats=max(c["floats"] for c in costs))
    T = np.arange(1, T_max + 1)
    fig, ax = new_figure(figsize=(7.6, 5.2))
    fig.subplots_adjust(bottom=0.24, top=0.9)
    kept = {}
    progress = Progress(len(cells) * T_max, "plot curves")  # counted in steps: one cell can take minutes
    decided: dict[str, tuple[int, float]] = {}  # cell name → (first T rounding decides, the slope's shift)
    for done, cell in enumerate(cells):
        cfg = example_config(cell, T_max, n, gain=gain, drive=drive, forget_bias=forget_bias, seed=seed)
        with np.errstate(all="ignore"):
            norms = log10_norms_by_T(ArrayFactors(NumericModel.of(cfg)), on_step=progress.counter(done * T_max))
        name = plot_text(cfg.spec.name)
        places = 3
        mask = cell_rounding_decides(cfg.spec, cfg.activation or "tanh", norms["state"][:, None])  # its default
        if mask is not None and mask[-1, 0]:  # measured: the same run with every input one ulp larger
            with np.errstate(all="ignore"):
                nudged = dataclasses.replace(cfg, x=np.nextafter(cfg.x, np.inf))
                moved = log10_norms_by_T(ArrayFactors(NumericModel.of(nudged)))
                shift = max(abs(float(moved[key][-1] - norms[key][-1])) / T_max for key in norms)
            places = int(held_decimals(shift, 3))
            decided[name] = (int(np.argmax(mask[:, 0])) + 1, shift)
        slopes = {key: _slope_words(v, places) for key, v in norms.items()}
        line, = ax.plot(T, norms["h"], label=f"{name} ∂h_T/∂h_0: {slopes['h']}")
        if "c" in norms:
            ax.plot(T, norms["c"], linestyle=":", color=line.get_color(), linewidth=1.6,
                    label=f"{name} ∂c_T/∂c_0 (cell state): {slopes['c']}")
        kept[name] = norms
    progress.clear()
    ax.axhline(0.0, color="grey", linewidth=0.6)
    ax.set_xlabel("$T$")
    ax.set_ylabel(r"$\log_{10}\,\|\partial s_T/\partial s_0\|_2$")
    # each clause only where a drawn cell has what it describes
    matrices, own = drawn_weights(specs, gain)
    weights = f", {matrices}" if matrices else ""
    bias = f", LSTM forget bias b_f = {forget_bias:g}" if any(takes_forget_bias(sp_) for sp_ in specs) else ""
    title = f"n = {n}{weights}, drive {drive:g}{bias}, inputs U(-1, 1) seed {seed}"
    ax.set_title(title + ("\n" + ", ".join(own) if own else ""), fontsize=9)
    ax.legend(fontsize=7.5)
    clauses = "; ".join(path_clause(cell) for cell in cells)
    caption(fig, "Each cell's state Jacobian product over the same inputs. " + clauses[:1].upper() + clauses[1:]
                 + ". " + ordering_sentence(kept, T_max) + _cells_rounding_sentence(decided))
    return Drawn(fig, Plotted({"T": T, "norms": kept}))


def _cells_rounding_sentence(decided: dict[str, tuple[int, float]]) -> str:
    """For each cell whose lines rounding decides: from which T, and how far every input one ulp larger
    moves its mean slopes (the legend keeps the decimals that leaves)."""
    if not decided:
        return ""
    parts = [f"{name}'s from T = {first} (every input one ulp larger moves its mean slopes by up to {shift:.2g} "
             f"decades/step)" for name, (first, shift) in decided.items()]
    return (" Rounding, not the model, decides " + "; ".join(parts) + ": from there the forward pass amplifies "
            f"rounding by more than {AMPLIFIED}, and the legend keeps only the decimals that shift leaves.")


def path_clause(cell: str) -> str:
    """How a cell carries the gradient back, read off its step: the states its own step multiplies unit
    by unit (and by what), and whether other paths go through a weight matrix."""
    from ..model import RNN
    from ..symbolic.shown import carried_paths, only_carried

    rnn = RNN(T=1, cell=cell)
    title = plot_text(rnn.spec.title)
    carried = [f"{state}_t unit by unit by {_one_line(value)}" for state, value in carried_paths(rnn)]
    if not carried:
        return f"{title} multiplies by a weight matrix at every step back"
    rest = "" if only_carried(rnn) else ", its other paths through weight matrices"
    return f"{title} carries " + " and ".join(carried) + rest


def _one_line(value: sp.Basic) -> str:
    """A coefficient (or a parameter's name) as a figure writes it: the text form, ^ for powers, Greek
    names as letters, escaped for matplotlib."""
    from ..notation import GREEK

    text = printing.text(value).replace("**", "^")
    for name, letter in GREEK.items():
        text = re.sub(rf"\b{name}\b", letter, text)
    return plot_text(text)  # a cell file's names reach the figure: no mathtext from them
