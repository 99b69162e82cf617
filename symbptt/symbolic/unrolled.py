"""The forms that show the network rather than the gradient's structure: the unrolled forward pass, every
chain-rule factor of every step, and the gradient expanded down to parameters and inputs."""

from __future__ import annotations

import sympy as sp

from .. import primitives as P
from ..cells import unit
from ..model import RNN, loss_in_states, nested_states, unrolled_equations
from ..paths import Step, evaluate_recursive, explicit_terms, param_entry, targets
from ..step import shown_locals
from ..templates import swap
from .derivation import Derivation, Equation, Note, grad_label, ordered_product, ordered_sum, partial
from .explicit import explicit_term_display
from .shown import FactorNames, SymbolicFactors, _scalar_entries, generic_step_names, route_words


def form_unroll(rnn: RNN, wrt: str) -> Derivation:
    eqs = []
    for lhs, rhs in unrolled_equations(rnn):
        eqs.append(Equation(lhs[0, 0], rhs[0, 0]) if rnn.scalar else Equation(lhs, rhs))
    eqs.append(Equation(sp.Symbol("L"), loss_in_states(rnn)))
    return Derivation(f"unrolled forward pass, T = {rnn.T}", eqs, [])


def form_factors(rnn: RNN, wrt: str) -> Derivation:
    """The local partials of one step (gated cells), then every factor of every step: J_t (and F_t)
    back in time, V_t down a layer, D_t into the pre-activations."""
    values, eqs = SymbolicFactors(rnn), _shown_partials(rnn)
    d = FactorNames(rnn, named=True)
    wanted = {param_entry(rnn, p)[1] for p, _ in targets(rnn, wrt)}
    for t in range(1, rnn.T + 1):
        for layer in range(rnn.layers, 0, -1):
            for route in rnn.graph.routes:
                if route.kind == "V" and layer == 1 or route.kind == "D" and route.source not in wanted:
                    continue
                step = Step(route.kind, layer, t, route.target, route.source)
                if rnn.scalar:
                    value = d._scalar_factor(step)
                else:
                    value = values.factor(step)
                eqs.append(Equation(d.factor_symbol(step), value))
    return Derivation(f"chain-rule factors, T = {rnn.T}", eqs, _factors_notes(rnn))


def form_factors_generic(rnn: RNN, wrt: str) -> Derivation:
    """The chain-rule factors once, at a generic step t (each layer's with its own parameters), instead of
    once per step: what a document of matrices shows (per step they fill pages with the same pattern)."""
    from .shown import layered_definitions

    eqs = _shown_partials(rnn)
    wanted = {param_entry(rnn, p)[1] for p, _ in targets(rnn, wrt)}
    used = {(layer, route.kind, route.target, route.source) for layer in range(1, rnn.layers + 1)
            for route in rnn.graph.routes
            if not (route.kind == "V" and layer == 1 or route.kind == "D" and route.source not in wanted)}
    eqs.extend(layered_definitions(rnn, used))
    return Derivation("chain-rule factors at any step t", eqs, _factors_notes(rnn))


def _factors_notes(rnn: RNN) -> list[str]:
    """What the factors mean, saying only what this document has: rows of W only for matrices, V_t only
    for a stack."""
    below = rnn.layers > 1
    if rnn.spec.elman and rnn.scalar:
        text = "J_t = ∂h_t/∂h_(t-1) = w σ'(a_t); D_t = ∂h_t/∂a_t = σ'(a_t)"
        tex = (r"$J_t = \partial h_t/\partial h_{t-1} = w\,\sigma'(a_t)$; "
               r"$D_t = \partial h_t/\partial a_t = \sigma'(a_t)$")
    elif rnn.spec.elman:
        text = ("J_t = ∂h_t/∂h_(t-1) = diag(σ'(a_t))·W scales row i of W by σ'(a_t[i]) (it is not W·diag(σ')); "
                "D_t = ∂h_t/∂a_t = diag(σ'(a_t))")
        tex = (r"$J_t = \partial h_t/\partial h_{t-1} = \operatorname{diag}(\sigma'(a_t))\,W$ scales row $i$ of $W$ by "
               r"$\sigma'(a_{t,i})$ (it is not $W \operatorname{diag}(\sigma')$); $D_t = \partial h_t/\partial a_t = "
               r"\operatorname{diag}(\sigma'(a_t))$")
    else:
        text, tex = route_words(rnn)
    if below and rnn.spec.elman and rnn.scalar:
        text += " (each layer with its own w and a_t)"
        tex += r" (each layer with its own $w$ and $a_t$)"
    if below and text:
        text += "; V_t = ∂h_t/∂x_t reaches the layer below"
        tex += r"; $V_t = \partial h_t/\partial x_t$ reaches the layer below"
    return [Note(text, tex)] if text else []


