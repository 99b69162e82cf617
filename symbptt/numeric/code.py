"""A form as NumPy code: a standalone Python module (NumPy only) that computes ∂L/∂θ by the explicit or
recursive form, for the model it was generated for.

The module has one function, ``gradient(params, x, y)``, written in three parts, each named in the
project's notation: the forward pass (every linear map and node of the cell, layer by layer, step by
step), the chain-rule factors the form uses (J, F, V, D of each step: Σ diag(coefficient)·M, the
coefficient a function of that step's values written once per route), and the form itself, one line
per summand or per δ, as compiled.py runs it.  A test executes the code against ``grad``.
"""

from __future__ import annotations

import re
import textwrap

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from .. import primitives as P
from ..cells import INPUT, Cell, prev, unit
from ..escape import docstring_text
from ..model import RNN
from ..paths import param_entry
from ..step import Route
from .compiled import CompiledForm, _name

HELPERS = '''
def _sigmoid(a):
    """1/(1 + e^(-a)), without overflow for large |a|."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


_erf = np.vectorize(math.erf, otypes=[float])


def _term(error, chain, z):
    """One summand of the explicit form: (h_s - y)^T J_s ... D_k, then its outer product with z."""
    row = error.T
    for factor in chain:
        row = row @ factor
    return row.T if z is None else row.T @ z.T


def _tapply(factor, delta):
    """factor^T delta: one step of the delta recursion."""
    return factor.T @ delta


def _outer(column, z):
    return column if z is None else column @ z.T
'''


class _Sigmoid(sp.Function):
    """The logistic function, printed as the module's own overflow-safe helper."""


class _Printer(NumPyPrinter):
    """NumPy code for the cell's functions; at a kink the derivative from the left (relu'(0) = 0)."""

    def _print__Sigmoid(self, expr: sp.Basic) -> str:
        return f"_sigmoid({self._print(expr.args[0])})"

    def _print_Heaviside(self, expr: sp.Basic) -> str:
        return f"np.where({self._print(expr.args[0])} > 0, 1.0, 0.0)"

    def _print_H(self, expr: sp.Basic) -> str:  # the step function of primitives.py, H(0) = 0
        return f"np.where({self._print(expr.args[0])} > 0, 1.0, 0.0)"

    def _print_erf(self, expr: sp.Basic) -> str:
        return f"_erf({self._print(expr.args[0])})"


def _code(expr: sp.Expr) -> str:
    logistic = type(P.plain(P.sigmoid(sp.Symbol("a"))))
    plain = P.plain(expr).replace(logistic, lambda x: _Sigmoid(x))
    return _Printer({"fully_qualified_modules": True}).doprint(plain).replace("numpy.", "np.")


def _identifier(symbol: sp.Symbol) -> str:
    return "v_" + symbol.name


