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

from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import NamedTuple

import sympy as sp

from . import notation
from . import primitives as P
from .cells import INPUT, prev, unit
from .errors import SymbpttError
from .model import RNN, Matrix, loss_in_states, nested_states, split_name, unrolled_equations
from .paths import (
    DeltaPart,
    Step,
    Term,
    check_explicit_size,
    default_wrt,
    delta_recursion,
    evaluate_recursive,
    explicit_terms,
    param_entry,
    targets,
    weight_source,
)
from .step import Route, StepGraph

FORMS = ("unroll", "factors", "general", "explicit", "recursive", "expanded")
TEX_NAMES: dict[sp.Symbol, str] = {}


class Equation(NamedTuple):
    """lhs = rhs, both SymPy expressions in the notation's symbols (factors kept in time order)."""

    lhs: sp.Basic
    rhs: sp.Basic

    def as_sympy(self) -> sp.Basic:
        """``sympy.Eq(lhs, rhs)`` in plain SymPy classes (ordered sums and products become Add and Mul),
        ready for subs, simplify or lambdify."""
        rhs = self.rhs.materialize() if isinstance(self.rhs, LazySum) else self.rhs
        return sp.Eq(standard(self.lhs), standard(rhs), evaluate=False)

    def __repr__(self) -> str:
        from .render import text_equation

        text = text_equation(self) if not isinstance(self.rhs, LazySum) else f"{self.lhs} = (a long sum)"
        return f"Equation({text if len(text) <= 70 else text[:67] + '...'})"

    def _repr_latex_(self) -> str:
        from .latex import equation_lines, latex_cache

        rows = equation_lines(self, latex_cache())
        return "$$\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}$$"

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        from .render import pretty_equation

        printer.text(pretty_equation(self))


def standard(expr: sp.Basic) -> sp.Basic:
    """``expr`` rebuilt from SymPy's own classes: ordered sums and products, the notation's transpose
    and long sums become Add, Mul, MatAdd, MatMul, Transpose (the symbols stay)."""
    if isinstance(expr, LazySum):
        expr = expr.materialize()
    if not getattr(expr, "args", ()):
        return expr
    args = [standard(a) for a in expr.args]
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(standard)
    for ours, theirs in ((notation.OrderedMatSum, sp.MatAdd), (notation.OrderedSum, sp.Add),
                         (notation.OrderedMul, sp.Mul), (notation.Tr, sp.Transpose)):
        if isinstance(expr, ours):
            return theirs(*args)
    if isinstance(expr, sp.MatMul):
        return sp.MatMul(*args)
    return expr.func(*args) if tuple(args) != expr.args else expr


class Note(str):
    """A note in words, with its LaTeX spelling (``Note(text, tex)``; ``str(note)`` is the text)."""

    tex: str

    def __new__(cls, text: str, tex: str | None = None) -> Note:
        obj = super().__new__(cls, text)
        obj.tex = tex if tex is not None else text
        return obj


class LazySum:
    """A sum too long to hold (a recursive gradient at T = 10⁵): its terms are made when iterated, so a
    renderer can print it term by term; ``materialize`` builds the SymPy sum."""

    def __init__(self, make_terms: Callable[[], Iterator[sp.Basic]]) -> None:
        self.make_terms = make_terms

    def terms(self) -> Iterator[sp.Basic]:
        return self.make_terms()

    def materialize(self) -> sp.Basic:
        return _add(list(self.terms()))


