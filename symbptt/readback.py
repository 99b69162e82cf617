"""Reading printed output back into numbers: the cross-check evaluates the forms as a user sees them.

``text_equations`` splits `--format text` output into (lhs, rhs) pairs; ``latex_equations`` does the
same for the align* rows of `--format latex` and turns each side into the text syntax.  ``Evaluator``
then evaluates a right-hand side: the text is parsed by Python's ``ast`` (after every symbol of the
notation is replaced by a placeholder), each node is checked against a whitelist and evaluated with the
numbers a resolver gives for each symbol — floats, mpmath numbers, or arrays of either.  Nothing reaches
``eval``.  This reads the tool's own output only; it is not a general LaTeX parser.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np

from . import notation

NAME_TEXT = re.compile(
    r"(?<![\w.])([A-Za-z]+(?:_[a-z][a-z0-9]*)?(?:\^(?:[a-z][a-z0-9]*)?(?:\(\d+\))?)?"
    r"(?:_(?:\d+|[tkjsT]|\([tkjsT][+-]\d+\)))?(?:\[\d+(?:,\d+)?\])?)(?![\w(])"
)
FUNCTIONS = {"tanh", "exp", "log", "sqrt", "Abs", "sign", "H", "Heaviside", "Max", "Min", "atan", "erf", "sin",
             "cos", "sinh", "cosh", "diag", "Piecewise", "Eq", "sigmoid"}
CONSTANTS = {"pi", "E", "True"}


class ReadError(ValueError):
    """The printed output does not follow the grammar this module reads."""


# ---------------------------------------------------------------- text output


def text_equations(output: str) -> list[tuple[str, str]]:
    """(lhs, rhs) of every equation of `--format text` output (continuation lines joined)."""
    logical: list[str] = []
    for line in output.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith(" ") and logical:
            logical[-1] += " " + line.strip()
        else:
            logical.append(line)
    return [tuple(part.strip() for part in line.split(" = ", 1)) for line in logical]  # type: ignore[misc]


# ---------------------------------------------------------------- LaTeX output

LATEX_NAME = re.compile(r"(\\mathit\{[A-Za-z]+\}|\\[a-zA-Z]+|[A-Za-z])"
                        r"(\^\{(?:[a-z][a-z0-9]*)?(?:\(\d+\))?\})?(_\{[^{}]*\})?")
COMMANDS = {r"\tanh": "tanh", r"\exp": "exp", r"\log": "log", r"\sin": "sin", r"\cos": "cos", r"\sinh": "sinh",
            r"\cosh": "cosh", r"\max": "Max", r"\min": "Min"}
GREEK = {r"\delta": "delta"}


def latex_equations(output: str, params: frozenset[str] = notation.PARAM_BASES) -> list[tuple[str, str]]:
    """(lhs, rhs) in text syntax of every equation of the align* environments in ``output``; a symbol whose
    base is one of ``params`` is read as a parameter (W^{(2)}_{f,12} → W_f^(2)[1,2])."""
    rows: list[str] = []
    for block in re.findall(r"\\begin\{align\*\}\n(.*?)\n\\end\{align\*\}", output, re.S):
        rows.extend(row.strip() for row in block.split(" \\\\\n"))
    equations: list[list[str]] = []
    for row in rows:
        row = re.sub(r"^\\(?:text|phantom)\{(?:\\text\{)?where \}\}?\s*", "", row)
        row = row.replace(r"\phantom{\text{where }}", "")
        if row.startswith("&\\quad"):
            sign, rest = row[len("&\\quad"):].strip().split(" ", 1)
            equations[-1][1] += f" {sign} {rest}"
        elif row.startswith("&\\qquad"):  # a continued line: \cdot factor, or inside a \bigl( … \bigr)
            equations[-1][1] += " " + row[len("&\\qquad"):].strip()
        else:
            lhs, rhs = row.split("&=", 1)
            equations.append([lhs.strip(), rhs.strip()])
    return [(latex_to_text(lhs, label=True, params=params), latex_to_text(rhs, params=params))
            for lhs, rhs in equations]


def latex_name(base: str, sup: str | None, sub: str | None, params: frozenset[str] = notation.PARAM_BASES) -> str:
    """A LaTeX symbol of the notation (h^{(2)}_{3,1}, W^{(2)}_{f,12}) in its text spelling."""
    base = GREEK.get(base, base.removeprefix("\\mathit{").removesuffix("}"))  # \mathit{gate}: the name gate
    sup = sup[2:-1] if sup else ""
    sub = sub[2:-1] if sub else ""
    layer_match = re.search(r"\((\d+)\)$", sup)
    layer = int(layer_match.group(1)) if layer_match else None
    tag = sup[: layer_match.start()] if layer_match else sup
    pieces = [p for p in sub.split(",") if p] if sub else []
    if base in params:
        ptag = next((p for p in pieces if not p.isdigit()), "")
        digits = "".join(p for p in pieces if p.isdigit())
        return notation.Parts(base, ptag, layer, "", tuple(int(d) for d in digits), True).text()
    step = pieces[0] if pieces else ""
    unit = tuple(int(p) for p in pieces[1:])
    return notation.Parts(base, tag, layer, step, unit).text()


def latex_to_text(source: str, label: bool = False, params: frozenset[str] = notation.PARAM_BASES) -> str:
    """Our LaTeX (one side of an equation) in the text syntax; juxtaposition becomes ``%``, the
    generic product (a matrix product between matrices, a product otherwise)."""
    source = source.strip()
    if label:
        m = re.fullmatch(r"\\frac\{\\partial (\S+)\}\{\\partial (.+)\}", source)
        if m:
            return f"∂{latex_to_text(m.group(1), params=params)}/∂{latex_to_text(m.group(2), params=params)}"
    return _Latex(source, params).convert()


class _Latex:
    """A small recursive converter over our LaTeX (names, fractions, functions, powers, cases)."""

    def __init__(self, text: str, params: frozenset[str] = notation.PARAM_BASES) -> None:
        self.s, self.i, self.params = text, 0, params

    def convert(self, stop: str = "") -> str:
        out: list[str] = []
        operand = False

        def put(piece: str, is_operand: bool) -> None:
            nonlocal operand
            if is_operand and operand:
                out.append(" % ")
            out.append(piece)
            operand = is_operand

        while self.i < len(self.s):
            s, i = self.s, self.i
            if stop and s.startswith(stop, i):
                self.i += len(stop)
                break
            ch = s[i]
            if ch in " \t":
                self.i += 1
                continue
            if s.startswith(r"\left[\begin{matrix}", i):
                end = s.index(r"\end{matrix}\right]", i)
                body = s[i + len(r"\left[\begin{matrix}"):end]
                self.i = end + len(r"\end{matrix}\right]")
                rows = ["[" + ", ".join(_Latex(cell.strip(), self.params).convert() for cell in _split_top(row, "&"))
                        + "]" for row in _split_top(body, "\\\\") if row.strip()]
                put("[" + ", ".join(rows) + "]", True)
                continue
            if s.startswith(r"\left(", i) or s.startswith(r"\left[", i):
                self.i += 6
                put("(" + self.convert(r"\right" + (")" if s[i + 5] == "(" else "]")) + ")", True)
                continue
            if s.startswith(r"\bigl(", i):
                self.i += 6
                put("(" + self.convert(r"\bigr)") + ")", True)
                continue
            if s.startswith(r"\left|", i):
                self.i += 6
                put("Abs(" + self.convert(r"\right|") + ")", True)
                continue
            if s.startswith(r"\frac", i):
                self.i += 5
                top, bottom = self.group(), self.group()
                put(f"(({top})/({bottom}))", True)
                continue
            if s.startswith(r"\sqrt", i):
                self.i += 5
                put(f"sqrt({self.group()})", True)
                continue
            if s.startswith(r"\cdots", i):
                raise ReadError("an ellipsis cannot be evaluated")
            if s.startswith(r"\cdot", i):
                self.i += 5
                put(" * ", False)
                continue
            if s.startswith(r"\begin{cases}", i):
                self.i += len(r"\begin{cases}")
                put(self.cases(), True)
                continue
            if s.startswith("^{\\top}", i):
                self.i += len("^{\\top}")
                out.append(".T")
                continue
            if ch == "^":
                self.i += 1
                out.append(f"**({self.group()})")
                continue
            if s.startswith("e^{", i) and (i == 0 or not s[i - 1].isalpha()):
                self.i += 1
                self.i += 1
                put(f"exp({self.group()})", True)
                continue
            if s.startswith(r"\sigma\left(", i) or s.startswith(r"\sigma\bigl(", i):
                self.i += len(r"\sigma")
                put(self.function("sigmoid"), True)
                continue
            if s.startswith(r"\pi", i) and not s[i + 3:i + 4].isalpha():
                self.i += 3
                put("pi", True)
                continue
            named = re.match(r"\\operatorname\{([A-Za-z]+)\}", s[i:])
            if named:  # the name as it is written (sigmoid, diag), not read as a product of letters
                self.i += named.end()
                put(self.function(named.group(1)), True)
                continue
            command = re.match(r"\\[a-zA-Z]+", s[i:])
            if command and command.group() in COMMANDS:
                self.i += len(command.group())
                put(self.function(COMMANDS[command.group()]), True)
                continue
            if ch == "{":
                put(f"({self.group()})", True)
                continue
            if ch in "+-*/=<>,()":
                self.i += 1
                put({"=": "=="}.get(ch, ch), False)
                continue
            number = re.match(r"\d+(?:\.\d+)?", s[i:])
            if number:
                self.i += len(number.group())
                put(number.group(), True)
                continue
            m = LATEX_NAME.match(s, i)
            if m and (m.group(1)[0] != "\\" or m.group(1) in GREEK or m.group(1).startswith("\\mathit{")):
                self.i = m.end()
                if m.group(1) == "H" and s.startswith((r"\left(", r"\bigl("), self.i):
                    put("H", True)
                    operand = False
                    continue
                put(latex_name(m.group(1), m.group(2), m.group(3), self.params), True)
                continue
            raise ReadError(f"cannot read LaTeX at {s[i:i + 30]!r}")
        return "".join(out)

    def group(self) -> str:
        s = self.s
        while self.i < len(s) and s[self.i] == " ":
            self.i += 1
        if self.i >= len(s) or s[self.i] != "{":
            raise ReadError(f"expected {{ at {s[self.i:self.i + 20]!r}")
        depth, start = 0, self.i
        for j in range(self.i, len(s)):
            depth += {"{": 1, "}": -1}.get(s[j], 0)
            if depth == 0:
                self.i = j + 1
                return _Latex(s[start + 1:j], self.params).convert()
        raise ReadError("unbalanced braces")

    def function(self, name: str) -> str:
        power = ""
        if self.s.startswith("^{", self.i):
            self.i += 1
            power = f"**({self.group()})"
        if self.s.startswith(r"\left(", self.i):
            self.i += 6
            arg = self.convert(r"\right)")
        elif self.s.startswith(r"\bigl(", self.i):
            self.i += 6
            arg = self.convert(r"\bigr)")
        else:
            arg = self.group()
        return f"{name}({arg}){power}"

    def cases(self) -> str:
        body_end = self.s.index(r"\end{cases}", self.i)
        body = self.s[self.i:body_end]
        self.i = body_end + len(r"\end{cases}")
        branches = []
        for row in body.split("\\\\"):
            if not row.strip():
                continue
            value, cond = row.split("&", 1)
            cond = cond.strip()
            if cond.startswith(r"\text{otherwise}"):
                text_cond = "True"
            else:
                cond = cond.removeprefix(r"\text{for}\:").strip()
                cond = cond.replace(r"\geq", ">=").replace(r"\leq", "<=")
                text_cond = _Latex(cond, self.params).convert()
                text_cond = text_cond.replace("<==", "<=").replace(">==", ">=")
            branches.append(f"({_Latex(value.strip(), self.params).convert()}, {text_cond})")
        return "Piecewise(" + ", ".join(branches) + ")"


def _split_top(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside braces and outside nested environments."""
    parts, depth, env, start, i = [], 0, 0, 0, 0
    while i < len(text):
        if text.startswith(r"\begin{", i):
            env += 1
        elif text.startswith(r"\end{", i):
            env -= 1
        ch = text[i]
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth == 0 and env == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return parts


