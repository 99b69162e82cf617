"""The finite-time Lyapunov rate of a random n×n recurrent matrix against a gain, with the two lines
people confuse: γσ_max(gW0) = 1 (the guarantee) and ρ(gW0) = 1 (the spectral radius)."""

from __future__ import annotations

import math

import numpy as np

from ..activations import get_activation
from ..budget import SPECTRUM_POINT, SPECTRUM_STEP, estimate
from ..errors import SymbpttError
from ..escape import plot_text
from ..numeric.examples import INITS
from ..numeric.final_gain import final_gain_cost, final_gain_rates
from ..numeric.sweeps import AMPLIFIED, DIGITS_LEFT, recurrent_matrix
from ..validate import flag, integer, number
from ..validate import seed as checked_seed
from .common import Drawn, Plotted, caption, check_range, check_steps, gamma_of, new_figure


def spectrum(activation: str = "tanh", n: int = 64, g_min: float = 0.1, g_max: float = 3.0, points: int = 30,
             T: int = 200, seed: int = 0, theory: bool = False, seeds: int = 1, init: str = "gaussian") -> Drawn:
    """Rate (1/T)·ln‖∂h_T/∂h_0‖₂ against g for W = g·W0, W0 drawn as ``init`` says (N(0, 1/n) entries by
    default; orthogonal; the identity: numeric.examples.INITS), inputs N(0, 1); with ``seeds`` > 1
    the mean over that many networks (seeds seed, seed + 1, …) with the band from the lowest to the
    highest; with ``theory`` the mean-field rate ½ ln χ(g) of a network of infinite width (σ_w = g,
    σ_u² q_x = 1, σ_b = 0) beside it."""
    get_activation(activation)  # a name or an expression, refused in one line before it is compared
    check_range("gain", number("g_min (--min)", g_min), number("g_max (--max)", g_max))
    check_steps(integer("T (-T)", T))
    n, points = integer("hidden size n (-n)", n, 2, 256), integer("points (--points)", points, 1)
    seeds, seed = integer("seeds (--seeds)", seeds, 1, 50), checked_seed(seed)
    theory = bool(flag("theory (--theory)", theory))
    if not isinstance(init, str) or init not in INITS:
        raise SymbpttError(f"unknown --init {str(init)[:20]!r}; choose one of {', '.join(INITS)}")
    if theory and init == "identity":
        raise SymbpttError("--theory predicts a random W0; the identity is not one (use --init gaussian or "
                           "orthogonal)")
    cost = final_gain_cost(points, T, n)
    estimate(f"plot spectrum of {seeds} network(s) at n = {n}, T = {T:,}, {points} gain{'s' if points != 1 else ''}",
             "lower --seeds, --points, -n or -T", flops=seeds * cost["flops"], floats=cost["floats"],
             seconds=seeds * T * (SPECTRUM_STEP + SPECTRUM_POINT * points))
    gains = np.linspace(g_min, g_max, points)  # after the estimate: --points 2^62 is refused, not allocated
    W0 = recurrent_matrix(n, seed, init)
    per_seed, decided, left = [], np.zeros(points, dtype=bool), np.zeros(points, dtype=bool)
    for s in range(seed, seed + seeds):  # ‖∂h_T/∂h_0‖₂ at T only: the product is never formed
        at_T, rounding, broken = final_gain_rates(gains, T, activation, n, seed=s, W0=recurrent_matrix(n, s, init))
        per_seed.append(at_T * math.log(10.0) / T)
        decided |= rounding  # the gains whose value at T rounding decides
        left |= broken  # … and those where some network's state left float64's range
    all_rates = np.array(per_seed)
    with np.errstate(all="ignore"):
        rates = all_rates.mean(axis=0)
    gamma = gamma_of(activation)
    g_sigma = 1.0 / (gamma * float(np.linalg.norm(W0, 2)))
    g_rho = 1.0 / float(np.max(np.abs(np.linalg.eigvals(W0))))
    fig, ax = new_figure(figsize=(7.4, 5.0))
    fig.subplots_adjust(bottom=0.31 if theory else 0.24, top=0.9)  # the theory sentence needs room
    label = "observed rate" if seeds == 1 else f"observed rate, mean of {seeds} networks (band: lowest to highest)"
    ax.plot(gains, rates, marker="o", markersize=3, label=label)
    if seeds > 1:
        ax.fill_between(gains, all_rates.min(axis=0), all_rates.max(axis=0), color="tab:blue", alpha=0.2, linewidth=0)
    if decided.any():
        ax.plot(gains[decided], rates[decided], linestyle="none", marker="x", markersize=7, color="black",
                label="rounding decides the value (chaotic trajectory)")
    predicted, said = None, ""
    if theory:
        from ..numeric.theory import theory as mean_field

        results = [mean_field(activation, float(g), 0.0, 1.0, 1.0, edge=False) for g in gains]
        predicted = np.array([r.rate for r in results])  # NaN: no fixed point, no prediction
        edge = mean_field(activation, 1.0, 0.0, 1.0, 1.0).critical_sigma_w
        ax.plot(gains, predicted, color="tab:purple", linestyle="-.", label="mean field, n → ∞: ½ ln χ(g)")
        said = " " + theory_sentence(gains, rates, predicted, edge, n, all_rates if seeds > 1 else None)
    ax.axhline(0.0, color="grey", linewidth=0.6)
    ax.axvline(g_sigma, color="tab:green", linestyle="--",
               label=rf"$\gamma\sigma_{{\max}}(gW_0) = 1$ (g = {g_sigma:.3g}): vanishing guaranteed left of it")
    ax.axvline(g_rho, color="tab:red", linestyle=":", label=rf"$\rho(gW_0) = 1$ (g = {g_rho:.3g}): no guarantee")
    if not np.isfinite(rates).all():  # every gain asked for on the axis, drawn or not: the gap shows
        ax.update_datalim(np.array([[g_min, 0.0], [g_max, 0.0]]), updatey=False)
        ax.autoscale_view()
    ax.set_xlabel("gain $g$ ($W = g W_0$)")
    ax.set_ylabel(r"$\frac{1}{T}\ln\|\partial h_T/\partial h_0\|_2$")
    which = f"seed {seed}" if seeds == 1 else f"seeds {seed}..{seed + seeds - 1} (the lines of g: seed {seed}'s W0)"
    if init == "identity":  # one W0 for every seed: the seeds only draw the inputs
        which = f"inputs N(0, 1), seed {seed}" if seeds == 1 else f"inputs N(0, 1), seeds {seed}..{seed + seeds - 1}"
        ax.set_title(f"{plot_text(activation)}, n = {n}, T = {T}, {INITS[init]}, {which}", fontsize=9)
    else:
        ax.set_title(f"{plot_text(activation)}, n = {n}, T = {T}, {INITS[init]} {which}, inputs N(0, 1)", fontsize=9)
    ax.legend(fontsize=7.5)
    apart = not math.isclose(g_sigma * gamma, g_rho, rel_tol=1e-9)  # ρ(W0) = σ_max(W0) for a normal W0
    radius = ("The spectral radius ρ(W) is smaller than σ_max for this non-normal W and only describes the linear "
              "network's long-run rate" if apart else
              "For this W0 the spectral radius ρ equals σ_max (an orthogonal or identity W0 is normal), so the "
              "two lines meet")
    caption(fig, "Only γ·σ_max(W) < 1 (the largest singular value) guarantees that every product of step "
                 f"Jacobians shrinks. {radius}; where the observed rate actually crosses 0 "
                 "depends on the activation's saturation and the inputs."
                 + (f" Crosses ({int(decided.sum())} gains): the forward pass amplifies rounding by more than "
                    f"{AMPLIFIED} by step T, so float64 keeps under {DIGITS_LEFT} digits of the state and another "
                    "summation order gives another rate there." if decided.any() else "")
                 + _undrawn(gains, rates, left) + said)
    return Drawn(fig, Plotted({"gains": gains, "rates": rates, "rates_each_seed": all_rates, "g_sigma": g_sigma,
                               "g_rho": g_rho, "mean_field": predicted}))