class Derivation:
    """What ``derive`` returns: a title, the equations, the definitions of the named factors at a
    generic step t (the "where" clause), and short notes in words.

    Long forms are built lazily: ``stream()`` yields the equations one at a time (what the command line
    prints, in constant memory), ``equations`` builds and keeps the whole list (what the API user gets)."""

    def __init__(self, title: str, equations: list[Equation] | None = None, notes: Sequence[str] | None = None,
                 definitions: list[Equation] | None = None,
                 source: Callable[[], Iterator[Equation]] | None = None) -> None:
        self.title, self.notes, self.definitions = title, list(notes or []), list(definitions or [])
        self._equations = None if equations is None else list(equations)
        self._source = source

    @property
    def equations(self) -> list[Equation]:
        if self._equations is None:
            self._equations = [Equation(eq.lhs, eq.rhs.materialize() if isinstance(eq.rhs, LazySum) else eq.rhs)
                               for eq in self.stream()]
        return self._equations

    def stream(self) -> Iterator[Equation]:
        """The equations in order, built one by one unless they were built already."""
        if self._equations is not None:
            return iter(self._equations)
        if self._source is None:
            return iter(())
        return self._source()

    def __repr__(self) -> str:
        count = len(self._equations) if self._equations is not None else "…"
        return f"Derivation({self.title!r}, {count} equations)"

    SHOWN = 40  # equations a notebook shows before it elides the middle

    def _shown(self) -> tuple[list[Equation], int]:
        """The equations a rich display shows (the first and last few of a long form) and how many it
        leaves out."""
        head, tail, skipped = list[Equation](), list[Equation](), 0
        for eq in self.stream():
            if len(head) < self.SHOWN - 5:
                head.append(eq)
            else:
                tail.append(eq)
                if len(tail) > 5:
                    tail.pop(0)
                    skipped += 1
        return head + tail, skipped

    def _repr_latex_(self) -> str:
        """The form typeset as in `symbptt latex` (an aligned block; a long form with its middle elided)."""
        from .latex import equation_lines, latex_cache

        shown, skipped = self._shown()
        cache = latex_cache()
        rows = [r"&\text{" + self.title.replace("_", r"\_") + "}"]
        for i, eq in enumerate(shown):
            if skipped and i == len(shown) - 5:
                rows.append(rf"&\vdots\quad\text{{({skipped} more equations)}}")
            if isinstance(eq.rhs, LazySum):
                rows.append(r"&\text{(a sum too long to show)}")
                continue
            lines = equation_lines(eq, cache)
            if len(lines) > 20:  # a long sum: its first and last lines
                lines = [*lines[:15], rf"&\quad + \cdots\ \text{{({len(lines) - 18} more lines)}}", *lines[-3:]]
            rows += lines
        for i, eq in enumerate(self.definitions):
            rows += equation_lines(eq, cache, r"\text{where } " if i == 0 else r"\phantom{\text{where }}")
        return "$$\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}$$"

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        from .render import render_lines

        lines = []
        for line in render_lines(self, pretty=True):
            lines.append(line)
            if len(lines) > 400:
                lines.append("… (the rest: render_lines(derivation) or `symbptt derive` prints it all)")
                break
        printer.text("\n".join(lines))


def label(text: str, tex: str, uni: str | None = None) -> sp.Symbol:
    """A symbol used only as a left-hand side, e.g. ∂L/∂w, with its LaTeX and Unicode spellings."""
    return notation.Label(text, tex, uni or text)


def partial(top: sp.Basic, bottom: sp.Basic, plus: bool = False) -> sp.Symbol:
    """The label ∂top/∂bottom in all three spellings."""
    d = "∂⁺" if plus else "∂"
    tex_d = r"\partial^{+}" if plus else r"\partial"
    return label(f"{d}{notation.text_of(top)}/∂{notation.text_of(bottom)}",
                 rf"\frac{{{tex_d} {sp.latex(top)}}}{{\partial {sp.latex(bottom)}}}",
                 f"{d}{notation.unicode_of(top)}/∂{notation.unicode_of(bottom)}")


def grad_label(entry: sp.Basic) -> sp.Symbol:
    """∂L/∂θ for one parameter (or parameter entry) symbol."""
    return partial(sp.Symbol("L"), entry)


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
    if type(expr) is sp.Pow:  # what Pow(b, e, evaluate=False) builds, without its constructor's cache
        power = sp.Expr.__new__(sp.Pow, *args)
        power.is_commutative = args[0].is_commutative and args[1].is_commutative
        return power
    try:
        return expr.func(*args, evaluate=False)
    except TypeError:  # a few classes (Piecewise pairs) take no ``evaluate``
        return expr.func(*args)


