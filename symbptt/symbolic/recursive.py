"""The recursive form (the backward pass): δ_T = h_T − y, δ_{t-1} = J_tᵀ δ_t (+ h_{t-1} − y_{t-1}) and
∂L/∂θ = Σ_t (…), streamed equation by equation for long T."""

from __future__ import annotations

from collections.abc import Iterator

import sympy as sp

from .. import notation
from ..model import RNN
from ..paths import DeltaPart, Step, delta_recursion, param_entry, targets
from .derivation import Derivation, Equation, LazySum, grad_label, ordered_product, ordered_sum
from .shown import FactorNames, _has_z, _named_notes, _scalar_entries, layered_definitions


def _delta_part_display(d: FactorNames, part: DeltaPart) -> sp.Basic:
    if part.kind == "E":
        return d.error(part.t)
    delta = d.delta(part.layer, part.t, part.target)
    if d.identity(part.step()):
        return delta
    factor = d.factor(part.step())
    if d.rnn.scalar:
        return ordered_product(factor, delta)
    return sp.MatMul(notation.Transposed(factor), delta)


def _recursive_gradient(d: FactorNames, param: str, layer: int, column: int = 0,
                        zero: frozenset = frozenset()) -> sp.Basic:
    """∂L/∂θ = Σ_t σ'(a_t)·z_t·δ_t (scalar) or Σ_t D_t δ_t z_tᵀ (matrix)."""
    kind, leaf, _ = param_entry(d.rnn, param)
    if kind == "initial":
        return d.delta(layer, 0, leaf)
    return ordered_sum(list(_gradient_terms(d, param, layer, column, zero)))


def _gradient_terms(d: FactorNames, param: str, layer: int, column: int, zero: frozenset) -> Iterator[sp.Basic]:
    """The terms of the recursive form's ∂L/∂θ, one per step and state, made one at a time."""
    _, leaf, _ = param_entry(d.rnn, param)
    for t in range(1, d.rnn.T + 1):
        for route in d.rnn.graph.entries(leaf):
            if (layer, t, route.target) in zero:
                continue
            step = Step("D", layer, t, route.target, leaf)
            delta = d.delta(layer, t, route.target)
            if d.rnn.scalar:
                z = [d.z_entry(param, layer, t, column)] if _has_z(d.rnn, param) else []
                yield ordered_product(d.factor(step), *z, delta)
            else:
                da = d.applied(step, delta)
                yield sp.MatMul(da, notation.Transposed(d.z(param, layer, t))) if _has_z(d.rnn, param) else da


def dead_deltas(rnn: RNN) -> set[tuple[int, int, str]]:
    """The δ's no path reaches (the top cell state at T, …): they are 0 and their terms are left out."""
    zero: set[tuple[int, int, str]] = set()
    for key, parts in delta_recursion(rnn):
        if not [p for p in parts if p.kind == "E" or (p.layer, p.t, p.target) not in zero]:
            zero.add(key)
    return zero


def form_recursive(rnn: RNN, wrt: str, named: bool | None = None) -> Derivation:
    chosen = targets(rnn, wrt)
    needs_zero = {(layer, param_entry(rnn, param)[1]) for param, layer in chosen
                  if rnn.spec.kind(param) == "initial"}
    zero = frozenset(dead_deltas(rnn))

    def build() -> Iterator[Equation]:
        d = FactorNames(rnn, named, bounded=True)
        for (layer, t, state), parts in delta_recursion(rnn):
            if t == 0 and (layer, state) not in needs_zero:
                continue
            live = [p for p in parts if p.kind == "E" or (p.layer, p.t, p.target) not in zero]
            yield Equation(d.delta(layer, t, state), ordered_sum([_delta_part_display(d, p) for p in live]))
        for param, layer in chosen:
            columns = _scalar_entries(rnn, param, layer) if rnn.scalar else [(d.param(param, layer), 0)]
            for entry, column in columns:
                yield Equation(grad_label(entry), _lazy_gradient(rnn, named, param, layer, column, zero))

    named_shown = FactorNames(rnn, named).named
    used = {(layer, r.kind, r.target, r.source) for layer in range(1, rnn.layers + 1) for r in rnn.graph.routes
            if r.kind in ("J", "F") or r.kind == "V" and layer > 1
            or r.kind == "D" and any(param_entry(rnn, p)[1] == r.source and at == layer for p, at in chosen)}
    defs = layered_definitions(rnn, used) if named_shown else []
    notes = _named_notes(rnn) if named_shown else []
    return Derivation(f"recursive BPTT (backward pass), T = {rnn.T}", None, notes, defs, source=build)


def _lazy_gradient(rnn: RNN, named: bool | None, param: str, layer: int, column: int, zero: frozenset) -> sp.Basic:
    """∂L/∂θ of the recursive form: a TermSum for short sequences, a LazySum beyond 2000 steps."""
    def terms() -> Iterator[sp.Basic]:
        return _gradient_terms(FactorNames(rnn, named, bounded=True), param, layer, column, zero)

    if rnn.T <= 2000 or rnn.spec.kind(param) == "initial":
        return _recursive_gradient(FactorNames(rnn, named), param, layer, column, zero)
    return LazySum(terms)
