"""Whitelist parser for user-supplied activation expressions in the variable ``a``.

The text is parsed by Python's ``ast`` module (which only builds a tree and runs nothing), every node is
checked against a whitelist, and the SymPy expression is then built node by node from that tree.  Raw
text never reaches ``eval`` or ``sympify``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

import sympy as sp

from .errors import SymbpttError

A = sp.Symbol("a", real=True)

FUNCTIONS: dict[str, Callable[..., sp.Expr]] = {
    "abs": sp.Abs,
    "atan": sp.atan,
    "cos": sp.cos,
    "cosh": sp.cosh,
    "erf": sp.erf,
    "exp": sp.exp,
    "log": sp.log,
    "max": sp.Max,
    "min": sp.Min,
    "sin": sp.sin,
    "sinh": sp.sinh,
    "sqrt": sp.sqrt,
    "tanh": sp.tanh,
}
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}
BINARY: dict[type, Callable[[sp.Expr, sp.Expr], sp.Expr]] = {
    ast.Add: lambda x, y: x + y,
    ast.Sub: lambda x, y: x - y,
    ast.Mult: lambda x, y: x * y,
    ast.Div: lambda x, y: x / y,
    ast.Pow: lambda x, y: x**y,
}
UNARY: dict[type, Callable[[sp.Expr], sp.Expr]] = {ast.USub: lambda x: -x, ast.UAdd: lambda x: x}
MAX_LENGTH = 500
MAX_EXPONENT = 64


def parse_activation(text: str) -> sp.Expr:
    """Return the SymPy expression σ(a) for ``text``, or raise SymbpttError naming what is not allowed."""
    if len(text) > MAX_LENGTH:
        raise SymbpttError(f"custom activation is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise SymbpttError(f"custom activation {text!r} is not a valid expression: {exc.msg}") from None
    expr = _build(tree.body)
    if A not in expr.free_symbols:
        raise SymbpttError(f"custom activation {text!r} does not depend on 'a'")
    return expr


def _build(node: ast.AST) -> sp.Expr:
    """Translate one whitelisted AST node (and its children) into SymPy."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return sp.nsimplify(node.value) if isinstance(node.value, float) else sp.Integer(node.value)
    if isinstance(node, ast.Name):
        if node.id == "a":
            return A
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise SymbpttError(f"name {node.id!r} is not allowed in a custom activation (only 'a', pi, E)")
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        left, right = _build(node.left), _build(node.right)
        if isinstance(node.op, ast.Pow) and right.is_number and abs(float(right)) > MAX_EXPONENT:
            raise SymbpttError(f"exponent {right} is too large in a custom activation (at most {MAX_EXPONENT})")
        return BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
        return UNARY[type(node.op)](_build(node.operand))
    if isinstance(node, ast.Call):
        return _build_call(node)
    raise SymbpttError(f"{type(node).__name__} is not allowed in a custom activation")


def _build_call(node: ast.Call) -> sp.Expr:
    """A call is allowed only as ``name(args)`` with a whitelisted name and positional arguments."""
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        shown = node.func.id if isinstance(node.func, ast.Name) else type(node.func).__name__
        allowed = ", ".join(sorted(FUNCTIONS))
        raise SymbpttError(f"function {shown!r} is not allowed in a custom activation (allowed: {allowed})")
    if node.keywords or not node.args:
        raise SymbpttError(f"function {node.func.id!r} takes positional arguments only")
    return FUNCTIONS[node.func.id](*[_build(arg) for arg in node.args])
