"""How the factors are shown: the symbols of a step instantiated from the cell's templates, the factors as
SymPy matrices (``SymbolicFactors``), their printed names J_t, F^hc_t, V_t, D_t (``FactorNames``) and their
definitions at a generic step t, one set per layer."""

from __future__ import annotations

import sympy as sp

from .. import notation
from ..caching import Bounded
from ..cells import INPUT, Cell, prev, unit
from ..model import RNN, Matrix, split_name
from ..paths import Step, param_entry, weight_source
from ..printing import latex
from ..step import Route, shown_coefficients
from ..templates import swap, swap_builder
from .derivation import Equation, Note, TermSum, ordered_product, ordered_sum

# every factor instantiated from a template at some step, with the template and the swap that made it:
# the printers print a template once and swap names (render.FactorCache) instead of printing each step.
# Sized to keep the 20,000 factors of a T = 10⁴ form built whole before it is printed; a streamed form
# at T = 10⁵ holds about 45 MB here at the most.
_TEMPLATES: Bounded[sp.Basic, tuple[sp.Basic, dict[sp.Basic, sp.Basic]]] = Bounded(24576)
# one object per template and step symbols, whichever form or term asks: every parameter's sum builds its
# own factors, and the printers find a factor by the object (an equal copy costs SymPy's structural
# comparison in every lookup: a tenth of printing a long form)
_INSTANCES: Bounded[tuple, sp.Expr] = Bounded(24576)


def template_of(expr: sp.Basic) -> tuple[sp.Basic, dict[sp.Basic, sp.Basic]] | None:
    """(template, mapping) when ``expr`` is a step's factor made from a template here, else None."""
    return _TEMPLATES.get(expr)


class StepSymbols:
    """Template symbols of one unit → the symbols of that unit at (layer, t), built only for the
    symbols a template uses (a tanh factor needs h_t alone)."""

    def __init__(self, rnn: RNN) -> None:
        self.rnn, self.s = rnn, rnn.symbols
        self._symbols: dict[sp.Basic, tuple] = {}
        self._made: dict[tuple, sp.Basic] = {}
        self.kinds = rnn.symbols.unit_kinds

    def symbol(self, kind: tuple[str, str], layer: int, t: int, i: int) -> sp.Basic:
        key = (kind, layer, t, i)
        if key not in self._made:
            self._made[key] = self.s.value_of(kind, layer, t, i)
        return self._made[key]

    def __call__(self, template: sp.Expr, layer: int, t: int, i: int = 0) -> sp.Expr:
        return self.instance(template, layer, t, i)[0]

    def instance(self, template: sp.Expr, layer: int, t: int, i: int = 0
                 ) -> tuple[sp.Expr, dict[sp.Basic, sp.Basic]]:
        """``template`` at (layer, t, unit i) and the swap that made it (template symbol → step symbol)."""
        known = self._symbols.get(template)
        if known is None:  # each template symbol's kind looked up once (SymPy may have made an equal
            # symbol anew since the template was: comparing the two costs far more than hashing strings)
            symbols = tuple(s for s in template.free_symbols if s in self.kinds)
            known = self._symbols[template] = (symbols, swap_builder(template, symbols),
                                               tuple(self.kinds[s] for s in symbols))
        symbols, builder, kinds = known
        values = tuple(self.symbol(kind, layer, t, i) for kind in kinds)
        key = (template, values)
        result = _INSTANCES.get(key)
        if result is None:
            result = _INSTANCES.remember(key, builder(values))
        mapping = dict(zip(symbols, values, strict=True))
        _TEMPLATES.remember(result, (template, mapping))
        return result, mapping

    def weighted(self, generic: sp.Expr, parts: tuple[tuple[sp.Expr, sp.Basic | None], ...], layer: int,
                 t: int) -> sp.Expr:
        """``generic`` = Σ weight·template over ``parts`` (_weighted_sum) at (layer, t), built from each
        template's own instance at the step (so w(1 − h_t²) holds the very 1 − h_t² that V_t is) and kept
        as made from ``generic``, as __call__ keeps its results."""
        made: list[tuple[sp.Expr, sp.Basic | None]] = []
        mapping: dict[sp.Basic, sp.Basic] = {}
        for template, weight in parts:
            value, swapped = self.instance(template, layer, t)
            made.append((value, weight))
            mapping |= swapped
        result = _weighted_sum(tuple(made))
        _TEMPLATES.remember(result, (generic, mapping))
        return result

    def forget(self) -> None:
        """Drop the instantiated symbols (long forms stream step by step and need only recent ones)."""
        self._made.clear()


