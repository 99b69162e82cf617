"""The network being differentiated: its sizes and cell, its SymPy symbols, its unrolled forward equations.

    s^(ℓ)_t = cell(s^(ℓ)_{t-1}, x^(ℓ)_t),   t = 1..T   (x^(1)_t = x_t;  layer ℓ > 1 reads h^(ℓ-1)_t)
    loss 'last': L = ½‖h_T − y‖²      loss 'sum': L = Σ_t ½‖h_t − y_t‖²

The vanilla cell is a_t = W h_{t-1} + U x_t + b, h_t = σ(a_t).  Scalar models (n = 1) use lower-case
names w, u, b; matrices use W, U, b with indexed entries W_ij.  Sizes are validated here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp
from sympy import ImmutableMatrix as Matrix  # every matrix of a model is immutable

from . import notation
from . import primitives as P
from .activations import Activation, get_activation
from .caching import Bounded
from .cells import INPUT, TAKES_ACTIVATION, Cell, get_cell, prev, unit
from .errors import SymbpttError
from .step import StepGraph, step_graph
from .templates import swap
from .validate import count_text, text

LOSSES = ("last", "sum")
MAX_HIDDEN = 4
MAX_LAYERS = 3
MAX_INPUT = 4



def check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """An int in [low, high], or a one-line SymbpttError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SymbpttError(f"{name} must be an integer, got {value!r:.40}")
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise SymbpttError(f"{name} must be {bound}, got {count_text(value)}")
    return value


def loss_steps(loss: str, T: int) -> range:
    """The steps t whose output h_t enters the loss: every step for 'sum', the last for 'last'."""
    return range(1, T + 1) if loss == "sum" else range(T, T + 1)


@dataclass(frozen=True)
class Unrolled:
    """What the structure of BPTT depends on — the cell, T, the layer count and the loss — without sizes
    or symbols: what paths.py walks for numeric models, training and the check (an RNN has the same
    fields and is walked the same way)."""

    spec: Cell
    T: int
    layers: int = 1
    loss: str = "last"

    @property
    def graph(self) -> StepGraph:
        return step_graph(self.spec)

    @property
    def states(self) -> tuple[str, ...]:
        return self.spec.states

    def loss_steps(self) -> range:
        return loss_steps(self.loss, self.T)


@dataclass(frozen=True)
class RNN:
    """Sizes and choices of one unrolled network: T steps, hidden size n, input size m, stacked layers,
    the cell (rnn, lstm, gru, indrnn, mingru, minlstm, lru or a cell file) and, for rnn and indrnn, the activation."""

    T: int
    n: int = 1
    m: int = 1
    layers: int = 1
    activation: str | None = None
    loss: str = "last"
    cell: str | Cell = "rnn"  # a built-in cell's name, a cell file's path, or the cell itself

    def __post_init__(self) -> None:
        check_int("T (steps)", self.T, 1)
        check_int("hidden size n", self.n, 1, MAX_HIDDEN)
        check_int("input size m", self.m, 1, MAX_INPUT)
        check_int("layers", self.layers, 1, MAX_LAYERS)
        if not isinstance(self.loss, str) or self.loss not in LOSSES:
            raise SymbpttError(f"unknown loss {self.loss!r:.40}; choose one of {', '.join(LOSSES)}")
        if self.activation is not None:
            text("activation", self.activation, "a name or an expression in a (a str), or None")
        spec = self.spec  # resolves the cell (and the activation), raising for bad ones
        if self.activation is not None and not spec.uses_activation:
            raise SymbpttError(f"the {spec.name} cell has its own nonlinearities; -a applies to --cell "
                               f"{' and '.join(TAKES_ACTIVATION)} only")
        if spec.max_hidden is not None and self.n > spec.max_hidden:
            raise SymbpttError(f"the cell {spec.name!r} is scalar: n must be 1, got {self.n}")
        if spec.max_input is not None and self.m > spec.max_input:
            raise SymbpttError(f"the cell {spec.name!r} reads one input: m must be 1, got {self.m}")

    @property
    def act(self) -> Activation:
        return get_activation(self.activation or "tanh")

    @cached_property
    def spec(self) -> Cell:
        return get_cell(self.cell, self.act)

    @cached_property
    def graph(self) -> StepGraph:
        return step_graph(self.spec)

    @property
    def states(self) -> tuple[str, ...]:
        return self.spec.states

    @property
    def scalar(self) -> bool:
        """Scalar models print plain symbols and expressions instead of matrices."""
        return self.n == 1

    def input_size(self, layer: int) -> int:
        return self.m if layer == 1 else self.n

    def loss_steps(self) -> range:
        """The steps t whose output h_t enters the loss."""
        return loss_steps(self.loss, self.T)

    def param_shape(self, name: str, layer: int) -> tuple[int, int]:
        """The shape of a parameter as a SymPy matrix (a vector as a column)."""
        shape = self.spec.shape(name, self.n, self.input_size(layer))
        return (shape[0], shape[1] if len(shape) > 1 else 1)

    @cached_property
    def symbols(self) -> Symbols:
        return Symbols(self)