def numpy_source(rnn: RNN, form: str = "recursive", wrt: str = "all", command: str = "") -> str:
    """The standalone module (see the module docstring).

    Args:
        rnn: the model (its T, sizes, cell and loss are fixed in the code).
        form: ``explicit`` or ``recursive``.
        wrt: a parameter name or ``all``.
        command: the command line that made it, quoted in the module's docstring.

    Returns:
        Python source text.
    """
    from .. import __version__

    compiled = CompiledForm(rnn, form, wrt)
    spec = rnn.spec
    args = compiled._template_args()
    names = ", ".join(_identifier(a) for a in args)
    plural = "s" if rnn.layers > 1 else ""
    title = docstring_text(spec.title)
    lines = [f'"""∂L/∂θ of {title}, T = {rnn.T}, n = {rnn.n}, m = {rnn.m}, {rnn.layers} layer{plural}, loss '
             f'{rnn.loss!r}, by the {form} form.',
             "",
             f"Written by symbptt {__version__}" + (f" ({docstring_text(command)})" if command else "")
             + "; needs NumPy only.",
             "params: one dict per layer, as `symbptt grad` reads them: "
             + ", ".join(f"{p} {_shape(rnn, p)}" for p in spec.params) + " (layer 1; above it m is n);",
             "x: (T, m); y: (n,) for loss 'last', (T, n) for 'sum'.  Returns {(name, layer): gradient}.",
             '"""', "", "import functools  # noqa: F401 - max and min of several arguments", "import math", "",
             "import numpy as np", HELPERS, ""]
    routes = compiled._route_templates()
    for route, terms in routes.items():
        for i, (coef, _) in enumerate(terms):
            code = _code(coef.xreplace({a: sp.Symbol(_identifier(a)) for a in args}))
            lines += [f"def _c_{route.kind}_{route.target}_{route.source}_{i}({names}):  # noqa: ARG001",
                      f"    return {code} + 0 * v_{spec.states[0]}", "", ""]
    lines += ["def gradient(params, x, y):", f"    T, layers = {rnn.T}, {rnn.layers}",
              "    x = np.asarray(x, dtype=float).reshape(T, -1)",
              "    s = [{} for _ in range(layers)]  # s[l][name][t]: column vectors (n, 1)",
              "    for l, p in enumerate(params):"]
    lines += [f"        s[l][{st!r}] = [np.asarray(p[{st + '0'!r}], dtype=float).reshape(-1, 1)]"
              for st in spec.states]
    lines += [f"        s[l][{name!r}] = [None]" for name in [lin.name for lin in spec.linears]
              + [n for n, _ in spec.nodes if n not in spec.states]]
    lines += ["    for t in range(1, T + 1):", "        for l, p in enumerate(params):",
              "            inp = x[t - 1].reshape(-1, 1) if l == 0 else s[l - 1]['h'][t]"]
    for lin in spec.linears:
        parts = [f"p[{m!r}] @ " + ("inp" if src == INPUT else f"s[l][{src!r}][t - 1]") for m, src in lin.terms]
        if lin.bias:
            parts.append(f"np.asarray(p[{lin.bias!r}], dtype=float).reshape(-1, 1)")
        lines.append(f"            {_identifier(unit(lin.name))} = " + " + ".join(parts))
    for st in spec.states:
        lines.append(f"            {_identifier(prev(st))} = s[l][{st!r}][t - 1]")
    lines.append(f"            {_identifier(unit(INPUT))} = inp")
    for name in spec.unit_params:  # parameters that act unit by unit (a number, or one entry per unit)
        lines.append(f"            {_identifier(unit(name))} = np.asarray(p[{name!r}], dtype=float).reshape(-1, 1)")
    for name, expr in spec.nodes:
        node = _code(expr.xreplace({a: sp.Symbol(_identifier(a)) for a in args}))
        lines.append(f"            {_identifier(unit(name))} = {node}")
    for name in [lin.name for lin in spec.linears] + [n for n, _ in spec.nodes]:
        lines.append(f"            s[l][{name!r}].append({_identifier(unit(name))})")
    lines += ["    def values(l, t):  # the arguments of every coefficient at step t of layer l",
              "        inp = x[t - 1].reshape(-1, 1) if l == 0 else s[l - 1]['h'][t]",
              "        return (" + ", ".join(_value_of(a, spec) for a in args) + ",)", "",
              "    V = {}  # the chain-rule factors of every step the form uses, named kind_target_source_layer_t"]
    for step in sorted(compiled.steps, key=lambda st: (st.layer, st.t, st.kind, st.target, st.source)):
        route = Route(step.kind, step.target, step.source)
        parts = []
        for i, (_, matrix) in enumerate(routes[route]):
            coef = f"_c_{route.kind}_{route.target}_{route.source}_{i}(*values({step.layer - 1}, {step.t}))[:, 0]"
            if matrix is None:  # a diagonal, or the column of a number every unit shares
                parts.append(f"{coef}[:, None]" if spec.shared(step.source) else f"np.diag({coef})")
            else:
                parts.append(f"{coef}[:, None] * params[{step.layer - 1}][{matrix!r}]")
        lines.append(f"    V[{_name(step)!r}] = " + " + ".join(parts))
    lines += ["    for t in range(1, T + 1):  # the errors h_t - y_t (loss 'last': at T only)",
              f"        target = np.asarray(y, dtype=float){'' if rnn.loss == 'last' else '[t - 1]'}.reshape(-1, 1)",
              "        V[f'e_{t}'] = s[layers - 1]['h'][t] - target"]
    for param, layer in compiled.keys:
        value = f"np.asarray(params[{layer - 1}][{param!r}], dtype=float)"
        lines.append(f"    V['zero_{param}_{layer}'] = 0 * {value}.reshape(len({value}), -1)  # vectors as columns")
        kind, _, source = param_entry(rnn, param)
        if kind in ("recurrent", "input"):
            where = (f"(x[t - 1].reshape(-1, 1) if {layer} == 1 else s[{layer - 2}]['h'][t])" if source == INPUT
                     else f"s[{layer - 1}][{source!r}][t - 1]")
            lines += ["    for t in range(1, T + 1):", f"        V[f'z_{param}_{layer}_{{t}}'] = {where}"]
    body = compiled.source.splitlines()[1:]  # the form, one line per summand or per δ
    lines += ["    out = _program(V)", "    return {(name.rsplit('_', 1)[0], int(name.rsplit('_', 1)[1])): g.reshape(",
              "        np.shape(params[int(name.rsplit('_', 1)[1]) - 1][name.rsplit('_', 1)[0]]))",
              "        for name, g in out.items()}", "", "",
              "def _program(V):", '    """The form itself, in the order the tool prints it."""', *body, ""]
    return "\n".join(_wrapped("\n".join(lines).split("\n")))