def _weighted_sum(parts: tuple[tuple[sp.Expr, sp.Basic | None], ...]) -> sp.Expr:
    """Σ weight·value over (value, weight) pairs in the order given (a weight of None: the value alone)."""
    terms = [value if weight is None else ordered_product(weight, value) for value, weight in parts]
    return terms[0] if len(terms) == 1 else TermSum._from_args(tuple(terms))


class SymbolicFactors:
    """The factors as SymPy matrices in the state symbols (what the forms print and the tests check)."""

    def __init__(self, rnn: RNN) -> None:
        self.rnn, self.s, self.graph = rnn, rnn.symbols, rnn.graph
        self.shown = shown_coefficients(rnn.graph)
        self.at = StepSymbols(rnn)
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
                if matrix is None:  # unit by unit: a diagonal, or the column of a number every unit shares
                    part = Matrix(coef) if self.rnn.spec.shared(leaf) else Matrix(sp.diag(*coef))
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
        if kind not in ("recurrent", "input") or source is None:
            return None
        return self.s.source(source, layer, t)

    def zero(self) -> Matrix:
        return Matrix.zeros(self.rnn.n, 1)

    def zero_like(self, param: str, layer: int) -> Matrix:
        return Matrix.zeros(*self.rnn.param_shape(param, layer))


def route_tag(rnn: RNN, route: Route) -> str:
    """The superscript that tells routes apart: J_t (one state) or J^{hc}_t; D^{cf}_t for gated cells."""
    multi = len(rnn.states) > 1
    if route.kind in ("J", "F"):
        return f"{route.target}{route.source}" if multi else ""
    if route.kind == "V":
        return route.target if multi else ""
    leaves = [lin.name for lin in rnn.spec.linears] + list(rnn.spec.unit_params)
    gate = "" if len(leaves) == 1 else route.source.removeprefix("a_").replace("_", "")
    return (route.target if multi else "") + gate