def split_name(name: str) -> tuple[str, str]:
    """(base, tag) of a cell's name: a_f → (a, f), W_f → (W, f), h → (h, '')."""
    base, _, tag = name.partition("_")
    return base, tag


class Symbols:
    """Every SymPy symbol of one network, each returned as a column/matrix (1×1 for the scalar model),
    spelled in the one notation of notation.py."""

    def __init__(self, rnn: RNN) -> None:
        self.rnn = rnn
        self._made: Bounded[tuple, Matrix] = Bounded(8192)  # long forms stream: keep the caches small
        self._scalars: Bounded[tuple, sp.Symbol] = Bounded(8192)

    def layer_mark(self, layer: int | None) -> int | None:
        """The layer as printed: only when there is more than one."""
        return layer if layer is not None and self.rnn.layers > 1 else None

    def layer_superscript(self, layer: int) -> str:
        return f"^({layer})" if self.rnn.layers > 1 else ""

    def base(self, name: str) -> str:
        base, tag = split_name(name)
        return f"{base}^{tag}" if tag else base

    def scalar(self, name: str, layer: int | None, t: int | None, unit: int | None = None) -> sp.Symbol:
        """The symbol of one unit (h_3, a^f_1, x_2; unit i of a vector as h_3[i])."""
        key = (name, layer, t, unit)
        found = self._scalars.get(key)
        if found is None:
            base, tag = split_name(name)
            found = self._scalars.remember(key, notation.name(base, tag=tag, layer=self.layer_mark(layer), step=t,
                                                              unit=() if unit is None else (unit,)))
        return found

    def vector(self, name: str, layer: int | None, t: int | None, size: int | None = None) -> Matrix:
        size = self.rnn.n if size is None else size
        key = (name, layer, t, size)
        found = self._made.get(key)
        if found is None:
            found = self._made.remember(key, Matrix([[self.scalar(name, layer, t)]]) if size == 1 else
                                        Matrix([[self.scalar(name, layer, t, i)] for i in range(1, size + 1)]))
        return found

    def _matrix(self, name: str, layer: int, rows: int, cols: int) -> Matrix:
        key = (name, layer, rows, cols)
        if key not in self._made:
            base, tag = split_name(name)
            lay = self.layer_mark(layer)
            if rows == 1:
                lower = base.lower()
                entries = [[notation.param_name(lower, tag=tag, layer=lay, unit=() if cols == 1 else (j + 1,))
                            for j in range(cols)]]
            else:
                entries = [[notation.param_name(base, tag=tag, layer=lay, unit=(i + 1, j + 1)) for j in range(cols)]
                           for i in range(rows)]
            self._made[key] = Matrix(entries)
        return self._made[key]

    def param(self, name: str, layer: int) -> Matrix:
        """A parameter as a matrix (weights), a column (biases, initial states) or 1×1 (scalars)."""
        kind = self.rnn.spec.kind(name)
        if kind == "initial":
            return self.state(name[:-1], layer, 0)
        if kind == "scalar":
            key = (name, layer, "scalar")
            if key not in self._made:
                base, tag = split_name(name)
                self._made[key] = Matrix([[notation.param_name(base, tag=tag, layer=self.layer_mark(layer))]])
            return self._made[key]
        if kind in ("bias", "unit"):
            key = (name, layer, "bias")
            if key not in self._made:
                base, tag = split_name(name)
                n = self.rnn.n
                self._made[key] = Matrix([[notation.param_name(base, tag=tag, layer=self.layer_mark(layer),
                                                               unit=() if n == 1 else (i + 1,))] for i in range(n)])
            return self._made[key]
        return self._matrix(name, layer, *self.rnn.param_shape(name, layer))

    def W(self, layer: int) -> Matrix:
        return self.param("W", layer)

    def U(self, layer: int) -> Matrix:
        return self.param("U", layer)

    def b(self, layer: int) -> Matrix:
        return self.param("b", layer)

    def state(self, name: str, layer: int, t: int) -> Matrix:
        """State (or intermediate, or linear map) symbols of a layer at step t; t = 0: initial state."""
        return self.vector(name, layer, t)

    def h(self, layer: int, t: int) -> Matrix:
        return self.vector("h", layer, t)

    def a(self, layer: int, t: int) -> Matrix:
        return self.vector("a", layer, t)

    def x(self, t: int) -> Matrix:
        return self.vector("x", None, t, self.rnn.m)

    def y(self, t: int) -> Matrix:
        """Target: one y for loss 'last', y_t per step for loss 'sum'."""
        return self.vector("y", None, t if self.rnn.loss == "sum" else None)

    def layer_input(self, layer: int, t: int) -> Matrix:
        """What layer ℓ reads at step t: x_t for the first layer, h^(ℓ-1)_t above it."""
        return self.x(t) if layer == 1 else self.h(layer - 1, t)

    def source(self, source: str, layer: int, t: int) -> Matrix:
        """The vector a weight multiplies at step t: the input, or a state at t − 1."""
        return self.layer_input(layer, t) if source == INPUT else self.state(source, layer, t - 1)

    def linear(self, name: str, layer: int, t: int) -> Matrix:
        """A linear map in state symbols, e.g. a^(ℓ)_t = W h_{t-1} + U x_t + b."""
        lin = next(lin for lin in self.rnn.spec.linears if lin.name == name)
        value = sp.zeros(self.rnn.n, 1)
        for matrix, src in lin.terms:
            value += self.param(matrix, layer) * self.source(src, layer, t)
        if lin.bias:
            value += self.param(lin.bias, layer)
        return Matrix(value)

    def preactivation(self, layer: int, t: int) -> Matrix:
        return self.linear("a", layer, t)

    @cached_property
    def unit_kinds(self) -> dict[sp.Symbol, tuple[str, str]]:
        """Each template symbol of the cell → (kind, name): a previous state, a node or linear map of the
        step, the input, or a scalar parameter."""
        spec = self.rnn.spec
        kinds = {prev(s): ("prev", s) for s in spec.states}
        kinds |= {unit(name): ("node", name) for name, _ in spec.nodes}
        kinds |= {unit(lin.name): ("node", lin.name) for lin in spec.linears}
        kinds[unit(INPUT)] = ("input", INPUT)
        kinds |= {unit(p): ("param", p) for p in spec.unit_params}
        return kinds

    def unit_value(self, sym: sp.Symbol, layer: int, t: int, i: int) -> sp.Expr:
        """The symbol that template symbol ``sym`` stands for in unit i at (layer, t)."""
        return self.value_of(self.unit_kinds[sym], layer, t, i)

    def value_of(self, kind_name: tuple[str, str], layer: int, t: int, i: int) -> sp.Expr:
        """The symbol of unit i at (layer, t) for a template symbol of this (kind, name) (unit_kinds)."""
        kind, name = kind_name
        index = None if self.rnn.n == 1 else i + 1  # entry i of a vector: the scalar symbol itself
        if kind == "prev":
            return self.scalar(name, layer, t - 1, index)
        if kind == "node":
            return self.scalar(name, layer, t, index)
        if kind == "param":  # a scalar parameter is one number; a per-unit one has entry i for unit i
            return self.param(name, layer)[i if name in self.rnn.spec.vector_params else 0]
        if layer > 1:
            return self.scalar("h", layer - 1, t, index)
        return self.scalar("x", None, t, None if self.rnn.m == 1 else min(i, self.rnn.m - 1) + 1)

    def unit_values(self, layer: int, t: int, i: int) -> dict[sp.Symbol, sp.Expr]:
        """Template symbols of the cell → the symbols of unit i at (layer, t) (states, not expanded)."""
        return {sym: self.unit_value(sym, layer, t, i) for sym in self.unit_kinds}

    def parameters(self) -> list[sp.Symbol]:
        """All parameter and input symbols, in a fixed order (for lambdify and random points)."""
        out: list[sp.Symbol] = []
        for layer in range(1, self.rnn.layers + 1):
            for name in self.rnn.spec.params:
                out.extend(self.param(name, layer))
        for t in range(1, self.rnn.T + 1):
            out.extend(self.x(t))
        for t in self.rnn.loss_steps():
            out.extend(self.y(t))
        return out


