"""Whitelist parser for user-supplied expressions (custom activations in ``a``, cell equations).

The text is parsed by Python's ``ast`` module (which only builds a tree and runs nothing), every node is
checked against a whitelist, the cost of the expression is bounded (length, number of nodes, depth,
arguments, the size of every constant) before any SymPy object exists, and the SymPy expression is then
built node by node from that tree.  Raw text never reaches ``eval`` or ``sympify``.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from fractions import Fraction

import sympy as sp

from . import primitives as P
from .errors import SymbpttError

A = sp.Symbol("a", real=True)

#            name       SymPy builder     args   float evaluator for constant sub-expressions
FUNCTIONS: dict[str, tuple[Callable[..., sp.Expr], int, int, Callable[..., float]]] = {
    "abs": (sp.Abs, 1, 1, abs),
    "atan": (sp.atan, 1, 1, math.atan),
    "cos": (sp.cos, 1, 1, math.cos),
    "cosh": (sp.cosh, 1, 1, math.cosh),
    "erf": (sp.erf, 1, 1, math.erf),
    "exp": (sp.exp, 1, 1, math.exp),
    "log": (sp.log, 1, 1, math.log),
    "max": (lambda *xs: sp.Max(*xs), 2, 4, max),
    "min": (lambda *xs: sp.Min(*xs), 2, 4, min),
    "sigmoid": (P.sigmoid, 1, 1, lambda x: 1 / (1 + math.exp(-x))),
    "sin": (sp.sin, 1, 1, math.sin),
    "sinh": (sp.sinh, 1, 1, math.sinh),
    "sqrt": (sp.sqrt, 1, 1, math.sqrt),
    "tanh": (P.tanh, 1, 1, math.tanh),
}
CONSTANTS: dict[str, tuple[sp.Expr, float]] = {"pi": (sp.pi, math.pi), "E": (sp.E, math.e)}
OPERATORS: dict[type, tuple[Callable, Callable]] = {
    ast.Add: (lambda x, y: x + y, lambda x, y: x + y),
    ast.Sub: (lambda x, y: x - y, lambda x, y: x - y),
    ast.Mult: (lambda x, y: x * y, lambda x, y: x * y),
    ast.Div: (lambda x, y: x / y, lambda x, y: x / y),
    ast.Pow: (lambda x, y: x**y, lambda x, y: x**y),
}
UNARY: dict[type, Callable] = {ast.USub: lambda x: -x, ast.UAdd: lambda x: x}
MAX_LENGTH = 500
MAX_NODES = 120
MAX_DEPTH = 12
MAX_EXPONENT = 64
MAX_CONSTANT = 1e300


def shown(text: str, limit: int = 40) -> str:
    """The user's text for an error message, cut short so a huge input is never echoed whole."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


