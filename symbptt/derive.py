"""Symbolic BPTT forms built from the per-step factors, never by ``sympy.diff`` of the unrolled loss.

Forms (each a list of equations lhs = rhs):
    unroll     the forward equations (h_t = σ(W h_{t-1} + U x_t + b) for the vanilla cell) and the loss
    factors    the local partials of one step, every route factor J_t, F_t, V_t and the immediate
               partials ∂⁺h_t/∂θ
    general    a formula for symbolic T (Sum/Product for the scalar model, ordered products otherwise)
    explicit   Σ_k (h_T − y)·J_T ⋯ J_{k+1}·∂⁺h_k/∂θ for the given T, every factor in time order
    recursive  δ_T = h_T − y,  δ_{t-1} = J_tᵀ δ_t (+ h_{t-1} − y_{t-1}),  ∂L/∂θ = Σ_t (…)
    expanded   the gradient substituted down to parameters and inputs (small T only)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import sympy as sp

from . import primitives as P
from .cells import INPUT, prev, unit
from .errors import SymbpttError
from .model import RNN, Matrix, loss_in_states, nested_states, unrolled_equations
from .paths import (
    DeltaPart,
    Step,
    Term,
    check_explicit_size,
    delta_recursion,
    evaluate_recursive,
    explicit_terms,
    param_entry,
    targets,
)
from .step import Route, StepGraph

FORMS = ("unroll", "factors", "general", "explicit", "recursive", "expanded")
EXPANDED_MAX_T = {1: 6, 2: 2, 3: 1, 4: 1}  # by hidden size; with layers > 1 one step less (at least 1)
TEX_NAMES: dict[sp.Symbol, str] = {}


class Equation(NamedTuple):
    lhs: sp.Basic
    rhs: sp.Basic


@dataclass
class Derivation:
    """What ``derive`` returns: a title, the equations, and plain-text notes shown after them."""

    title: str
    equations: list[Equation]
    notes: list[str]


def label(text: str, tex: str) -> sp.Symbol:
    """A symbol used only as a left-hand side, e.g. ∂L/∂w; its LaTeX spelling is kept in TEX_NAMES."""
    sym = sp.Symbol(text)
    TEX_NAMES[sym] = tex
    return sym


def _tex_sym(name: str) -> str:
    return sp.latex(sp.Symbol(name))


def grad_label(entry: sp.Basic) -> sp.Symbol:
    """∂L/∂θ for one parameter (or parameter entry) symbol."""
    return label(f"∂L/∂{entry}", rf"\frac{{\partial L}}{{\partial {sp.latex(entry)}}}")


# ---------------------------------------------------------------- the coefficients, as they are shown


def swap(expr: sp.Basic, mapping: dict[sp.Basic, sp.Basic]) -> sp.Basic:
    """``expr`` with atoms replaced by ``mapping``, rebuilt without re-simplifying (a template already in
    canonical form only changes its step symbols, so nothing would simplify; ~10× faster than xreplace)."""
    if expr in mapping:
        return mapping[expr]
    if not expr.args:
        return expr
    args = tuple(swap(arg, mapping) for arg in expr.args)
    if isinstance(expr, (sp.Add, sp.Mul)):
        return type(expr)._from_args(args)
    return expr.func(*args, evaluate=False)


@lru_cache(maxsize=64)
def shown_coefficients(graph: StepGraph) -> dict[tuple[str, str], sp.Expr]:
    """Every total derivative of the step as it is printed: a primitive's derivative written in its
    output where the cell names it (tanh' = 1 − h², σ' = i(1 − i)), everything in plain SymPy."""
    outputs = {expr: unit(name) for name, expr in graph.cell.nodes if isinstance(expr, P.Primitive)}
    return {key: P.plain(P.in_outputs(value, outputs)) for key, value in graph.total.items()}


@lru_cache(maxsize=64)
def shown_locals(graph: StepGraph) -> dict[tuple[str, str], sp.Expr]:
    outputs = {expr: unit(name) for name, expr in graph.cell.nodes if isinstance(expr, P.Primitive)}
    return {key: P.plain(P.in_outputs(value, outputs)) for key, value in graph.local.items()}


class Instances:
    """Template symbols of one unit → the symbols of that unit at (layer, t), cached."""

    def __init__(self, rnn: RNN) -> None:
        self.rnn, self.s = rnn, rnn.symbols
        self._maps: dict[tuple[int, int, int], dict] = {}
        self.scalar_fast = rnn.n == 1

    def mapping(self, layer: int, t: int, i: int) -> dict:
        key = (layer, t, i)
        if key not in self._maps:
            if self.scalar_fast:
                self._maps[key] = self._scalar_mapping(layer, t)
            else:
                self._maps[key] = self.s.unit_values(layer, t, i)
        return self._maps[key]

    def _scalar_mapping(self, layer: int, t: int) -> dict:
        s, spec = self.s, self.rnn.spec
        out = {prev(st): s.scalar(st, layer, t - 1) for st in spec.states}
        out.update({unit(name): s.scalar(name, layer, t) for name, _ in spec.nodes})
        out.update({unit(lin.name): s.scalar(lin.name, layer, t) for lin in spec.linears})
        out[unit(INPUT)] = s.scalar("x", None, t) if layer == 1 else s.scalar("h", layer - 1, t)
        out.update({unit(p): s.param(p, layer)[0] for p in spec.scalar_params})
        return out

    def __call__(self, template: sp.Expr, layer: int, t: int, i: int = 0) -> sp.Expr:
        return swap(template, self.mapping(layer, t, i))


class SymbolicFactors:
    """The factors as SymPy matrices in the state symbols (what the forms print and the tests check)."""

    def __init__(self, rnn: RNN) -> None:
        self.rnn, self.s, self.graph = rnn, rnn.symbols, rnn.graph
        self.shown = shown_coefficients(rnn.graph)
        self.at = Instances(rnn)
        self._factors: dict[Step, Matrix] = {}

    def coefficient(self, target: str, leaf: str, layer: int, t: int) -> Matrix:
        """diag entries of ∂s'_t/∂leaf_t, unit by unit."""
        template = self.shown.get((target, leaf), sp.S.Zero)
        return Matrix([self.at(template, layer, t, i) for i in range(self.rnn.n)])

    def sigma_prime(self, layer: int, t: int) -> Matrix:
        """σ'(a^(ℓ)_t) of the vanilla cell entrywise, written in h_t where the activation allows."""
        return self.coefficient("h", "a", layer, t)

    def factor(self, step: Step) -> Matrix:
        """Σ diag(coefficient)·M over the route's terms (memoised: each appears in many terms)."""
        if step not in self._factors:
            route = Route(step.kind, step.target, step.source)
            value = None
            for leaf, matrix in self.graph.terms(route):
                coef = self.coefficient(step.target, leaf, step.layer, step.t)
                if matrix is None:
                    part = Matrix(sp.diag(*coef))
                else:
                    right = self.s.param(matrix, step.layer)
                    part = Matrix([[coef[i] * right[i, j] for j in range(right.cols)] for i in range(right.rows)])
                value = part if value is None else Matrix(value + part)
            self._factors[step] = value
        return self._factors[step]

    def error(self, t: int) -> Matrix:
        return self.s.h(self.rnn.layers, t) - self.s.y(t)

    def z(self, param: str, layer: int, t: int) -> Matrix | None:
        kind, _, source = param_entry(self.rnn, param)
        if kind not in ("recurrent", "input"):
            return None
        return self.s.source(source, layer, t)

    def zero(self) -> Matrix:
        return Matrix.zeros(self.rnn.n, 1)

    def zero_like(self, param: str, layer: int) -> Matrix:
        return Matrix.zeros(*self.rnn.param_shape(param, layer))