def node_equations(rnn: RNN, layer: int, t: int, linear_values: bool = True) -> list[tuple[sp.Symbol, sp.Expr]]:
    """(symbol, expression) of every node of unit i at (layer, t), in plain SymPy, units flattened.
    With ``linear_values`` the linear maps are written out (W h_{t-1} + U x_t + b)."""
    s, spec, eqs = rnn.symbols, rnn.spec, []
    linears = {lin.name: s.linear(lin.name, layer, t) for lin in spec.linears} if linear_values else {}
    for i in range(rnn.n):
        names = s.unit_values(layer, t, i)
        if linear_values:
            names.update({unit(name): value[i] for name, value in linears.items()})
        for name, expr in spec.nodes:
            eqs.append((s.state(name, layer, t)[i], P.plain(expr.xreplace(names))))
    return eqs


def _unroll_templates(rnn: RNN, layer: int) -> list[tuple[str, int, sp.Expr]]:
    """(node, unit, expression) of one step of ``layer`` in placeholder symbols: the linear maps written
    out (W h_{t-1} + U x_t + b, row by row), primitives in plain SymPy.  Each step then only swaps
    symbols (a few microseconds) instead of rebuilding and re-simplifying SymPy expressions."""
    s, spec, n = rnn.symbols, rnn.spec, rnn.n
    k = rnn.input_size(layer)
    prev_units = {st: [sp.Symbol(f"__prev_{st}_{j}") for j in range(n)] for st in spec.states}
    inputs = [sp.Symbol(f"__in_{j}") for j in range(k)]
    out = []
    for i in range(n):
        names: dict[sp.Symbol, sp.Expr] = {prev(st): prev_units[st][i] for st in spec.states}
        names[unit(INPUT)] = inputs[min(i, k - 1)]
        for lin in spec.linears:
            value = s.param(lin.bias, layer)[i] if lin.bias else sp.S.Zero
            for matrix, src in lin.terms:
                row = s.param(matrix, layer).row(i)
                vector = inputs if src == INPUT else prev_units[src]
                value += sum((row[j] * vector[j] for j in range(len(vector))), sp.S.Zero)
            names[unit(lin.name)] = value
        for p in spec.unit_params:
            names[unit(p)] = s.param(p, layer)[i if p in spec.vector_params else 0]
        for name, _ in spec.nodes:
            names.setdefault(unit(name), sp.Symbol(f"__node_{name}_{i}"))
        for name, expr in spec.nodes:
            out.append((name, i, P.plain(expr.xreplace(names))))
    return out


