"""A cell file with shapes: vectors of n units, weight matrices, and ``@`` for the matrix product.

    name = "vrnn"
    states = ["h"]
    params = ["W", "U", "b"]
    [shapes]
    W = ["n", "n"]          # multiplies a state: W @ h
    U = ["n", "m"]          # multiplies the input: U @ x
    b = ["n"]               # a vector: a bias, or a weight per unit (w * h)
    [update]
    h = "tanh(W @ h + U @ x + b)"

Every other operation is elementwise, unit by unit.  The file is turned into the engine's own cell data
(cells/base.py): each sum that holds matrix products becomes a linear map p = Σ M·v + b (named a, or
a_<node> when there are several), the rest stays elementwise; a vector that is one sum's plain term is
that map's bias, any other vector is a per-unit parameter.  So a file cell is derived, printed and
checked exactly as the built-in cells are, at any n.
"""

from __future__ import annotations

import re
from typing import Any

import sympy as sp

from ..errors import SymbpttError
from ..safeexpr import parse_expression, shown
from .base import INPUT, Cell, Linear, prev, unit

MATVEC = sp.Function("matvec")  # matvec(M, v) while a file is read; never leaves this module
MATRIX = re.compile(r"^[WU](_[a-z][a-z0-9]{0,3})?$")
SHAPES = {("n", "n"): "recurrent", ("n", "m"): "input", ("n",): "vector", (): "scalar"}


def declared_shapes(data: dict[str, Any], params: list[str], where: str) -> dict[str, str]:
    """Each parameter's kind from [shapes]: 'recurrent' (n × n), 'input' (n × m), 'vector' (n) or
    'scalar' ([]); matrices are named W… or U… (they print as W, U, w, u)."""
    table = data.get("shapes")
    if not isinstance(table, dict):
        raise SymbpttError(f"{where}: [shapes] must map parameter names to shapes such as [\"n\", \"n\"]")
    unknown = [k for k in table if k not in params]
    if unknown:
        raise SymbpttError(f"{where}: [shapes] names {shown(unknown[0])}, which is not in params")
    kinds = {}
    for p in params:
        if p not in table:
            raise SymbpttError(f"{where}: [shapes] gives no shape for parameter {p!r} "
                               "(write [\"n\", \"n\"], [\"n\", \"m\"], [\"n\"] or [])")
        shape = table[p]
        kind = SHAPES.get(tuple(shape)) if isinstance(shape, list) and all(isinstance(v, str) for v in shape) else None
        if kind is None:
            raise SymbpttError(f"{where}: the shape of {p!r} must be [\"n\", \"n\"], [\"n\", \"m\"], [\"n\"] or [], "
                               f"got {shown(str(shape))}")
        if (kind in ("recurrent", "input")) != bool(MATRIX.match(p)):
            raise SymbpttError(f"{where}: {p!r}: a matrix is named W or U with an optional _suffix (W_f, U_z), "
                               "and only a matrix is")
        kinds[p] = kind
    lowered = {p.lower(): p for p, k in kinds.items() if k in ("recurrent", "input")}
    clash = next((p for p in params if kinds[p] not in ("recurrent", "input") and p in lowered), None)
    if clash:
        raise SymbpttError(f"{where}: {clash!r} and {lowered[clash]!r} print alike for one unit; rename one")
    return kinds


def parse_vector_expressions(texts: dict[str, tuple[str, str]], states: list[str], inter: list[str],
                             kinds: dict[str, str]) -> dict[str, sp.Expr]:
    """Each expression (name → (text, where)) over states, intermediates, parameters and x, with M @ v
    for a matrix M and a state or x; a matrix anywhere else, or x outside U @ x, is refused."""
    matrices = {p: sp.Symbol(f"matrix_{p}") for p, k in kinds.items() if k in ("recurrent", "input")}
    names: dict[str, sp.Expr] = {INPUT: unit(INPUT)} | {s: prev(s) for s in states} | {k: unit(k) for k in inter}
    names |= {p: matrices.get(p, unit(p)) for p in kinds}
    by_symbol = {v: p for p, v in matrices.items()}

    def matmul(left: sp.Expr, right: sp.Expr) -> sp.Expr | str:
        if left not in by_symbol:
            return "the left of @ must be a weight matrix (W…, U…)"
        kind = kinds[by_symbol[left]]
        if right == unit(INPUT):
            return MATVEC(left, right) if kind == "input" else f"{by_symbol[left]!r} is n × n: it multiplies a state"
        if right in {prev(s) for s in states}:
            return MATVEC(left, right) if kind == "recurrent" else f"{by_symbol[left]!r} is n × m: it multiplies x"
        return "the right of @ must be a state or x (a sum or an intermediate cannot be multiplied by a matrix)"

    out = {}
    for name, (text, where) in texts.items():
        expr = parse_expression(text, names, where, matmul)
        outside = expr.replace(MATVEC, lambda *args: sp.S.Zero).free_symbols
        stray = next((by_symbol[s] for s in outside if s in by_symbol), None)
        if stray is not None:
            raise SymbpttError(f"{where} {shown(text)}: the matrix {stray!r} is used without @")
        if unit(INPUT) in outside:
            raise SymbpttError(f"{where} {shown(text)}: x enters a cell with shapes through a matrix: write "
                               "U @ x")
        out[name] = expr
    return out