# ---------------------------------------------------------------- how factors are printed


def route_tag(rnn: RNN, route: Route) -> str:
    """The superscript that tells routes apart: J_t (one state) or J^{hc}_t; D^{cf}_t for gated cells."""
    multi = len(rnn.states) > 1
    if route.kind in ("J", "F"):
        return f"{route.target}{route.source}" if multi else ""
    if route.kind == "V":
        return route.target if multi else ""
    leaves = [lin.name for lin in rnn.spec.linears] + list(rnn.spec.scalar_params)
    gate = "" if len(leaves) == 1 else route.source.removeprefix("a_")
    return (route.target if multi else "") + gate


class Display:
    """How factors print: expressions for the scalar vanilla model, named symbols (J_3, D_1) otherwise."""

    def __init__(self, rnn: RNN, named: bool | None = None) -> None:
        self.rnn, self.s, self.values = rnn, rnn.symbols, SymbolicFactors(rnn)
        self.n = rnn.n
        self.named = (not rnn.scalar or rnn.spec.name != "rnn") if named is None else named
        self._shown: dict[Step, sp.Basic] = {}

    def mat(self, base: str, layer: int | None, t: int | None, rows: int, cols: int) -> sp.Basic:
        sup = self.s.sup(layer) if layer is not None else ""
        step = f"_{t}" if t is not None else ""
        return sp.MatrixSymbol(f"{base}{sup}{step}", rows, cols)

    def factor_name(self, step: Step) -> str:
        tag = route_tag(self.rnn, Route(step.kind, step.target, step.source))
        return f"{step.kind}^{tag}" if tag else step.kind

    def factor(self, step: Step) -> sp.Basic:
        """The printed factor: its expression (scalar vanilla model) or its name J_t, V_t, D_t."""
        if step not in self._shown:
            if not self.named:
                self._shown[step] = self._scalar_factor(step)
            elif self.rnn.scalar:
                self._shown[step] = self.s.scalar(self.factor_name(step), step.layer, step.t)
            else:
                self._shown[step] = self.mat(self.factor_name(step), step.layer, step.t, self.n, self.n)
        return self._shown[step]

    def _scalar_factor(self, step: Step) -> sp.Basic:
        """The route written out for a scalar model: Σ weight·coefficient, without 1×1 matrices."""
        route = Route(step.kind, step.target, step.source)
        parts = []
        for leaf, matrix in self.rnn.graph.terms(route):
            coef = self.values.at(self.values.shown.get((step.target, leaf), sp.S.Zero), step.layer, step.t)
            parts.append(coef if matrix is None else _mul(self.s.param(matrix, step.layer)[0, 0], coef))
        return parts[0] if len(parts) == 1 else sp.Add(*parts)

    def h(self, layer: int, t: int) -> sp.Basic:
        return self.s.scalar("h", layer, t) if self.rnn.scalar else self.mat("h", layer, t, self.n, 1)

    def error(self, t: int) -> sp.Basic:
        y_step = t if self.rnn.loss == "sum" else None
        if self.rnn.scalar:
            return self.s.scalar("h", self.rnn.layers, t) - self.s.scalar("y", None, y_step)
        return self.mat("e", None, t, self.n, 1)

    def z_entry(self, param: str, layer: int, t: int, column: int) -> sp.Basic:
        """Entry ``column`` of z_t for the scalar model: the previous state, x_t or the layer below."""
        _, _, source = param_entry(self.rnn, param)
        if source != INPUT:
            return self.s.scalar(source, layer, t - 1)
        if layer > 1:
            return self.s.scalar("h", layer - 1, t)
        return self.s.scalar("x", None, t) if self.rnn.m == 1 else self.s.x(t)[column, 0]

    def z(self, param: str, layer: int, t: int) -> sp.Basic:
        _, _, source = param_entry(self.rnn, param)
        if source != INPUT:
            return self.mat(source, layer, t - 1, self.n, 1) if not self.rnn.scalar else \
                self.s.scalar(source, layer, t - 1)
        if layer > 1:
            return self.h(layer - 1, t)
        return self.s.x(t)[0, 0] if self.rnn.scalar and self.rnn.m == 1 else self.mat("x", None, t, self.rnn.m, 1)

    def delta(self, layer: int, t: int, state: str = "h") -> sp.Basic:
        base = "delta" if len(self.rnn.states) == 1 else f"delta^{state}"
        if self.rnn.scalar:
            return self.s.scalar(base, layer, t)
        return self.mat(base, layer, t, self.n, 1)

    def param(self, name: str, layer: int) -> sp.Basic:
        value = self.s.param(name, layer)
        if value.shape == (1, 1):
            return value[0, 0]
        if self.rnn.spec.kind(name) == "initial":
            return self.mat(name[:-1], layer, 0, self.n, 1)
        return self.mat(name, layer, None, *value.shape)