def swap_builder(template: sp.Basic, symbols: tuple[sp.Basic, ...]) -> Callable[[tuple], sp.Basic]:
    """``swap`` compiled for one template: a function of the new values of ``symbols`` (in that order)
    that rebuilds only the nodes above them; the rest of the tree is shared as it is."""
    index = {sym: i for i, sym in enumerate(symbols)}

    def build(expr: sp.Basic) -> Callable[[tuple], sp.Basic]:
        if expr in index:
            i = index[expr]
            return lambda values: values[i]
        if not expr.args or not any(sym in index for sym in expr.free_symbols):
            return lambda values: expr
        parts = tuple(build(arg) for arg in expr.args)
        if isinstance(expr, (sp.Add, sp.Mul)):
            make = type(expr)._from_args
            return lambda values: make(tuple(part(values) for part in parts))
        if type(expr) is sp.Pow:
            base, exponent = parts

            def power(values: tuple) -> sp.Basic:  # as in swap: Pow without its constructor
                b, e = base(values), exponent(values)
                made = sp.Expr.__new__(sp.Pow, b, e)
                made.is_commutative = b.is_commutative and e.is_commutative
                return made

            return power
        return lambda values: swap(expr, dict(zip(symbols, values, strict=True)))  # rare nodes

    return build(template)


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
    """Template symbols of one unit → the symbols of that unit at (layer, t), built only for the
    symbols a template uses (a tanh factor needs h_t alone)."""

    def __init__(self, rnn: RNN) -> None:
        self.rnn, self.s = rnn, rnn.symbols
        self._symbols: dict[sp.Basic, tuple] = {}
        self._made: dict[tuple, sp.Basic] = {}
        self.kinds = rnn.symbols.unit_kinds

    def symbol(self, sym: sp.Symbol, layer: int, t: int, i: int) -> sp.Basic:
        key = (sym, layer, t, i)
        if key not in self._made:
            self._made[key] = self.s.unit_value(sym, layer, t, i)
        return self._made[key]

    def __call__(self, template: sp.Expr, layer: int, t: int, i: int = 0) -> sp.Expr:
        known = self._symbols.get(template)
        if known is None:
            symbols = tuple(s for s in template.free_symbols if s in self.kinds)
            known = self._symbols[template] = (symbols, swap_builder(template, symbols))
        symbols, builder = known
        values = tuple(self.symbol(s, layer, t, i) for s in symbols)
        result = builder(values)
        notation.remember_template(result, template, dict(zip(symbols, values, strict=True)))
        return result

    def forget(self) -> None:
        """Drop the instantiated symbols (long forms stream step by step and need only recent ones)."""
        self._made.clear()


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
        if kind not in ("recurrent", "input") or source is None:
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
    gate = "" if len(leaves) == 1 else route.source.removeprefix("a_").replace("_", "")
    return (route.target if multi else "") + gate


class Display:
    """How factors print: expressions for the scalar vanilla model, named symbols (J_3, D_1) otherwise."""

    def __init__(self, rnn: RNN, named: bool | None = None, bounded: bool = False) -> None:
        self.rnn, self.s, self.values = rnn, rnn.symbols, SymbolicFactors(rnn)
        self.n = rnn.n
        self.named = (not rnn.scalar or rnn.spec.name != "rnn") if named is None else named
        self._shown: dict[Step, sp.Basic] = {}
        self._generic: dict[tuple, sp.Basic] = {}
        self.bounded = bounded  # streaming a long form: keep only recent factors

    def mat(self, name: str, layer: int | None, t: int | None, rows: int, cols: int) -> sp.Basic:
        """A named vector or matrix (h_3, J^hc_2, W_f) in the notation of notation.py."""
        base, tag = split_name(name)
        return notation.matrix(base, rows, cols, tag=tag, layer=self.s.lay(layer), step=t)

    def factor_parts(self, step: Step) -> tuple[str, str]:
        return step.kind, route_tag(self.rnn, Route(step.kind, step.target, step.source))

    def factor_symbol(self, step: Step) -> sp.Basic:
        base, tag = self.factor_parts(step)
        if self.rnn.scalar:
            return notation.name(base, tag=tag, layer=self.s.lay(step.layer), step=step.t)
        return notation.matrix(base, self.n, self.n, tag=tag, layer=self.s.lay(step.layer), step=step.t)

    def factor(self, step: Step) -> sp.Basic:
        """The printed factor: its expression (scalar vanilla model) or its name J_t, V_t, D_t."""
        if self.bounded and len(self._shown) > 4096:
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
            parts = []
            for leaf, matrix in self.rnn.graph.terms(route):
                template = self.values.shown.get((step.target, leaf), sp.S.Zero)
                parts.append(template if matrix is None else _mul(self.s.param(matrix, step.layer)[0, 0], template))
            self._generic[key] = parts[0] if len(parts) == 1 else TermSum._from_args(tuple(parts))
        return self.values.at(self._generic[key], step.layer, step.t)

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
            return notation.name("delta", tag=tag, layer=self.s.lay(layer), step=t)
        return notation.matrix("delta", self.n, 1, tag=tag, layer=self.s.lay(layer), step=t)

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
    return notation.OrderedMul._from_args(factors)