def unrolled_equations(rnn: RNN) -> list[tuple[Matrix, Matrix]]:
    """The forward equations node_t = f(…), layer by layer, step by step, as columns over the units."""

    s, spec, n = rnn.symbols, rnn.spec, rnn.n
    templates = {layer: _unroll_templates(rnn, layer) for layer in range(1, rnn.layers + 1)}
    eqs = []
    for t in range(1, rnn.T + 1):
        for layer in range(1, rnn.layers + 1):
            k = rnn.input_size(layer)
            below = s.layer_input(layer, t)
            mapping = {sp.Symbol(f"__prev_{st}_{j}"): s.state(st, layer, t - 1)[j] for st in spec.states
                       for j in range(n)}
            mapping |= {sp.Symbol(f"__in_{j}"): below[j] for j in range(k)}
            mapping |= {sp.Symbol(f"__node_{name}_{i}"): s.state(name, layer, t)[i] for name, _ in spec.nodes
                        for i in range(n)}
            rows: dict[str, list] = {name: [] for name, _ in spec.nodes}
            for name, i, template in templates[layer]:
                rows[name].append((s.state(name, layer, t)[i], swap(template, mapping)))
            for name, _ in spec.nodes:
                eqs.append((Matrix([[lhs] for lhs, _ in rows[name]]), Matrix([[rhs] for _, rhs in rows[name]])))
    return eqs


def loss_in_states(rnn: RNN) -> sp.Expr:
    """L in the state symbols h^(L)_t."""
    s = rnn.symbols
    total = sp.Integer(0)
    for t in rnn.loss_steps():
        e = s.h(rnn.layers, t) - s.y(t)
        total += sp.Rational(1, 2) * (e.T * e)[0, 0]
    return total


def nested_states(rnn: RNN) -> dict[sp.Symbol, sp.Expr]:
    """Map each node symbol (h_t, c_t, a_t, …) to its expression in parameters and inputs, step by step."""
    s, subs = rnn.symbols, dict[sp.Symbol, sp.Expr]()
    for t in range(1, rnn.T + 1):
        for layer in range(1, rnn.layers + 1):
            for lin in rnn.spec.linears:
                value = s.linear(lin.name, layer, t).xreplace(subs)
                subs.update(zip(s.vector(lin.name, layer, t), value, strict=True))
            for sym, expr in node_equations(rnn, layer, t, linear_values=False):
                subs[sym] = expr.xreplace(subs)
    return subs


def unrolled_loss(rnn: RNN) -> sp.Expr:
    """L as one nested expression in parameters and inputs (what plain sympy.diff would differentiate)."""
    return loss_in_states(rnn).xreplace(nested_states(rnn))
