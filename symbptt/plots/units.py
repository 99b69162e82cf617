"""IndRNN unit by unit: each unit's own factor w_i σ'(a_{t,i}) multiplied over T, beside the bound
(|w_i| γ)^T that its recurrent weight allows (γ = sup σ')."""

from __future__ import annotations

import mpmath
import numpy as np

from ..activations import get_activation
from ..budget import check_grid, estimate
from ..cells import get_cell
from ..errors import SymbpttError
from ..escape import plot_text
from ..numeric.examples import example_config
from ..numeric.factors import ArrayFactors, NumericModel
from ..numeric.sweeps import AMPLIFIED, DIGITS_LEFT, rounding_decides
from ..numeric.underflow import mp_coefficients
from ..paths import Step
from ..symbolic.shown import in_series
from ..validate import integer, number
from ..validate import seed as checked_seed
from .common import Drawn, Plotted, caption, check_steps, new_figure


def unit_products(cell: str, activation: str, n: int, T: int, gain: float, drive: float, seed: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(log10 |Π_{t≤T} ∂h_t/∂h_{t-1}[i, i]| for T = 1..T as (T, n), the recurrent weight of each unit):
    the cell's factor back one step must be diagonal (each unit reads only its own past)."""
    cfg = example_config(cell, T, n, gain=gain, drive=drive, seed=seed, activation=activation)
    if "w" not in cfg.spec.vector_params:
        raise SymbpttError(f"plot units draws a cell whose recurrent weight is one per unit (indrnn); "
                           f"{cfg.spec.name} has none")
    values = ArrayFactors(NumericModel.of(cfg))
    kind = next(r.kind for r in values.graph.routes if r.kind in ("J", "F") and r.target == r.source == "h")
    diagonals = np.empty((T, n))
    for t in range(1, T + 1):
        factor = np.asarray(values.factor(Step(kind, 1, t)), dtype=float)
        if np.any(factor - np.diag(np.diag(factor))):
            raise SymbpttError(f"the {cfg.spec.name} cell's factor ∂h_t/∂h_(t-1) is not diagonal; plot units needs one "
                               "recurrent weight per unit")
        diagonals[t - 1] = np.diag(factor)
    with np.errstate(divide="ignore"):
        logs = np.log10(np.abs(diagonals))
    _exact_where_float64_cannot(values, kind, diagonals, logs)
    return np.cumsum(logs, axis=0), np.ravel(cfg.layers[0]["w"])


EXACT_ENTRY_SECONDS = 3e-4  # one factor entry at 30 digits from its step's float64 leaves (2 cores, measured 0.15 ms)


def _exact_where_float64_cannot(values: ArrayFactors, kind: str, diagonals: np.ndarray, logs: np.ndarray) -> None:
    """log10 |factor entry| written into ``logs`` (T, n) at 30 digits wherever float64 holds the entry as 0 or
    as a subnormal (fewer digits than float64's, or none): −∞ only where the entry is exactly 0 (relu's σ' of
    a negative a, a weight of 0), so that a product is 0 only where the model makes it so.  A unit's entries
    after its first exact 0 are not evaluated: its product stays 0."""
    short = np.abs(diagonals) < np.finfo(float).tiny
    if not short.any():
        return
    estimate(f"plot units: {int(short.sum()):,} factor entries too small for float64, each computed exactly",
             "lower -u, --gain or -T", seconds=int(short.sum()) * EXACT_ENTRY_SECONDS)
    terms = values.cc.route_terms[kind, "h", "h"]
    params = values.model.params[0]
    keys = tuple(("h", leaf) for leaf, _ in terms)
    for i in np.flatnonzero(short.any(axis=0)):
        for t in np.flatnonzero(short[:, i]):
            coefs = mp_coefficients(values, 1, int(t) + 1, int(i), 0, keys)
            with mpmath.workdps(30):
                entry = mpmath.fsum(coefs[("h", leaf)] * (1 if m is None else mpmath.mpf(float(params[m][i, i])))
                                    for leaf, m in terms)
                logs[t, i] = float(mpmath.log10(abs(entry))) if entry != 0 else -np.inf
            if entry == 0:
                break  # the product is exactly 0 from here on


def units_sentence(logs: np.ndarray, w: np.ndarray, gamma: float, T: int, decided: np.ndarray | None = None
                   ) -> str:
    """How far each unit's product stays below its bound at the last T, from the lines drawn; the units
    whose value at T rounding decides (``decided``, (T, n): their trajectories amplify rounding past
    AMPLIFIED, numeric.sweeps.rounding_decides) are named and left out of the comparison."""
    final = logs[-1]
    with np.errstate(divide="ignore"):
        bound = T * np.log10(np.abs(w) * gamma)
    gap = bound - final
    lost = np.zeros(len(w), dtype=bool) if decided is None else decided[-1]
    finite = np.isfinite(gap) & ~lost
    zero = final == -np.inf
    dead = ""
    if zero.any():  # unit_products computes exactly what float64 holds as 0: these products are 0
        starts = np.argmax(logs[:, zero] == -np.inf, axis=0) + 1
        count, first, last = int(zero.sum()), int(starts.min()), int(starts.max())
        when = f"at T = {first}" if first == last else f"between T = {first} and T = {last}"
        dead = (f" {count} of {len(w)} units' products {'reaches' if count == 1 else 'reach'} exactly 0 {when} "
                f"(a factor w_i·σ'(a_t,i) is 0), where {'its line stops' if count == 1 else 'their lines stop'}.")
    if decided is not None and lost.any():
        each = [f"unit {k + 1} from T = {int(np.argmax(decided[:, k])) + 1}" for k in np.flatnonzero(lost)]
        dead += (f" Rounding, not the model, decides {in_series(each)} on (there the trajectory amplifies "
                 f"rounding past {AMPLIFIED}): float64 holds under {DIGITS_LEFT} digits of "
                 + ("its line" if len(each) == 1 else "their lines") + ", left out of the comparison above.")
    if not finite.any():
        return dead
    i, j = int(np.nanargmax(np.where(finite, final, -np.inf))), int(np.nanargmin(np.where(finite, gap, np.inf)))
    growing = int(np.sum(np.abs(w) * gamma > 1))
    among = f" of the {int(finite.sum())} units float64 holds" if lost.any() else ""
    return (f" At T = {T} the largest product{among} is unit {i + 1}'s, 10^{final[i]:.3g} (|w| = {abs(w[i]):.3g}, "
            f"bound 10^{bound[i]:.3g}); the unit closest to its bound is unit {j + 1}, {gap[j]:.3g} decades below "
            f"it. {growing} of {len(w)} units {'has' if growing == 1 else 'have'} |w_i|·γ > 1, where the bound "
            "allows growth." + dead)


def units(activation: str = "tanh", n: int = 8, T: int = 100, gain: float = 1.2, drive: float = 1.0, seed: int = 0
          ) -> Drawn:
    """An IndRNN with n units (w_i uniform on the cell's interval times gain, U ~ N(0, drive²), inputs
    U(−1, 1)): log10 of each unit's product of factors w_i σ'(a_{t,i}) against T, and dashed, the bound
    T·log10(|w_i| γ)."""
    get_activation(activation)  # a name or an expression, refused in one line before it is compared
    n, T = integer("n (-n)", n, 1, 32), integer("T (-T)", T)
    gain, drive, seed = number("gain (--gain)", gain), number("u (-u)", drive), checked_seed(seed)
    check_steps(T)
    check_grid("plot units", n, T)
    act = get_activation(activation)
    logs, w = unit_products("indrnn", activation, n, T, gain, drive, seed)
    gamma = float(act.gamma)
    fig, ax = new_figure(figsize=(8.0, 5.2))
    fig.subplots_adjust(bottom=0.27, top=0.88, right=0.8)
    Ts = np.arange(1, T + 1)
    for i in np.argsort(-np.abs(w)):
        line, = ax.plot(Ts, logs[:, i], linewidth=1.1, label=f"unit {i + 1}: |w| = {abs(w[i]):.2f}")
        ax.plot(Ts, Ts * np.log10(abs(w[i]) * gamma), color=line.get_color(), linewidth=0.8, linestyle="--")
    ax.set_xlabel("T")
    ax.set_ylabel("log10 |Π over t ≤ T of w_i σ'(a_t,i)|")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    low, high = (gain * v for v in get_cell("indrnn", act).init_range("w"))  # where examples draw w from
    ax.set_title(f"IndRNN, {plot_text(activation)}, n = {n}: w_i ~ U({low:g}, {high:g}), U ~ N(0, {drive:g}²), "
                 f"inputs U(-1, 1) seed {seed}", fontsize=9)
    caption(fig, "Each unit reads only its own past, so ∂h_T/∂h_0 is diagonal and unit i's entry is the product "
                 f"of its own factors w_i σ'(a_t,i) (solid). Dashed: the bound (|w_i|·γ)^T, γ = sup σ' = {gamma:.3g}."
                 + units_sentence(logs, w, gamma, T, rounding_decides(logs, activation)))
    return Drawn(fig, Plotted({"T": Ts, "log10_products": logs, "w": w, "gamma": gamma}))
