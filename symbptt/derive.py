"""Symbolic BPTT forms built from the per-step factors, never by ``sympy.diff`` of the unrolled loss.

Forms (each a list of equations lhs = rhs):
    unroll     the forward equations h_t = σ(W h_{t-1} + U x_t + b) and the loss
    factors    J_t = ∂h_t/∂h_{t-1} = diag(σ'(a_t))·W  and the immediate partials ∂⁺h_t/∂θ
    general    a formula for symbolic T (Sum/Product for the scalar model, ordered products otherwise)
    explicit   Σ_k (h_T − y)·J_T ⋯ J_{k+1}·∂⁺h_k/∂θ for the given T, every factor in time order
    recursive  δ_T = h_T − y,  δ_{t-1} = J_tᵀ δ_t (+ h_{t-1} − y_{t-1}),  ∂L/∂θ = Σ_t (…)
    expanded   the gradient substituted down to parameters and inputs (small T only)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import sympy as sp

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
    targets,
)

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


class SymbolicFactors:
    """The factors as SymPy matrices in the state symbols h_t, a_t (what the forms print and check)."""

    def __init__(self, rnn: RNN) -> None:
        self.rnn, self.s = rnn, rnn.symbols
        self._factors: dict[Step, Matrix] = {}

    def sigma_prime(self, layer: int, t: int) -> Matrix:
        """σ'(a^(ℓ)_t) entrywise, written in h_t where the activation allows."""
        act = self.rnn.act
        return Matrix([act.dsigma_at(a, h) for a, h in zip(self.s.a(layer, t), self.s.h(layer, t), strict=True)])

    def factor(self, step: Step) -> Matrix:
        """D_t = diag(σ'(a_t)), J_t = D_t·W, V_t = D_t·U (memoised: each appears in many terms)."""
        if step not in self._factors:
            d = self.sigma_prime(step.layer, step.t)
            if step.kind == "D":
                value = Matrix(sp.diag(*d))
            else:
                right = self.s.W(step.layer) if step.kind == "J" else self.s.U(step.layer)
                value = Matrix([[d[i] * right[i, j] for j in range(right.cols)] for i in range(right.rows)])
            self._factors[step] = value
        return self._factors[step]

    def error(self, t: int) -> Matrix:
        return self.s.h(self.rnn.layers, t) - self.s.y(t)

    def z(self, param: str, layer: int, t: int) -> Matrix:
        return self.s.h(layer, t - 1) if param == "W" else self.s.inp(layer, t)


class Display:
    """How factors print: expressions for the scalar model, named matrix symbols (J_3, D_1) otherwise."""

    def __init__(self, rnn: RNN) -> None:
        self.rnn, self.s, self.values = rnn, rnn.symbols, SymbolicFactors(rnn)
        self.n = rnn.n
        self._shown: dict[Step, sp.Basic] = {}

    def mat(self, base: str, layer: int | None, t: int | None, rows: int, cols: int) -> sp.MatrixSymbol:
        sup = self.s.sup(layer) if layer is not None else ""
        step = f"_{t}" if t is not None else ""
        return sp.MatrixSymbol(f"{base}{sup}{step}", rows, cols)

    def factor(self, step: Step) -> sp.Basic:
        """The printed factor: its expression (scalar model) or its name J_t, V_t, D_t (matrices)."""
        if step not in self._shown:
            if self.rnn.scalar:
                self._shown[step] = self._scalar_factor(step)
            else:
                self._shown[step] = self.mat(step.kind, step.layer, step.t, self.n, self.n)
        return self._shown[step]

    def _scalar_factor(self, step: Step) -> sp.Basic:
        """σ'(a_t), w·σ'(a_t) or u·σ'(a_t) for the scalar model, without building 1×1 matrices."""
        d = self.rnn.act.dsigma_at(self.s.scalar("a", step.layer, step.t), self.s.scalar("h", step.layer, step.t))
        if step.kind == "D":
            return d
        weight = (self.s.W if step.kind == "J" else self.s.U)(step.layer)[0, 0]
        return _mul(weight, d)

    def h(self, layer: int, t: int) -> sp.Basic:
        return self.s.scalar("h", layer, t) if self.rnn.scalar else self.mat("h", layer, t, self.n, 1)

    def error(self, t: int) -> sp.Basic:
        y_step = t if self.rnn.loss == "sum" else None
        if self.rnn.scalar:
            return self.s.scalar("h", self.rnn.layers, t) - self.s.scalar("y", None, y_step)
        del y_step
        return self.mat("e", None, t, self.n, 1)

    def z_entry(self, param: str, layer: int, t: int, column: int) -> sp.Basic:
        """Entry ``column`` of z_t for the scalar model: h_{t-1} (W), x_t or the layer below (U)."""
        if param == "W":
            return self.s.scalar("h", layer, t - 1)
        if layer > 1:
            return self.s.scalar("h", layer - 1, t)
        return self.s.scalar("x", None, t) if self.rnn.m == 1 else self.s.x(t)[column, 0]

    def z(self, param: str, layer: int, t: int) -> sp.Basic:
        if param == "W":
            return self.h(layer, t - 1)
        if layer > 1:
            return self.h(layer - 1, t)
        return self.s.x(t)[0, 0] if self.rnn.scalar and self.rnn.m == 1 else self.mat("x", None, t, self.rnn.m, 1)

    def delta(self, layer: int, t: int) -> sp.Basic:
        if self.rnn.scalar:
            return self.s.scalar("delta", layer, t)
        return self.mat("delta", layer, t, self.n, 1)

    def param(self, name: str, layer: int) -> sp.Basic:
        value = self.s.param(name, layer)
        if value.shape == (1, 1):
            return value[0, 0]
        if name == "h0":
            return self.mat("h", layer, 0, self.n, 1)
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
    if len(terms) == 1:
        return terms[0]
    if any(isinstance(t, sp.MatrixExpr) for t in terms):
        return MatTermSum(*terms, evaluate=False)
    return TermSum._from_args(tuple(terms))


