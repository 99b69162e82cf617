"""The RNN being differentiated: its sizes, its SymPy symbols, and its unrolled forward equations.

    a_t = W h_{t-1} + U x_t + b,   h_t = σ(a_t),   t = 1..T         (layer ℓ > 1 takes h^{(ℓ-1)}_t as x_t)
    loss 'last': L = ½‖h_T − y‖²      loss 'sum': L = Σ_t ½‖h_t − y_t‖²

Scalar models (n = 1) use lower-case names w, u, b; matrices use W, U, b with indexed entries W_ij.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from .activations import Activation, get_activation
from .errors import SymbpttError
from .safeexpr import A

LOSSES = ("last", "sum")
PARAMS = ("W", "U", "b", "h0")
MAX_HIDDEN = 4
MAX_LAYERS = 3
MAX_INPUT = 4

Matrix = sp.ImmutableMatrix


def _check_int(name: str, value: object, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SymbpttError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise SymbpttError(f"{name} must be {bound}, got {value}")


@dataclass(frozen=True)
class RNN:
    """Sizes and choices of one unrolled RNN: T steps, hidden size n, input size m, stacked layers."""

    T: int
    n: int = 1
    m: int = 1
    layers: int = 1
    activation: str = "tanh"
    loss: str = "last"

    def __post_init__(self) -> None:
        _check_int("T (steps)", self.T, 1)
        _check_int("hidden size n", self.n, 1, MAX_HIDDEN)
        _check_int("input size m", self.m, 1, MAX_INPUT)
        _check_int("layers", self.layers, 1, MAX_LAYERS)
        if self.loss not in LOSSES:
            raise SymbpttError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        get_activation(self.activation)  # raises for an unknown or rejected activation

    @property
    def act(self) -> Activation:
        return get_activation(self.activation)

    @property
    def scalar(self) -> bool:
        """Scalar models print plain symbols and expressions instead of matrices."""
        return self.n == 1

    def input_size(self, layer: int) -> int:
        return self.m if layer == 1 else self.n

    def loss_steps(self) -> range:
        """The steps t whose output h_t enters the loss."""
        return range(1, self.T + 1) if self.loss == "sum" else range(self.T, self.T + 1)

    @cached_property
    def symbols(self) -> Symbols:
        return Symbols(self)


def _sym(name: str) -> sp.Symbol:
    return sp.Symbol(name, real=True)


class Symbols:
    """Every SymPy symbol of one RNN, each returned as a column/matrix (1×1 for the scalar model)."""

    def __init__(self, rnn: RNN) -> None:
        self.rnn = rnn
        self._made: dict[tuple, Matrix] = {}
        self._scalars: dict[tuple, sp.Symbol] = {}

    def sup(self, layer: int) -> str:
        """Layer superscript, shown only when there is more than one layer: h^(2)_3."""
        return f"^({layer})" if self.rnn.layers > 1 else ""

    def _vector(self, base: str, layer: int | None, t: int | None, size: int) -> Matrix:
        key = (base, layer, t, size)
        if key not in self._made:
            self._made[key] = self._new_vector(base, layer, t, size)
        return self._made[key]

    def scalar(self, base: str, layer: int | None, t: int | None) -> sp.Symbol:
        """The symbol of a one-entry vector (h_3, a^(2)_1, x_2) without building a 1×1 matrix."""
        key = (base, layer, t)
        if key not in self._scalars:
            sup = self.sup(layer) if layer is not None else ""
            step = f"_{t}" if t is not None else ""
            self._scalars[key] = _sym(f"{base}{sup}{step}")
        return self._scalars[key]

    def _new_vector(self, base: str, layer: int | None, t: int | None, size: int) -> Matrix:
        sup = self.sup(layer) if layer is not None else ""
        step = f"_{t}" if t is not None else ""
        if size == 1:
            return Matrix([[_sym(f"{base}{sup}{step}")]])
        return Matrix([[_sym(f"{base}{sup}{step}_{i}")] for i in range(1, size + 1)])

    def _matrix(self, upper: str, lower: str, layer: int, rows: int, cols: int) -> Matrix:
        key = (upper, layer, rows, cols)
        if key not in self._made:
            self._made[key] = self._new_matrix(upper, lower, layer, rows, cols)
        return self._made[key]

    def _new_matrix(self, upper: str, lower: str, layer: int, rows: int, cols: int) -> Matrix:
        sup = self.sup(layer)
        if rows == 1 and cols == 1:
            return Matrix([[_sym(f"{lower}{sup}")]])
        base = lower if rows == 1 else upper
        if rows == 1:
            return Matrix([[_sym(f"{base}{sup}_{j}") for j in range(1, cols + 1)]])
        return Matrix(rows, cols, lambda i, j: _sym(f"{base}{sup}_{i + 1}{j + 1}"))

    def W(self, layer: int) -> Matrix:
        return self._matrix("W", "w", layer, self.rnn.n, self.rnn.n)

    def U(self, layer: int) -> Matrix:
        return self._matrix("U", "u", layer, self.rnn.n, self.rnn.input_size(layer))

    def b(self, layer: int) -> Matrix:
        return self._vector("b", layer, None, self.rnn.n)

    def h(self, layer: int, t: int) -> Matrix:
        """State symbols h^(ℓ)_t; t = 0 is the initial state h0."""
        return self._vector("h", layer, t, self.rnn.n)

    def a(self, layer: int, t: int) -> Matrix:
        return self._vector("a", layer, t, self.rnn.n)

    def x(self, t: int) -> Matrix:
        return self._vector("x", None, t, self.rnn.m)

    def y(self, t: int) -> Matrix:
        """Target: one y for loss 'last', y_t per step for loss 'sum'."""
        return self._vector("y", None, t if self.rnn.loss == "sum" else None, self.rnn.n)

    def inp(self, layer: int, t: int) -> Matrix:
        """What layer ℓ reads at step t: x_t for the first layer, h^(ℓ-1)_t above it."""
        return self.x(t) if layer == 1 else self.h(layer - 1, t)

    def param(self, name: str, layer: int) -> Matrix:
        return {"W": self.W, "U": self.U, "b": self.b, "h0": lambda ell: self.h(ell, 0)}[name](layer)

    def preactivation(self, layer: int, t: int) -> Matrix:
        """a^(ℓ)_t = W h_{t-1} + U x_t + b, in state symbols."""
        return self.W(layer) * self.h(layer, t - 1) + self.U(layer) * self.inp(layer, t) + self.b(layer)

    def parameters(self) -> list[sp.Symbol]:
        """All parameter and input symbols, in a fixed order (for lambdify and random points)."""
        out: list[sp.Symbol] = []
        for layer in range(1, self.rnn.layers + 1):
            for name in PARAMS:
                out.extend(self.param(name, layer))
        for t in range(1, self.rnn.T + 1):
            out.extend(self.x(t))
        for t in self.rnn.loss_steps():
            out.extend(self.y(t))
        return out


def unrolled_equations(rnn: RNN) -> list[tuple[Matrix, Matrix]]:
    """The forward equations h^(ℓ)_t = σ(W h_{t-1} + U x_t + b), layer by layer, step by step."""
    s, sigma = rnn.symbols, rnn.act.sigma
    eqs = []
    for t in range(1, rnn.T + 1):
        for layer in range(1, rnn.layers + 1):
            pre = s.preactivation(layer, t)
            eqs.append((s.h(layer, t), pre.applyfunc(lambda e: sigma.subs(A, e))))
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
    """Map each state symbol h_t (and a_t) to its expression in parameters and inputs, built step by step."""
    s, sigma = rnn.symbols, rnn.act.sigma
    subs: dict[sp.Symbol, sp.Expr] = {}
    for t in range(1, rnn.T + 1):
        for layer in range(1, rnn.layers + 1):
            pre = s.preactivation(layer, t).xreplace(subs)
            for sym_a, sym_h, value in zip(s.a(layer, t), s.h(layer, t), pre, strict=True):
                subs[sym_a] = value
                subs[sym_h] = sigma.subs(A, value)
    return subs


def unrolled_loss(rnn: RNN) -> sp.Expr:
    """L as one nested expression in parameters and inputs (what plain sympy.diff would differentiate)."""
    return loss_in_states(rnn).xreplace(nested_states(rnn))
