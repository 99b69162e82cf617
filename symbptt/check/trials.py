"""A trial of the cross-check: a network drawn at random (cell, activation, sizes, loss, truncation,
sometimes saturated units) and the reference activation it is compared with."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import mpmath
import numpy as np

from ..config import Config
from ..reference import ACTIVATED

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear", "a/(1+abs(a))", "erf(a)", "max(a, 0.1*a)")


def _custom_pair(text: str, kind: str) -> tuple[Callable, Callable]:
    """σ and σ' of the check's custom activations, written here independently of the parser; at a kink σ'
    is the derivative from the left (leaky'(0) = 0.1)."""
    if kind == "float":
        import math as m

        erf = np.vectorize(m.erf, otypes=[float])
        floats: dict[str, tuple[Callable, Callable]] = {
            "a/(1+abs(a))": (lambda a: a / (1 + np.abs(a)), lambda a: 1 / (1 + np.abs(a)) ** 2),
            "erf(a)": (erf, lambda a: 2 / np.sqrt(np.pi) * np.exp(-a * a)),
            "max(a, 0.1*a)": (lambda a: np.where(a > 0, a, 0.1 * a), lambda a: np.where(a > 0, 1.0, 0.1)),
        }
        return floats[text]
    erf, exp = np.frompyfunc(mpmath.erf, 1, 1), np.frompyfunc(mpmath.exp, 1, 1)
    tenth = mpmath.mpf(1) / 10
    table: dict[str, tuple[Callable, Callable]] = {
        "a/(1+abs(a))": (lambda a: a / (1 + np.abs(a)), lambda a: 1 / (1 + np.abs(a)) ** 2),
        "erf(a)": (erf, lambda a: 2 / mpmath.sqrt(mpmath.pi) * exp(-a * a)),
        "max(a, 0.1*a)": (lambda a: np.where(a > 0, a, tenth * a), lambda a: np.where(a > 0, 1, tenth) * (a * 0 + 1)),
    }
    return table[text]


# the functions of the custom-activation grammar (safeexpr.FUNCTIONS), as mpmath computes them
_MP_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs, "atan": mpmath.atan, "cos": mpmath.cos, "cosh": mpmath.cosh, "erf": mpmath.erf, "exp": mpmath.exp,
    "log": mpmath.log, "max": max, "min": min, "sigmoid": lambda v: 1 / (1 + mpmath.exp(-v)), "sin": mpmath.sin,
    "sinh": mpmath.sinh, "sqrt": mpmath.sqrt, "tanh": mpmath.tanh}
_MP_OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda x, y: x + y, ast.Sub: lambda x, y: x - y, ast.Mult: lambda x, y: x * y,
    ast.Div: lambda x, y: x / y, ast.Pow: lambda x, y: x**y}


def _written(text: str) -> Callable[[Any], Any]:
    """σ of an activation as written, at mpmath's working precision: its syntax tree walked node by node
    (the text has passed the parser's whitelist; this does not use the SymPy expression the parser built).
    A number is read from its decimal spelling, as the parser reads it."""
    tree = ast.parse(text.strip(), mode="eval").body

    def value(node: ast.AST, a: Any) -> Any:
        if isinstance(node, ast.Constant):
            return mpmath.mpf(repr(node.value))
        if isinstance(node, ast.Name):
            return {"a": a, "pi": mpmath.pi, "E": mpmath.e}[node.id]
        if isinstance(node, ast.UnaryOp):
            inner = value(node.operand, a)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp):
            return _MP_OPERATORS[type(node.op)](value(node.left, a), value(node.right, a))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return _MP_FUNCTIONS[node.func.id](*(value(arg, a) for arg in node.args))
        raise ValueError(f"{type(node).__name__} is not part of an activation")  # the parser refused it first

    return lambda a: value(tree, mpmath.mpf(a))


