"""The explicit form: ∂L/∂θ = Σ over paths of (h_s − y)·J_s ⋯ J_{k+1}·∂⁺h_k/∂θ for the given T, every
factor in time order, one summand per path of paths.py."""

from __future__ import annotations

import sympy as sp

from .. import notation
from ..model import RNN
from ..paths import Term, check_explicit_size, explicit_terms, targets
from .derivation import Derivation, Equation, grad_label, ordered_product, ordered_sum
from .shown import FactorNames, _has_z, _named_notes, _scalar_entries, _used_routes, layered_definitions


def explicit_term_display(d: FactorNames, term: Term, param: str, layer: int, column: int = 0) -> sp.Basic:
    """One summand: (h_s − y)·J_s ⋯ J_{k+1}·σ'(a_k)·z_k, factors left to right in time order."""
    chain = [d.factor(step) for step in term.chain if not d.identity(step)]
    if d.rnn.scalar:
        z = [d.z_entry(param, layer, term.entry, column)] if _has_z(d.rnn, param) else []
        return ordered_product(d.error(term.loss_step), *chain, *z)
    error = d.error(term.loss_step)
    column = notation.Transposed(sp.MatMul(notation.Transposed(error), *chain)) if chain else error
    if not _has_z(d.rnn, param):
        return column
    return sp.MatMul(column, notation.Transposed(d.z(param, layer, term.entry)))


def form_explicit(rnn: RNN, wrt: str, named: bool | None = None) -> Derivation:
    chosen = targets(rnn, wrt)
    check_explicit_size(rnn, chosen)
    d, eqs = FactorNames(rnn, named), []
    for param, layer in chosen:
        terms = list(explicit_terms(rnn, param, layer))
        if rnn.scalar:
            for entry, column in _scalar_entries(rnn, param, layer):
                rhs = ordered_sum([explicit_term_display(d, t, param, layer, column) for t in terms])
                eqs.append(Equation(grad_label(entry), rhs))
        else:
            rhs = ordered_sum([explicit_term_display(d, t, param, layer) for t in terms])
            eqs.append(Equation(grad_label(d.param(param, layer)), rhs))
    defs = layered_definitions(rnn, _used_routes(set(d._shown))) if d.named else []
    notes = _named_notes(rnn) if d.named else []
    return Derivation(f"explicit BPTT gradient, T = {rnn.T}", eqs, notes, defs)