def _scalar_entries(rnn: RNN, param: str, layer: int) -> list[tuple[sp.Basic, int]]:
    """(entry symbol, column) of a scalar model's parameter: one entry, except u_j when m > 1."""
    value = rnn.symbols.param(param, layer)
    return [(value[0, j], j) for j in range(value.shape[1])]


def explicit_term_display(d: Display, term: Term, param: str, layer: int, column: int = 0) -> sp.Basic:
    """One summand: (h_s − y)·J_s ⋯ J_{k+1}·σ'(a_k)·z_k, factors left to right in time order."""
    chain = [d.factor(step) for step in term.chain]
    if d.rnn.scalar:
        z = [] if param in ("b", "h0") else [d.z_entry(param, layer, term.entry, column)]
        return _mul(d.error(term.loss_step), *chain, *z)
    row = sp.MatMul(sp.Transpose(d.error(term.loss_step)), *chain)
    if param in ("b", "h0"):
        return sp.Transpose(row)
    return sp.MatMul(sp.Transpose(row), sp.Transpose(d.z(param, layer, term.entry)))


def form_explicit(rnn: RNN, wrt: str) -> Derivation:
    chosen = targets(rnn, wrt)
    check_explicit_size(rnn, chosen)
    d, eqs = Display(rnn), []
    for param, layer in chosen:
        terms = list(explicit_terms(rnn, param, layer))
        if rnn.scalar:
            for entry, column in _scalar_entries(rnn, param, layer):
                rhs = _add([explicit_term_display(d, t, param, layer, column) for t in terms])
                eqs.append(Equation(grad_label(entry), rhs))
        else:
            rhs = _add([explicit_term_display(d, t, param, layer) for t in terms])
            eqs.append(Equation(grad_label(d.param(param, layer)), rhs))
    notes = [] if rnn.scalar else [_factor_note(rnn)]
    return Derivation(f"explicit BPTT gradient, T = {rnn.T}", eqs, notes)


def _factor_note(rnn: RNN) -> str:
    y = "y_t" if rnn.loss == "sum" else "y"
    text = f"where e_t = h_t - {y}, J_t = diag(σ'(a_t))·W, D_t = diag(σ'(a_t))"
    if rnn.layers > 1:
        text += ", V^(ℓ)_t = diag(σ'(a^(ℓ)_t))·U^(ℓ)"
    return text + f", σ'(a_t) = {_sigma_prime_text(rnn)}"


