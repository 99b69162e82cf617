"""The structure of BPTT, independent of what the factors are: which products of factors make ∂L/∂θ.

The unrolled network is a graph whose nodes are the states s^(ℓ)_t (h, and c for an LSTM) and whose
edges are the routes of step.py — one chain-rule factor each:

    J^(ℓ)_t[s'←s]  back one step through the weights        (vanilla RNN: J_t = diag(σ'(a_t)) W)
    F^(ℓ)_t[s'←s]  back one step unit by unit                (LSTM: diag(f_t) along the cell state)
    V^(ℓ)_t[s']    down one layer, to h^(ℓ-1)_t               (vanilla RNN: V_t = diag(σ'(a_t)) U)
    D^(ℓ)_t[s'←p]  into the linear map p where θ enters       (vanilla RNN: D_t = diag(σ'(a_t)))

Explicit form: ∂L/∂θ = Σ over paths from the loss at step s back to the step k where θ enters,
    (h_s − y_s)ᵀ · (factors along the path) · D_k   then ⊗ z_k   (z = the vector θ multiplies; initial
    states stop at step 0).
Recursive form: δ^(ℓ)_t[s] = ∂L/∂s^(ℓ)_t (later steps and layers only) by
    δ_{t-1}[s] = Σ_{s'} J_t[s'←s]ᵀ δ_t[s'] + F_t[s'←s]ᵀ δ_t[s'] (+ V^(ℓ+1)ᵀ δ^(ℓ+1) + loss term, for h),
    ∂L/∂θ = Σ_t Σ_{s'} (D_t[s'←p] δ_t[s']) ⊗ z_t,   ∂L/∂s0 = δ_0[s].

Both are written here once, over an abstract ``Factors`` provider, so the same code yields SymPy matrices
(for display and exact checks), float64 arrays and mpmath numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations_with_replacement
from math import comb
from typing import Any, NamedTuple, Protocol

from .cells import INPUT
from .errors import SymbpttError
from .model import RNN, Unrolled
from .validate import steps_text

Structure = RNN | Unrolled  # what the walk reads: spec, graph, states, T, layers, loss, loss_steps()

EXPLICIT_MAX_FACTORS = 1_000_000


class Step(NamedTuple):
    """One chain-rule factor at (layer, t): kind J, F, V or D, from state ``target`` back to ``source``."""

    kind: str
    layer: int
    t: int
    target: str = "h"
    source: str = "h"


class Term(NamedTuple):
    """(h_s − y_s)ᵀ · chain[0] ⋯ chain[-1], the contribution of one path; θ enters at step ``entry``."""

    loss_step: int
    chain: tuple[Step, ...]
    entry: int


class Factors(Protocol):
    """Values of the factors: SymPy matrices, NumPy or mpmath arrays, anything with ``@`` and ``.T``."""

    def factor(self, step: Step) -> Any: ...
    def error(self, t: int) -> Any: ...
    def z(self, param: str, layer: int, t: int) -> Any: ...
    def zero_like(self, param: str, layer: int) -> Any: ...


def transpose_apply(values: Factors, step: Step, vector: Any) -> Any:
    """factorᵀ · vector, by the provider's own method when it has one (it may avoid the matrix)."""
    method = getattr(values, "transpose_apply", None)
    return method(step, vector) if method is not None else values.factor(step).T @ vector


def param_entry(rnn: Structure, param: str) -> tuple[str, str, str | None]:
    """(kind, leaf, source) of a parameter: where it enters the step and what it multiplies."""
    kind = rnn.spec.kind(param)
    if kind == "initial":
        return kind, param[:-1], None
    leaf, source = rnn.graph.leaf_of(param)
    return kind, leaf, source


def weight_source(rnn: Structure, param: str) -> str:
    """What a weight (recurrent or input parameter) multiplies: a state's name or the input."""
    kind, _, source = param_entry(rnn, param)
    if source is None:
        raise ValueError(f"{param} is an initial state, not a weight")
    return source


def _single_route(rnn: Structure) -> bool:
    """One state and one route back (the vanilla cell): path counts have a closed form."""
    g = rnn.graph
    return len(rnn.states) == 1 and len(g.back("h")) == 1