class FactorNames:
    """How factors print: expressions for the scalar vanilla model, named symbols (J_3, D_1) otherwise."""

    def __init__(self, rnn: RNN, named: bool | None = None, bounded: bool = False) -> None:
        self.rnn, self.s, self.values = rnn, rnn.symbols, SymbolicFactors(rnn)
        self.n = rnn.n
        self.named = (not rnn.scalar or not rnn.spec.elman) if named is None else named
        self._shown: dict[Step, sp.Basic] = {}
        self._generic: dict[tuple, sp.Basic] = {}
        self._identity: dict[Route, bool] = {}
        self.bounded = bounded  # streaming a long form: keep only recent factors

    def mat(self, name: str, layer: int | None, t: int | None, rows: int, cols: int) -> sp.Basic:
        """A named vector or matrix (h_3, J^hc_2, W_f) in the notation of notation.py."""
        base, tag = split_name(name)
        return notation.matrix(base, rows, cols, tag=tag, layer=self.s.layer_mark(layer), step=t)

    def factor_parts(self, step: Step) -> tuple[str, str]:
        return step.kind, route_tag(self.rnn, Route(step.kind, step.target, step.source))

    def factor_symbol(self, step: Step) -> sp.Basic:
        base, tag = self.factor_parts(step)
        if self.rnn.scalar:
            return notation.name(base, tag=tag, layer=self.s.layer_mark(step.layer), step=step.t)
        cols = 1 if step.kind == "D" and self.rnn.spec.shared(step.source) else self.n
        return notation.matrix(base, self.n, cols, tag=tag, layer=self.s.layer_mark(step.layer), step=step.t)

    def identity(self, step: Step) -> bool:
        """Whether the step's factor is the identity, which the forms leave out of their products (and so
        define no name for): see ``identity_route``."""
        route = Route(step.kind, step.target, step.source)
        if route not in self._identity:  # asked once per step of every path: once per route suffices
            self._identity[route] = identity_route(self.rnn, route)
        return self._identity[route]

    def applied(self, step: Step, delta: sp.Basic) -> sp.Basic:
        """A D factor applied to δ in the backward pass: D_t δ_t (a diagonal is its own transpose), or
        (D_t)ᵀ δ_t for the column of a number every unit shares; δ_t itself where D_t is the identity."""
        if self.identity(step):
            return delta
        factor = self.factor(step)
        if self.rnn.spec.shared(step.source):
            factor = notation.Transposed(factor)
        return sp.MatMul(factor, delta)

    def factor(self, step: Step) -> sp.Basic:
        """The printed factor: its expression (scalar vanilla model) or its name J_t, V_t, D_t."""
        if self.bounded and len(self._shown) > 4096:  # a long form streams: forget factors and their symbols
            self._shown.clear()
            self.values.at.forget()
        if step not in self._shown:
            self._shown[step] = self.factor_symbol(step) if self.named else self._scalar_factor(step)
        return self._shown[step]

    def _scalar_factor(self, step: Step) -> sp.Basic:
        """The route written out for a scalar model: Σ weight·coefficient, without 1×1 matrices."""
        route = Route(step.kind, step.target, step.source)
        key = (route, step.layer)
        if key not in self._generic:  # the factor with the template symbols, once per route and layer
            parts = tuple((self.values.shown.get((step.target, leaf), sp.S.Zero),
                           None if matrix is None else self.s.param(matrix, step.layer)[0, 0])
                          for leaf, matrix in self.rnn.graph.terms(route))
            self._generic[key] = (_weighted_sum(parts), parts)
        generic, parts = self._generic[key]
        return self.values.at.weighted(generic, parts, step.layer, step.t)

    def h(self, layer: int, t: int) -> sp.Basic:
        return self.s.scalar("h", layer, t) if self.rnn.scalar else self.mat("h", layer, t, self.n, 1)

    def error(self, t: int) -> sp.Basic:
        """h_t − y (the state first), a scalar or a vector."""
        y_step = t if self.rnn.loss == "sum" else None
        if self.rnn.scalar:
            return self.s.scalar("h", self.rnn.layers, t) - self.s.scalar("y", None, y_step)
        return sp.MatAdd(self.h(self.rnn.layers, t), -self.mat("y", None, y_step, self.n, 1), evaluate=False)

    def z_entry(self, param: str, layer: int, t: int, column: int) -> sp.Basic:
        """Entry ``column`` of z_t for the scalar model: the previous state, x_t or the layer below."""
        source = weight_source(self.rnn, param)
        if source != INPUT:
            return self.s.scalar(source, layer, t - 1)
        if layer > 1:
            return self.s.scalar("h", layer - 1, t)
        return self.s.scalar("x", None, t, None if self.rnn.m == 1 else column + 1)

    def z(self, param: str, layer: int, t: int) -> sp.Basic:
        source = weight_source(self.rnn, param)
        if source != INPUT:
            return self.s.scalar(source, layer, t - 1) if self.rnn.scalar else self.mat(source, layer, t - 1,
                                                                                         self.n, 1)
        if layer > 1:
            return self.h(layer - 1, t)
        if self.rnn.scalar and self.rnn.m == 1:
            return self.s.x(t)[0, 0]
        return self.mat("x", None, t, self.rnn.m, 1)

    def delta(self, layer: int, t: int, state: str = "h") -> sp.Basic:
        tag = "" if len(self.rnn.states) == 1 else state
        if self.rnn.scalar:
            return notation.name("delta", tag=tag, layer=self.s.layer_mark(layer), step=t)
        return notation.matrix("delta", self.n, 1, tag=tag, layer=self.s.layer_mark(layer), step=t)

    def param(self, name: str, layer: int) -> sp.Basic:
        value = self.s.param(name, layer)
        if value.shape == (1, 1):
            return value[0, 0]
        if self.rnn.spec.kind(name) == "initial":
            return self.mat(name[:-1], layer, 0, self.n, 1)
        base, tag = split_name(name)
        return notation.param_matrix(base, *value.shape, tag=tag, layer=self.s.layer_mark(layer))


