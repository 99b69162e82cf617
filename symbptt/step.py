"""The chain-rule facts of one step of a cell, derived once by ``sympy.diff`` of its small equations.

Local partials (the edges of the one-step graph), e.g. for the LSTM

    ∂c/∂f = c_{t-1},   ∂c/∂c_{t-1} = f,   ∂h/∂o = tanh(c),   ∂h/∂c = o·tanh'(c),   ∂f/∂a^f = σ'(a^f)

are chained through the step (forward mode over the node order) into the total derivative of every new
state s' with respect to every leaf of the step: the linear maps p, the previous states s, the input x
and scalar parameters.  Those totals are the coefficients of the state-level factors ("routes"):

    J^{s's}_t = Σ_p diag(∂s'_t/∂p_t) M_p      through the weights M_p that read s_{t-1}   (RNN: J_t)
    F^{s's}_t = diag(∂s'_t/∂s_{t-1})           directly, unit by unit  (LSTM: F^{cc}_t = diag(f_t))
    V^{s'}_t  = Σ_p diag(∂s'_t/∂p_t) U_p  (+ diag(∂s'_t/∂x_t))    down to the layer below
    D^{s'p}_t = diag(∂s'_t/∂p_t)                  where a parameter of p enters       (RNN: D_t)

so ∂s_t/∂s_{t-1} = J + F for each pair of states.  Nothing here grows with T.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import sympy as sp

from . import primitives as P
from .activations import slope_of
from .cells import INPUT, Cell, prev, unit


@dataclass(frozen=True)
class Route:
    """One state-level factor kind: 'J' (weights), 'F' (direct), 'V' (down a layer), 'D' (entry)."""

    kind: str
    target: str  # the new state s'
    source: str  # the previous state (J, F), 'x' (V), a linear map or scalar parameter (D)


class StepGraph:
    """Local partials, total derivatives and routes of one cell."""

    def __init__(self, cell: Cell) -> None:
        self.cell = cell
        self.node_names = [name for name, _ in cell.nodes]
        self.leaves = ([lin.name for lin in cell.linears] + [f"prev_{s}" for s in cell.states] + [INPUT]
                       + list(cell.unit_params))
        self.local = self._local_partials()
        self.total = self._totals()

    def symbol(self, name: str) -> sp.Symbol:
        return prev(name[5:]) if name.startswith("prev_") else unit(name)

    def _local_partials(self) -> dict[tuple[str, str], sp.Expr]:
        """∂node/∂parent for every edge of the one-step graph (sympy.diff of one node's expression)."""
        out = {}
        for name, expr in self.cell.nodes:
            for parent in self.node_names + self.leaves:
                if parent != name and self.symbol(parent) in expr.free_symbols:
                    # sympy.diff, but where a max's or a min's branches tie, one branch's slope
                    out[(name, parent)] = slope_of(expr, self.symbol(parent), linear_from_left=False)
        return out

    def _totals(self) -> dict[tuple[str, str], sp.Expr]:
        """d node / d leaf through the step: direct partial plus Σ over node parents (chain rule)."""
        total: dict[tuple[str, str], sp.Expr] = {}
        for name, _ in self.cell.nodes:
            for leaf in self.leaves:
                value = self.local.get((name, leaf), sp.S.Zero)
                for parent in self.node_names:
                    if (name, parent) in self.local and total.get((parent, leaf), 0) != 0:
                        value += self.local[(name, parent)] * total[(parent, leaf)]
                total[(name, leaf)] = value
        return total

    def coefficient(self, target: str, leaf: str) -> sp.Expr:
        return self.total.get((target, leaf), sp.S.Zero)

    def terms(self, route: Route) -> list[tuple[str, str | None]]:
        """The route as Σ diag(∂s'/∂leaf)·matrix: (leaf, weight name or None for the diagonal alone)."""
        cell, out = self.cell, list[tuple[str, str | None]]()
        if route.kind in ("D", "F"):
            leaf = route.source if route.kind == "D" else f"prev_{route.source}"
            return [(leaf, None)] if self.coefficient(route.target, leaf) != 0 else []
        source = INPUT if route.kind == "V" else route.source
        for lin in cell.linears:
            for matrix, src in lin.terms:
                if src == source and self.coefficient(route.target, lin.name) != 0:
                    out.append((lin.name, matrix))
        if route.kind == "V" and self.coefficient(route.target, INPUT) != 0:
            out.append((INPUT, None))
        return out

    def coefficient_keys(self) -> list[tuple[str, str]]:
        """Every (state, leaf) whose total derivative some route uses."""
        keys = []
        for route in self.routes:
            for leaf, _ in self.terms(route):
                if (route.target, leaf) not in keys:
                    keys.append((route.target, leaf))
        return keys

    @cached_property
    def routes(self) -> tuple[Route, ...]:
        """Every structurally non-zero route, states in the cell's order."""
        out = []
        for target in self.cell.states:
            for source in self.cell.states:
                for kind in ("J", "F"):
                    route = Route(kind, target, source)
                    if self.terms(route):
                        out.append(route)
        for target in self.cell.states:
            if self.terms(Route("V", target, INPUT)):
                out.append(Route("V", target, INPUT))
        for target in self.cell.states:
            for leaf in [lin.name for lin in self.cell.linears] + list(self.cell.unit_params):
                if self.coefficient(target, leaf) != 0:
                    out.append(Route("D", target, leaf))
        return tuple(out)

    def back(self, target: str) -> list[Route]:
        """Time routes that end in state ``target`` at step t (J and F), in a fixed order."""
        return [r for r in self.routes if r.kind in ("J", "F") and r.target == target]

    def down(self, target: str) -> Route | None:
        found = [r for r in self.routes if r.kind == "V" and r.target == target]
        return found[0] if found else None

    def entries(self, leaf: str) -> list[Route]:
        """Entry routes D^{s'p} of a linear map or scalar parameter, one per state it reaches."""
        return [r for r in self.routes if r.kind == "D" and r.source == leaf]

    def leaf_of(self, param: str) -> tuple[str, str | None]:
        """Where a parameter enters: (linear map or scalar name, source of a weight matrix or None)."""
        for matrix, lin, src in self.cell.matrices():
            if matrix == param:
                return lin.name, src
        for bias, lin in self.cell.biases():
            if bias == param:
                return lin.name, None
        return param, None


@lru_cache(maxsize=32)
def step_graph(cell: Cell) -> StepGraph:
    return StepGraph(cell)


def state_edges(graph: StepGraph) -> list[tuple[str, str, str]]:
    """(new state, previous state, factor kinds 'J', 'F' or 'J+F') for every state that depends on a
    previous one: the arrows of one step in a drawing of the unrolled network."""
    kinds: dict[tuple[str, str], list[str]] = {}
    for route in graph.routes:
        if route.kind in ("J", "F"):
            kinds.setdefault((route.target, route.source), []).append(route.kind)
    return [(t, s, "+".join(sorted(k, key="JF".index))) for (t, s), k in sorted(kinds.items())]


@lru_cache(maxsize=64)
def shown_coefficients(graph: StepGraph) -> dict[tuple[str, str], sp.Expr]:
    """Every total derivative of the step as it is printed: a primitive's derivative written in its
    output where the cell names it (tanh' = 1 − h², σ' = i(1 − i)), everything in plain SymPy."""
    outputs = {expr: unit(name) for name, expr in graph.cell.nodes if isinstance(expr, P.Primitive)}
    return {key: P.plain(P.in_outputs(value, outputs)) for key, value in graph.total.items()}


@lru_cache(maxsize=64)
def shown_locals(graph: StepGraph) -> dict[tuple[str, str], sp.Expr]:
    """Every local partial of the step (the edges of its graph) as printed, as in shown_coefficients."""
    outputs = {expr: unit(name) for name, expr in graph.cell.nodes if isinstance(expr, P.Primitive)}
    return {key: P.plain(P.in_outputs(value, outputs)) for key, value in graph.local.items()}