def explicit_factor_count(rnn: Structure, layer: int, param: str) -> int:
    """How many factors the explicit form of ∂L/∂θ^(layer) writes out (grows as T² for one layer)."""
    if not _single_route(rnn):
        return _counted_paths(rnn, layer, param)[1]
    ups = rnn.layers - layer
    initial = rnn.spec.kind(param) == "initial"
    total = 0
    for s in rnn.loss_steps():
        entries = [0] if initial else range(1, s + 1)
        for k in entries:
            q = s - max(k, 1) + 1
            total += comb(q + ups - 1, ups) * (s - k + ups + (not initial) + 1)
        if total > EXPLICIT_MAX_FACTORS:
            break
    return total


def _counted_paths(rnn: Structure, layer0: int, param: str) -> tuple[int, int]:
    """(terms, factors) of the explicit form by dynamic programming over the unrolled state graph."""
    g, top, T = rnn.graph, rnn.layers, rnn.T
    kind, leaf, _ = param_entry(rnn, param)
    ways: dict[tuple[int, int, str], list[int]] = {}

    def add(key: tuple[int, int, str], n: int, f: int) -> None:
        slot = ways.setdefault(key, [0, 0])
        slot[0] += n
        slot[1] += f

    for s in rnn.loss_steps():
        add((top, s, "h"), 1, 1)
    terms = factors = 0
    for t in range(T, -1, -1):
        for layer in range(top, 0, -1):
            for state in rnn.states:
                n, f = ways.get((layer, t, state), (0, 0))
                if not n:
                    continue
                if layer == layer0:
                    if kind == "initial" and t == 0 and state == leaf:
                        terms, factors = terms + n, factors + f
                    elif kind != "initial" and t > 0 and any(r.target == state for r in g.entries(leaf)):
                        terms, factors = terms + n, factors + f + n
                if t > 0:
                    for route in g.back(state):
                        add((layer, t - 1, route.source), n, f + n)
                    if layer > layer0 and g.down(state) is not None:
                        add((layer - 1, t, "h"), n, f + n)
        if factors > EXPLICIT_MAX_FACTORS:
            break
    return terms, factors


def check_explicit_size(rnn: Structure, targets: list[tuple[str, int]]) -> None:
    """Refuse, with the forms that scale, an explicit form larger than EXPLICIT_MAX_FACTORS."""
    if (rnn.loss == "sum" and rnn.T > 20_000 or rnn.T > 2 * EXPLICIT_MAX_FACTORS
            or not _single_route(rnn) and rnn.T > 5_000):
        count = None
    else:
        count = sum(explicit_factor_count(rnn, layer, param) for param, layer in targets)
    if count is None or count > EXPLICIT_MAX_FACTORS:
        size = "far more than" if count is None else f"{count:,} factors, more than"
        raise SymbpttError(
            f"the explicit form for {steps_text(rnn.T)} would have {size} the limit of {EXPLICIT_MAX_FACTORS:,}; "
            "use --form recursive, which grows linearly in T, or --form general, which holds for any T"
        )


def _skeleton(layer0: int, k: int, ups: tuple[int, ...], s: int) -> list[tuple[int, int, int]]:
    """(layer, from t, down to t) segments of a path, top layer first; ``ups`` are the steps at which
    the path moves down a layer."""
    times = (k, *ups, s)  # times[i] .. times[i+1] are spent in layer layer0 + i
    return [(layer0 + i, times[i + 1], times[i]) for i in range(len(times) - 2, -1, -1)]


def _chains(rnn: Structure, segments: list, kind: str, leaf: str) -> Iterator[tuple[Step, ...]]:
    """Every choice of routes along a path skeleton (one choice for the vanilla cell), in a fixed order
    (depth first, routes in the cell's order), without recursion."""
    g = rnn.graph
    if _single_route(rnn):
        yield _single_chain(rnn, segments, kind, leaf)
        return
    stack: list[tuple[int, str, int, tuple[Step, ...]]] = [(0, "h", segments[0][1], ())]
    while stack:
        i, state, t, chain = stack.pop()
        layer, _, end = segments[i]
        if t > end:
            for route in reversed(g.back(state)):
                stack.append((i, route.source, t - 1, (*chain, Step(route.kind, layer, t, state, route.source))))
            continue
        if i + 1 < len(segments):
            if g.down(state) is not None:
                stack.append((i + 1, "h", t, (*chain, Step("V", layer, t, state, INPUT))))
            continue
        if kind == "initial":
            if state == leaf:
                yield chain
            continue
        for route in g.entries(leaf):
            if route.target == state:
                yield (*chain, Step("D", layer, t, state, leaf))