DIAG = sp.Function("diag")


def identity_route(rnn: RNN, route: Route) -> bool:
    """A matrix model's D route whose one term is diag(1) (σ' ≡ 1 of a linear activation; the LRU's input
    path, h' = λ ⊙ h + U x): the identity, which the forms leave out of their products rather than print a
    factor D_t = diag(1) that reads as a 1 × 1 matrix.  (A scalar model's factor of 1 drops out of its
    product anyway; a number every unit shares has a column, not a diagonal.)"""
    if rnn.scalar or route.kind != "D" or rnn.spec.shared(route.source):
        return False
    terms = list(rnn.graph.terms(route))
    return (len(terms) == 1 and terms[0][1] is None
            and shown_coefficients(rnn.graph).get((route.target, terms[0][0])) == 1)


def generic_step_names(rnn: RNN, layer: int | None = None) -> dict[sp.Symbol, sp.Symbol]:
    """Template symbols of one unit → the symbols at a generic step t (h_t, c_(t-1), a^f_t, x_t) of
    ``layer`` (its superscript shown when the model has several layers)."""
    lay = rnn.symbols.layer_mark(layer)
    at: dict[sp.Symbol, sp.Symbol] = {}
    for name, _ in rnn.spec.nodes:
        at[unit(name)] = notation.name(name, step="t", layer=lay)
    for s in rnn.states:
        at[prev(s)] = notation.name(s, step="t-1", layer=lay)
    for lin in rnn.spec.linears:
        base, tag = split_name(lin.name)
        at[unit(lin.name)] = notation.name(base, tag=tag, step="t", layer=lay)
    below = rnn.symbols.layer_mark(layer - 1) if layer and layer > 1 else None
    at[unit(INPUT)] = notation.name("h", step="t", layer=below) if layer and layer > 1 else notation.name("x", step="t")
    for p in rnn.spec.scalar_params:
        at[unit(p)] = rnn.symbols.param(p, layer or 1)[0]
    for p in rnn.spec.vector_params:  # the per-unit parameter as a vector (w), as the states are written
        base, tag = split_name(p)
        at[unit(p)] = notation.param_name(base, tag=tag, layer=rnn.symbols.layer_mark(layer or 1))
    return at


def route_definitions(rnn: RNN, steps: set[tuple[str, str, str]], layer: int | None = None) -> list[Equation]:
    """Definitions of the named factors used, at a generic step t, e.g. J_t = diag(1 − h_t²)·W
    (scalar models: J_t = w·(1 − h_t²)); one per route kind, target and source in ``steps``; with
    ``layer`` the factors and symbols of that layer (J^(2)_t = diag(1 − h^(2)_t²)·W^(2))."""
    shown, at, out = shown_coefficients(rnn.graph), generic_step_names(rnn, layer), []
    lay = rnn.symbols.layer_mark(layer)
    for route in rnn.graph.routes:
        if (route.kind, route.target, route.source) not in steps or identity_route(rnn, route):
            continue  # (an identity is left out of the products it would stand in)
        tag = route_tag(rnn, route)
        terms = []
        for leaf, matrix in rnn.graph.terms(route):
            coef = swap(shown[(route.target, leaf)], at)
            if rnn.scalar:
                weight = rnn.symbols.param(matrix, layer or 1)[0] if matrix else None
                terms.append(coef if weight is None else ordered_product(weight, coef))
            elif route.kind == "D" and rnn.spec.shared(leaf):  # a column: the shared number's effect per unit
                terms.append(coef)
            else:
                base, mtag = split_name(matrix) if matrix else ("", "")
                diag = DIAG(coef)
                weight = notation.param_matrix(base, rnn.n, rnn.n, tag=mtag, layer=lay) if matrix else None
                if not matrix:
                    terms.append(diag)
                else:  # diag(1)·U is U: the LRU's input path, a layer below
                    terms.append(weight if coef == 1 else sp.MatMul(diag, weight, evaluate=False))
        cols = 1 if route.kind == "D" and rnn.spec.shared(route.source) else rnn.n
        lhs = (notation.name(route.kind, tag=tag, step="t", layer=lay) if rnn.scalar
               else notation.matrix(route.kind, rnn.n, cols, tag=tag, step="t", layer=lay))
        out.append(Equation(lhs, ordered_sum(terms) if not rnn.scalar or len(terms) > 1 else terms[0]))
    return out