def _mul(*factors: sp.Basic) -> sp.Basic:
    """A product that keeps the factors in the order given (printed with order='none')."""
    factors = tuple(f for f in factors if f is not sp.S.One)
    if not factors:
        return sp.S.One
    if len(factors) == 1:
        return factors[0]
    return sp.Mul._from_args(factors)


class TermSum(sp.Add):
    """A sum kept exactly as built, one summand per path (explicit) or per step (recursive)."""


class MatTermSum(sp.MatAdd):
    """The matrix counterpart of TermSum."""


def _add(terms: list[sp.Basic]) -> sp.Basic:
    if not terms:
        return sp.S.Zero
    if len(terms) == 1:
        return terms[0]
    if any(isinstance(t, sp.MatrixExpr) for t in terms):
        return MatTermSum(*terms, evaluate=False)
    return TermSum._from_args(tuple(terms))


def _scalar_entries(rnn: RNN, param: str, layer: int) -> list[tuple[sp.Basic, int]]:
    """(entry symbol, column) of a scalar model's parameter: one entry, except u_j when m > 1."""
    value = rnn.symbols.param(param, layer)
    return [(value[0, j], j) for j in range(value.shape[1])]


def _has_z(rnn: RNN, param: str) -> bool:
    return rnn.spec.kind(param) in ("recurrent", "input")