def _single_chain(rnn: Structure, segments: list, kind: str, leaf: str) -> tuple[Step, ...]:
    """The one chain of a skeleton for the vanilla cell: J's back in time, V's down, D at the entry."""
    route = rnn.graph.back("h")[0]
    chain: list[Step] = []
    for i, (layer, start, end) in enumerate(segments):
        chain.extend(Step(route.kind, layer, t, "h", "h") for t in range(start, end, -1))
        if i + 1 < len(segments):
            chain.append(Step("V", layer, end, "h", INPUT))
    if kind != "initial":
        chain.append(Step("D", segments[-1][0], segments[-1][2], "h", leaf))
    return tuple(chain)


def explicit_terms(rnn: Structure, param: str, layer: int) -> Iterator[Term]:
    """Every path of the explicit form of ∂L/∂θ^(layer), ordered by loss step then entry step."""
    kind, leaf, _ = param_entry(rnn, param)
    n_ups = rnn.layers - layer
    for s in rnn.loss_steps():
        entries = [0] if kind == "initial" else range(1, s + 1)
        for k in entries:
            for ups in combinations_with_replacement(range(max(k, 1), s + 1), n_ups):
                for chain in _chains(rnn, _skeleton(layer, k, ups, s), kind, leaf):
                    yield Term(s, chain, k)


def evaluate_term(term: Term, values: Factors) -> Any:
    """The row (h_s − y_s)ᵀ · chain (1×n)."""
    row = values.error(term.loss_step).T
    for step in term.chain:
        row = row @ values.factor(step)
    return row


def contribution(row: Any, param: str, layer: int, t: int, values: Factors) -> Any:
    """Turn ∂L/∂p_t (as a row) into the gradient of θ in θ's own shape: rowᵀ z_tᵀ (biases etc.: rowᵀ)."""
    z = values.z(param, layer, t)
    return row.T if z is None else row.T @ z.T


def evaluate_explicit(rnn: Structure, param: str, layer: int, values: Factors) -> Any:
    """∂L/∂θ summed term by term from the explicit form."""
    total = None
    for term in explicit_terms(rnn, param, layer):
        part = contribution(evaluate_term(term, values), param, layer, term.entry, values)
        total = part if total is None else total + part
    return total


class DeltaPart(NamedTuple):
    """One summand of δ^(ℓ)_t[s]: a factorᵀ times a later δ (kind J, F or V), or the loss error ('E')."""

    kind: str
    layer: int
    t: int
    target: str = "h"
    source: str = "h"

    def step(self) -> Step:
        return Step(self.kind, self.layer, self.t, self.target, self.source)


DeltaKey = tuple[int, int, str]


def delta_recursion(rnn: Structure, window: tuple[int, int] | None = None
                    ) -> Iterator[tuple[DeltaKey, tuple[DeltaPart, ...]]]:
    """δ^(ℓ)_t[s] = Σ parts, in the order BPTT computes them (t from T down to 0, top layer first).
    ``window`` = (s, lo): truncated BPTT of the loss term at step s alone, through steps s down to lo."""
    g, top = rnn.graph, rnn.layers
    last, first = (rnn.T, 0) if window is None else window
    loss_steps = set(rnn.loss_steps()) if window is None else {window[0]}
    for t in range(last, first - 1, -1):
        for layer in range(top, 0, -1):
            for state in rnn.states:
                parts = []
                if t < last:
                    for route in g.routes:
                        if route.kind in ("J", "F") and route.source == state:
                            parts.append(DeltaPart(route.kind, layer, t + 1, route.target, state))
                if state == "h" and layer < top and t > 0:
                    for target in rnn.states:
                        if g.down(target) is not None:
                            parts.append(DeltaPart("V", layer + 1, t, target, INPUT))
                if state == "h" and layer == top and t in loss_steps:
                    parts.append(DeltaPart("E", layer, t))
                yield (layer, t, state), tuple(parts)


def delta_source(part: DeltaPart) -> DeltaKey:
    """Which δ a part multiplies: J_{t}ᵀ and V_tᵀ take δ_t of their target state (V: one layer up)."""
    return part.layer, part.t, part.target