def _sigma_prime_text(rnn: RNN) -> str:
    act = rnn.act
    from .activations import H
    from .safeexpr import A

    if act.dsigma_h is not None:
        return sp.sstr(act.dsigma_h.subs(H, sp.Symbol("h_t")))
    return sp.sstr(act.dsigma.subs(A, sp.Symbol("a_t")))


def _delta_part_display(d: Display, part: DeltaPart) -> sp.Basic:
    if part.kind == "E":
        return d.error(part.t)
    factor = d.factor(Step(part.kind, part.layer, part.t))
    delta = d.delta(part.layer, part.t)
    if d.rnn.scalar:
        return _mul(factor, delta)
    return sp.MatMul(sp.Transpose(factor), delta)


def _recursive_gradient(d: Display, param: str, layer: int, column: int = 0) -> sp.Basic:
    """∂L/∂θ = Σ_t σ'(a_t)·z_t·δ_t (scalar) or Σ_t D_t δ_t z_tᵀ (matrix)."""
    if param == "h0":
        return d.delta(layer, 0)
    terms = []
    for t in range(1, d.rnn.T + 1):
        step = Step("D", layer, t)
        if d.rnn.scalar:
            z = [] if param == "b" else [d.z_entry(param, layer, t, column)]
            terms.append(_mul(d.factor(step), *z, d.delta(layer, t)))
        else:
            da = sp.MatMul(d.factor(step), d.delta(layer, t))
            terms.append(da if param == "b" else sp.MatMul(da, sp.Transpose(d.z(param, layer, t))))
    return _add(terms)


def form_recursive(rnn: RNN, wrt: str) -> Derivation:
    d, eqs = Display(rnn), []
    chosen = targets(rnn, wrt)
    needs_zero = {layer for param, layer in chosen if param == "h0"}
    for (layer, t), parts in delta_recursion(rnn):
        if t == 0 and layer not in needs_zero:
            continue
        eqs.append(Equation(d.delta(layer, t), _add([_delta_part_display(d, p) for p in parts])))
    for param, layer in chosen:
        if rnn.scalar:
            for entry, column in _scalar_entries(rnn, param, layer):
                eqs.append(Equation(grad_label(entry), _recursive_gradient(d, param, layer, column)))
        else:
            eqs.append(Equation(grad_label(d.param(param, layer)), _recursive_gradient(d, param, layer)))
    notes = [] if rnn.scalar else [_factor_note(rnn)]
    return Derivation(f"recursive BPTT (backward pass), T = {rnn.T}", eqs, notes)


def form_unroll(rnn: RNN, wrt: str) -> Derivation:
    eqs = []
    for lhs, rhs in unrolled_equations(rnn):
        eqs.append(Equation(lhs[0, 0], rhs[0, 0]) if rnn.scalar else Equation(lhs, rhs))
    eqs.append(Equation(sp.Symbol("L"), loss_in_states(rnn)))
    return Derivation(f"unrolled forward pass, T = {rnn.T}", eqs, [])


def form_factors(rnn: RNN, wrt: str) -> Derivation:
    """J_t (and V_t between layers) for every step, then the immediate partials ∂⁺h_t/∂θ."""
    values, eqs = SymbolicFactors(rnn), []
    kinds = ["J"] + (["V"] if rnn.layers > 1 else [])
    for t in range(1, rnn.T + 1):
        for layer in range(rnn.layers, 0, -1):
            for kind in kinds if layer > 1 else ["J"]:
                value = values.factor(Step(kind, layer, t))
                name = f"{kind}{rnn.symbols.sup(layer)}_{t}"
                eqs.append(Equation(sp.Symbol(name), value[0, 0] if rnn.scalar else value))
    for param, layer in targets(rnn, wrt):
        if param == "h0":
            continue
        for t in range(1, rnn.T + 1):
            eqs.extend(_immediate_partials(rnn, values, param, layer, t))
    notes = ["J_t = ∂h_t/∂h_{t-1} = diag(σ'(a_t))·W: row i is scaled by σ'(a_t,i) (not W·diag(σ'))"]
    return Derivation(f"chain-rule factors, T = {rnn.T}", eqs, notes)