# ---------------------------------------------------------------- evaluation


class Evaluator:
    """Evaluates the text syntax with numbers from ``resolve(symbol text)``; ``mp`` picks mpmath."""

    def __init__(self, resolve: Callable[[str], Any], mp: bool = False) -> None:
        self.resolve, self.mp = resolve, mp
        self.fn = _functions(mp)

    def __call__(self, text: str) -> Any:
        names: dict[str, str] = {}

        def placeholder(match: re.Match) -> str:
            token = match.group(1)
            if token in FUNCTIONS or token in CONSTANTS:
                return token
            key = f"_s{len(names)}"
            names[key] = token
            return key

        code = NAME_TEXT.sub(placeholder, text.replace("%", "%"))
        try:
            tree = ast.parse(code, mode="eval")
        except SyntaxError as exc:
            raise ReadError(f"cannot parse {text[:60]!r}: {exc.msg}") from None
        self.names = names
        return self.node(tree.body)

    def node(self, n: ast.AST) -> Any:
        if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)) and not isinstance(n.value, bool):
            return mpmath.mpf(n.value) if self.mp else n.value
        if isinstance(n, ast.Constant) and n.value is True:
            return True
        if isinstance(n, ast.Name):
            if n.id in self.names:
                value = self.resolve(self.names[n.id])
                if value is None:
                    raise ReadError(f"no value for {self.names[n.id]!r}")
                return value
            if n.id == "pi":
                return mpmath.pi if self.mp else np.pi
            if n.id == "E":
                return mpmath.e if self.mp else np.e
            if n.id == "True":
                return True
            raise ReadError(f"unknown name {n.id!r}")
        if isinstance(n, ast.BinOp):
            a, b = self.node(n.left), self.node(n.right)
            return _binary(type(n.op), a, b)
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
            value = self.node(n.operand)
            return -value if isinstance(n.op, ast.USub) else value
        if isinstance(n, ast.Attribute) and n.attr == "T":
            value = self.node(n.value)
            return value if _is_zero(value) else _matrix(value).T
        if isinstance(n, ast.List):
            rows = [self.node(e) for e in n.elts]
            return np.array([[_scalar(v) for v in row] if isinstance(row, list) else _scalar(row) for row in rows],
                            dtype=object)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in FUNCTIONS:
            if n.func.id == "Piecewise":
                return self.piecewise(n.args)
            return self.fn[n.func.id](*[self.node(a) for a in n.args])
        if isinstance(n, ast.Compare) and len(n.ops) == 1:
            a, b = self.node(n.left), self.node(n.comparators[0])
            ops = {ast.Eq: lambda x, y: x == y, ast.GtE: lambda x, y: x >= y, ast.LtE: lambda x, y: x <= y,
                   ast.Gt: lambda x, y: x > y, ast.Lt: lambda x, y: x < y}
            return ops[type(n.ops[0])](a, b)
        if isinstance(n, ast.Tuple):
            return tuple(self.node(e) for e in n.elts)
        raise ReadError(f"{type(n).__name__} is not part of the printed grammar")

    def piecewise(self, branches: list[ast.expr]) -> Any:
        for branch in branches:
            value, cond = branch.elts  # type: ignore[attr-defined]
            if self.node(cond):
                return self.node(value)
        raise ReadError("no branch of a Piecewise applies")


