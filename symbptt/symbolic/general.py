"""The general-T form: a formula valid for every T, built from the same per-step factors and printed in
the same notation as every other form (h_k, h_{k-1}, (h_T − y), J_t, δ_{t-1}).

One scalar vanilla layer: Sum/Product over the steps,
    ∂L/∂w = (h_T − y) Σ_{k=1}^{T} (Π_{j=k+1}^{T} w σ'(a_j)) σ'(a_k) h_{k-1}.
Everything else (matrices, stacked layers, gated cells): the backward recursion for symbolic T — the
definition of every factor of every layer at a generic step t, the terminal condition of every layer's
δ, the recursion δ_{t-1} = Jᵀ_t δ_t + …, the gradients as sums over t — and, for a cell with a path that
is multiplied unit by unit (the LSTM's cell state, the GRU's z-path), that path's product
∂c_T/∂c_k = Π_{j=k+1}^{T} f_j.
"""

from __future__ import annotations

import sympy as sp

from .. import notation
from ..cells import INPUT
from ..model import RNN, split_name
from ..paths import param_entry, targets
from ..printing import latex, text
from ..step import Route, shown_coefficients
from .derivation import Derivation, Equation, Note, grad_label, label, ordered_product, ordered_sum, partial
from .shown import FactorNames, identity_route, route_definitions, route_tag

T_SYM, K, J_IDX, S_IDX = sp.symbols("T k j t", integer=True, positive=True)


def general_form(rnn: RNN, wrt: str) -> Derivation:
    if rnn.spec.elman and rnn.scalar and rnn.layers == 1:
        return general_scalar(rnn, wrt)
    return general_ordered(rnn, wrt)


def _big(kind: type, body: sp.Expr, index: sp.Symbol, low: sp.Expr, high: sp.Expr) -> sp.Expr:
    """Σ or Π of ``body`` as written: SymPy's constructor would fold a piecewise σ' out of the sum, moving
    its condition on a_k outside the Σ over k."""
    made = sp.Expr.__new__(kind, body, sp.Tuple(index, sp.sympify(low), sp.sympify(high)))
    made.is_commutative = body.is_commutative
    return made


def _sum(body: sp.Expr, index: sp.Symbol, low: sp.Expr, high: sp.Expr) -> sp.Expr:
    return _big(sp.Sum, body, index, low, high)


def plus(a: sp.Expr, b: int) -> sp.Expr:
    """a + b printed state-first (k + 1, t - 1), as the other forms write it."""
    return sp.Add._from_args((a, sp.Integer(b)))