def _immediate_partials(rnn: RNN, values: SymbolicFactors, param: str, layer: int, t: int) -> list[Equation]:
    """∂⁺h_t/∂θ: the derivative of h_t with h_{t-1} held fixed (σ'(a_t)·z_t)."""
    d = values.factor(Step("D", layer, t))
    h_name = f"h{rnn.symbols.sup(layer)}_{t}"
    if rnn.scalar:
        out = []
        for entry, column in _scalar_entries(rnn, param, layer):
            z = sp.S.One if param == "b" else values.z(param, layer, t)[column, 0]
            tex = rf"\frac{{\partial^+ {_tex_sym(h_name)}}}{{\partial {sp.latex(entry)}}}"
            lhs = label(f"∂⁺{h_name}/∂{entry}", tex)
            out.append(Equation(lhs, _mul(d[0, 0], z)))
        return out
    if param == "b":
        lhs = label(f"∂⁺{h_name}/∂b", rf"\frac{{\partial^+ {_tex_sym(h_name)}}}{{\partial b}}")
        return [Equation(lhs, d)]
    sigma_prime, z = values.sigma_prime(layer, t), values.z(param, layer, t)
    lhs = label(
        f"∂⁺{h_name},i/∂{param}_ij",
        rf"\frac{{\partial^+ {_tex_sym(h_name)},i}}{{\partial {param}_{{ij}}}}",
    )
    return [Equation(lhs, Matrix(sigma_prime * z.T))]


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
        if rnn.scalar:  # the explicit sum, every factor written in parameters and inputs
            terms = list(explicit_terms(rnn, param, layer))
            for entry, column in _scalar_entries(rnn, param, layer):
                shown = [explicit_term_display(d, t, param, layer, column) for t in terms]
                expanded = [_mul(*[f.xreplace(subs) for f in factors_of_term(t)]) for t in shown]
                eqs.append(Equation(grad_label(entry), _add(expanded)))
        else:
            grad = evaluate_recursive(rnn, param, layer, values).xreplace(subs)
            eqs.append(Equation(grad_label(d.param(param, layer)), grad))
    return Derivation(f"gradient expanded down to parameters and inputs, T = {rnn.T}", eqs, [])


def factors_of_term(term: sp.Basic) -> tuple[sp.Basic, ...]:
    return term.args if isinstance(term, sp.Mul) else (term,)


def form_general(rnn: RNN, wrt: str) -> Derivation:
    """A formula valid for every T: Sum/Product for one scalar layer, ordered products otherwise."""
    if rnn.scalar and rnn.layers == 1:
        return general_scalar(rnn, wrt)
    return general_ordered(rnn, wrt)


T_SYM, K, J_IDX, S_IDX = sp.symbols("T k j t", integer=True, positive=True)


