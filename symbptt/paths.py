"""The structure of BPTT, independent of what the factors are: which products of factors make ∂L/∂θ.

Chain-rule factors (one per edge of the unrolled graph):

    J^(ℓ)_t = ∂h^(ℓ)_t / ∂h^(ℓ)_{t-1}   = diag(σ'(a^(ℓ)_t)) W^(ℓ)     (step back in time)
    V^(ℓ)_t = ∂h^(ℓ)_t / ∂h^(ℓ-1)_t     = diag(σ'(a^(ℓ)_t)) U^(ℓ)     (step down a layer, ℓ ≥ 2)
    D^(ℓ)_t = ∂h^(ℓ)_t / ∂a^(ℓ)_t       = diag(σ'(a^(ℓ)_t))

Explicit form: ∂L/∂θ = Σ over paths from the loss at step s back to the step k where θ enters,
    (h_s − y_s)ᵀ · J … V … J · D_k   then ⊗ z_k   (z = h_{k-1} for W, x_k for U, 1 for b; h0 stops at J_1).
Recursive form: δ_T = ∂L/∂h_T,  δ^(ℓ)_{t-1} = J^(ℓ)_tᵀ δ^(ℓ)_t + V^(ℓ+1)_{t-1}ᵀ δ^(ℓ+1)_{t-1} (+ loss term),
    ∂L/∂θ^(ℓ) = Σ_t (D^(ℓ)_t δ^(ℓ)_t) ⊗ z_t,   ∂L/∂h0^(ℓ) = δ^(ℓ)_0.

Both are written here once, over an abstract ``Factors`` provider, so the same code yields SymPy matrices
(for display and exact checks) and NumPy arrays (for numbers).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations_with_replacement
from math import comb
from typing import Any, NamedTuple, Protocol

from .errors import SymbpttError
from .model import RNN

EXPLICIT_MAX_FACTORS = 1_000_000


class Step(NamedTuple):
    """One chain-rule factor: kind 'J' (back one step), 'V' (down one layer) or 'D' (σ' of layer at t)."""

    kind: str
    layer: int
    t: int


class Term(NamedTuple):
    """(h_s − y_s)ᵀ · chain[0] ⋯ chain[-1], the contribution of one path; θ enters at step ``entry``."""

    loss_step: int
    chain: tuple[Step, ...]
    entry: int


class Factors(Protocol):
    """Values of the factors: SymPy matrices or NumPy arrays, anything with ``@`` and ``.T``."""

    def factor(self, step: Step) -> Any: ...
    def error(self, t: int) -> Any: ...
    def z(self, param: str, layer: int, t: int) -> Any: ...


def explicit_factor_count(rnn: RNN, layer: int, param: str) -> int:
    """How many factors the explicit form of ∂L/∂θ^(layer) writes out (grows as T² for one layer)."""
    ups = rnn.layers - layer
    total = 0
    for s in rnn.loss_steps():
        entries = [0] if param == "h0" else range(1, s + 1)
        for k in entries:
            q = s - max(k, 1) + 1
            total += comb(q + ups - 1, ups) * (s - k + ups + (param != "h0") + 1)
        if total > EXPLICIT_MAX_FACTORS:
            break
    return total


def check_explicit_size(rnn: RNN, targets: list[tuple[str, int]]) -> None:
    """Refuse, with the forms that scale, an explicit form larger than EXPLICIT_MAX_FACTORS."""
    if rnn.loss == "sum" and rnn.T > 20_000 or rnn.T > 2 * EXPLICIT_MAX_FACTORS:
        count = None
    else:
        count = sum(explicit_factor_count(rnn, layer, param) for param, layer in targets)
    if count is None or count > EXPLICIT_MAX_FACTORS:
        size = "far more than" if count is None else f"{count:,} factors, more than"
        raise SymbpttError(
            f"the explicit form for T={rnn.T} would have {size} the limit of {EXPLICIT_MAX_FACTORS:,}; "
            "use --form recursive or --form general, which scale to any T"
        )


def _chain(layer0: int, k: int, ups: tuple[int, ...], s: int, with_d: bool) -> tuple[Step, ...]:
    """Factors in reading order from the loss at step s (top layer) down to (layer0, k); ``ups`` are the
    steps at which the path moves down a layer."""
    times = (k, *ups, s)  # times[i] .. times[i+1] are spent in layer layer0 + i
    chain: list[Step] = []
    for i in range(len(times) - 2, -1, -1):
        layer = layer0 + i
        chain.extend(Step("J", layer, t) for t in range(times[i + 1], times[i], -1))
        if i > 0:
            chain.append(Step("V", layer, times[i]))
    if with_d:
        chain.append(Step("D", layer0, k))
    return tuple(chain)


def explicit_terms(rnn: RNN, param: str, layer: int) -> Iterator[Term]:
    """Every path of the explicit form of ∂L/∂θ^(layer), ordered by loss step then entry step."""
    n_ups = rnn.layers - layer
    for s in rnn.loss_steps():
        entries = [0] if param == "h0" else range(1, s + 1)
        for k in entries:
            for ups in combinations_with_replacement(range(max(k, 1), s + 1), n_ups):
                yield Term(s, _chain(layer, k, ups, s, param != "h0"), k)


def evaluate_term(term: Term, values: Factors) -> Any:
    """The row (h_s − y_s)ᵀ · chain (1×n)."""
    row = values.error(term.loss_step).T
    for step in term.chain:
        row = row @ values.factor(step)
    return row


def contribution(row: Any, param: str, layer: int, t: int, values: Factors) -> Any:
    """Turn ∂L/∂a_t (as a row) into the gradient of θ in θ's own shape: rowᵀ z_tᵀ (b, h0: rowᵀ)."""
    if param in ("b", "h0"):
        return row.T
    return row.T @ values.z(param, layer, t).T


def evaluate_explicit(rnn: RNN, param: str, layer: int, values: Factors) -> Any:
    """∂L/∂θ summed term by term from the explicit form."""
    total = None
    for term in explicit_terms(rnn, param, layer):
        part = contribution(evaluate_term(term, values), param, layer, term.entry, values)
        total = part if total is None else total + part
    return total


class DeltaPart(NamedTuple):
    """One summand of δ^(ℓ)_t: a factorᵀ times a later δ (kind 'J' or 'V'), or the loss error ('E')."""

    kind: str
    layer: int
    t: int


def delta_recursion(rnn: RNN) -> Iterator[tuple[tuple[int, int], tuple[DeltaPart, ...]]]:
    """δ^(ℓ)_t = Σ parts, in the order BPTT computes them (t from T down to 0, top layer first)."""
    top = rnn.layers
    loss_steps = set(rnn.loss_steps())
    for t in range(rnn.T, -1, -1):
        for layer in range(top, 0, -1):
            parts = []
            if t < rnn.T:
                parts.append(DeltaPart("J", layer, t + 1))  # J^(ℓ)_{t+1}ᵀ δ^(ℓ)_{t+1}
            if layer < top and t > 0:
                parts.append(DeltaPart("V", layer + 1, t))  # V^(ℓ+1)_tᵀ δ^(ℓ+1)_t
            if layer == top and t in loss_steps:
                parts.append(DeltaPart("E", layer, t))  # h_t − y_t
            yield (layer, t), tuple(parts)


def delta_source(part: DeltaPart) -> tuple[int, int]:
    """Which δ a part multiplies: J^(ℓ)_{t}ᵀ takes δ^(ℓ)_t, V^(ℓ)_tᵀ takes δ^(ℓ)_t."""
    return part.layer, part.t


def evaluate_deltas(rnn: RNN, values: Factors) -> dict[tuple[int, int], Any]:
    """All δ^(ℓ)_t = ∂L/∂h^(ℓ)_t by the backward recursion; O(T·L) factor products."""
    deltas: dict[tuple[int, int], Any] = {}
    for key, parts in delta_recursion(rnn):
        total = None
        for part in parts:
            if part.kind == "E":
                value = values.error(part.t)
            else:
                value = values.factor(Step(part.kind, part.layer, part.t)).T @ deltas[delta_source(part)]
            total = value if total is None else total + value
        deltas[key] = total
    return deltas


def evaluate_recursive(rnn: RNN, param: str, layer: int, values: Factors, deltas: dict | None = None) -> Any:
    """∂L/∂θ^(ℓ) = Σ_t (D_t δ_t) ⊗ z_t, or δ^(ℓ)_0 for h0."""
    deltas = evaluate_deltas(rnn, values) if deltas is None else deltas
    if param == "h0":
        return deltas[(layer, 0)]
    total = None
    for t in range(1, rnn.T + 1):
        row = (values.factor(Step("D", layer, t)) @ deltas[(layer, t)]).T
        part = contribution(row, param, layer, t, values)
        total = part if total is None else total + part
    return total


def targets(rnn: RNN, wrt: str) -> list[tuple[str, int]]:
    """(param, layer) pairs for --wrt W|U|b|h0|all, every layer."""
    names = ("W", "U", "b", "h0") if wrt == "all" else (wrt,)
    if any(name not in ("W", "U", "b", "h0") for name in names):
        raise SymbpttError(f"unknown parameter {wrt!r}; choose one of W, U, b, h0, all")
    return [(name, layer) for layer in range(rnn.layers, 0, -1) for name in names]