def general_scalar(rnn: RNN, wrt: str) -> Derivation:
    """∂L/∂θ = Σ_t (h_t − y_t) Σ_{k≤t} (Π_{j=k+1}^{t} w σ'(a_j)) σ'(a_k) z_k over indexed states."""
    from ..activations import OUTPUT
    from ..safeexpr import A

    act, s = rnn.act, rnn.symbols
    h, a, x, y = (notation.seq(b) for b in ("h", "a", "x", "y"))
    w = s.W(1)[0, 0]

    def sigma_prime(i: sp.Expr) -> sp.Expr:
        return act.dsigma_h.subs(OUTPUT, h(i)) if act.dsigma_h is not None else act.dsigma_plain.subs(A, a(i))

    def jac(lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
        return _big(sp.Product, ordered_product(w, sigma_prime(J_IDX)), J_IDX, lo, hi)

    t_end = S_IDX if rnn.loss == "sum" else T_SYM
    err = notation.OrderedSum._from_args((h(t_end), -(y(t_end) if rnn.loss == "sum" else s.scalar("y", None, None))))
    dhdk = partial(h(T_SYM), h(K))
    eqs = [Equation(dhdk, jac(plus(K, 1), T_SYM))]
    if rnn.act.name == "linear":
        eqs.append(Equation(dhdk, w ** (T_SYM - K)))
    for param, layer in targets(rnn, wrt):
        kind, _, source = param_entry(rnn, param)
        for entry, column in [(e, j) for j, e in enumerate(s.param(param, layer))]:
            if kind == "initial":
                inner = jac(1, t_end)
            else:
                z = {"recurrent": h(plus(K, -1)), "bias": sp.S.One,
                     "input": (x(K) if rnn.m == 1 else notation.seq("x", unit=(column + 1,))(K))}[kind]
                inner = _sum(ordered_product(jac(plus(K, 1), t_end), sigma_prime(K), z), K, 1, t_end)
            body = ordered_product(err, inner)
            rhs = _sum(body, S_IDX, 1, T_SYM) if rnn.loss == "sum" else body
            eqs.append(Equation(grad_label(entry), rhs))
            if rnn.act.name == "linear":
                closed = rhs.replace(sp.Product, lambda *args: sp.Product(*args).doit())
                eqs.append(Equation(grad_label(entry), closed))
    shown = text(sigma_prime(J_IDX))
    notes = [Note(f"valid for every T ≥ 1; σ'(a_j) = {shown}",
                  rf"valid for every $T \geq 1$; $\sigma'(a_j) = {latex(sigma_prime(J_IDX))}$",
                  (r"valid for every $T \geq 1$, where", r"\sigma'(a_j)", sigma_prime(J_IDX)))]
    return Derivation("general-T BPTT gradient", eqs, notes)


class Indexed:
    """The symbols of the ordered general form: step-indexed vectors and factors of one model."""

    def __init__(self, rnn: RNN) -> None:
        self.rnn, self.n = rnn, rnn.n

    def layer_mark(self, layer: int | None) -> int | None:
        return self.rnn.symbols.layer_mark(layer)

    def vector(self, name: str, layer: int | None, index: sp.Expr, size: int | None = None) -> sp.Basic:
        base, tag = split_name(name)
        if self.rnn.scalar:
            return notation.seq(base, tag, self.layer_mark(layer))(index)
        spelled = notation.Parts(base, tag, self.layer_mark(layer)).text()
        return notation.MatSeq(spelled, index, self.n if size is None else size, 1)

    def delta(self, layer: int, index: sp.Expr, state: str) -> sp.Basic:
        tag = state if len(self.rnn.states) > 1 else ""
        if self.rnn.scalar:
            return notation.seq("delta", tag, self.layer_mark(layer))(index)
        return notation.MatSeq(notation.Parts("delta", tag, self.layer_mark(layer)).text(), index, self.n, 1)

    def factor(self, route: Route, layer: int, index: sp.Expr) -> sp.Basic:
        tag = route_tag(self.rnn, route)
        if self.rnn.scalar:
            return notation.seq(route.kind, tag, self.layer_mark(layer))(index)
        cols = 1 if route.kind == "D" and self.rnn.spec.shared(route.source) else self.n  # a shared number's column
        return notation.MatSeq(notation.Parts(route.kind, tag, self.layer_mark(layer)).text(), index, self.n, cols)

    def tr(self, expr: sp.Basic) -> sp.Basic:
        return expr if self.rnn.scalar else expr.T

    def times(self, *factors: sp.Basic) -> sp.Basic:
        return ordered_product(*factors) if self.rnn.scalar else sp.MatMul(*factors, evaluate=False)

    def error(self, index: sp.Expr) -> sp.Basic:
        top = self.rnn.layers
        y_index = index if self.rnn.loss == "sum" else None
        h = self.vector("h", top, index)
        y = self.vector("y", None, y_index) if y_index is not None else (
            self.rnn.symbols.scalar("y", None, None) if self.rnn.scalar else notation.MatrixName("y", self.n, 1))
        if self.rnn.scalar:
            return notation.OrderedSum._from_args((h, -y))
        return sp.MatAdd(h, -y, evaluate=False)


def general_ordered(rnn: RNN, wrt: str) -> Derivation:
    """Matrices, stacked layers, gated cells: definitions, terminal conditions, recursion, sums."""
    g, top, ix = rnn.graph, rnn.layers, Indexed(rnn)
    t, eqs = S_IDX, []
    chosen = targets(rnn, wrt)
    eqs.extend(_carousels(rnn, ix))
    if len(rnn.states) == 1:
        eqs.append(_jacobian_product(rnn, ix))
    for layer in range(top, 0, -1):
        for state in rnn.states:
            eqs.append(Equation(ix.delta(layer, T_SYM, state), _terminal(rnn, ix, layer, state)))
    for layer in range(top, 0, -1):
        for state in rnn.states:
            parts = []
            for route in g.routes:
                if route.kind in ("J", "F") and route.source == state:
                    parts.append(ix.times(ix.tr(ix.factor(route, layer, t)), ix.delta(layer, t, route.target)))
            if state == "h" and layer < top:
                for target in rnn.states:
                    down = g.down(target)
                    if down is not None:
                        before = plus(t, -1)
                        parts.append(ix.times(ix.tr(ix.factor(down, layer + 1, before)),
                                              ix.delta(layer + 1, before, target)))
            if state == "h" and layer == top and rnn.loss == "sum":
                parts.append(ix.error(plus(t, -1)))
            lhs = ix.delta(layer, plus(t, -1), state)
            eqs.append(Equation(lhs, ordered_sum(parts) if parts else sp.S.Zero))
    if any(rnn.spec.kind(param) == "initial" for param, _ in chosen):
        eqs.extend(_initial_deltas(rnn, ix))
    for param, layer in chosen:
        eqs.append(_gradient(rnn, ix, param, layer))
    used = {(r.kind, r.target, r.source) for r in g.routes
            if r.kind != "D" or any(param_entry(rnn, p)[1] == r.source for p, _ in chosen)}
    definitions = []
    for layer in range(top, 0, -1):
        layer_used = {u for u in used if not (u[0] == "V" and layer == 1)}
        definitions.extend(route_definitions(rnn, layer_used, layer))
    notes = [Note("valid for every T ≥ 1; the recursion for δ_(t-1) holds for t = T, …, 2"
                  + (" (δ_0 is written out)" if any(rnn.spec.kind(p) == "initial" for p, _ in chosen) else "")
                  + "; products are ordered, the latest step on the left",
                  r"valid for every $T \geq 1$; the recursion for $\delta_{t-1}$ holds for $t = T, \dots, 2$"
                  + (r" ($\delta_0$ is written out)" if any(rnn.spec.kind(p) == "initial" for p, _ in chosen)
                     else "") + "; products are ordered, the latest step on the left")]
    return Derivation("general-T BPTT gradient (backward recursion)", eqs, notes, definitions)


def _initial_deltas(rnn: RNN, ix: Indexed) -> list[Equation]:
    """δ^(ℓ)_0 = ∂L/∂s^(ℓ)_0: only the routes back through step 1 reach the initial state (no loss term
    and no layer above at step 0)."""
    out = []
    for layer in range(rnn.layers, 0, -1):
        for state in rnn.states:
            parts = [ix.times(ix.tr(ix.factor(route, layer, 1)), ix.delta(layer, 1, route.target))
                     for route in rnn.graph.routes if route.kind in ("J", "F") and route.source == state]
            out.append(Equation(ix.delta(layer, 0, state), ordered_sum(parts) if parts else sp.S.Zero))
    return out


def _terminal(rnn: RNN, ix: Indexed, layer: int, state: str) -> sp.Basic:
    """δ^(ℓ)_T: the loss error at the top, the layer above's δ through Vᵀ below it, 0 for other states."""
    if state != "h":
        return sp.S.Zero if rnn.scalar else sp.ZeroMatrix(rnn.n, 1)
    if layer == rnn.layers:
        return ix.error(T_SYM)
    parts = []
    for target in rnn.states:
        route = rnn.graph.down(target)
        if route is not None:
            parts.append(ix.times(ix.tr(ix.factor(route, layer + 1, T_SYM)), ix.delta(layer + 1, T_SYM, target)))
    return ordered_sum(parts)


def _gradient(rnn: RNN, ix: Indexed, param: str, layer: int) -> Equation:
    kind, leaf, source = param_entry(rnn, param)
    d_param = _param_display(rnn, param, layer)
    if kind == "initial":
        return Equation(grad_label(d_param), ix.delta(layer, 0, leaf))
    t = S_IDX
    terms = []
    for route in rnn.graph.entries(leaf):
        body = [ix.delta(layer, t, route.target)]
        if not identity_route(rnn, route):
            factor = ix.factor(route, layer, t)
            body.insert(0, ix.tr(factor) if rnn.spec.shared(leaf) else factor)
        if kind in ("recurrent", "input") and source is not None:
            if source == INPUT:
                z = ix.vector("x", None, t, rnn.m) if layer == 1 else ix.vector("h", layer - 1, t)
            else:
                z = ix.vector(source, layer, plus(t, -1))
            body.append(ix.tr(z))
        terms.append(ix.times(*body))
    return Equation(grad_label(d_param), _sum(ordered_sum(terms), t, 1, T_SYM))


def _param_display(rnn: RNN, param: str, layer: int) -> sp.Basic:
    return FactorNames(rnn).param(param, layer)


def _jacobian_product(rnn: RNN, ix: Indexed) -> Equation:
    """∂h_T/∂h_k = (J_T + F_T)(J_{T-1} + F_{T-1}) ⋯ (J_{k+1} + F_{k+1}), the latest step on the left."""
    top = rnn.layers
    routes = rnn.graph.back("h")

    def step(index: sp.Expr) -> sp.Basic:
        return ordered_sum([ix.factor(r, top, index) for r in routes])

    lhs = partial(ix.vector("h", top, T_SYM), ix.vector("h", top, K))
    if rnn.scalar:
        return Equation(lhs, ordered_product(step(T_SYM), step(plus(T_SYM, -1)), notation.ScalarDots("dots"),
                                             step(plus(K, 1))))
    dots = notation.Dots("dots", rnn.n, rnn.n)
    return Equation(lhs, sp.MatMul(step(T_SYM), step(plus(T_SYM, -1)), dots, step(plus(K, 1))))


def _carousels(rnn: RNN, ix: Indexed) -> list[Equation]:
    """For each state multiplied unit by unit by one gate (c_t = f_t c_{t-1} + …, h_t = … + z_t h_{t-1}):
    ∂s_T/∂s_k along that path = Π_{j=k+1}^{T} gate_j (elementwise for vectors)."""
    shown, out = shown_coefficients(rnn.graph), []
    top = rnn.layers
    for route in rnn.graph.routes:
        if route.kind != "F" or route.target != route.source:
            continue
        coef = shown[(route.target, f"prev_{route.source}")]
        if not isinstance(coef, sp.Symbol):
            continue
        gate = notation.seq(coef.name, "", ix.layer_mark(top))
        s = route.target
        text = f"∂{s}_T/∂{s}_k along the {s}-path"
        tex = rf"\left.\frac{{\partial {s}_T}}{{\partial {s}_k}}\right|_{{{s}\text{{-path}}}}"
        out.append(Equation(label(text, tex, f"∂{s}_T/∂{s}ₖ along the {s}-path"),
                            _big(sp.Product, gate(J_IDX), J_IDX, plus(K, 1), T_SYM)))
    return out