def layered_definitions(rnn: RNN, used: set[tuple[int, str, str, str]]) -> list[Equation]:
    """The definitions of the named factors used, given as (layer, kind, target, source): one set for a
    single layer, otherwise one set per layer, top layer first, each with that layer's parameters,
    states and input (J^(2)_t = w^(2)·(1 − (h^(2)_t)²), the input of layer ℓ > 1 being h^(ℓ−1)_t)."""
    if rnn.layers == 1:
        return route_definitions(rnn, {u[1:] for u in used})
    out: list[Equation] = []
    for layer in range(rnn.layers, 0, -1):
        out.extend(route_definitions(rnn, {u[1:] for u in used if u[0] == layer}, layer))
    return out


def _used_routes(derivation_steps: set[Step]) -> set[tuple[int, str, str, str]]:
    return {(s.layer, s.kind, s.target, s.source) for s in derivation_steps}


def in_series(items: list[str]) -> str:
    """Items as a sentence lists them: 'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def weights_on_path(cell: Cell) -> list[str]:
    """The scalar parameters a step multiplies a value carried from the previous state by, read off the
    cell's nodes: a product (or power) with the parameter in one factor and, in another, the previous state
    or a node computed from it (the MGU's w_f in w_f·h_{t−1}, w_n in w_n·(f·h_{t−1})); a parameter that only
    shifts such a value (a bias) is not one."""
    carried = {prev(state) for state in cell.states}
    weights = {unit(p): p for p in cell.scalar_params}
    found: set[str] = set()
    for name, expr in cell.nodes:
        for node in sp.preorder_traversal(expr):
            if isinstance(node, (sp.Mul, sp.Pow)):
                args = node.args
                for i, factor in enumerate(args):
                    rest = args[:i] + args[i + 1:]
                    if any(r.free_symbols & carried for r in rest):
                        found |= {weights[sym] for sym in factor.free_symbols if sym in weights}
        if expr.free_symbols & carried:
            carried.add(unit(name))
    return [p for p in cell.scalar_params if p in found]


def route_words(rnn: RNN) -> tuple[str, str]:
    """What the route names mean for this cell, in words (text, LaTeX), read off its routes: J through the
    weights and F unit by unit (only those it has), superscripts for several states, D with its gate."""
    kinds = {route.kind for route in rnn.graph.routes}
    multi = len(rnn.states) > 1
    s, s_tex = ("s", "s") if multi else (rnn.states[0], rnn.states[0])
    parts, tex = [], []
    if "J" in kinds and "F" in kinds:
        parts.append(f"∂{s}_t/∂{s}_(t-1) = J_t + F_t: J through the weights, F unit by unit")
        tex.append(rf"$\partial {s_tex}_t/\partial {s_tex}_{{t-1}} = J_t + F_t$: $J$ through the weights, $F$ unit "
                   "by unit")
    elif "F" in kinds:
        back = [rnn.graph.coefficient(r.target, f"prev_{r.source}") for r in rnn.graph.routes if r.kind == "F"]
        own = [p for p in rnn.spec.vector_params if any(unit(p) in c.free_symbols for c in back)]
        if own:  # IndRNN's w, the LRU's ν: a weight per unit, no matrix
            names = [notation.param_name(split_name(p)[0], tag=split_name(p)[1]) for p in own]
            parts.append(f"∂{s}_t/∂{s}_(t-1) = F_t, unit by unit: each unit's path back goes through its own entry "
                         f"of {', '.join(map(str, names))}, not through a weight matrix")
            tex.append(rf"$\partial {s_tex}_t/\partial {s_tex}_{{t-1}} = F_t$, unit by unit: each unit's path back "
                       rf"goes through its own entry of ${', '.join(latex(n) for n in names)}$, not through a "
                       "weight matrix")
        elif weights := weights_on_path(rnn.spec):  # a scalar cell's numbers that multiply the old state
            names = [notation.param_name(split_name(p)[0], tag=split_name(p)[1]) for p in weights]
            what = "a number" if len(names) == 1 else "numbers"
            parts.append(f"∂{s}_t/∂{s}_(t-1) = F_t, unit by unit: the path back goes through "
                         f"{in_series([str(n) for n in names])}, {what}, not a weight matrix")
            tex.append(rf"$\partial {s_tex}_t/\partial {s_tex}_{{t-1}} = F_t$, unit by unit: the path back goes "
                       rf"through {in_series([f'${latex(n)}$' for n in names])}, {what}, not a weight matrix")
        else:
            parts.append(f"∂{s}_t/∂{s}_(t-1) = F_t, unit by unit: no path back goes through a weight")
            tex.append(rf"$\partial {s_tex}_t/\partial {s_tex}_{{t-1}} = F_t$, unit by unit: no path back goes "
                       "through a weight")
    if multi:
        parts.append("superscripts name the new and the old state")
        tex.append("superscripts name the new and the old state")
    linears = [lin.name for lin in rnn.spec.linears]
    gated = [route for route in rnn.graph.routes if route.kind == "D" and route_tag(rnn, route)
             and len(linears) > 1 and route.source in linears]
    if gated:
        route = gated[0]
        tag, gate = route_tag(rnn, route), route.source.removeprefix("a_").replace("_", "")
        parts.append(f"D^{tag}_t = ∂{route.target}_t/∂a^{gate}_t carries the gate it enters")
        tex.append(rf"$D^{{{tag}}}_t = \partial {route.target}_t/\partial a^{{{gate}}}_t$ carries the gate it enters")
    return "; ".join(parts), "; ".join(tex)


def _named_notes(rnn: RNN) -> list[Note]:
    notes = []
    if rnn.layers > 1:
        notes.append(Note("each layer ℓ has its own factors, written with a superscript (ℓ)",
                          r"each layer $\ell$ has its own factors, written with a superscript $(\ell)$"))
    text, tex = route_words(rnn)  # nothing to say for the vanilla cell: one J, one D
    if text:
        notes.append(Note(text, tex))
    return notes


def _scalar_entries(rnn: RNN, param: str, layer: int) -> list[tuple[sp.Basic, int]]:
    """(entry symbol, column) of a scalar model's parameter: one entry, except u_j when m > 1."""
    value = rnn.symbols.param(param, layer)
    return [(value[0, j], j) for j in range(value.shape[1])]


def _has_z(rnn: RNN, param: str) -> bool:
    return rnn.spec.kind(param) in ("recurrent", "input")


def carried_paths(rnn: RNN, layer: int | None = None) -> list[tuple[str, sp.Expr]]:
    """For each state that its own step multiplies unit by unit (a route F^{ss}: the LSTM's c by f_t, the
    GRU's h by z_t, minGRU's h by 1 − z_t): the state and that coefficient at a generic step t, in the
    symbols of the printed forms — of ``layer``, its superscripts shown, where the model has several (its
    parameters, and h^(ℓ−1)_t in place of x_t).  Read off the cell's step, so it holds for any cell."""
    shown, at, out = shown_coefficients(rnn.graph), generic_step_names(rnn, layer), []
    for route in rnn.graph.routes:
        if route.kind == "F" and route.target == route.source:
            out.append((route.target, swap(shown[(route.target, f"prev_{route.source}")], at)))
    return out


def only_carried(rnn: RNN) -> bool:
    """Whether every path back in time is a state's own unit-by-unit path (no route J through a weight
    matrix, no route F from one state to another): then ∂s_t/∂s_k is exactly the product of
    ``carried_paths``' coefficients."""
    return all(route.kind == "F" and route.target == route.source for route in rnn.graph.routes
               if route.kind in ("J", "F"))
