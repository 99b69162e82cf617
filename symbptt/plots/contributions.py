"""The terms of ∂L/∂θ = Σ_k (term k), one bar per step k where θ enters: how much each time step
contributes, which ones truncated BPTT drops, and how much of the gradient they carry.

The terms come from the float64 pass where it holds them, else from an exact pass (``held_terms``), so
that every bar and every share the figure prints holds the digits it shows."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import mpmath
import numpy as np
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from ..budget import estimate, norm_sweep_cost
from ..config import Config
from ..errors import SymbpttError
from ..escape import plot_text
from ..numeric.factors import ArrayFactors, FloatWatch, NumericModel
from ..paths import default_wrt, evaluate_deltas, evaluate_recursive
from ..wrap import wrap
from .common import Drawn, Plotted, caption, new_figure

POSITIVE, NEGATIVE = "tab:red", "tab:blue"
BOX = {"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 2}  # the share, readable over the bars
HELD = 6  # significant digits every term and share must hold: the figure shows 3, and 3 spare


def example() -> Config:
    """The shipped example (`--params example`, also docs/example.json)."""
    from ..config import parse_config
    from ..shipped import EXAMPLE_PARAMS

    return parse_config(EXAMPLE_PARAMS)


class Terms(NamedTuple):
    """The terms of one gradient entry by step, and how they were computed.

    k: the steps 1..T.  terms: term k as float64 (rounded from the exact value where one was computed:
    0 or ±inf beyond float64's range).  log10: log10|term k| (−inf for 0) and sign: its sign (−1, 0 or 1),
    each from the exact value where there is one.  share: Σ of the terms at k ≤ ``cut`` over Σ of all,
    None where the terms sum to 0.  size_share: the same for |terms|, None where they are all 0.  digits:
    0 where float64 held the terms, else the significant digits of the exact pass.  why: what float64
    could not hold ('' for 0).  checked: how the exact pass was checked (exact.AGAINST or exact.CARRIED;
    '' for none).
    """

    k: np.ndarray
    terms: np.ndarray
    log10: np.ndarray
    sign: np.ndarray
    share: float | None
    size_share: float | None
    digits: int
    why: str
    checked: str = ""


def _terms(model: NumericModel, values: ArrayFactors, wrt: str) -> list[Any]:
    """Term k of ∂L/∂θ (entry 1, 1; the top layer) for k = 1..T: the sum over every path entering at step
    k, which the backward recursion gives in one pass, (D_kᵀ δ_k) ⊗ z_k, linear in T for any cell."""
    rnn = model.structure()
    deltas = evaluate_deltas(rnn, values)
    rows: dict = {}
    return [np.asarray(evaluate_recursive(rnn, wrt, model.layers, values, deltas, range(k, k + 1), rows)).flat[0]
            for k in range(1, model.T + 1)]


def held_terms(cfg: Config, wrt: str, cut: int) -> Terms:
    """The terms of ∂L/∂θ (entry 1, 1; the top layer) by step, and the share of those at k ≤ ``cut``,
    each holding HELD significant digits: from the float64 pass where it raised no floating-point event
    and the terms kept HELD digits beyond what their sums cancel (Σ|terms| over |Σ terms|, of all and of
    those at k ≤ ``cut``), as reruns with every stored value nudged by one rounding measure them
    (reruns.kept_by_reruns, as `grad` measures its gradients; a saturated gate's differences too, whose
    terms' rounding moves what reads them); else from an exact forward pass (exact.exact_forward:
    checked, Arb's where it serves) and an mpmath walk back, at 30 digits beyond what rounding cost
    float64 (or the Jacobian norms say it can cost, or a saturated gate's differences can cancel) and the
    sums cancel, each priced before it starts.

    Args:
        cfg: the network, as a parameters file gives it (config.parse_config).
        wrt: a parameter of its cell that is not an initial state.
        cut: the last step of the terms whose share is given (0: none).

    Returns:
        The Terms, and how they were computed.

    Raises:
        SymbpttError: one line where the work is beyond the budget; RunFailed where no exact pass carries
            what a saturated gate cancels.
    """
    from ..numeric import split
    from ..numeric.exact import DPS, MAX_DIGITS, exact_forward, mp_cost, saturation_digits
    from ..numeric.logspace import listed_steps, log10_jacobian_norms
    from ..numeric.reruns import kept_by_reruns, lost_digits

    model = NumericModel.of(cfg)
    estimate(f"plot contributions of a {cfg.spec.name} with n = {cfg.n}, T = {cfg.T}",
             "use a shorter x or a smaller n", **norm_sweep_cost(cfg.spec, cfg.n, cfg.T, len(cfg.layers) + 4))
    watch = FloatWatch()
    with watch.watch(None):  # every floating-point event recorded (not raised), by label
        values = ArrayFactors(model, watch=watch)
        with watch.watch("terms"):
            terms = [float(t) for t in _terms(model, values, wrt)]
    saturation = saturation_digits(values)  # one line where no exact pass could carry them (RunFailed)
    why, measured = "", 0.0  # what float64 could not hold, and the digits its reruns saw rounding cost
    if watch.events or not all(math.isfinite(t) for t in terms):  # what sent it exact, saturated or not
        why = "its numbers left its range"
    else:  # a saturated gate's differences too: the reruns move what reads them by their terms' rounding
        def rerun(nudged: ArrayFactors) -> list[dict[str, np.ndarray]]:
            return [{"terms": np.array([float(t) for t in _terms(model, nudged, wrt)])}]

        kept = kept_by_reruns([{"terms": np.array(terms)}], rerun, model)[1]  # in the worst term
        cancelled = max(_cancelled(terms), _cancelled(terms[:cut]))
        if kept - cancelled < HELD:
            measured = 16.0 - kept if math.isfinite(kept) else 0.0
            cost = ("rounding changed the worst of them in every digit" if kept <= 0
                    else f"rounding cost the worst of them {16.0 - kept:.2g} of its 16 digits")
            sums = (" and their sum cancels every digit" if not math.isfinite(cancelled)
                    else f" and their sum cancels {cancelled:.2g}" if cancelled >= 0.05 else "")
            why = f"{cost}{sums}, as reruns with every stored value nudged by one rounding measure"
    if not why:  # NumPy's sums, as the figure always took them (the shipped example's data, bit for bit)
        array = np.array(terms)
        with np.errstate(divide="ignore"):
            logs = np.log10(np.abs(array))
        total, size = float(array.sum()), float(np.abs(array).sum())
        share = float(array[:cut].sum()) / total if total != 0 else None
        size_share = float(np.abs(array[:cut]).sum() / size) if size else None
        return Terms(np.arange(1, cfg.T + 1), array, logs, np.sign(array), share, size_share, 0, "")
    with np.errstate(all="ignore"):  # what rounding can cost, by the Jacobian norms: read only on this path
        norms = [log10_jacobian_norms(values, layer, listed_steps(cfg.T)) for layer in range(1, model.layers + 1)]
    lost = lost_digits(norms)
    lost = max(lost if math.isfinite(lost) else 0.0, measured)  # beyond float64: the exact pass's check finds it
    dps, raised = DPS + max(saturation, math.ceil(lost)), False
    while True:
        exact = exact_forward(model, min(dps, MAX_DIGITS))  # priced before it starts; its digits raised where
        dps = exact.digits  # its check asked for more
        mp_cost(model, dps)  # the walk back at them
        with mpmath.workdps(dps):
            mp_values = split.exact_values(model, exact)
            exact_terms = _terms(mp_values.model, mp_values, wrt)
            cancelled = max(_cancelled(exact_terms), _cancelled(exact_terms[:cut]))
        # the sums cancelled more than the pass carried beyond what it needs: once more with enough, or,
        # where one summed to 0, with DPS more (still 0 there: 0 to the digits carried, and said so)
        needed = DPS + math.ceil(lost + cancelled) if math.isfinite(cancelled) else dps + DPS
        if raised or needed <= dps or dps >= MAX_DIGITS:
            break
        dps, raised = min(needed, MAX_DIGITS), True
    with mpmath.workdps(dps):
        rounded = np.array([float(t) for t in exact_terms])  # 0 or ±inf beyond float64's range
        signs = np.array([float(mpmath.sign(t)) for t in exact_terms])  # kept where a term rounds to 0
        return Terms(np.arange(1, cfg.T + 1), rounded, _logs(exact_terms), signs, *_shares(exact_terms, cut), dps,
                     why, exact.checked)


def _cancelled(terms: list[Any]) -> float:
    """log10 of Σ|terms| over |Σ terms|: the digits their sum cancels (0 where nothing does, ∞ where the
    sum is 0 and the terms are not)."""
    size, total = sum(abs(t) for t in terms), abs(sum(terms))
    if not size:
        return 0.0
    if not total:
        return math.inf
    return max(0.0, float(mpmath.log10(size) - mpmath.log10(total)))


def _logs(terms: list[Any]) -> np.ndarray:
    """log10|t| of each exact term, −inf for 0."""
    return np.array([float(mpmath.log10(abs(t))) if t else -math.inf for t in terms])


def _shares(terms: list[Any], cut: int) -> tuple[float | None, float | None]:
    """(Σ_{k ≤ cut} t_k / Σ t_k, Σ_{k ≤ cut} |t_k| / Σ|t_k|) of exact terms, each None where its denominator
    is 0."""
    total, size = sum(terms), sum(abs(t) for t in terms)
    old, old_size = sum(terms[:cut]), sum(abs(t) for t in terms[:cut])
    return (float(old / total) if total else None, float(old_size / size) if size else None)


def contributions(cfg: Config | None = None, wrt: str | None = None) -> Drawn:
    """Bars of log10|term k| standing on a common floor (the longest bar is the largest term), coloured
    by sign; the steps truncated BPTT drops shaded, with the share of ∂L/∂θ they carry written out."""
    if cfg is not None and not isinstance(cfg, Config):
        raise SymbpttError("cfg must be a Config (symbptt.config.load_config or parse_config), "
                           f"got {type(cfg).__name__}")
    cfg = cfg or example()
    if wrt is not None and not isinstance(wrt, str):
        raise SymbpttError(f"wrt must be a parameter's name, got {type(wrt).__name__}")
    spec = cfg.spec
    # unnamed: the cell's first recurrent weight, as derive takes it (a scalar cell file's first parameter)
    wrt = spec.param_named(wrt) or wrt if wrt else default_wrt(NumericModel.of(cfg).structure())
    if wrt not in spec.params or spec.kind(wrt) == "initial":
        raise SymbpttError(f"contributions of {wrt!r}: choose a weight or bias of the {spec.name} cell "
                           f"({', '.join(p for p in spec.params if spec.kind(p) != 'initial')})")
    T = cfg.T
    # truncation drops whole bars only for a loss at T: with a loss at every step it cuts each loss term's
    # own paths, part of many bars (grad's report gives that truncated gradient)
    window = cfg.truncate if cfg.loss == "last" else None
    cut = T - window if window else T // 2
    held = held_terms(cfg, wrt, max(cut, 0))
    ks, terms, logs, share, size_share = held.k, held.terms, held.log10, held.share, held.size_share
    finite = logs[np.isfinite(logs)]
    floor = math.floor(float(finite.min())) - 1.0 if finite.size else -1.0
    fig, ax = new_figure(figsize=(7.6, 4.8))
    fig.subplots_adjust(top=0.88)  # the bottom below, from the caption's lines
    heights = np.where(np.isfinite(logs), logs - floor, 0.0)
    ax.bar(ks, heights, bottom=floor, color=[POSITIVE if s > 0 else NEGATIVE for s in held.sign], width=0.8)
    entry = " (entry 1,1)" if cfg.n > 1 or spec.kind(wrt) == "input" and cfg.m > 1 else ""
    if share is not None and size_share is not None:
        carried = f"carry {share:.1%} of ∂L/∂{wrt}{entry}\n({size_share:.1%} of the sum of |terms|)"
    elif size_share is not None:  # the terms cancel exactly, to the digits held
        held_to = f" to the {held.digits} digits carried" if held.digits else ""
        carried = f"carry {size_share:.1%} of the sum of |terms|;\nthe terms sum to 0{held_to} (∂L/∂{wrt}{entry} = 0)"
    else:
        carried = "are 0, as every term is"
    if window and cut >= 1:
        ax.axvspan(0.5, cut + 0.5, color="grey", alpha=0.18, linewidth=0)
        ax.text((cut + 1) / 2, floor + 0.96 * (ax.get_ylim()[1] - floor),
                f"dropped by truncate = {window}:\nterms k ≤ {cut} {carried}", ha="center", va="top", fontsize=8,
                bbox=BOX)
    elif cut >= 1:
        ax.text(0.02, 0.8, f"terms k ≤ {cut} {carried}", transform=ax.transAxes, ha="left", va="top", fontsize=8,
                bbox=BOX)
    ax.legend(handles=[Patch(color=POSITIVE, label="term > 0"), Patch(color=NEGATIVE, label="term < 0")],
              fontsize=8, loc="upper left")
    ax.set_xlim(0.3, T + 0.7)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps: whole numbers
    ax.set_xlabel(f"step $k$ where ${wrt}$ enters")
    ax.set_ylabel(f"log10 |term k of ∂L/∂{wrt}|")
    act = f"{cfg.act_name}, " if spec.elman else ""
    ax.set_title(f"{plot_text(spec.name)}: {act}T = {T}, loss {cfg.loss}{entry}: one bar per step, floor 10^{floor:g}",
                 fontsize=9)
    exact = (f" float64 could not hold these terms or their share ({held.why}): they come from an exact pass "
             f"carrying {held.digits} significant digits, checked {held.checked}." if held.digits else "")
    reach = "T," if cfg.loss == "last" else "each later step t, times the error there,"
    cut_paths = (f" truncate = {cfg.truncate} is not shaded: with a loss at every step it keeps, for the loss at "
                 f"each t, the steps after t − {cfg.truncate}, which is part of many bars (symbptt grad reports "
                 "that truncated gradient)." if cfg.truncate and not window else "")
    words = (f"∂L/∂{wrt} is a sum over the step k at which {wrt} enters; term k multiplies the error by one "
             f"chain-rule factor per step from k to {reach} so old terms shrink (or grow) geometrically. Bars "
             "stand on a common floor, so the longest bar is the largest term; colour gives the sign. "
             + ("Truncated BPTT keeps only the last steps: the shaded terms are the ones it drops."
                if window else f"The text gives the share of the gradient in the older half (k ≤ {cut}).")
             + cut_paths + exact)
    lines = len(wrap(words, int(fig.get_figwidth() * 15)))  # as caption wraps it: the axes stand above it
    fig.subplots_adjust(bottom=max(0.25, 0.12 + 0.027 * lines))
    caption(fig, words)
    return Drawn(fig, Plotted({"k": ks, "terms": terms, "log10": logs, "floor": floor,
                               "share_dropped": math.nan if share is None else share, "cut": cut,
                               "digits": held.digits}))
