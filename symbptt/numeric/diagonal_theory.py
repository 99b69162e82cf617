"""Theory for cells whose path back is diagonal and blind to the state: the minGRU, the minLSTM, the LRU.

When a cell's only path from h_{t−1} to h_t is its own unit-by-unit factor g_t, and g_t reads only the
step's pre-activations from the input (a_t = U x_t + b) and the unit's own parameters (ν), the Jacobian
∂h_T/∂h_0 = diag(∏_t g_{t,i}) needs no mean-field closure: for inputs independent over t, each unit's
(1/T) ln|∏_t g_{t,i}| tends to

    λ(θ_i) = E_a[ln|g(a, θ_i)|]     (the law of large numbers; θ_i the unit's own parameters),

and ‖∂h_T/∂h_0‖₂ = max_i |∏_t g_{t,i}|, so the norm's rate tends to the largest unit's λ. The tool
reports, for pre-activations a ~ N(0, s²) with s² = σ_u²·q_x (no bias: a bias is fixed per unit, which
would make it one more per-unit parameter), each a independent (their weight rows are), and θ uniform
on the interval the cell draws it from:

    λ̄ = E_θ λ(θ)          the rate of a typical unit,
    λ_max = max_θ λ(θ)    the rate of ‖∂h_T/∂h_0‖₂ for many units and long T,
    ½ ln χ, χ = E[g²]     the mean-field quantity of the vanilla theory; ½ ln χ ≥ λ̄ (Jensen).

Whether a cell qualifies is read off its step (which routes exist and what its factor depends on), so a
cell file qualifies too when its factor is of this kind.  Other cells get the reason none is given.
Expectations use Gauss–Legendre rules in θ and, in each pre-activation, in s on each side of 0 for
z = ±sinh(s)/c (dense where the gates change, see _rules); ln|g| is computed in log space where the
factor's form allows (numeric/logabs.py).  The digits reported are those on which rules of two sizes
agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..cells import INPUT, Cell, unit
from ..errors import SymbpttError

NODES = 192  # points per pre-activation (and Gauss–Legendre points in θ); two thirds as many for the
COARSE = 128  # rule the digits are measured against (fewer for a factor of three or more)


@dataclass(frozen=True)
class DiagonalFactor:
    """The factor g of h_{t−1} in h_t as a function of pre-activations and per-unit parameters."""

    state: str
    shown: sp.Expr  # as the printed forms write it (1 − z)
    value: sp.Expr  # in the pre-activations and per-unit parameters only
    linears: tuple[str, ...]  # the pre-activations it reads, in the cell's order
    params: tuple[str, ...]  # the per-unit parameters it reads


def diagonal_factor(spec: Cell) -> DiagonalFactor | str:
    """The cell's diagonal, state-blind factor, or the reason it has none (a sentence's end).

    Args:
        spec: a cell.

    Returns:
        A ``DiagonalFactor``, or a string saying why the theory does not apply ("its path back goes
        through a weight matrix", …).
    """
    from ..step import shown_coefficients, step_graph
    from .forward import stable_form

    graph = step_graph(spec)
    back = [r for r in graph.routes if r.kind in ("J", "F")]
    if any(r.kind == "J" for r in back):
        return "its path back goes through a weight matrix"
    if any(r.target != r.source for r in back):
        return "one of its states feeds another on the path back"
    state = spec.states[0]
    if len(spec.states) > 1:
        return "it carries more than one state"
    shown = shown_coefficients(graph)[(state, f"prev_{state}")]
    value = stable_form(graph.coefficient(state, f"prev_{state}"), spec)  # 1 − z as σ(−a): no cancellation
    for name, expr in reversed(spec.nodes):  # every node in the leaves it is computed from
        value = value.subs(unit(name), expr)
    linears = tuple(lin.name for lin in spec.linears if unit(lin.name) in value.free_symbols)
    params = tuple(p for p in spec.unit_params if unit(p) in value.free_symbols)
    if any(s.name.startswith("prev_") for s in value.free_symbols):
        return "its factor depends on the state itself, so each unit's factors form a recurrence of their own"
    if any(term[1] != INPUT for lin in spec.linears if lin.name in linears for term in lin.terms):
        return "its factor reads a pre-activation that is not a map of the input"
    unknown = value.free_symbols - {unit(name) for name in (*linears, *params)}
    if unknown or any(p not in {q for q, _, _ in spec.init} for p in params):
        return "its factor reads parameters that have no random law to average over"
    return DiagonalFactor(state, shown, value, linears, params)


def required_factor(spec: Cell) -> DiagonalFactor:
    """The cell's diagonal, state-blind factor.

    Raises:
        SymbpttError: the cell has none, with the reason.
    """
    factor = diagonal_factor(spec)
    if isinstance(factor, str):
        raise SymbpttError(f"no closed-form theory for {spec.name}: {factor}; `theory --beside --cell "
                           f"{spec.name}` gives the exact rates of random networks")
    return factor


@dataclass(frozen=True)
class DiagonalTheory:
    """λ̄, λ_max and ½ ln χ of one cell at one input law (see the module docstring)."""

    cell: str
    factor: str  # the factor as the text form prints it
    sigma_u: float
    input_var: float
    params: str  # how the per-unit parameters it reads are drawn ("ν ~ U(−5, −2)"), or ""
    chi: float
    mean_field: float  # ½ ln χ
    unit_rate: float  # λ̄
    best_unit_rate: float  # λ_max
    digits: int

    @property
    def phase(self) -> str:
        return "critical" if abs(self.best_unit_rate) < 1e-12 else "ordered" if self.best_unit_rate < 0 else "growing"

    def as_json(self) -> dict:
        def finite(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {"cell": self.cell, "factor": self.factor, "sigma_u": self.sigma_u, "input_var": self.input_var,
                "unit_parameters": self.params or None, "chi": finite(self.chi),
                "mean_field_rate": finite(self.mean_field),
                "unit_rate": finite(self.unit_rate), "best_unit_rate": finite(self.best_unit_rate),
                "depth_scale": finite(1.0 / abs(self.unit_rate)) if self.unit_rate != 0 else None,
                "phase": self.phase, "quadrature_digits": self.digits}

    def text(self, width: int = 80) -> str:
        """The prediction in lines of at most ``width`` characters (continuations indented)."""
        from ..wrap import fill

        d = max(1, min(10, self.digits))  # no more digits than the two rules agree on
        law = (f"pre-activations N(0, σ_u²·q_x) with σ_u = {self.sigma_u:g}, q_x = {self.input_var:g}"
               if not self.params else f"{self.params} per unit")
        lines = [f"{self.cell}: ∂h_t/∂h_(t-1) = diag({self.factor}), blind to the state; {law}",
                 f"typical unit: λ = E ln|g| = {self.unit_rate:+.{d}g} per step (natural log)",
                 f"largest unit: λ_max = {self.best_unit_rate:+.{d}g}, the rate of ‖∂h_T/∂h_0‖₂ for many units "
                 "and long T",
                 f"mean field: ½ ln E[g²] = {self.mean_field:+.{d}g} (χ = {self.chi:.{d}g}; at least λ, by Jensen)",
                 f"depth scale 1/|λ| = {_steps(self.unit_rate, d)} steps; phase: {self.phase}",
                 f"expectations by quadrature, agreeing to {self.digits} digits"]
        return "\n".join(fill(line, width, subsequent_indent="    ") for line in lines) + "\n"


def _steps(rate: float, digits: int = 6) -> str:
    return "∞" if rate == 0 else f"{1.0 / abs(rate):.{min(6, digits)}g}"


def _rules(k: int, nodes: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Points z (k, P) and weights (P,) of a tensor rule for E over k standard normals whose integrand
    reads a = scale·z.  In each z, Gauss–Legendre in s on each side of 0 (nodes/2 points per side) for
    z = ±sinh(s)/c, c = max(1, scale): the gates change over |a| ~ 1, i.e. |z| ~ 1/scale, where the
    points are as dense as they are near |z| ~ 1 (Gauss–Hermite points, spaced ~0.2 near 0, stepped
    over σ(−30 z) and mis-stated its mean in the second digit)."""
    if k == 0:
        return np.zeros((0, 1)), np.ones(1)
    from .theory import Z_MAX, graded_normal

    c = max(1.0, scale)
    top = math.asinh(c * Z_MAX)
    x, w = np.polynomial.legendre.leggauss(nodes // 2)
    half, weight = graded_normal(0.5 * top * (x + 1.0), 0.5 * top * w, c)
    z, wz = np.concatenate([-half[::-1], half]), np.concatenate([weight[::-1], weight])
    wz /= wz.sum()  # the mass beyond |z| = 12 is below 1e-32: a constant's mean is the constant itself
    grids = np.meshgrid(*([z] * k), indexing="ij")
    weights = np.meshgrid(*([wz] * k), indexing="ij")
    return np.stack([g.ravel() for g in grids]), np.prod(np.stack([v.ravel() for v in weights]), axis=0)


def _moments(factor: DiagonalFactor, spec: Cell, scale: float, nodes: int) -> tuple[float, float, float]:
    """E[g²], E_θ E_a ln|g| and max_θ E_a ln|g| with the rules of ``nodes`` points; ln|g| in log space
    (numeric/logabs.py) where the factor's form allows, so a gate's factor that underflows (σ(−a) for
    a > 745) keeps its logarithm."""
    from ..activations import numpy_functions
    from .logabs import log_abs

    symbols = [unit(n) for n in (*factor.linears, *factor.params)]
    z, wz = _rules(len(factor.linears), nodes, scale)
    a = [scale * z[i] for i in range(len(factor.linears))]
    if factor.params:  # one per-unit parameter at a time is all the built-in cells have; a grid for more
        rules = []
        for p in factor.params:
            lo, hi = spec.init_range(p)
            x, w = np.polynomial.legendre.leggauss(nodes)
            rules.append((np.concatenate([0.5 * (hi - lo) * x + 0.5 * (hi + lo), [lo, hi]]),
                          np.concatenate([0.5 * w, [0.0, 0.0]])))  # the ends weigh nothing: for the max only
        thetas = np.meshgrid(*[r[0] for r in rules], indexing="ij")
        wt = np.prod(np.stack(np.meshgrid(*[r[1] for r in rules], indexing="ij")), axis=0).ravel()
        theta = [t.ravel() for t in thetas]
    else:
        theta, wt = [], np.ones(1)
    env = {s.name: x[:, None] for s, x in zip(symbols, a, strict=False)}
    env |= {s.name: t[None, :] for s, t in zip(symbols[len(a):], theta, strict=True)}
    in_logs = log_abs(factor.value)
    with np.errstate(all="ignore"):
        if in_logs is not None:
            logs = np.broadcast_to(np.asarray(in_logs(env), dtype=float), (len(wz), len(wt)))
            squares = np.exp(2.0 * logs)
        else:
            g = sp.lambdify(symbols, factor.value, numpy_functions(factor.value))
            values = np.broadcast_to(np.asarray(g(*[env[s.name] for s in symbols]), dtype=float),
                                     (len(wz), len(wt)))
            logs, squares = np.log(np.abs(values)), values**2
    weighed = (wz[:, None] > 0) & (wt[None, :] > 0)
    if not np.all(np.isfinite(logs[weighed])):
        reach = scale * float(np.max(np.abs(z))) if z.size else 0.0
        raise SymbpttError(f"the theory of {spec.name} needs ln|g| of its factor g = {text_of(factor)} for "
                           f"pre-activations up to |a| = {reach:.3g}, and float64 gives 0 or no number there; "
                           "lower σ_u·√q_x")
    chi = float(wz @ squares @ wt)
    by_theta = wz @ logs  # E_a ln|g| for each θ
    return chi, float(by_theta @ wt), float(np.max(by_theta))


def text_of(factor: DiagonalFactor) -> str:
    """The factor as the text form prints it, Greek names as letters."""
    from ..printing import text

    return _letters(text(factor.shown).replace("**", "^"))


def diagonal_theory(cell: str | Cell = "mingru", sigma_u: float = 1.0, input_var: float = 1.0) -> DiagonalTheory:
    """λ̄, λ_max and ½ ln χ for a cell whose path back is diagonal and blind to the state.

    Args:
        cell: a built-in cell name, a cell file, or a ``Cell``.
        sigma_u: the input weights' scale (U_ij ~ N(0, σ_u²/m)).
        input_var: q_x, the inputs' mean square.

    Returns:
        A ``DiagonalTheory``.

    Raises:
        SymbpttError: a cell the theory does not cover (with the reason), or a scale out of range.
    """
    from ..activations import get_activation
    from ..cells import get_cell

    for name, value in (("sigma_u", sigma_u), ("input_var", input_var)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 or value > 1e6:
            raise SymbpttError(f"{name} must be a number from 0 to 1e6, got {value!r}")
    spec = get_cell(cell, get_activation("tanh")) if isinstance(cell, str) else cell
    factor = required_factor(spec)
    scale = math.sqrt(sigma_u**2 * input_var)
    shrink = 1 if len(factor.linears) + len(factor.params) <= 2 else 4
    fine = _moments(factor, spec, scale, NODES // shrink)
    coarse = _moments(factor, spec, scale, COARSE // shrink)
    change = max(abs(f - c) / max(abs(f), 1e-300) for f, c in zip(fine, coarse, strict=True))
    digits = 15 if change == 0 else int(min(15, max(0, -math.log10(change))))
    chi, unit_rate, best = fine
    mean_field = 0.5 * math.log(chi) if chi > 0 else -math.inf
    drawn = ", ".join(f"{_letters(p)} ~ U({lo:g}, {hi:g})" for p in factor.params for lo, hi in [spec.init_range(p)])
    return DiagonalTheory(spec.name, text_of(factor), float(sigma_u),
                          float(input_var), drawn, chi, mean_field, unit_rate, best, digits)


def _letters(text: str) -> str:
    """Greek names as letters (nu → ν)."""
    import re

    from ..notation import GREEK

    for name, letter in GREEK.items():
        text = re.sub(rf"\b{name}\b", letter, text)
    return text


__all__ = ["CellBeside", "DiagonalFactor", "DiagonalTheory", "cell_beside", "diagonal_factor",
           "diagonal_theory", "required_factor"]


@dataclass(frozen=True)
class CellBeside:
    """Exact rates of ``seeds`` random networks of a cell beside what the theory above predicts for them
    (or the reason it predicts nothing).  Rates per step, natural log."""

    cell: str
    sigma_u: float
    weights: str  # how the recurrent matrices and per-unit parameters were drawn ("" for neither)
    n: int
    T: int
    seeds: tuple[int, ...]
    theory: DiagonalTheory | None
    reason: str  # why there is no theory ("" when there is one)
    exact: tuple[float, ...]  # (1/T) ln‖∂h_T/∂h_0‖₂ per network
    observed: tuple[float, ...]  # slope of ln‖∂h_t/∂h_0‖₂ over t = T/2..T
    unit_mean: tuple[float, ...] | None  # mean over units of (1/T) ln|∏_t g_t,i| (diagonal cells)

    def sentences(self) -> list[str]:
        """What the numbers say, each sentence decided by them."""
        from .beside import rate_text

        if not all(math.isfinite(v) for v in (*self.exact, *self.observed)):
            return ["Some rate is not a finite number (a product reached exactly 0 or left float64's range), so no "
                    "comparison is made."]
        lo, hi = min(self.exact), max(self.exact)
        out = []
        if self.theory is None:
            out.append(f"No closed-form prediction for {self.cell}: {self.reason}.")
        else:
            assert self.unit_mean is not None
            t, ulo, uhi = self.theory, min(self.unit_mean), max(self.unit_mean)
            above = float(np.mean(np.subtract(self.exact, self.unit_mean)))
            out.append(f"The factor is blind to the state, so ∂h_T/∂h_0 is diagonal and its norm is its largest "
                       f"unit's product: the norm's rate is above the mean over units by {above:.3g} per step on "
                       "average.")
            out.append(f"The typical-unit rate λ = {rate_text(t.unit_rate, t.digits)} is "
                       f"{_where(t.unit_rate, ulo, uhi)} the range of the networks' means over units ({ulo:+.4f} to "
                       f"{uhi:+.4f}).")
            out.append(f"λ_max = {rate_text(t.best_unit_rate, t.digits)} is {_where(t.best_unit_rate, lo, hi)} the "
                       f"range of the norms' rates ({lo:+.4f} to {hi:+.4f}); ½ ln χ = "
                       f"{rate_text(t.mean_field, t.digits)} is "
                       f"{_where(t.mean_field, lo, hi)} it.")
        from .beside import drift_sentence

        out.append(drift_sentence(self.observed, self.exact))
        return out

    def as_json(self) -> dict:
        def finite(values: tuple[float, ...] | None) -> list | None:
            return None if values is None else [v if math.isfinite(v) else None for v in values]

        return {"cell": self.cell, "sigma_u": self.sigma_u, "weights": self.weights or None, "n": self.n, "T": self.T,
                "seeds": list(self.seeds), "theory": None if self.theory is None else self.theory.as_json(),
                "no_theory_because": self.reason or None, "exact": finite(self.exact),
                "observed": finite(self.observed), "unit_mean": finite(self.unit_mean),
                "sentences": self.sentences()}

    def text(self, width: int = 80) -> str:
        from ..wrap import wrap
        from .beside import rate_text, rates_span

        seeds = f"seed {self.seeds[0]}" if len(self.seeds) == 1 else f"seeds {self.seeds[0]}..{self.seeds[-1]}"
        gain = "" if not self.weights else f", {self.weights}"
        head = (f"{self.cell}, n = {self.n} (m = n){gain}, U ~ N(0, {self.sigma_u:g}²/m), no bias, inputs N(0, 1), "
                f"{seeds}; rates per step (natural log), a range being lowest to highest over the networks")
        rows = []
        if self.theory is not None:
            t = self.theory
            rows += [("typical unit, T → ∞", rate_text(t.unit_rate, t.digits), "λ = E ln|g|"),
                     ("largest unit, n, T → ∞", rate_text(t.best_unit_rate, t.digits), "λ_max, the largest unit's λ"),
                     ("mean field", rate_text(t.mean_field, t.digits), "½ ln E[g²]")]
        if self.unit_mean is not None:
            rows.append(("exact, mean over units", rates_span(self.unit_mean), "(1/T) ln|∏ g_t,i| averaged over i"))
        rows += [("observed, these networks", rates_span(self.observed), f"slope over t = {self.T // 2}..{self.T}"),
                 ("exact, these networks", rates_span(self.exact), f"(1/T) ln‖∂h_T/∂h_0‖₂ at T = {self.T}")]
        name = max(len(r[0]) for r in rows)
        vwidth = max(len(r[1]) for r in rows)
        lines = [*wrap(head, width), ""]
        lines += [f"{a:<{name}}  {b:>{vwidth}}  {c}" for a, b, c in rows]
        return "\n".join(lines + [""] + ["\n".join(wrap(s, width)) for s in self.sentences()]) + "\n"


def _where(value: float, lo: float, hi: float) -> str:
    return "inside" if lo <= value <= hi else "outside"


def cell_beside(cell: str = "mingru", sigma_u: float = 1.0, n: int = 64, T: int = 200, seeds: int = 8,
                gain: float = 1.0, seed: int = 0, activation: str = "tanh") -> CellBeside:
    """The exact rates of ``seeds`` random networks of a cell beside the diagonal theory's prediction.

    Args:
        cell: a built-in cell name or a cell file (vector cells: n ≥ 2).
        sigma_u: the input weights' scale: U_ij ~ N(0, σ_u²/m), m = n, inputs N(0, 1), no bias.
        n: the width, 2 to 256.
        T: the steps, 2 to 10 000.
        seeds: how many networks (seed, seed + 1, …), 1 to 50.
        gain: W_* ~ N(0, gain²/n) for a cell with recurrent matrices, and the factor of a per-unit weight
            the gain scales (IndRNN's w); ignored by other cells.
        seed: the first seed.
        activation: σ of a cell that takes one (IndRNN).

    Returns:
        A ``CellBeside`` (text() and as_json()).

    Raises:
        SymbpttError: an argument out of range.
    """
    from dataclasses import replace

    from ..activations import get_activation
    from ..budget import estimate, norm_sweep_cost
    from ..cells import get_cell
    from .beside import check_draws
    from .examples import example_config
    from .factors import ArrayFactors, NumericModel
    from .logspace import log10_norms_by_T, log_coefficients

    check_draws(n, T, seeds)
    for name, value in (("sigma_u", sigma_u), ("gain", gain)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 1e3:
            raise SymbpttError(f"{name} must be a number from 0 to 1000, got {value!r}")
    spec = get_cell(cell, get_activation(activation))
    if spec.max_hidden is not None and n > spec.max_hidden:
        raise SymbpttError(f"{spec.name} has at most {spec.max_hidden} unit(s); the theory is about wide networks")
    estimate(f"theory --beside with {seeds} networks of n = {n}, T = {T}", "lower --seeds, -n or -T",
             **norm_sweep_cost(spec, n, T, seeds))
    factor = diagonal_factor(spec)
    theory = None if isinstance(factor, str) else diagonal_theory(spec, sigma_u, 1.0)
    matrices = f"W ~ N(0, {gain:g}²/n)" if any(spec.kind(p) == "recurrent" for p in spec.params) else ""
    units = [f"{_letters(p)} ~ " + (f"{gain:g}·" if p in spec.gain_scaled and gain != 1 else "") + f"U({lo:g}, {hi:g})"
             for p, lo, hi in spec.init]
    exact, observed, unit_mean = [], [], []
    for s in range(seed, seed + seeds):
        cfg = example_config(spec, T, n, n, gain=gain, drive=sigma_u, seed=s, activation=activation,
                             overrides={bias: 0.0 for bias, _ in spec.biases()})  # no bias, the LSTM's b_f too
        cfg = replace(cfg, x=np.random.default_rng([s, 1]).standard_normal((T, n)))
        with np.errstate(all="ignore"):
            values = ArrayFactors(NumericModel.of(cfg))
            logs = log10_norms_by_T(values)[spec.states[0]] * math.log(10.0)
        exact.append(float(logs[-1]) / T)
        half = T // 2
        observed.append(float(logs[-1] - logs[half - 1]) / (T - half))
        if theory is not None:
            state = spec.states[0]
            per_step = log_coefficients(values, 1)[(state, f"prev_{state}")][1][1:]  # log10|g_t,i|, (T, n)
            unit_mean.append(float(np.mean(np.sum(per_step, axis=0))) * math.log(10.0) / T)
    name = f"{spec.name} ({activation})" if spec.uses_activation else spec.name
    return CellBeside(name, float(sigma_u), ", ".join(filter(None, [matrices, *units])), n, T,
                      tuple(range(seed, seed + seeds)), theory, factor if isinstance(factor, str) else "",
                      tuple(exact), tuple(observed), tuple(unit_mean) if theory is not None else None)