def evaluate_deltas(rnn: Structure, values: Factors, window: tuple[int, int] | None = None) -> dict[DeltaKey, Any]:
    """All δ^(ℓ)_t[s] = ∂L/∂s^(ℓ)_t by the backward recursion; O(T·L) factor products.  A δ that no
    path reaches (the top cell state at T) is None."""
    deltas: dict[DeltaKey, Any] = {}
    for key, parts in delta_recursion(rnn, window):
        total = None
        for part in parts:
            if part.kind == "E":
                value = values.error(part.t)
            else:
                later = deltas[delta_source(part)]
                if later is None:
                    continue
                value = transpose_apply(values, part.step(), later)
            total = value if total is None else total + value
        deltas[key] = total
    return deltas


def evaluate_recursive(rnn: Structure, param: str, layer: int, values: Factors, deltas: dict | None = None,
                       steps: range | None = None, rows: dict | None = None) -> Any:
    """∂L/∂θ^(ℓ) = Σ_t Σ_{s'} (D_t[s'←p] δ_t[s']) ⊗ z_t, or δ^(ℓ)_0[s] for an initial state; ``steps``
    restricts the sum (truncated BPTT); ``rows`` keeps Σ_{s'} D_tᵀ δ_t per linear map, so that the
    weights, input weights and bias of one map (W_f, U_f, b_f) share it."""
    deltas = evaluate_deltas(rnn, values) if deltas is None else deltas
    kind, leaf, _ = param_entry(rnn, param)
    if kind == "initial":
        found = deltas.get((layer, 0, leaf))
        return found if found is not None else values.zero_like(param, layer)
    rows = {} if rows is None else rows
    total = None
    summed = getattr(values, "summed_contributions", None)  # a provider that sums Σ_t row_t z_tᵀ at once
    pending = []
    for t in steps if steps is not None else range(1, rnn.T + 1):
        key = (layer, t, leaf)
        if key in rows:
            row = rows[key]
        else:
            row = None
            for route in rnn.graph.entries(leaf):
                delta = deltas[(layer, t, route.target)]
                if delta is None:
                    continue
                part = transpose_apply(values, Step("D", layer, t, route.target, leaf), delta)
                row = part if row is None else row + part
            rows[key] = row
        if row is None:
            continue
        if summed is not None:
            pending.append((t, row))
            continue
        part = contribution(row.T, param, layer, t, values)
        total = part if total is None else total + part
    if pending and summed is not None:
        total = summed(param, layer, pending)
    return total if total is not None else values.zero_like(param, layer)


def evaluate_truncated(rnn: Structure, param: str, layer: int, values: Factors, k: int) -> Any:
    """Truncated BPTT: each loss term at step s flows back through its last k steps only
    (t = s, …, s − k + 1); an initial state receives δ_0 only from terms with s ≤ k."""
    total = None
    for s in rnn.loss_steps():
        lo = max(s - k, 0)
        deltas = evaluate_deltas(rnn, values, (s, lo))
        if rnn.spec.kind(param) == "initial" and lo > 0:
            continue
        part = evaluate_recursive(rnn, param, layer, values, deltas, range(lo + 1, s + 1))
        total = part if total is None else total + part
    return total if total is not None else values.zero_like(param, layer)


def default_wrt(rnn: Structure) -> str:
    """The parameter a gradient is taken for when none is named: the cell's first recurrent weight
    (W for the vanilla cell, W_i for the LSTM, W_r for the GRU)."""
    spec = rnn.spec
    return next((p for p in spec.params if spec.kind(p) == "recurrent"), spec.params[0])


def resolve_wrt(rnn: Structure, wrt: str) -> str:
    """``all``, or the parameter a user means by ``wrt`` in any case or as printed (w, W_F, h_0); an
    unknown name is returned as given, for ``targets`` to refuse with the choices."""
    if wrt.casefold() == "all":
        return "all"
    return rnn.spec.param_named(wrt) or wrt


def targets(rnn: Structure, wrt: str) -> list[tuple[str, int]]:
    """(param, layer) pairs for --wrt NAME|all, every layer (top layer first)."""
    params = rnn.spec.params
    meant = resolve_wrt(rnn, wrt)  # W or w, W_f or w_f: the name as printed works too
    if meant != "all" and meant not in params:
        raise SymbpttError(f"unknown parameter {wrt!r} for the {rnn.spec.name} cell; choose one of "
                           f"{', '.join(params)}, all (any case)")
    names: tuple[str, ...] = params if meant == "all" else (meant,)
    return [(name, layer) for layer in range(rnn.layers, 0, -1) for name in names]
