"""The terms of ∂L/∂θ = Σ_k (term k), one bar per step k where θ enters: how much each time step
contributes, which ones truncated BPTT drops, and how much of the gradient they carry."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.patches import Patch

from ..config import Config
from ..errors import SymbpttError
from ..escape import plot_text
from ..numeric.factors import ArrayFactors, NumericModel
from ..paths import evaluate_deltas, evaluate_recursive
from .common import Drawn, Plotted, caption, new_figure

POSITIVE, NEGATIVE = "tab:red", "tab:blue"


def example() -> Config:
    """The shipped example (`--params example`, also docs/example.json)."""
    from ..config import parse_config
    from ..shipped import EXAMPLE_PARAMS

    return parse_config(EXAMPLE_PARAMS)


def term_values(cfg: Config, wrt: str) -> tuple[np.ndarray, np.ndarray]:
    """(k, term k) of ∂L/∂θ for the top layer, entry (1, 1) of θ: the sum over every path entering at
    step k, which the backward recursion gives in one pass, (D_kᵀ δ_k) ⊗ z_k, linear in T for any cell."""
    model = NumericModel.of(cfg)
    values, rnn = ArrayFactors(model), model.structure()
    top = len(cfg.layers)
    with np.errstate(all="ignore"):
        deltas = evaluate_deltas(rnn, values)
        rows: dict = {}
        terms = [float(np.asarray(evaluate_recursive(rnn, wrt, top, values, deltas, range(k, k + 1), rows)).flat[0])
                 for k in range(1, cfg.T + 1)]
    return np.arange(1, cfg.T + 1), np.array(terms)


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
    wrt = spec.param_named(wrt) or wrt if wrt else next(p for p in spec.params if spec.kind(p) == "recurrent")
    if wrt not in spec.params or spec.kind(wrt) == "initial":
        raise SymbpttError(f"contributions of {wrt!r}: choose a weight or bias of the {spec.name} cell "
                           f"({', '.join(p for p in spec.params if spec.kind(p) != 'initial')})")
    ks, terms = term_values(cfg, wrt)
    with np.errstate(divide="ignore"):
        logs = np.log10(np.abs(terms))
    finite = logs[np.isfinite(logs)]
    floor = math.floor(float(finite.min())) - 1.0 if finite.size else -1.0
    fig, ax = new_figure(figsize=(7.6, 4.8))
    fig.subplots_adjust(bottom=0.25, top=0.88)
    heights = np.where(np.isfinite(logs), logs - floor, 0.0)
    ax.bar(ks, heights, bottom=floor, color=[POSITIVE if t > 0 else NEGATIVE for t in terms], width=0.8)
    T = cfg.T
    window = cfg.truncate
    old = ks <= T - window if window else ks <= T // 2
    cut = T - window if window else T // 2
    total = float(terms.sum())
    share = float(terms[old].sum()) / total if total != 0 else math.nan
    size_share = float(np.abs(terms[old]).sum() / np.abs(terms).sum()) if np.abs(terms).sum() else math.nan
    entry = " (entry 1,1)" if cfg.n > 1 or spec.kind(wrt) == "input" and cfg.m > 1 else ""
    carried = f"carry {share:.1%} of ∂L/∂{wrt}{entry}\n({size_share:.1%} of the sum of |terms|)"
    if window and cut >= 1:
        ax.axvspan(0.5, cut + 0.5, color="grey", alpha=0.18, linewidth=0)
        ax.text((cut + 1) / 2, floor + 0.96 * (ax.get_ylim()[1] - floor),
                f"dropped by truncate = {window}:\nterms k ≤ {cut} {carried}", ha="center", va="top", fontsize=8)
    elif cut >= 1:
        ax.text(0.02, 0.8, f"terms k ≤ {cut} {carried}", transform=ax.transAxes, ha="left", va="top", fontsize=8)
    ax.legend(handles=[Patch(color=POSITIVE, label="term > 0"), Patch(color=NEGATIVE, label="term < 0")],
              fontsize=8, loc="upper left")
    ax.set_xlim(0.3, T + 0.7)
    ax.set_xlabel(f"step $k$ where ${wrt}$ enters")
    ax.set_ylabel(f"log10 |term k of ∂L/∂{wrt}|")
    act = f"{cfg.act_name}, " if spec.elman else ""
    ax.set_title(f"{plot_text(spec.name)}: {act}T = {T}, loss {cfg.loss}{entry}: one bar per step, floor 10^{floor:g}",
                 fontsize=9)
    caption(fig, f"∂L/∂{wrt} is a sum over the step k at which {wrt} enters; term k multiplies the error by one "
                 "chain-rule factor per step from k to T, so old terms shrink (or grow) geometrically. Bars "
                 "stand on a common floor, so the longest bar is the largest term; colour gives the sign. "
                 + ("Truncated BPTT keeps only the last steps: the shaded terms are the ones it drops."
                    if window else f"The text gives the share of the gradient in the older half (k ≤ {cut})."))
    return Drawn(fig, Plotted({"k": ks, "terms": terms, "log10": logs, "floor": floor, "share_dropped": share,
                         "cut": cut}))