WIDTH = 100  # the longest line of the module: it is read in editors, terminals and LaTeX listings


def _wrapped(lines: list[str]) -> list[str]:
    """Every line within WIDTH: the module docstring's by words, code inside its brackets."""
    out, in_doc = [], False
    for i, line in enumerate(lines):
        if i == 0 and line.startswith('"""'):
            in_doc = True
        if in_doc:
            out.extend(textwrap.wrap(line, WIDTH, break_long_words=False, break_on_hyphens=False) or [""])
            in_doc = not (line == '"""' or (i > 0 and line.endswith('"""')))
            continue
        out.extend(_wrap_code(line))
    return out


def _break_points(text: str) -> list[int]:
    """Where ``text`` may be broken: after ', ' or before ' + ' inside brackets, outside strings and
    comments (a break inside brackets needs no backslash)."""
    points, depth, quote = [], 0, ""
    for k, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            break
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth >= 1 and text.startswith(", ", k):
            points.append(k + 2)
        elif depth >= 1 and text.startswith(" + ", k):
            points.append(k + 1)
    return points


def _wrap_code(line: str) -> list[str]:
    if len(line) <= WIDTH:
        return [line]
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    assign = re.match(r"^(\s*[\w\[\]'\.]+ = )(.*)$", line)
    if assign and not _break_points(assign.group(2)[:WIDTH]) and " + " in assign.group(2):
        line = f"{assign.group(1)}({assign.group(2)})"  # a sum at the top: its own brackets make room
    points = _break_points(line)
    out: list[str] = []
    start = 0
    while len(line) - start + (len(indent) if out else 0) > WIDTH:
        room = WIDTH - (len(indent) if out else 0)
        fits = [p for p in points if start < p <= start + room]
        cut = fits[-1] if fits else next((p for p in points if p > start), None)
        if cut is None:
            break
        out.append((indent if out else "") + line[start:cut].rstrip())
        start = cut
    out.append(indent + line[start:].lstrip() if out else line)
    return out


def _value_of(symbol: sp.Symbol, spec: Cell) -> str:
    """Where the forward pass keeps a coefficient's argument at step t of layer l."""
    name = symbol.name
    if name.startswith("prev_"):
        return f"s[l][{name[5:]!r}][t - 1]"
    if name == INPUT:
        return "inp"
    if name in spec.unit_params:
        return f"np.asarray(params[l][{name!r}], dtype=float).reshape(-1, 1)"
    return f"s[l][{name!r}][t]"


def _shape(rnn: RNN, param: str) -> str:
    kind = rnn.spec.kind(param)
    return {"recurrent": "(n, n)", "input": "(n, m)", "bias": "(n,)", "unit": "(n,)", "initial": "(n,)",
            "scalar": "(1,)"}[kind]