def vector_cell(name: str, title: str, states: list[str], order: list[str], exprs: dict[str, sp.Expr],
                updates: dict[str, sp.Expr], kinds: dict[str, str], where: str) -> Cell:
    """The engine's cell for parsed expressions: linear maps taken out of the sums that hold M @ v."""
    everything = [exprs[k] for k in order] + [updates[s] for s in states]
    uses = {p: sum(e.count(unit(p)) for e in everything) for p, k in kinds.items() if k == "vector"}
    bias_ok = {unit(p) for p, count in uses.items() if count == 1}
    found: list[tuple[str, list[tuple[str, str]], str | None]] = []
    per_node: dict[str, int] = {}
    seen: set[str] = set()

    def take(expr: sp.Expr, node: str) -> sp.Expr:
        products = [a for a in expr.args if a.func == MATVEC] if isinstance(expr, sp.Add) else \
            [expr] if expr.func == MATVEC else []
        if not products:
            return expr.func(*[take(a, node) for a in expr.args]) if expr.args else expr
        rest = [a for a in expr.args if a.func != MATVEC] if isinstance(expr, sp.Add) else []
        bias = next((r for r in rest if r in bias_ok), None)
        rest = [r for r in rest if r is not bias]
        terms = []
        for product in products:
            matrix = product.args[0].name.removeprefix("matrix_")
            if matrix in seen:
                raise SymbpttError(f"{where}: the matrix {matrix!r} appears in more than one sum; give each "
                                   "use a matrix of its own")
            seen.add(matrix)
            source = product.args[1]
            terms.append((matrix, INPUT if source == unit(INPUT) else source.name.removeprefix("prev_")))
        per_node[node] = per_node.get(node, 0) + 1
        # a node's first sum is a_<node>; another is named by what it reads too (the GRU's a_hn)
        label = node if per_node[node] == 1 else "".join(sorted({src for _, src in terms})) + node
        if label in {f[0] for f in found}:
            raise SymbpttError(f"{where}: two sums in the expression of {node!r} read the same vectors; "
                               "write them as one sum")
        found.append((label, terms, bias.name if bias is not None else None))
        return unit(f"__linear_{len(found) - 1}") + sum((take(r, node) for r in rest), sp.S.Zero)

    nodes = [(k, take(exprs[k], k)) for k in order] + [(s, take(updates[s], s)) for s in states]
    single = len(found) == 1
    names = ["a" if single else f"a_{label}" for label, _, _ in found]
    linears = tuple(Linear(names[i], tuple(terms), bias, "a" if single else f"a^{label}")
                    for i, (label, terms, bias) in enumerate(found))
    swap = {unit(f"__linear_{i}"): unit(names[i]) for i in range(len(found))}
    nodes = [(k, e.xreplace(swap)) for k, e in nodes]
    biases = {b for _, _, b in found if b}
    unused = [p for p, k in kinds.items() if k in ("recurrent", "input") and p not in seen]
    if unused:
        raise SymbpttError(f"{where}: the matrix {unused[0]!r} is not used (write {unused[0]} @ …)")
    vectors = tuple(p for p, k in kinds.items() if k == "vector" and p not in biases)
    scalars = tuple(p for p, k in kinds.items() if k == "scalar")
    return Cell(name=name, title=title, states=tuple(states), linears=linears, nodes=tuple(nodes),
                scalar_params=scalars, vector_params=vectors)