def general_scalar(rnn: RNN, wrt: str) -> Derivation:
    """∂L/∂θ = Σ_t (h_t − y_t) Σ_{k≤t} (Π_{j=k+1}^{t} w σ'_j) σ'_k z_k over indexed h_j, symbolic T."""
    from .activations import H
    from .safeexpr import A

    act, s = rnn.act, rnn.symbols
    h, a, x, y = (sp.IndexedBase(name, real=True) for name in ("h", "a", "x", "y"))
    w = s.W(1)[0, 0]

    def sigma_prime(i: sp.Expr) -> sp.Expr:
        return act.dsigma_h.subs(H, h[i]) if act.dsigma_h is not None else act.dsigma.subs(A, a[i])

    def jac(lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
        return sp.Product(w * sigma_prime(J_IDX), (J_IDX, lo, hi))

    z = {"W": h[K - 1], "U": x[K], "b": sp.Integer(1)}
    t_end = S_IDX if rnn.loss == "sum" else T_SYM
    err = h[t_end] - (y[t_end] if rnn.loss == "sum" else sp.Symbol("y", real=True))
    eqs = [Equation(label("∂h_T/∂h_k", r"\frac{\partial h_T}{\partial h_k}"), jac(K + 1, T_SYM))]
    if rnn.act.name == "linear":
        eqs.append(Equation(label("∂h_T/∂h_k ", r"\frac{\partial h_T}{\partial h_k}"), jac(K + 1, T_SYM).doit()))
    for param, layer in targets(rnn, wrt):
        entry = s.param(param, layer)[0, 0]
        if param == "h0":
            inner = jac(1, t_end)
        else:
            inner = sp.Sum(jac(K + 1, t_end) * sigma_prime(K) * z[param], (K, 1, t_end))
        rhs = sp.Sum(err * inner, (S_IDX, 1, T_SYM)) if rnn.loss == "sum" else err * inner
        eqs.append(Equation(grad_label(entry), rhs))
        if rnn.act.name == "linear":
            eqs.append(Equation(grad_label(entry), rhs.replace(sp.Product, lambda *args: sp.Product(*args).doit())))
    notes = [f"σ'(a_j) = {sp.sstr(sigma_prime(J_IDX))}; valid for every T ≥ 1"]
    return Derivation("general-T BPTT gradient", eqs, notes)


def general_ordered(rnn: RNN, wrt: str) -> Derivation:
    """Matrices or stacked layers: the recursion and sums for symbolic T, products written in time order."""
    sup, n, top = rnn.symbols.sup, sp.Symbol("n", integer=True, positive=True), rnn.layers

    def vec(name: str) -> sp.MatrixSymbol:
        return sp.MatrixSymbol(name, n, 1)

    def mat(name: str) -> sp.MatrixSymbol:
        return sp.MatrixSymbol(name, n, n)

    eqs = [Equation(mat(f"J{sup(1)}_t"), sp.MatMul(mat(f"D{sup(1)}_t"), mat(f"W{sup(1)}")))]
    chain = [mat("J_T"), mat("J_{T-1}"), mat("⋯"), mat("J_{k+1}")]
    eqs.append(Equation(label("∂h_T/∂h_k", r"\frac{\partial h_T}{\partial h_k}"), sp.MatMul(*chain)))
    y_last = "y_T" if rnn.loss == "sum" else "y"
    eqs.append(Equation(vec(f"delta{sup(top)}_T"), sp.MatAdd(vec("h_T"), -vec(y_last), evaluate=False)))
    for layer in range(top, 0, -1):
        parts = [sp.MatMul(sp.Transpose(mat(f"J{sup(layer)}_t")), vec(f"delta{sup(layer)}_t"))]
        if layer < top:
            factor = sp.Transpose(mat(f"V{sup(layer + 1)}_{{t-1}}"))
            parts.append(sp.MatMul(factor, vec(f"delta{sup(layer + 1)}_{{t-1}}")))
        if layer == top and rnn.loss == "sum":
            parts.extend([vec("h_{t-1}"), -vec("y_{t-1}")])
        eqs.append(Equation(vec(f"delta{sup(layer)}_{{t-1}}"), sp.MatAdd(*parts, evaluate=False)))
    t = S_IDX
    for param, layer in targets(rnn, wrt):
        lhs = grad_label(Display(rnn).param(param, layer))
        if param == "h0":
            eqs.append(Equation(lhs, vec(f"delta{sup(layer)}_0")))
            continue
        body = [mat(f"D{sup(layer)}_t"), vec(f"delta{sup(layer)}_t")]
        if param == "W":
            body.append(sp.Transpose(vec(f"h{sup(layer)}_{{t-1}}")))
        elif param == "U":
            below = vec(f"h{sup(layer - 1)}_t") if layer > 1 else sp.MatrixSymbol("x_t", sp.Symbol("m"), 1)
            body.append(sp.Transpose(below))
        eqs.append(Equation(lhs, sp.Sum(sp.MatMul(*body), (t, 1, T_SYM))))
    notes = ["products are ordered: the latest step stands on the left (J_T ⋯ J_{k+1})",
             "D_t = diag(σ'(a_t)); valid for every T ≥ 1"]
    return Derivation("general-T BPTT gradient (ordered matrix products)", eqs, notes)


FORM_BUILDERS = {
    "unroll": form_unroll,
    "factors": form_factors,
    "general": form_general,
    "explicit": form_explicit,
    "recursive": form_recursive,
    "expanded": form_expanded,
}


def derive(rnn: RNN, form: str = "explicit", wrt: str = "W") -> Derivation:
    """Build one form of the BPTT gradient of ``rnn`` with respect to ``wrt`` (W, U, b, h0 or all)."""
    if form not in FORM_BUILDERS:
        raise SymbpttError(f"unknown form {form!r}; choose one of {', '.join(FORMS)}")
    targets(rnn, wrt)
    return FORM_BUILDERS[form](rnn, wrt)