def _written_pair(text: str, kind: str) -> tuple[Callable, Callable]:
    """σ and σ' of any other activation a user gives (`symbptt verify -a …`), independently of the engine:
    σ from the text (_written), σ' by mpmath.diff (differences taken at raised precision, from the left:
    at a kink σ' is the derivative from the left, as the engine's), never SymPy's derivative.  ``kind``
    'float' rounds the values computed at 30 digits."""
    sigma = _written(text)

    def slope(a: Any) -> Any:
        return mpmath.diff(sigma, mpmath.mpf(a), direction=-1)

    if kind == "float":
        def rounded(f: Callable[[Any], Any]) -> Callable:
            def at(a: Any) -> float:
                with mpmath.workdps(30):
                    return float(f(float(a)))
            return np.vectorize(at, otypes=[float])

        return rounded(sigma), rounded(slope)
    return np.frompyfunc(sigma, 1, 1), np.frompyfunc(slope, 1, 1)


def reference_activation(act: str, kind: str) -> str | tuple:
    """A built-in activation's name (reference.py has it), or σ and σ' of a custom one: the check's own,
    written out (_custom_pair), else from its text (_written_pair)."""
    if act in ("tanh", "sigmoid", "relu", "linear"):
        return act
    return _custom_pair(act, kind) if act in ACTIVATIONS else _written_pair(act, kind)


@dataclass
class Trial:
    cell: str
    activation: str | None
    n: int
    m: int
    layers: int
    T: int
    loss: str
    truncate: int | None
    saturated: bool
    config: Config
    text: str | None = None  # a cell file's TOML (the cell is FILE_CELLS[cell])

    def describe(self) -> str:
        act = f", {self.activation}" if self.activation else ""
        extra = (f", truncate {self.truncate}" if self.truncate else "") + (", saturated" if self.saturated else "")
        return (f"{self.cell}{act}, T={self.T}, n={self.n}, m={self.m}, layers={self.layers}, "
                f"loss {self.loss}{extra}")


# Cell files the check writes as a user would and reads with the tool (cells/userfile.py), each checked
# against reference_files.py, which reads the same text again with its own parser and differentiates it
# by reverse accumulation: a scalar file cell, shaped ones with matrices (@), per-unit vectors, two states,
# a shared [] number, and a scalar cell of two states h and m whose names carry digits (v_r1: routes
# D^hvr1_t), with a multi-letter intermediate, a sigmoid of a sum it does not name (σ(h − m)), Euler's e
# beside a parenthesis and a call followed by another factor in its derivatives (printed braced).
FILE_CELLS: dict[str, str] = {
    "mgu.toml": """
states = ["h"]
params = ["w_f", "u_f", "b_f", "w_n", "u_n", "b_n"]
[intermediates]
f = "sigmoid(w_f*h + u_f*x + b_f)"
n = "tanh(w_n*(f*h) + u_n*x + b_n)"
[update]
h = "(1 - f)*h + f*n"
""",
    "vgru.toml": """
states = ["h"]
params = ["W_r", "W_z", "W_n", "U_r", "U_z", "U_n", "b_r", "b_z", "b_n", "b_hn"]
[shapes]
W_r = ["n", "n"]
W_z = ["n", "n"]
W_n = ["n", "n"]
U_r = ["n", "m"]
U_z = ["n", "m"]
U_n = ["n", "m"]
b_r = ["n"]
b_z = ["n"]
b_n = ["n"]
b_hn = ["n"]
[intermediates]
r = "sigmoid(W_r @ h + U_r @ x + b_r)"
z = "sigmoid(W_z @ h + U_z @ x + b_z)"
n = "tanh(U_n @ x + b_n + r*(W_n @ h + b_hn))"
[update]
h = "(1 - z)*n + z*h"
""",
    "diagpair.toml": """
states = ["h", "c"]
params = ["U_f", "U_g", "w_f", "w_h", "b_f", "b_g"]
[shapes]
U_f = ["n", "m"]
U_g = ["n", "m"]
w_f = ["n"]
w_h = ["n"]
b_f = ["n"]
b_g = ["n"]
[intermediates]
f = "sigmoid(w_f*h + U_f @ x + b_f)"
g = "tanh(U_g @ x + b_g)"
[update]
c = "f*c + (1 - f)*g"
h = "tanh(w_h*c + h/2)"
""",
    "leaky.toml": """
states = ["h"]
params = ["W", "U", "b", "leak"]
[shapes]
W = ["n", "n"]
U = ["n", "m"]
b = ["n"]
leak = []
[intermediates]
g = "sigmoid(leak)"
[update]
h = "(1 - g)*h + g*erf(W @ h + U @ x + b)"
""",
    "mixed.toml": """
states = ["h", "m"]
params = ["v_r1", "u_r1", "v_g2", "u_g2", "b_g2", "v_q3", "u_q3"]
[intermediates]
r = "sigmoid(v_r1*h + u_r1*x)"
gate = "tanh(r*(v_g2*m + u_g2*x + b_g2))"
[update]
h = "gate*tanh(m) + h/4"
m = "sin(v_q3*m + u_q3*x) + sigmoid(h - m)/3 + E*(1 - r)*gate/9"
""",
}
DRAWN = ("rnn", "rnn", "rnn", "lstm", "gru", "mingru", "minlstm", "indrnn", "lru")  # the vanilla cell 3× as often
WITH_FILES = (*DRAWN, *FILE_CELLS)  # what `symbptt check` draws: the built-in cells and the check's cell files


