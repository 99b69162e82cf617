"""Four answers to "how fast does ∂h_T/∂h_0 shrink or grow?" side by side, for random networks drawn at
one gain: the bound (guaranteed for each network), the mean-field prediction (a typical network as
n → ∞), the observed rate (the slope over the last half of T, what a Lyapunov exponent estimates) and
the exact rate over all T steps.  Every sentence of the text is computed from the numbers it prints.

All rates are per step, in natural log: (1/T) ln‖∂h_T/∂h_0‖₂; the bound is ln(γ σ_max(W)), because
‖∂h_T/∂h_0‖₂ ≤ ∏_t ‖diag(σ'(a_t))‖‖W‖ ≤ (γ σ_max(W))^T with γ = sup|σ'|.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..activations import get_activation
from ..errors import SymbpttError
from ..wrap import wrap
from .examples import INITS
from .sweeps import AMPLIFIED, decimals_text, held_decimals, recurrent_matrix, rounding_decides, sweep_gain

__all__ = ["Beside", "beside", "check_draws", "drift_sentence", "rate_text", "rates_span"]


@dataclass(frozen=True)
class Beside:
    """The four rates for ``seeds`` networks W = σ_w·W0 (W0 drawn as ``init`` says), inputs N(0, 1)."""

    activation: str
    sigma_w: float
    n: int
    T: int
    init: str
    seeds: tuple[int, ...]
    bound: tuple[float, ...]  # ln γσ_max(W) per network (inf when γ is unbounded)
    mean_field: float  # ½ ln χ (−inf when χ = 0)
    observed: tuple[float, ...]  # slope of ln‖∂h_t/∂h_0‖ over t = T/2..T, per network
    exact: tuple[float, ...]  # (1/T) ln‖∂h_T/∂h_0‖₂ per network
    # per network, the first T from which rounding decides its trajectory (0: never; sweeps.rounding_decides)
    decided_from: tuple[int, ...] = ()
    shift: float = 0.0  # the most one ulp more in one weight moves an observed or exact rate of those networks

    @property
    def places(self) -> int:
        """Decimals of the observed and exact rates that hold: four, or where rounding decides a network's
        trajectory, the last one printed at least four times the measured shift."""
        return int(held_decimals(self.shift, 4))

    @property
    def exact_word(self) -> str:
        """'exact' where float64 holds every rate, else 'float64' (a trajectory rounding decides)."""
        return "float64" if any(self.decided_from) else "exact"

    def as_json(self) -> dict:
        def finite(values: tuple[float, ...] | float) -> object:
            if isinstance(values, tuple):
                return [v if math.isfinite(v) else None for v in values]
            return values if math.isfinite(values) else None

        return {"activation": self.activation, "sigma_w": self.sigma_w, "n": self.n, "T": self.T, "init": self.init,
                "seeds": list(self.seeds), "bound": finite(self.bound), "mean_field": finite(self.mean_field),
                "observed": finite(self.observed), "exact": finite(self.exact),
                "rounding_decides_from": list(self.decided_from) or [0] * len(self.seeds),
                "rate_shift": self.shift, "decimals_held": self.places, "sentences": self.sentences()}

    def sentences(self) -> list[str]:
        """What the numbers say, each sentence decided by them."""
        out = []
        zero = sum(v == -math.inf for v in self.exact)  # ∂h_T/∂h_0 exactly 0: −∞, not a range left
        if zero and not any(math.isnan(v) or v == math.inf for v in self.exact):
            return [f"In {zero} of the {len(self.exact)} networks ∂h_T/∂h_0 is exactly 0 (the units whose σ' is "
                    "0, such as relu's when off, cut every path), so the rate is −∞ and no comparison is made."]
        if not all(math.isfinite(v) for v in (*self.exact, *self.observed)):
            return ["Some rate is not a finite number (the forward pass left float64's range for this activation "
                    "and gain), so no comparison is made."]
        lo, hi = min(self.exact), max(self.exact)
        holds = all(e <= b + 1e-12 for e, b in zip(self.exact, self.bound, strict=True))
        margin = min(b - e for e, b in zip(self.exact, self.bound, strict=True))
        if holds:
            sign = ("it is below 0, so vanishing is guaranteed" if max(self.bound) < 0 else
                    "it is above 0 for " + ("every network" if min(self.bound) >= 0 else "some networks")
                    + ", so it guarantees nothing about vanishing there")
            out.append(f"The bound is above the {self.exact_word} rate of every network, by {margin:.3g} per step "
                       f"at the least; {sign}.")
        else:  # only rounding could do this; say so rather than hide it
            out.append(f"The {self.exact_word} rate of some network exceeds its bound: float64 rounding decided this "
                       "run.")
        if math.isnan(self.mean_field):
            out.append("Mean field has no fixed point for this activation and gain: it predicts nothing here.")
        elif math.isfinite(self.mean_field):
            gap = self.mean_field - float(np.mean(self.exact))
            where = "inside" if lo <= self.mean_field <= hi else "outside"
            if min(abs(self.mean_field - lo), abs(self.mean_field - hi)) <= self.shift:  # rounding could flip it
                where = f"within {self.shift:.2g} (what rounding moves a rate by) of an end of"
            p = self.places
            differs = (f"it differs from their mean by {gap:+.{p}f}" if round(gap, p) else
                       f"it agrees with their mean to the {decimals_text(p)} held")
            out.append(f"Mean field predicts {self.mean_field:+.4f} per step, {where} the range of the "
                       f"{self.exact_word} rates of these {len(self.seeds)} networks ({lo:+.{p}f} to {hi:+.{p}f}); "
                       f"{differs}.")
        out.append(drift_sentence(self.observed, self.exact, self.places))
        if any(self.decided_from):
            count = sum(1 for first in self.decided_from if first)
            first = min(first for first in self.decided_from if first)
            out.append(f"Rounding, not the model, decides the trajectories of {count} of the {len(self.seeds)} "
                       f"networks from T = {first} on (they amplify rounding past {AMPLIFIED}): one ulp more in one "
                       f"weight moves their rates by up to {self.shift:.2g} per step, so the observed and float64 "
                       f"rates are given to {decimals_text(self.places)}.")
        return out

    def text(self, width: int = 80) -> str:
        seeds = f"seed {self.seeds[0]}" if len(self.seeds) == 1 else f"seeds {self.seeds[0]}..{self.seeds[-1]}"
        rows = [("bound, guaranteed", rates_span(self.bound), "ln γσ_max(W) of each network"),
                ("mean field, n → ∞", rate_text(self.mean_field), "½ ln χ of a typical wide network"),
                ("observed, these networks", rates_span(self.observed, self.places),
                 f"slope over t = {self.T // 2}..{self.T}"),
                (f"{self.exact_word}, these networks", rates_span(self.exact, self.places),
                 f"(1/T) ln‖∂h_T/∂h_0‖₂ at T = {self.T}")]
        name = max(len(r[0]) for r in rows)
        vwidth = max(len(r[1]) for r in rows)
        head = (f"{self.activation}, W = {self.sigma_w:g}·W0 with {INITS[self.init]}, n = {self.n}, {seeds}, inputs "
                "N(0, 1), no bias; rates per step (natural log), a range being lowest to highest over the networks")
        lines = [*wrap(head, width), ""]
        lines += [f"{a:<{name}}  {b:>{vwidth}}  {c}" for a, b, c in rows]
        return "\n".join(lines + [""] + ["\n".join(wrap(t, width)) for t in self.sentences()]) + "\n"


def drift_sentence(observed: tuple[float, ...], exact: tuple[float, ...], places: int = 4) -> str:
    """How far the slope over the last half of T is from the rate over all T, on average, in words (to
    ``places`` decimals)."""
    drift = float(np.mean(observed)) - float(np.mean(exact))
    if not round(drift, places):
        return (f"The slope over the last half of T and the rate over all T agree on average to the "
                f"{decimals_text(places)} held.")
    return (f"The slope over the last half of T differs from the rate over all T by {drift:+.{places}f} per step on "
            "average: " + ("the early steps were different" if abs(drift) > 0.01 else "the rate had settled early")
            + ".")


def check_draws(n: int, T: int, seeds: int) -> None:
    """The sizes of a side-by-side run: n from 2 to 256, T from 2 to 10 000, 1 to 50 networks.

    Raises:
        SymbpttError: one out of range, named.
    """
    from ..validate import integer

    integer("n", n, 2, 256)
    integer("T", T, 2, 10_000)
    integer("seeds", seeds, 1, 50)


def rate_text(value: float, digits: int | None = None, places: int = 4) -> str:
    """A rate per step with its sign (``places`` decimals, four unless fewer hold, or only ``digits``
    significant digits where that is fewer: a quadrature that agrees to 2 digits), ±∞ as such, NaN as
    'none'."""
    if math.isnan(value):
        return "none"
    if not math.isfinite(value):
        return "−∞" if value < 0 else "+∞"
    text = f"{value:+.{places}f}"
    held = max(1, digits) if digits is not None else 99
    return text if len(text.lstrip("+-0.").replace(".", "")) <= held else f"{value:+.{held}g}"


def rates_span(values: tuple[float, ...], places: int = 4) -> str:
    """The lowest to the highest of several rates ('none' if one is NaN), to ``places`` decimals."""
    if any(math.isnan(v) for v in values):
        return "none"
    lo, hi = min(values), max(values)
    if lo == hi:
        return rate_text(lo, places=places)
    return f"{rate_text(lo, places=places)} to {rate_text(hi, places=places)}"


def beside(activation: str = "tanh", sigma_w: float = 1.0, n: int = 64, T: int = 200, seeds: int = 8,
           init: str = "gaussian", seed: int = 0) -> Beside:
    """Bound, mean field, observed and exact rates for ``seeds`` random networks at gain ``sigma_w``.

    Args:
        activation: a built-in activation or an expression in ``a``.
        sigma_w: the gain g of W = g·W0 (W0 with N(0, 1/n) entries, or orthogonal: then σ_w = g too).
        n: the width, 2 to 256.
        T: the steps, 2 to 10 000.
        seeds: how many networks (seeds seed, seed + 1, …), 1 to 50.
        init: ``gaussian`` or ``orthogonal`` (the mean-field prediction is for a random W0).
        seed: the first seed.

    Returns:
        A ``Beside`` (text() and as_json()).

    Raises:
        SymbpttError: an argument out of range.
    """
    from .theory import theory

    check_draws(n, T, seeds)
    if not isinstance(init, str) or init not in ("gaussian", "orthogonal"):
        raise SymbpttError(f"--init must be gaussian or orthogonal beside the mean field, got {str(init)[:20]!r}")
    if not isinstance(sigma_w, (int, float)) or not 0 < sigma_w <= 1e3:
        raise SymbpttError(f"sigma_w must be a number above 0 and at most 1000, got {sigma_w!r}")
    act = get_activation(activation)
    gamma = act.gamma if act.gamma is not None else math.inf
    bounds, observed, exact, decided, shift = [], [], [], [], 0.0
    for s in range(seed, seed + seeds):
        W0 = recurrent_matrix(n, s, init)
        log10s = sweep_gain(np.array([float(sigma_w)]), T, activation, n, seed=s, W0=W0)
        bounds.append(math.log(gamma * sigma_w * float(np.linalg.norm(W0, 2))) if math.isfinite(gamma) else math.inf)
        rates = _rates(log10s[:, 0], T)
        exact.append(rates[1])
        observed.append(rates[0])
        mask = rounding_decides(log10s, activation)[:, 0]
        decided.append(int(np.argmax(mask)) + 1 if mask[-1] else 0)
        if mask[-1]:  # measured: the same network with one weight one ulp larger, as one rounding could make it
            nudged = W0.copy()
            nudged[0, 0] = np.nextafter(nudged[0, 0], np.inf)
            moved = _rates(sweep_gain(np.array([float(sigma_w)]), T, activation, n, seed=s, W0=nudged)[:, 0], T)
            shift = max(shift, abs(moved[0] - rates[0]), abs(moved[1] - rates[1]))
    # NaN where the variance map has no fixed point (an activation that grows too fast)
    mean_field = theory(activation, float(sigma_w), 0.0, 1.0, 1.0, edge=False).rate
    return Beside(activation, float(sigma_w), n, T, init, tuple(range(seed, seed + seeds)), tuple(bounds),
                  mean_field, tuple(observed), tuple(exact), tuple(decided), shift)


def _rates(log10s: np.ndarray, T: int) -> tuple[float, float]:
    """(the slope of ln‖∂h_t/∂h_0‖ over t = T/2..T, (1/T) ln‖∂h_T/∂h_0‖) from the log10 norms t = 1..T."""
    logs = log10s * math.log(10.0)
    half = T // 2
    with np.errstate(invalid="ignore"):  # −∞ − (−∞) where the product is exactly 0: no slope (NaN)
        return float(logs[-1] - logs[half - 1]) / (T - half), float(logs[-1]) / T