TermSum = notation.OrderedSum  # a sum kept exactly as built, one summand per path or per step


MatTermSum = notation.OrderedMatSum


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
    row = sp.MatMul(notation.Tr(d.error(term.loss_step)), *chain)
    if not _has_z(d.rnn, param):
        return notation.Tr(row)
    return sp.MatMul(notation.Tr(row), notation.Tr(d.z(param, layer, term.entry)))


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
    defs = layered_definitions(rnn, _used_routes(set(d._shown))) if d.named else []
    notes = _named_notes(rnn) if d.named else []
    return Derivation(f"explicit BPTT gradient, T = {rnn.T}", eqs, notes, defs)


DIAG = sp.Function("diag")


def generic_step_names(rnn: RNN, layer: int | None = None) -> dict[sp.Symbol, sp.Symbol]:
    """Template symbols of one unit → the symbols at a generic step t (h_t, c_(t-1), a^f_t, x_t) of
    ``layer`` (its superscript shown when the model has several layers)."""
    lay = rnn.symbols.lay(layer)
    at: dict[sp.Symbol, sp.Symbol] = {}
    for name, _ in rnn.spec.nodes:
        at[unit(name)] = notation.name(name, step="t", layer=lay)
    for s in rnn.states:
        at[prev(s)] = notation.name(s, step="t-1", layer=lay)
    for lin in rnn.spec.linears:
        base, tag = split_name(lin.name)
        at[unit(lin.name)] = notation.name(base, tag=tag, step="t", layer=lay)
    below = rnn.symbols.lay(layer - 1) if layer and layer > 1 else None
    at[unit(INPUT)] = notation.name("h", step="t", layer=below) if layer and layer > 1 else notation.name("x", step="t")
    for p in rnn.spec.scalar_params:
        at[unit(p)] = rnn.symbols.param(p, layer or 1)[0]
    return at


def route_definitions(rnn: RNN, steps: set[tuple[str, str, str]], layer: int | None = None) -> list[Equation]:
    """Definitions of the named factors used, at a generic step t, e.g. J_t = diag(1 − h_t²)·W
    (scalar models: J_t = w·(1 − h_t²)); one per route kind, target and source in ``steps``; with
    ``layer`` the factors and symbols of that layer (J^(2)_t = diag(1 − h^(2)_t²)·W^(2))."""
    shown, at, out = shown_coefficients(rnn.graph), generic_step_names(rnn, layer), []
    lay = rnn.symbols.lay(layer)
    for route in rnn.graph.routes:
        if (route.kind, route.target, route.source) not in steps:
            continue
        tag = route_tag(rnn, route)
        terms = []
        for leaf, matrix in rnn.graph.terms(route):
            coef = swap(shown[(route.target, leaf)], at)
            if rnn.scalar:
                weight = rnn.symbols.param(matrix, layer or 1)[0] if matrix else None
                terms.append(coef if weight is None else _mul(weight, coef))
            else:
                base, mtag = split_name(matrix) if matrix else ("", "")
                diag = DIAG(coef)
                weight = notation.matrix(base, rnn.n, rnn.n, tag=mtag, layer=lay) if matrix else None
                terms.append(diag if not matrix else sp.MatMul(diag, weight, evaluate=False))
        lhs = (notation.name(route.kind, tag=tag, step="t", layer=lay) if rnn.scalar
               else notation.matrix(route.kind, rnn.n, rnn.n, tag=tag, step="t", layer=lay))
        out.append(Equation(lhs, _add(terms) if not rnn.scalar or len(terms) > 1 else terms[0]))
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