def explicit_term_display(d: Display, term: Term, param: str, layer: int, column: int = 0) -> sp.Basic:
    """One summand: (h_s − y)·J_s ⋯ J_{k+1}·σ'(a_k)·z_k, factors left to right in time order."""
    chain = [d.factor(step) for step in term.chain]
    if d.rnn.scalar:
        z = [d.z_entry(param, layer, term.entry, column)] if _has_z(d.rnn, param) else []
        return _mul(d.error(term.loss_step), *chain, *z)
    row = sp.MatMul(sp.Transpose(d.error(term.loss_step)), *chain)
    if not _has_z(d.rnn, param):
        return sp.Transpose(row)
    return sp.MatMul(sp.Transpose(row), sp.Transpose(d.z(param, layer, term.entry)))


def form_explicit(rnn: RNN, wrt: str, named: bool | None = None) -> Derivation:
    chosen = targets(rnn, wrt)
    check_explicit_size(rnn, chosen)
    d, eqs = Display(rnn, named), []
    for param, layer in chosen:
        terms = list(explicit_terms(rnn, param, layer))
        if rnn.scalar:
            for entry, column in _scalar_entries(rnn, param, layer):
                rhs = _add([explicit_term_display(d, t, param, layer, column) for t in terms])
                eqs.append(Equation(grad_label(entry), rhs))
        else:
            rhs = _add([explicit_term_display(d, t, param, layer) for t in terms])
            eqs.append(Equation(grad_label(d.param(param, layer)), rhs))
    notes = [_factor_note(rnn)] if d.named else []
    return Derivation(f"explicit BPTT gradient, T = {rnn.T}", eqs, notes)