def _undrawn(gains: np.ndarray, rates: np.ndarray, left: np.ndarray) -> str:
    """The sentence on the gains that have no rate, from the data: where the state left float64's range,
    and where the power iteration did not settle ('' when every gain has one)."""
    words = []
    for where, why in ((left, "the state left float64's range (it overflowed or turned NaN)"),
                       (np.isnan(rates) & ~left, "the power iteration did not settle")):
        if where.any():
            shown = gains[where]
            span = f"g = {shown[0]:.3g}" if shown.size == 1 else f"g from {shown[0]:.3g} to {shown[-1]:.3g}"
            words.append(f" No rate at {int(where.sum())} of {gains.size} gains ({span}): {why}.")
    return "".join(words)


def crossing(x: np.ndarray, y: np.ndarray) -> float | None:
    """The first x where y crosses 0 upwards, by linear interpolation (None if it does not)."""
    for i in range(len(x) - 1):
        if np.isfinite(y[i]) and np.isfinite(y[i + 1]) and y[i] < 0 <= y[i + 1]:
            return float(x[i] + (x[i + 1] - x[i]) * (-y[i]) / (y[i + 1] - y[i]))
    return None


def theory_sentence(gains: np.ndarray, rates: np.ndarray, predicted: np.ndarray, edge: float | None,
                    n: int, each: np.ndarray | None = None) -> str:
    """Where the mean-field rate and the observed rate cross 0, and their largest gap, from the data; with
    several networks (``each``: one row per seed) at how many gains the prediction lies inside their band."""
    where = crossing(gains, rates)
    gap = float(np.nanmax(np.abs(np.where(np.isfinite(predicted) & np.isfinite(rates), rates - predicted, np.nan))))
    inside = ""
    if each is not None:
        said = np.isfinite(predicted)  # gains without a fixed point have no prediction
        within = (predicted >= each.min(axis=0)) & (predicted <= each.max(axis=0)) & said
        inside = (f" The prediction lies within the {each.shape[0]} networks' band at {int(within.sum())} of "
                  f"{int(said.sum())} gains{'' if said.all() else ' with a prediction'}.")
    edge_words = f"puts the edge of chaos at g = {edge:.3g}" if edge else "finds no edge of chaos for g up to 10"
    whose = "this network's rate" if each is None else "the mean rate"
    seen = f"{whose} crosses 0 at g = {where:.3g}" if where is not None else \
        f"{whose} does not cross 0 over these gains"
    return (f"The purple line: the mean-field rate of a network of infinite width (a prediction for a typical network, "
            f"not a bound); it {edge_words}; {seen} (n = {n}); the largest gap between the two is "
            f"{gap:.2g} per step.{inside}")