def _named_notes(rnn: RNN) -> list[Note]:
    notes = []
    if rnn.layers > 1:
        notes.append(Note("each layer ℓ has its own factors, written with a superscript (ℓ)",
                          r"each layer $\ell$ has its own factors, written with a superscript $(\ell)$"))
    if rnn.spec.name != "rnn":
        notes.append(Note(
            "superscripts name the new and the old state (J^hc_t: the part of ∂h_t/∂c_(t-1) through the "
            "weights, F^hc_t: the part unit by unit) and, on D, the gate (D^hf_t = ∂h_t/∂a^f_t)",
            r"superscripts name the new and the old state ($J^{hc}_t$: the part of $\partial h_t/\partial "
            r"c_{t-1}$ through the weights, $F^{hc}_t$: the part unit by unit) and, on $D$, the gate "
            r"($D^{hf}_t = \partial h_t/\partial a^{f}_t$)"))
    return notes


def _delta_part_display(d: Display, part: DeltaPart) -> sp.Basic:
    if part.kind == "E":
        return d.error(part.t)
    factor = d.factor(part.step())
    delta = d.delta(part.layer, part.t, part.target)
    if d.rnn.scalar:
        return _mul(factor, delta)
    return sp.MatMul(notation.Tr(factor), delta)


def _recursive_gradient(d: Display, param: str, layer: int, column: int = 0,
                        zero: frozenset = frozenset()) -> sp.Basic:
    """∂L/∂θ = Σ_t σ'(a_t)·z_t·δ_t (scalar) or Σ_t D_t δ_t z_tᵀ (matrix)."""
    kind, leaf, _ = param_entry(d.rnn, param)
    if kind == "initial":
        return d.delta(layer, 0, leaf)
    return _add(list(_gradient_terms(d, param, layer, column, zero)))


def _gradient_terms(d: Display, param: str, layer: int, column: int, zero: frozenset) -> Iterator[sp.Basic]:
    """The terms of the recursive form's ∂L/∂θ, one per step and state, made one at a time."""
    _, leaf, _ = param_entry(d.rnn, param)
    for t in range(1, d.rnn.T + 1):
        for route in d.rnn.graph.entries(leaf):
            if (layer, t, route.target) in zero:
                continue
            step = Step("D", layer, t, route.target, leaf)
            delta = d.delta(layer, t, route.target)
            if d.rnn.scalar:
                z = [d.z_entry(param, layer, t, column)] if _has_z(d.rnn, param) else []
                yield _mul(d.factor(step), *z, delta)
            else:
                da = sp.MatMul(d.factor(step), delta)
                yield sp.MatMul(da, notation.Tr(d.z(param, layer, t))) if _has_z(d.rnn, param) else da


def dead_deltas(rnn: RNN) -> set[tuple[int, int, str]]:
    """The δ's no path reaches (the top cell state at T, …): they are 0 and their terms are left out."""
    zero: set[tuple[int, int, str]] = set()
    for key, parts in delta_recursion(rnn):
        if not [p for p in parts if p.kind == "E" or (p.layer, p.t, p.target) not in zero]:
            zero.add(key)
    return zero


def form_recursive(rnn: RNN, wrt: str, named: bool | None = None) -> Derivation:
    chosen = targets(rnn, wrt)
    needs_zero = {(layer, param_entry(rnn, param)[1]) for param, layer in chosen
                  if rnn.spec.kind(param) == "initial"}
    zero = frozenset(dead_deltas(rnn))

    def build() -> Iterator[Equation]:
        d = Display(rnn, named, bounded=True)
        for (layer, t, state), parts in delta_recursion(rnn):
            if t == 0 and (layer, state) not in needs_zero:
                continue
            live = [p for p in parts if p.kind == "E" or (p.layer, p.t, p.target) not in zero]
            yield Equation(d.delta(layer, t, state), _add([_delta_part_display(d, p) for p in live]))
        for param, layer in chosen:
            columns = _scalar_entries(rnn, param, layer) if rnn.scalar else [(d.param(param, layer), 0)]
            for entry, column in columns:
                yield Equation(grad_label(entry), _lazy_gradient(rnn, named, param, layer, column, zero))

    named_shown = Display(rnn, named).named
    used = {(layer, r.kind, r.target, r.source) for layer in range(1, rnn.layers + 1) for r in rnn.graph.routes
            if r.kind in ("J", "F") or r.kind == "V" and layer > 1
            or r.kind == "D" and any(param_entry(rnn, p)[1] == r.source and at == layer for p, at in chosen)}
    defs = layered_definitions(rnn, used) if named_shown else []
    notes = _named_notes(rnn) if named_shown else []
    return Derivation(f"recursive BPTT (backward pass), T = {rnn.T}", None, notes, defs, source=build)