def _scalar(v: Any) -> Any:
    return v.reshape(-1)[0] if isinstance(v, np.ndarray) and v.size == 1 else v


def _matrix(v: Any) -> np.ndarray:
    return v if isinstance(v, np.ndarray) else np.array([[v]], dtype=object)


def _binary(op: type, a: Any, b: Any) -> Any:
    if op is ast.Mod:  # juxtaposition in LaTeX: a matrix product between matrices, else elementwise
        if _both_matrices(a, b) and a.shape[1] == b.shape[0] and not (a.shape[1] == 1 and b.shape[1] == 1):
            return a @ b
        return _elementwise(a, b)
    if op is ast.MatMult:
        if _is_zero(a) or _is_zero(b):
            return 0
        return _matrix(a) @ _matrix(b)
    if op is ast.Mult:
        return _elementwise(a, b)
    if op is ast.Add:
        return a + b
    if op is ast.Sub:
        return a - b
    if op is ast.Div:
        return a / b
    if op is ast.Pow:
        return a ** int(b) if float(b) == int(b) else a ** b
    raise ReadError(f"operator {op.__name__} is not part of the printed grammar")


def _both_matrices(a: Any, b: Any) -> bool:
    return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.ndim == 2 and b.ndim == 2 and \
        a.size > 1 and b.size > 1