class Parser:
    """One parse: the allowed names, what the expression is called in messages, and the node budget."""

    def __init__(self, text: str, names: Mapping[str, sp.Expr], what: str,
                 matmul: Callable[[sp.Expr, sp.Expr], sp.Expr | str] | None = None) -> None:
        self.text, self.names, self.what = text, names, what
        self.matmul = matmul  # M @ v: the caller builds it (or returns why not); None: @ is not allowed
        self.count = 0

    def fail(self, message: str) -> SymbpttError:
        return SymbpttError(f"{self.what} {shown(self.text)}: {message}")

    def parse(self) -> sp.Expr:
        if not isinstance(self.text, str) or not self.text.strip():
            raise SymbpttError(f"{self.what} is empty")
        if len(self.text) > MAX_LENGTH:
            raise self.fail(f"longer than {MAX_LENGTH} characters")
        if "#" in self.text or any(not ch.isprintable() for ch in self.text):
            raise self.fail("comments and control characters are not allowed")
        try:
            tree = ast.parse(self.text.strip(), mode="eval")
        except SyntaxError as exc:
            raise self.fail(f"not a valid expression ({exc.msg})") from None
        except (ValueError, RecursionError, MemoryError):
            raise self.fail("not a valid expression") from None
        self.check_shape(tree.body, 1)
        return self.build(tree.body)[0]

    def check_shape(self, node: ast.AST, depth: int) -> None:
        """Bound nodes and depth before anything is built (a deep or huge tree is refused cheaply)."""
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(f"more than {MAX_NODES} operations and names")
        if depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} levels deep")
        for child in ast.iter_child_nodes(node):
            self.check_shape(child, depth + 1)

    def build(self, node: ast.AST) -> tuple[sp.Expr, float | None]:
        """SymPy expression of ``node`` and, when it is a constant, its float value (else None)."""
        if isinstance(node, ast.Constant):
            return self.constant(node.value)
        if isinstance(node, ast.Name):
            if node.id in self.names:
                return self.names[node.id], None
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            allowed = ", ".join(sorted(self.names))
            raise self.fail(f"name {node.id!r} is not allowed (allowed: {allowed}, pi, E)")
        if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
            return self.binary(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult) and self.matmul is not None:
            built = self.matmul(self.build(node.left)[0], self.build(node.right)[0])
            if isinstance(built, str):
                raise self.fail(built)
            return built, None
        if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
            expr, value = self.build(node.operand)
            op = UNARY[type(node.op)]
            return op(expr), None if value is None else op(value)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.fail(f"{type(node).__name__} is not allowed")

    def constant(self, value: object) -> tuple[sp.Expr, float]:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"constant {value!r} is not a real number")
        if not math.isfinite(value) or abs(value) > MAX_CONSTANT:
            raise self.fail(f"constant {value!r} is out of range")
        exact = Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
        return sp.Rational(exact.numerator, exact.denominator), float(value)

    def checked(self, value: float | complex) -> float:
        if isinstance(value, complex) or not math.isfinite(value) or abs(value) > MAX_CONSTANT:
            raise self.fail("a constant part is complex, infinite or too large")
        return float(value)

    def binary(self, node: ast.BinOp) -> tuple[sp.Expr, float | None]:
        (left, lv), (right, rv) = self.build(node.left), self.build(node.right)
        build, evaluate = OPERATORS[type(node.op)]
        if isinstance(node.op, ast.Pow):
            if rv is not None and abs(rv) > MAX_EXPONENT:
                raise self.fail(f"exponent {rv:g} is larger than {MAX_EXPONENT}")
            if rv is None and (lv is None or lv <= 0):
                raise self.fail("a power whose exponent varies needs a positive constant base")
        value = None
        if lv is not None and rv is not None:
            try:
                value = self.checked(evaluate(lv, rv))
            except (ZeroDivisionError, OverflowError, ValueError):
                raise self.fail("a constant part divides by zero, overflows or is complex") from None
        elif isinstance(node.op, ast.Div) and rv == 0:
            raise self.fail("division by zero")
        return build(left, right), value

    def call(self, node: ast.Call) -> tuple[sp.Expr, float | None]:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else type(node.func).__name__
            raise self.fail(f"function {name!r} is not allowed (allowed: {', '.join(sorted(FUNCTIONS))})")
        name = node.func.id
        builder, low, high, evaluate = FUNCTIONS[name]
        if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
            raise self.fail(f"{name}() takes plain positional arguments")
        if not low <= len(node.args) <= high:
            count = str(low) if low == high else f"{low} to {high}"
            raise self.fail(f"{name}() takes {count} argument{'s' if high > 1 else ''}, got {len(node.args)}")
        built = [self.build(arg) for arg in node.args]
        values = [v for _, v in built]
        value = None
        if all(v is not None for v in values):
            try:
                value = self.checked(evaluate(*values))
            except (ValueError, OverflowError, ZeroDivisionError):
                raise self.fail(f"{name}() of a constant is undefined or overflows") from None
        return builder(*[e for e, _ in built]), value


def parse_expression(text: str, names: Mapping[str, sp.Expr], what: str,
                     matmul: Callable[[sp.Expr, sp.Expr], sp.Expr | str] | None = None) -> sp.Expr:
    """The SymPy expression for ``text`` over ``names``, or SymbpttError naming what is not allowed;
    ``matmul`` builds ``M @ v`` (a cell file with shapes), which is refused without it."""
    return Parser(text, names, what, matmul).parse()


def parse_activation(text: str) -> sp.Expr:
    """σ(a) for a custom activation; it must depend on a and be real and finite on the real line."""
    expr = parse_expression(text, {"a": A}, "custom activation")
    if A not in expr.free_symbols:
        raise SymbpttError(f"custom activation {shown(text)} does not depend on 'a'")
    return expr
