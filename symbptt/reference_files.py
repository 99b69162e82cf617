"""The independent reference for cell files: a user's cell read again and differentiated by a method that
shares nothing with the engine.

Like reference.py, this module imports nothing from the rest of symbptt (only reference.py's spectral
norm).  The TOML is read with tomllib, every expression with Python's ``ast`` and evaluated node by node
(never ``eval``), on numbers that carry their own chain rule: each operation below writes, beside its
value, its local derivative with respect to each operand — one line per operation, as micrograd writes
it — and ``backward`` sweeps the recorded graph once in reverse, so that every parameter entry gets
∂L/∂θ to the working precision (mpmath), with no step size to choose.

    forward     a cell file's [intermediates] then [update], per layer and step (a state name on the
                right-hand side is its value at the previous step; layer ℓ > 1 reads h of layer ℓ − 1)
    gradients   reverse accumulation through the whole graph (``bptt``)
    truncated   each loss term at step s through steps s, …, s − k + 1 only: every state at step s − k is
                a fresh leaf, so nothing flows further (an initial state only when s ≤ k)
    Jacobians   ∂s_T/∂s_k of one layer, the layers below held as numbers (``jacobians``)

A [shapes] file has vectors (["n"]), matrices (["n", "n"], ["n", "m"]) and shared numbers ([]); ``@`` is the
matrix product and everything else is elementwise.  Without [shapes] every name is one number.  Literals
are read as decimals (mpmath.mpf of their text).  The check's cells are smooth: at a kink (abs, max, min)
this module takes the derivative of the branch the value came from, ties to the first.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np

from .reference import _log_norm

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

Layer = dict[str, np.ndarray]


class Var:
    """A number that remembers the numbers it was made from and its partial derivative by each."""

    __slots__ = ("value", "parents", "grad")

    def __init__(self, value: Any, parents: tuple[tuple[Var, Any], ...] = ()) -> None:
        self.value, self.parents, self.grad = mpmath.mpf(value), parents, mpmath.mpf(0)

    # one line per operation: the value, then ∂(result)/∂(each operand)
    def __add__(self, o: Any) -> Var:
        o = lift(o)
        return Var(self.value + o.value, ((self, 1), (o, 1)))

    def __mul__(self, o: Any) -> Var:
        o = lift(o)
        return Var(self.value * o.value, ((self, o.value), (o, self.value)))

    def __truediv__(self, o: Any) -> Var:
        o = lift(o)
        return Var(self.value / o.value, ((self, 1 / o.value), (o, -self.value / o.value ** 2)))

    def __pow__(self, o: Any) -> Var:
        o = lift(o)
        v = self.value ** o.value
        by_base = o.value * self.value ** (o.value - 1)
        by_exponent = v * mpmath.log(self.value) if o.parents or o.value != int(o.value) else 0
        return Var(v, ((self, by_base), (o, by_exponent)))

    def __neg__(self) -> Var:
        return Var(-self.value, ((self, -1),))

    def __sub__(self, o: Any) -> Var:
        return self + (-lift(o))

    def __radd__(self, o: Any) -> Var:
        return lift(o) + self

    def __rsub__(self, o: Any) -> Var:
        return lift(o) - self

    def __rmul__(self, o: Any) -> Var:
        return lift(o) * self

    def __rtruediv__(self, o: Any) -> Var:
        return lift(o) / self

    def __rpow__(self, o: Any) -> Var:
        return lift(o) ** self


def lift(x: Any) -> Var:
    """A number as a Var with no parents (a constant); a Var as it is."""
    return x if isinstance(x, Var) else Var(x)


def _array_aware(cls: type) -> type:
    """Every operator of ``cls`` gives way to an array operand (NotImplemented), so that NumPy applies it
    entry by entry."""
    for name in ("__add__", "__mul__", "__truediv__", "__pow__", "__sub__", "__radd__", "__rsub__", "__rmul__",
                 "__rtruediv__", "__rpow__"):
        op = getattr(cls, name)

        def wrapped(self: Any, o: Any, op: Callable = op) -> Any:
            return NotImplemented if isinstance(o, np.ndarray) else op(self, o)
        setattr(cls, name, wrapped)
    return cls


_array_aware(Var)


def _unary(f: Callable, df: Callable) -> Callable[[Any], Var]:
    def apply(x: Any) -> Var:
        x = lift(x)
        return Var(f(x.value), ((x, df(x.value)),))
    return apply


def _pick(sign: int) -> Callable[..., Var]:
    def apply(*xs: Any) -> Var:
        vs = [lift(x) for x in xs]
        best = vs[0]
        for v in vs[1:]:
            if sign * (v.value - best.value) > 0:
                best = v
        return Var(best.value, ((best, 1),))
    return apply


FUNCTIONS: dict[str, Callable[..., Var]] = {  # each: the value, and its derivative from the argument
    "abs": _unary(abs, lambda x: mpmath.sign(x)),
    "atan": _unary(mpmath.atan, lambda x: 1 / (1 + x * x)),
    "cos": _unary(mpmath.cos, lambda x: -mpmath.sin(x)),
    "cosh": _unary(mpmath.cosh, mpmath.sinh),
    "erf": _unary(mpmath.erf, lambda x: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-x * x)),
    "exp": _unary(mpmath.exp, mpmath.exp),
    "log": _unary(mpmath.log, lambda x: 1 / x),
    "sigmoid": _unary(lambda x: 1 / (1 + mpmath.exp(-x)), lambda x: 1 / (4 * mpmath.cosh(x / 2) ** 2)),
    "sin": _unary(mpmath.sin, mpmath.cos),
    "sinh": _unary(mpmath.sinh, mpmath.cosh),
    "sqrt": _unary(mpmath.sqrt, lambda x: 1 / (2 * mpmath.sqrt(x))),
    "tanh": _unary(mpmath.tanh, lambda x: 1 / mpmath.cosh(x) ** 2),
    "max": _pick(1),
    "min": _pick(-1),
}
BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b, ast.MatMult: lambda a, b: a @ b,
}


def backward(out: Var, leaves: Any = (), absolute: bool = False) -> None:
    """∂out/∂v into v.grad for every v ``out`` was made from, the graph in reverse topological order; every
    Var of ``leaves`` (Vars, arrays and dicts of them) starts from 0, reached or not.  ``absolute``: every
    local derivative by its absolute value, which gives Σ over the graph's paths of |path product|."""
    for leaf in _each(leaves):
        leaf.grad = mpmath.mpf(0)
    order, seen, stack = [], set(), [(out, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p, _ in node.parents if id(p) not in seen)
    for node in order:
        node.grad = mpmath.mpf(0)
    out.grad = mpmath.mpf(1)
    for node in reversed(order):
        for parent, local in node.parents:
            parent.grad += (abs(local) if absolute else local) * node.grad


def _each(values: Any) -> Any:
    """Every Var in nested lists, dicts and object arrays."""
    if isinstance(values, Var):
        yield values
    elif isinstance(values, dict):
        for v in values.values():
            yield from _each(v)
    elif isinstance(values, (list, tuple)):
        for v in values:
            yield from _each(v)
    elif isinstance(values, np.ndarray):
        for v in values.reshape(-1):
            yield from _each(v)


class FileCell:
    """A cell file's text as this module reads it."""

    def __init__(self, text: str) -> None:
        data = tomllib.loads(text)
        self.states: list[str] = list(data["states"])
        self.params: list[str] = list(data["params"])
        self.shapes: dict[str, list[str]] | None = data.get("shapes")
        self.intermediates = {k: ast.parse(v, mode="eval").body for k, v in data.get("intermediates", {}).items()}
        self.update = {k: ast.parse(v, mode="eval").body for k, v in data["update"].items()}

    def step(self, p: dict[str, Any], old: dict[str, Any], x: Any) -> dict[str, Any]:
        """The new states from the old ones, the parameters and the input (Var arrays or Vars)."""
        return self.named(p, old, x)[1]

    def named(self, p: dict[str, Any], old: dict[str, Any], x: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """(every intermediate, the new states) of one step."""
        env: dict[str, Any] = {**p, **old, "x": x}
        pending = dict(self.intermediates)
        while pending:  # each intermediate once every name it reads is known
            ready = [k for k, node in pending.items() if all(
                n.id in env or n.id in ("pi", "E") or n.id in FUNCTIONS for n in ast.walk(node)
                if isinstance(n, ast.Name))]
            if not ready:
                raise ValueError(f"cannot order the intermediates {sorted(pending)}")
            for k in ready:
                env[k] = _evaluate(pending.pop(k), env)
        return {k: env[k] for k in self.intermediates}, {s: _evaluate(self.update[s], env) for s in self.states}


def _evaluate(node: ast.AST, env: dict[str, Any]) -> Any:
    """One expression on the values of ``env``, node by node."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return mpmath.mpf(str(node.value))
    if isinstance(node, ast.Name):
        if node.id == "pi":
            return +mpmath.pi
        if node.id == "E":
            return mpmath.e + 0
        return env[node.id]
    if isinstance(node, ast.BinOp):
        return BINARY[type(node.op)](_evaluate(node.left, env), _evaluate(node.right, env))
    if isinstance(node, ast.UnaryOp):
        v = _evaluate(node.operand, env)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        apply = np.frompyfunc(FUNCTIONS[node.func.id], len(node.args), 1)  # entry by entry on arrays
        return apply(*[_evaluate(a, env) for a in node.args])
    raise ValueError(f"this reference does not read {ast.dump(node)[:40]}")


def _vars(layers: list[Layer], cell: FileCell) -> list[dict[str, Any]]:
    """Every parameter entry as a leaf Var, in the shape the expressions use: a [] parameter one Var, a
    scalar cell's names 1-vectors."""
    out = []
    for p in layers:
        q = {}
        for name, value in p.items():
            arr: Any = np.empty(np.shape(value), dtype=object)
            for idx, v in np.ndenumerate(np.asarray(value, dtype=float)):
                arr[idx] = Var(v)
            if cell.shapes is not None and cell.shapes.get(name) == []:
                arr = arr.reshape(-1)[0]
            elif cell.shapes is None:
                arr = arr.reshape(-1)
            q[name] = arr
        out.append(q)
    return out


def _inputs(x: np.ndarray) -> np.ndarray:
    return np.array([[Var(v) for v in row] for row in np.asarray(x, dtype=float)], dtype=object)


def _run(cell: FileCell, p: list[dict[str, Any]], x: np.ndarray, start: list[dict[str, Any]], first: int,
         last: int) -> list[list[dict[str, Any]]]:
    """The states of every layer at steps first..last (index 0: ``start``, the states at step first)."""
    states = [[dict(s)] for s in start]
    for t in range(first + 1, last + 1):
        inp = x[t - 1]
        for ell, q in enumerate(p):
            new = cell.step(q, states[ell][-1], inp)
            states[ell].append(new)
            inp = new["h"]
    return states


def _initial(cell: FileCell, p: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{s: q[f"{s}0"] for s in cell.states} for q in p]


def _loss_terms(h: list[Any], y: np.ndarray, loss: str, first: int) -> dict[int, Var]:
    """½‖h_t − y_t‖² for the loss's steps t, from the top layer's h at steps first.."""
    T = first + len(h) - 1
    y = np.asarray(y, dtype=float)
    steps = [T] if loss == "last" else range(max(first, 1), T + 1)
    out = {}
    for t in steps:
        target = y.reshape(-1) if loss == "last" else y[t - 1].reshape(-1)
        e = np.ravel(h[t - first]) - np.array([mpmath.mpf(v) for v in target], dtype=object)
        out[t] = sum((v * v for v in e), Var(0)) / 2
    return out


def _grads(layers: list[Layer], p: list[dict[str, Any]]) -> list[Layer]:
    """Each leaf's gradient in its parameter's shape (a shared [] number's one value)."""
    out = []
    for given, q in zip(layers, p, strict=True):
        g = {}
        for name, value in given.items():
            leaves = np.ravel(np.asarray(q[name], dtype=object))
            g[name] = np.array([v.grad for v in leaves], dtype=object).reshape(np.shape(value))
        out.append(g)
    return out


def bptt(text: str, layers: list[Layer], x: np.ndarray, y: np.ndarray, loss: str = "last",
         truncate: int | None = None, magnitudes: bool = False) -> tuple:
    """Loss and ∂L/∂θ of every parameter entry (mpf, in each parameter's shape) of a cell file's network,
    at mpmath's working precision.

    Args:
        text: the cell file's TOML.
        layers: per layer, each parameter (and initial state h0, c0, …) as a float array.
        x: the inputs, T × m.
        y: the target: n (loss 'last') or T × n (loss 'sum').
        loss: 'last' or 'sum'.
        truncate: each loss term flows back through its last k steps only.
        magnitudes: also return, for every entry, Σ over the graph's paths of |path product| (each
            operation's local derivatives by absolute value): the scale at which rounding acts.

    Returns:
        (loss, one dict of gradients per layer), and the magnitudes in the same form with ``magnitudes``.
    """
    cell = FileCell(text)
    p, xs = _vars(layers, cell), _inputs(x)
    T = xs.shape[0]
    states = _run(cell, p, xs, _initial(cell, p), 0, T)
    terms = _loss_terms([s["h"] for s in states[-1]], y, loss, 0)
    total = sum(terms.values(), Var(0))
    sweeps = (False, True) if magnitudes else (False,)
    found = []
    for absolute in sweeps:
        if truncate is None:
            backward(total, p, absolute)
            found.append(_grads(layers, p))
            continue
        grads = [{name: np.zeros(np.shape(v), dtype=object) for name, v in given.items()} for given in layers]
        for s in terms:
            lo = max(s - truncate, 0)
            start = _initial(cell, p) if lo == 0 else [
                {name: _leaf(v) for name, v in layer[lo].items()} for layer in states]
            window = _run(cell, p, xs, start, lo, s)
            term = _loss_terms([w["h"] for w in window[-1]], y, "last" if loss == "last" else "sum", lo)[s]
            backward(term, p, absolute)
            for g, got in zip(grads, _grads(layers, p), strict=True):
                for name in g:
                    g[name] = g[name] + got[name]
        found.append(grads)
    return (total.value, *found)


def _leaf(value: Any) -> Any:
    """A state's value as a fresh leaf: the graph before it is cut."""
    if isinstance(value, np.ndarray):
        return np.array([Var(v.value) for v in value.reshape(-1)], dtype=object).reshape(value.shape)
    return Var(value.value)


def jacobians(text: str, layers: list[Layer], x: np.ndarray, layer: int = -1) -> list[dict[tuple[str, str], Any]]:
    """∂s_T/∂s_k of one layer (its own recursion; the layers below held as numbers), k = 0..T: for each k
    a dict (new state, old state) → n×n object array of mpf, at mpmath's working precision."""
    cell = FileCell(text)
    p, xs = _vars(layers, cell), _inputs(x)
    T = xs.shape[0]
    states = _run(cell, p, xs, _initial(cell, p), 0, T)
    ell = layer % len(layers)
    inputs = [xs[t - 1] if ell == 0 else _leaf(states[ell - 1][t]["h"]) for t in range(1, T + 1)]
    out: list[dict[tuple[str, str], Any]] = []
    for k in range(T + 1):
        leaves = {s: _leaf(v) for s, v in states[ell][k].items()}
        now = dict(leaves)
        for t in range(k + 1, T + 1):
            now = cell.step(p[ell], now, inputs[t - 1])
        blocks: dict[tuple[str, str], Any] = {}
        for a in cell.states:
            finals = np.ravel(np.asarray(now[a], dtype=object))
            for b in cell.states:
                blocks[(a, b)] = np.zeros((finals.size, np.ravel(leaves[b]).size), dtype=object)
            for i, f in enumerate(finals):
                backward(f, leaves)
                for b in cell.states:
                    blocks[(a, b)][i, :] = [v.grad for v in np.ravel(np.asarray(leaves[b], dtype=object))]
        out.append(blocks)
    return out


def log10_norms(blocks: dict[tuple[str, str], Any], states: list[str]) -> dict[str, float]:
    """log10 of the spectral norm of the whole state Jacobian and of each state's own block."""
    rows = [np.concatenate([blocks[(a, b)] for b in states], axis=1) for a in states]
    out = {"state": _log_norm(np.concatenate(rows, axis=0))}
    for s in states:
        out[s] = _log_norm(blocks[(s, s)])
    return out


def trajectory(text: str, layers: list[Layer], x: np.ndarray) -> list[list[dict[str, np.ndarray]]]:
    """Every named value of every layer and step t = 0..T as an (n, 1) column of mpf: the states (at t = 0
    the initial ones only) and, from t = 1, the intermediates."""
    cell = FileCell(text)
    p, xs = _vars(layers, cell), _inputs(x)
    now = _initial(cell, p)
    out = [[{s: _column(v) for s, v in now[ell].items()}] for ell in range(len(p))]
    for t in range(1, xs.shape[0] + 1):
        inp = xs[t - 1]
        for ell, q in enumerate(p):
            inner, now[ell] = cell.named(q, now[ell], inp)
            out[ell].append({k: _column(v) for k, v in {**inner, **now[ell]}.items()})
            inp = now[ell]["h"]
    return out


def _column(value: Any) -> np.ndarray:
    return np.array([v.value for v in np.ravel(np.asarray(value, dtype=object))], dtype=object).reshape(-1, 1)


__all__ = ["FUNCTIONS", "FileCell", "Var", "backward", "bptt", "jacobians", "lift", "log10_norms", "trajectory"]