def _is_zero(v: Any) -> bool:
    return not isinstance(v, np.ndarray) and v == 0


def _elementwise(a: Any, b: Any) -> Any:
    """a * b with NumPy's meaning; a 1×1 array counts as a number."""
    if isinstance(a, np.ndarray) and a.size == 1:
        a = a.reshape(-1)[0]
    if isinstance(b, np.ndarray) and b.size == 1:
        b = b.reshape(-1)[0]
    return a * b


def _functions(mp: bool) -> dict[str, Callable]:
    m = mpmath

    def each(f: Callable) -> Callable:
        vec = np.frompyfunc(f, 1, 1)
        return lambda x: vec(x) if isinstance(x, np.ndarray) else f(x)

    def heaviside(x: Any, h0: Any = 0) -> Any:
        return each(lambda v: 1 if v > 0 else 0)(x)

    def diag(v: Any) -> np.ndarray:
        flat = np.ravel(v) if isinstance(v, np.ndarray) else [v]
        out = np.zeros((len(flat), len(flat)), dtype=object)
        for i, x in enumerate(flat):
            out[i, i] = x
        return out

    if mp:
        table = {"tanh": m.tanh, "exp": m.exp, "log": m.log, "sqrt": m.sqrt, "Abs": abs, "atan": m.atan,
                 "erf": m.erf, "sin": m.sin, "cos": m.cos, "sinh": m.sinh, "cosh": m.cosh, "sign": m.sign}
    else:
        import math

        table = {"tanh": math.tanh, "exp": math.exp, "log": math.log, "sqrt": math.sqrt, "Abs": abs,
                 "atan": math.atan, "erf": math.erf, "sin": math.sin, "cos": math.cos, "sinh": math.sinh,
                 "cosh": math.cosh, "sign": lambda v: (v > 0) - (v < 0)}
    out = {name: each(f) for name, f in table.items()}
    out.update({"H": heaviside, "Heaviside": heaviside, "diag": diag, "Max": max, "Min": min,
                "Eq": lambda a, b: a == b,
                "sigmoid": each(lambda v: 1 / (1 + (m.exp(-v) if mp else __import__("math").exp(-v))))})
    return out