def draw_layers(spec, n: int, m: int, layers: int, rng: np.random.Generator, scale: float = 0.8) -> list[dict]:
    """Every layer's parameters for a check: weights and biases N(0, scale²), initial states U(−½, ½)."""
    params = []
    for ell in range(layers):
        width = m if ell == 0 else n
        p = {}
        for name in spec.params:
            kind = spec.kind(name)
            shape = spec.shape(name, n, width)
            if kind == "unit":  # per-unit parameters on the cell's own interval (the LRU's ν: λ near 1)
                low, high = spec.init_range(name)
                p[name] = rng.uniform(low, high, shape)
            else:
                p[name] = rng.normal(0, scale, shape) if kind != "initial" else rng.uniform(-0.5, 0.5, shape)
        params.append(p)
    return params


def random_trial(rng: np.random.Generator, T_max: int, cells: tuple[str, ...] = DRAWN) -> Trial:
    """One random network with its numbers, its cell drawn from ``cells`` (a tuple as it was earlier
    reproduces that version's trials); a cell file's (FILE_CELLS) is never saturated, and a file without
    [shapes] has n = m = 1."""
    from ..activations import get_activation
    from ..cells import get_cell

    cell = str(rng.choice(list(cells)))
    text = FILE_CELLS.get(cell)
    act = str(rng.choice(ACTIVATIONS)) if cell in ACTIVATED else None
    n, m, layers = int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 4))
    T, loss = int(rng.integers(1, T_max + 1)), str(rng.choice(["last", "sum"]))
    truncate = int(rng.integers(1, T + 1)) if rng.random() < 0.4 else None
    saturated = rng.random() < 0.2 and act not in ("linear", "relu", "max(a, 0.1*a)") and text is None
    if text is not None and "[shapes]" not in text:
        n = m = 1
    spec = file_cell(cell) if text is not None else get_cell(cell, get_activation("tanh"))  # σ: not read
    params = draw_layers(spec, n, m, layers, rng)
    x = rng.uniform(-1, 1, (T, m)) * (rng.uniform(20, 80) if saturated else 1.0)
    y = rng.uniform(-1, 1, n) if loss == "last" else rng.uniform(-1, 1, (T, n))
    cfg = Config(spec if text is not None else cell, act, params, x, y, loss, truncate, scalar=n == 1)
    return Trial(cell, act, n, m, layers, T, loss, truncate, saturated, cfg, text)


@cache
def file_cell(name: str) -> Any:
    """The check's cell file ``name`` as the tool reads a user's (cells/userfile.py)."""
    from ..cells.userfile import build_cell

    return build_cell(tomllib.loads(FILE_CELLS[name]), name)