def _lazy_gradient(rnn: RNN, named: bool | None, param: str, layer: int, column: int, zero: frozenset) -> sp.Basic:
    """∂L/∂θ of the recursive form: a TermSum for short sequences, a LazySum beyond 2000 steps."""
    def terms() -> Iterator[sp.Basic]:
        return _gradient_terms(Display(rnn, named, bounded=True), param, layer, column, zero)

    if rnn.T <= 2000 or rnn.spec.kind(param) == "initial":
        return _recursive_gradient(Display(rnn, named), param, layer, column, zero)
    return LazySum(terms)


def form_unroll(rnn: RNN, wrt: str) -> Derivation:
    eqs = []
    for lhs, rhs in unrolled_equations(rnn):
        eqs.append(Equation(lhs[0, 0], rhs[0, 0]) if rnn.scalar else Equation(lhs, rhs))
    eqs.append(Equation(sp.Symbol("L"), loss_in_states(rnn)))
    return Derivation(f"unrolled forward pass, T = {rnn.T}", eqs, [])


def form_factors(rnn: RNN, wrt: str) -> Derivation:
    """The local partials of one step (gated cells), then every factor of every step: J_t (and F_t)
    back in time, V_t down a layer, D_t into the pre-activations."""
    values, eqs = SymbolicFactors(rnn), []
    d = Display(rnn, named=True)
    if rnn.spec.name != "rnn":
        eqs.extend(_local_partials(rnn))
    wanted = {param_entry(rnn, p)[1] for p, _ in targets(rnn, wrt)}
    for t in range(1, rnn.T + 1):
        for layer in range(rnn.layers, 0, -1):
            for route in rnn.graph.routes:
                if route.kind == "V" and layer == 1 or route.kind == "D" and route.source not in wanted:
                    continue
                step = Step(route.kind, layer, t, route.target, route.source)
                if rnn.scalar:
                    value = d._scalar_factor(step)
                else:
                    value = values.factor(step)
                eqs.append(Equation(d.factor_symbol(step), value))
    return Derivation(f"chain-rule factors, T = {rnn.T}", eqs, _factors_notes(rnn))


def _factors_notes(rnn: RNN) -> list[str]:
    if rnn.spec.name == "rnn":
        return [Note("J_t = ∂h_t/∂h_(t-1) = diag(σ'(a_t))·W scales row i of W by σ'(a_t[i]) (it is not "
                     "W·diag(σ')); V_t = ∂h_t/∂x_t reaches the layer below; D_t = ∂h_t/∂a_t = diag(σ'(a_t))",
                     r"$J_t = \partial h_t/\partial h_{t-1} = \operatorname{diag}(\sigma'(a_t))\,W$ scales row $i$ "
                     r"of $W$ by $\sigma'(a_{t,i})$ (it is not $W \operatorname{diag}(\sigma')$); $V_t = \partial "
                     r"h_t/\partial x_t$ reaches the layer below; $D_t = \partial h_t/\partial a_t = "
                     r"\operatorname{diag}(\sigma'(a_t))$")]
    return [Note("∂s_t/∂s_(t-1) = J_t + F_t for each pair of states (superscripts: new state, old state): J "
                 "through the weights, F unit by unit; V_t = ∂s_t/∂x_t; D^sp_t = ∂s_t/∂a^p_t",
                 r"$\partial s_t/\partial s_{t-1} = J_t + F_t$ for each pair of states (superscripts: new state, "
                 r"old state): $J$ through the weights, $F$ unit by unit; $V_t = \partial s_t/\partial x_t$; "
                 r"$D^{sp}_t = \partial s_t/\partial a^{p}_t$")]


def _local_partials(rnn: RNN) -> list[Equation]:
    """∂node/∂parent for every edge of one step, at a generic step t."""
    at, eqs = generic_step_names(rnn), []
    for (node, parent), value in shown_locals(rnn.graph).items():
        top = at[unit(node)]
        bottom = at.get(rnn.graph.symbol(parent), sp.Symbol(parent))
        eqs.append(Equation(partial(top, bottom), swap(value, at)))
    return eqs