def _factor_note(rnn: RNN) -> str:
    if rnn.spec.name != "rnn":
        return _route_note(rnn)
    y = "y_t" if rnn.loss == "sum" else "y"
    text = f"where e_t = h_t - {y}, J_t = diag(σ'(a_t))·W, D_t = diag(σ'(a_t))"
    if rnn.layers > 1:
        text += ", V^(ℓ)_t = diag(σ'(a^(ℓ)_t))·U^(ℓ)"
    return text + f", σ'(a_t) = {_sigma_prime_text(rnn)}"


def _route_note(rnn: RNN) -> str:
    """where-clause defining every route of a gated or user cell at a generic step t."""
    shown, parts = shown_coefficients(rnn.graph), []
    at = {unit(name): sp.Symbol(f"{name}_t") for name, _ in rnn.spec.nodes}
    at |= {prev(s): sp.Symbol(f"{s}_t-1") for s in rnn.states}
    at |= {unit(lin.name): sp.Symbol(f"{rnn.symbols.base(lin.name)}_t") for lin in rnn.spec.linears}
    at[unit(INPUT)] = sp.Symbol("x_t")
    for route in rnn.graph.routes:
        tag = route_tag(rnn, route)
        name = f"{route.kind}^{tag}_t" if tag else f"{route.kind}_t"
        terms = []
        for leaf, matrix in rnn.graph.terms(route):
            value = sp.sstr(swap(shown[(route.target, leaf)], at))
            terms.append(f"diag({value})" + (f"·{matrix}" if matrix else ""))
        parts.append(f"{name} = {' + '.join(terms)}")
    y = "y_t" if rnn.loss == "sum" else "y"
    return f"where e_t = h_t - {y}, " + ", ".join(parts)


def _sigma_prime_text(rnn: RNN) -> str:
    from .activations import H
    from .safeexpr import A

    act = rnn.act
    if act.dsigma_h is not None:
        return sp.sstr(act.dsigma_h.subs(H, sp.Symbol("h_t")))
    return sp.sstr(act.dsigma_plain.subs(A, sp.Symbol("a_t")))


def _delta_part_display(d: Display, part: DeltaPart) -> sp.Basic:
    if part.kind == "E":
        return d.error(part.t)
    factor = d.factor(part.step())
    delta = d.delta(part.layer, part.t, part.target)
    if d.rnn.scalar:
        return _mul(factor, delta)
    return sp.MatMul(sp.Transpose(factor), delta)


def _recursive_gradient(d: Display, param: str, layer: int, column: int = 0) -> sp.Basic:
    """∂L/∂θ = Σ_t σ'(a_t)·z_t·δ_t (scalar) or Σ_t D_t δ_t z_tᵀ (matrix)."""
    kind, leaf, _ = param_entry(d.rnn, param)
    if kind == "initial":
        return d.delta(layer, 0, leaf)
    terms = []
    for t in range(1, d.rnn.T + 1):
        for route in d.rnn.graph.entries(leaf):
            step = Step("D", layer, t, route.target, leaf)
            delta = d.delta(layer, t, route.target)
            if d.rnn.scalar:
                z = [d.z_entry(param, layer, t, column)] if _has_z(d.rnn, param) else []
                terms.append(_mul(d.factor(step), *z, delta))
            else:
                da = sp.MatMul(d.factor(step), delta)
                terms.append(sp.MatMul(da, sp.Transpose(d.z(param, layer, t))) if _has_z(d.rnn, param) else da)
    return _add(terms)