def _shown_partials(rnn: RNN) -> list[Equation]:
    """The local partials a factors section opens with: every cell's but the vanilla one's, whose only
    partial is σ'(a_t), already in its factors."""
    return _local_partials(rnn) if not rnn.spec.elman else []


def _local_partials(rnn: RNN) -> list[Equation]:
    """∂node/∂parent for every edge of one step, at a generic step t."""
    at, eqs = generic_step_names(rnn), []
    for (node, parent), value in shown_locals(rnn.graph).items():
        top = at[unit(node)]
        bottom = at.get(rnn.graph.symbol(parent), sp.Symbol(parent))
        eqs.append(Equation(partial(top, bottom), swap(value, at)))
    return eqs


def form_expanded(rnn: RNN, wrt: str) -> Derivation:
    """The recursive gradient with every h_t replaced by its expression in parameters and inputs."""
    values, subs, eqs = SymbolicFactors(rnn), nested_states(rnn), []
    d = FactorNames(rnn)
    for param, layer in targets(rnn, wrt):
        if rnn.scalar and rnn.spec.elman:  # the explicit sum, every factor in parameters and inputs
            terms = list(explicit_terms(rnn, param, layer))
            for entry, column in _scalar_entries(rnn, param, layer):
                shown = [explicit_term_display(d, t, param, layer, column) for t in terms]
                expanded = [ordered_product(*[f.xreplace(subs) for f in factors_of_term(t)]) for t in shown]
                eqs.append(Equation(grad_label(entry), ordered_sum(expanded)))
        else:
            grad = P.plain(evaluate_recursive(rnn, param, layer, values).xreplace(subs))
            shown = d.param(param, layer)
            entries = [(grad_label(shown), grad[0, 0])] if grad.shape == (1, 1) else \
                [(grad_label(rnn.symbols.param(param, layer)[i, j]), grad[i, j])
                 for i in range(grad.rows) for j in range(grad.cols)]  # a matrix: one equation per entry
            for lhs, value in entries:  # one term per line, long products wrapped between factors
                terms = _distributed(value, limit=64 * len(sp.Add.make_args(value))) or list(sp.Add.make_args(value))
                products = [ordered_product(*t.args) if isinstance(t, sp.Mul) else t for t in terms]
                eqs.append(Equation(lhs, ordered_sum(products) if len(terms) > 1 else value))
    return Derivation(f"gradient expanded down to parameters and inputs, T = {rnn.T}", eqs, [])


def _distributed(expr: sp.Basic, limit: int) -> list[sp.Basic] | None:
    """The terms of ``expr`` with every product distributed over the sums among its factors (not inside
    function arguments), so that each term is a product of factors that a printer can wrap; None when
    that would make more than ``limit`` terms."""
    terms: list[sp.Basic] = []
    pending = list(sp.Add.make_args(expr))
    while pending:
        term = pending.pop()
        sums = [f for f in sp.Mul.make_args(term) if _sum_of_paths(f)]
        if sums:  # a sum of paths inside a product (Σ_j W_ij·…); σ' and error factors stay whole
            rest = [f for f in sp.Mul.make_args(term) if f is not sums[0]]
            pending.extend(sp.Mul(*rest, a) for a in reversed(sums[0].args))
        else:
            terms.append(term)
        if len(terms) + len(pending) > limit:
            return None
    return terms[::-1]


def _sum_of_paths(factor: sp.Basic) -> bool:
    """A sum whose every term is a product holding a sum (Σ_j W_ji·σ'(a_j)·(…)), not 1 − tanh² or h − y."""
    return isinstance(factor, sp.Add) and all(
        isinstance(t, sp.Mul) and any(isinstance(f, sp.Add) for f in t.args) for t in factor.args)


def factors_of_term(term: sp.Basic) -> tuple[sp.Basic, ...]:  # noqa: D103
    return term.args if isinstance(term, sp.Mul) else (term,)