def form_expanded(rnn: RNN, wrt: str) -> Derivation:
    """The recursive gradient with every h_t replaced by its expression in parameters and inputs."""
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
            grad = P.plain(evaluate_recursive(rnn, param, layer, values).xreplace(subs))
            shown = d.param(param, layer)
            entries = [(grad_label(shown), grad[0, 0])] if grad.shape == (1, 1) else \
                [(grad_label(rnn.symbols.param(param, layer)[i, j]), grad[i, j])
                 for i in range(grad.rows) for j in range(grad.cols)]  # a matrix: one equation per entry
            for lhs, value in entries:  # one term per line, long products wrapped between factors
                terms = _distributed(value, limit=64 * len(sp.Add.make_args(value))) or list(sp.Add.make_args(value))
                eqs.append(Equation(lhs, _add([_mul(*t.args) if isinstance(t, sp.Mul) else t for t in terms])
                                    if len(terms) > 1 else value))
    return Derivation(f"gradient expanded down to parameters and inputs, T = {rnn.T}", eqs, [])


def _distributed(expr: sp.Basic, limit: int) -> list[sp.Basic] | None:
    """The terms of ``expr`` with every product distributed over the sums among its factors (not inside
    function arguments), so that each term is a product of factors that a printer can wrap; None when
    that would make more than ``limit`` terms."""
    terms: list[sp.Basic] = []
    pending = list(sp.Add.make_args(expr))
    while pending:
        term = pending.pop()
        sums = [f for f in sp.Mul.make_args(term) if _sum_of_paths(f)]
        if sums:  # a sum of paths inside a product (Σ_j W_ij·…); σ' and error factors stay whole
            rest = [f for f in sp.Mul.make_args(term) if f is not sums[0]]
            pending.extend(sp.Mul(*rest, a) for a in reversed(sums[0].args))
        else:
            terms.append(term)
        if len(terms) + len(pending) > limit:
            return None
    return terms[::-1]


def _sum_of_paths(factor: sp.Basic) -> bool:
    """A sum whose every term is a product holding a sum (Σ_j W_ji·σ'(a_j)·(…)), not 1 − tanh² or h − y."""
    return isinstance(factor, sp.Add) and all(
        isinstance(t, sp.Mul) and any(isinstance(f, sp.Add) for f in t.args) for t in factor.args)


def factors_of_term(term: sp.Basic) -> tuple[sp.Basic, ...]:  # noqa: D103
    return term.args if isinstance(term, sp.Mul) else (term,)


def form_general(rnn: RNN, wrt: str) -> Derivation:
    """A formula valid for every T: Sum/Product for one scalar layer, ordered products otherwise."""
    from .general import general_form

    return general_form(rnn, wrt)


FORM_BUILDERS: dict[str, Callable[..., Derivation]] = {
    "unroll": form_unroll,
    "factors": form_factors,
    "general": form_general,
    "explicit": form_explicit,
    "recursive": form_recursive,
    "expanded": form_expanded,
}


def derive(rnn: RNN, form: str = "explicit", wrt: str | None = None, named: bool | None = None) -> Derivation:
    """Build one form of the BPTT gradient of ``rnn`` with respect to ``wrt`` (a parameter name or all;
    default: the cell's first recurrent weight, W for the vanilla cell).
    ``named``: print scalar factors by name (J_3) instead of written out (explicit and recursive)."""
    if not isinstance(rnn, RNN):
        raise SymbpttError(f"derive takes an RNN, e.g. derive(RNN(T=3, cell='lstm')), got {type(rnn).__name__} "
                           f"{rnn!r:.40}")
    if wrt is not None and (not isinstance(wrt, str) or not wrt):
        raise SymbpttError(f"wrt must be a parameter name or 'all', got {wrt!r:.40}")
    if not isinstance(form, str):
        raise SymbpttError(f"form must be one of {', '.join(FORMS)}, got {form!r:.40}")
    wrt = wrt or default_wrt(rnn)
    if form not in FORM_BUILDERS:
        raise SymbpttError(f"unknown form {form!r}; choose one of {', '.join(FORMS)}")
    from .budget import check_form_size

    check_form_size(rnn, form, wrt)
    if form in ("explicit", "recursive"):
        return FORM_BUILDERS[form](rnn, wrt, named)
    return FORM_BUILDERS[form](rnn, wrt)