def form_recursive(rnn: RNN, wrt: str, named: bool | None = None) -> Derivation:
    d, eqs = Display(rnn, named), []
    chosen = targets(rnn, wrt)
    needs_zero = {(layer, param_entry(rnn, param)[1]) for param, layer in chosen
                  if rnn.spec.kind(param) == "initial"}
    for (layer, t, state), parts in delta_recursion(rnn):
        if t == 0 and (layer, state) not in needs_zero:
            continue
        eqs.append(Equation(d.delta(layer, t, state), _add([_delta_part_display(d, p) for p in parts])))
    for param, layer in chosen:
        if rnn.scalar:
            for entry, column in _scalar_entries(rnn, param, layer):
                eqs.append(Equation(grad_label(entry), _recursive_gradient(d, param, layer, column)))
        else:
            eqs.append(Equation(grad_label(d.param(param, layer)), _recursive_gradient(d, param, layer)))
    notes = [_factor_note(rnn)] if d.named else []
    return Derivation(f"recursive BPTT (backward pass), T = {rnn.T}", eqs, notes)


def form_unroll(rnn: RNN, wrt: str) -> Derivation:
    eqs = []
    for lhs, rhs in unrolled_equations(rnn):
        eqs.append(Equation(lhs[0, 0], rhs[0, 0]) if rnn.scalar else Equation(lhs, rhs))
    eqs.append(Equation(sp.Symbol("L"), loss_in_states(rnn)))
    return Derivation(f"unrolled forward pass, T = {rnn.T}", eqs, [])


def form_factors(rnn: RNN, wrt: str) -> Derivation:
    """The local partials of one step (gated cells), every route factor for every step, then the
    immediate partials ∂⁺s_t/∂θ."""
    values, eqs = SymbolicFactors(rnn), []
    d = Display(rnn, named=True)
    if rnn.spec.name != "rnn":
        eqs.extend(_local_partials(rnn))
    for t in range(1, rnn.T + 1):
        for layer in range(rnn.layers, 0, -1):
            for route in rnn.graph.routes:
                if route.kind == "D" or (route.kind == "V" and layer == 1):
                    continue
                step = Step(route.kind, layer, t, route.target, route.source)
                value = values.factor(step)
                name = f"{d.factor_name(step)}{rnn.symbols.sup(layer)}_{t}"
                eqs.append(Equation(sp.Symbol(name), value[0, 0] if rnn.scalar else value))
    for param, layer in targets(rnn, wrt):
        if rnn.spec.kind(param) == "initial":
            continue
        for t in range(1, rnn.T + 1):
            eqs.extend(_immediate_partials(rnn, values, param, layer, t))
    notes = ["J_t = ∂h_t/∂h_{t-1} = diag(σ'(a_t))·W: row i is scaled by σ'(a_t,i) (not W·diag(σ'))"]
    if rnn.spec.name != "rnn":
        notes = ["∂s_t/∂s_{t-1} = J_t + F_t for each pair of states: J through the weights, F unit by unit"]
    return Derivation(f"chain-rule factors, T = {rnn.T}", eqs, notes)


def _local_partials(rnn: RNN) -> list[Equation]:
    """∂node/∂parent for every edge of one step, at a generic step t."""
    at = {unit(name): sp.Symbol(f"{name}_t", real=True) for name, _ in rnn.spec.nodes}
    at |= {prev(s): sp.Symbol(f"{s}_t-1", real=True) for s in rnn.states}
    at |= {unit(lin.name): sp.Symbol(f"{rnn.symbols.base(lin.name)}_t", real=True) for lin in rnn.spec.linears}
    at[unit(INPUT)] = sp.Symbol("x_t", real=True)
    eqs = []
    for (node, parent), value in shown_locals(rnn.graph).items():
        top = f"{node}_t"
        bottom = sp.sstr(at.get(rnn.graph.symbol(parent), sp.Symbol(parent)))
        lhs = label(f"∂{top}/∂{bottom}", rf"\frac{{\partial {_tex_sym(top)}}}{{\partial {_tex_sym(bottom)}}}")
        eqs.append(Equation(lhs, swap(value, at)))
    return eqs


def _immediate_partials(rnn: RNN, values: SymbolicFactors, param: str, layer: int, t: int) -> list[Equation]:
    """∂⁺s_t/∂θ: the derivative of the new state with the previous state held fixed."""
    _, leaf, _ = param_entry(rnn, param)
    out = []
    for route in rnn.graph.entries(leaf):
        d = values.coefficient(route.target, leaf, layer, t)
        h_name = f"{route.target}{rnn.symbols.sup(layer)}_{t}"
        z = values.z(param, layer, t)
        if rnn.scalar:
            for entry, column in _scalar_entries(rnn, param, layer):
                factor = sp.S.One if z is None else z[column, 0]
                tex = rf"\frac{{\partial^+ {_tex_sym(h_name)}}}{{\partial {sp.latex(entry)}}}"
                out.append(Equation(label(f"∂⁺{h_name}/∂{entry}", tex), _mul(d[0, 0], factor)))
            continue
        if z is None:
            lhs = label(f"∂⁺{h_name}/∂{param}", rf"\frac{{\partial^+ {_tex_sym(h_name)}}}{{\partial {param}}}")
            out.append(Equation(lhs, Matrix(sp.diag(*d))))
            continue
        lhs = label(f"∂⁺{h_name},i/∂{param}_ij",
                    rf"\frac{{\partial^+ {_tex_sym(h_name)},i}}{{\partial {param}_{{ij}}}}")
        out.append(Equation(lhs, Matrix(d * z.T)))
    return out


def form_expanded(rnn: RNN, wrt: str) -> Derivation:
    """The recursive gradient with every h_t replaced by its expression in parameters and inputs."""
    limit = max(1, EXPANDED_MAX_T[rnn.n] - (rnn.layers > 1))
    if rnn.T > limit:
        raise SymbpttError(
            f"the expanded form is limited to T <= {limit} for n={rnn.n}, layers={rnn.layers} "
            "(its printed size grows exponentially); use --form explicit, recursive or general"
        )
    values, subs, eqs = SymbolicFactors(rnn), nested_states(rnn), []
    d = Display(rnn)
    for param, layer in targets(rnn, wrt):
        if rnn.scalar and rnn.spec.name == "rnn":  # the explicit sum, every factor in parameters and inputs
            terms = list(explicit_terms(rnn, param, layer))
            for entry, column in _scalar_entries(rnn, param, layer):
                shown = [explicit_term_display(d, t, param, layer, column) for t in terms]
                expanded = [_mul(*[f.xreplace(subs) for f in factors_of_term(t)]) for t in shown]
                eqs.append(Equation(grad_label(entry), _add(expanded)))
        else:
            grad = evaluate_recursive(rnn, param, layer, values).xreplace(subs)
            lhs = grad_label(d.param(param, layer))
            eqs.append(Equation(lhs, grad[0, 0] if grad.shape == (1, 1) else grad))
    return Derivation(f"gradient expanded down to parameters and inputs, T = {rnn.T}", eqs, [])


def factors_of_term(term: sp.Basic) -> tuple[sp.Basic, ...]:
    return term.args if isinstance(term, sp.Mul) else (term,)


def form_general(rnn: RNN, wrt: str) -> Derivation:
    """A formula valid for every T: Sum/Product for one scalar layer, ordered products otherwise."""
    from .general import general_form

    return general_form(rnn, wrt)


FORM_BUILDERS = {
    "unroll": form_unroll,
    "factors": form_factors,
    "general": form_general,
    "explicit": form_explicit,
    "recursive": form_recursive,
    "expanded": form_expanded,
}


def derive(rnn: RNN, form: str = "explicit", wrt: str = "W", named: bool | None = None) -> Derivation:
    """Build one form of the BPTT gradient of ``rnn`` with respect to ``wrt`` (a parameter name or all).
    ``named``: print scalar factors by name (J_3) instead of written out (explicit and recursive)."""
    if form not in FORM_BUILDERS:
        raise SymbpttError(f"unknown form {form!r}; choose one of {', '.join(FORMS)}")
    targets(rnn, wrt)
    if form in ("explicit", "recursive"):
        return FORM_BUILDERS[form](rnn, wrt, named)
    return FORM_BUILDERS[form](rnn, wrt)
