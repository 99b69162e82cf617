"""What an exact pass will cost, estimated before it starts and refused in one line beyond the budget
(budget.estimate): mpmath's pass (budget.mp_pass_seconds), or Arb's forward pass and the rest from it
(budget.arb_pass_seconds), which is priced on its own where Arb will try the model — an LSTM of 128 units
over 1000 steps reports in 9.6–9.7 s with Arb (benchmarks/exact_passes.py), where mpmath's pass would
take 11 min and is refused.  Where
Arb then gives up on a value, mpmath's pass is priced in turn before it starts.  And what a float64 pass
holds (held_per_step), which the commands that batch many passes (training, plot gradmap) count."""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .. import primitives as P
from ..budget import arb_pass_seconds, estimate, mp_pass_seconds
from ..cells import Cell
from .factors import NumericModel
from .forward import compiled

ADVICE = "shorten x, use a smaller batch or smaller weights"


def _sizes(model: NumericModel) -> tuple[int, int, int]:
    """(n, m, batch) of ``model``."""
    return model.params[0][f"{model.cell.states[0]}0"].shape[0], model.x.shape[1], model.x.shape[2]


# the functions whose cost grows faster with the digits than a product's (budget.function_seconds): in
# mpmath's pass the built-in primitives share one exponential per argument between a value and its slope
# (primitives._kept: tanh and sech² of a, σ(a), σ(−a) and σ'(a)); Arb's computes the nodes forward and the
# coefficients back apart (arbforward), each group its own; any other function, a user's, is computed
# where it is written, once per group (the nodes one by one, the coefficients with common subexpressions
# once); a logarithm counts 3 (mpmath's at 1000–5000 digits costs 1.7–2.8 exponentials), an error function
# 5 (mpmath's 2.5–7.2 exponentials from 50 to 1000 digits, Arb's 4.2–5.1), an arctangent 1 (0.8–1.7)
_SHARED = {P.tanh: "pair", P.dtanh: "pair", P.sigmoid: "exp", P.dsigmoid: "exp", P.Logistic: "exp",
           P.NamedLogistic: "exp"}
_FUNCTIONS = (sp.exp, sp.sin, sp.cos, sp.sinh, sp.cosh, sp.tanh, sp.log, sp.erf, sp.atan)
_WEIGHT = {sp.log: 3, sp.erf: 5}


def _collect(expr: sp.Basic, shared: set, own: set) -> None:
    """The transcendental evaluations of ``expr``: the built-in primitives' exponentials (keyed by kind and
    argument up to sign) into ``shared``, a user's functions into ``own``."""
    for node in sp.preorder_traversal(expr):
        kind = _SHARED.get(type(node))
        if kind is not None:
            arg = node.args[0]
            shared.add((kind, frozenset((arg, -arg))))
        elif isinstance(node, P.Primitive):  # a custom activation: its plain expression is what is computed
            _collect(P.plain(node), shared, own)
        elif isinstance(node, _FUNCTIONS):
            own.add(node)


@lru_cache(maxsize=64)
def transcendentals(cell: Cell, *, kept: bool) -> float:
    """The exponentials, sines, logarithms and others an exact pass of ``cell`` evaluates per unit and step
    (its nodes forward, its step coefficients back), each logarithm counted as 3 and each error function as
    5: mpmath's, whose kept exponentials serve a node and its slope (``kept``), or Arb's, which computes
    each group's."""
    cc = compiled(cell, "float")
    across: set = set()
    total = 0.0
    for group in (cc.node_exprs, [cc.coefficient_exprs[key] for key in cc.keys]):
        shared: set = across if kept else set()
        own: set = set()
        for expr in group:
            _collect(expr, shared, own)
        total += sum(_WEIGHT.get(type(f), 1) for f in own) + (0 if kept else len(shared))
    return total + len(across)


@lru_cache(maxsize=64)
def operations(cell: Cell) -> int:
    """The operations an mpmath pass of ``cell`` makes per unit and step beyond its linear maps' products,
    counted in plain SymPy (a custom activation as the expression it is): its nodes', each computed as
    written, and its step coefficients', common subexpressions once (as forward.CompiledCell computes
    them) — a cell file of thirty sines over five intermediates makes 368, where ten per node priced 60."""
    cc = compiled(cell, "float")
    nodes = sum(sp.count_ops(P.plain(expr)) for expr in cc.node_exprs)
    coefficients = [P.plain(cc.coefficient_exprs[key]) for key in cc.keys]
    replaced, reduced = sp.cse(coefficients) if coefficients else ([], [])
    return int(nodes + sum(sp.count_ops(e) for _, e in replaced) + sum(sp.count_ops(e) for e in reduced))


def mp_seconds(cell: Cell, n: int, m: int, T: int, batch: int, layers: int, dps: int) -> float:
    """budget.mp_pass_seconds of an mpmath pass and rest of ``cell``, with the exponentials (kept between
    a node and its slope) and the operations its expressions make."""
    return mp_pass_seconds(cell, n, m, T, batch, layers, dps, functions=transcendentals(cell, kept=True),
                           operations=operations(cell))


def arb_seconds(cell: Cell, n: int, m: int, T: int, batch: int, layers: int, dps: int) -> float:
    """budget.arb_pass_seconds of Arb's pass and rest of ``cell``, with its step coefficients and the
    exponentials (each group its own) and operations its expressions make."""
    return arb_pass_seconds(cell, n, m, T, batch, layers, dps, len(compiled(cell, "float").keys),
                            functions=transcendentals(cell, kept=False), operations=operations(cell))


def mp_cost(model: NumericModel, dps: int, most: bool = False) -> float:
    """The estimated seconds of one mpmath pass of ``model`` at ``dps`` digits (budget.mp_pass_seconds),
    after refusing it in one line when that is beyond the budget; ``most``: ``dps`` is the most the pass
    may need (a saturated cell's bound, checked before its first pass), and the refusal says so."""
    n, m, B = _sizes(model)
    digits = f"up to {dps}" if most else str(dps)
    return estimate(f"the exact pass ({digits} digits) of a {model.cell.name} with n = {n}, T = {model.T}, batch {B}",
                    ADVICE, seconds=mp_seconds(model.cell, n, m, model.T, B, model.layers, dps))


def arb_cost(model: NumericModel, dps: int, most: bool = False) -> float:
    """The estimated seconds of Arb's forward pass of ``model`` at ``dps`` digits and the exact rest from it
    (budget.arb_pass_seconds), after refusing them in one line when that is beyond the budget; ``most``:
    ``dps`` is the most the pass may need, and the refusal says so."""
    n, m, B = _sizes(model)
    digits = f"up to {dps}" if most else str(dps)
    return estimate(f"the exact pass ({digits} digits, with Arb's balls) of a {model.cell.name} with n = {n}, "
                    f"T = {model.T}, batch {B}", ADVICE,
                    seconds=arb_seconds(model.cell, n, m, model.T, B, model.layers, dps))


def truncated_cost(model: NumericModel, k: int, dps: int, with_pass: bool = False) -> float:
    """The estimated seconds of the truncated gradients' walk over an exact pass at ``dps`` digits (mpmath,
    k steps back from each loss step: k steps for loss 'last', T·k for 'sum', none for k ≥ T), and with ``with_pass`` of
    the mpmath pass it walks, after refusing them in one line when that is beyond the budget."""
    n, m, B = _sizes(model)
    # k ≥ T: no walk (grad_report.truncated_report reads the full gradients, which they are)
    steps = 0 if k >= model.T else k * (model.T if model.loss == "sum" else 1)
    seconds = mp_pass_seconds(model.cell, n, m, steps, B, model.layers, dps, functions=0.0,  # stored values
                              operations=0)
    if with_pass:
        seconds += mp_seconds(model.cell, n, m, model.T, B, model.layers, dps)
    what = "the exact pass and truncated gradients" if with_pass else "the exact truncated gradients"
    return estimate(f"{what} ({dps} digits, {k} steps back) of a {model.cell.name} with n = {n}, T = {model.T}, "
                    f"batch {B}", ADVICE, seconds=seconds)


def held_per_step(cell: Cell) -> int:
    """The float64 values a float64 pass and its δ recursion hold per step, unit and sequence: each node
    and linear map, each step coefficient, two per state (its δ and what the sums read) and two more —
    within 1.3× of tracemalloc's peak for a training iteration of each built-in cell (tests/test_cost.py)."""
    return (len(cell.nodes) + len(cell.linears) + len(compiled(cell, "float").keys) + 2 * len(cell.states)
            + 2)


__all__ = ["arb_cost", "arb_seconds", "held_per_step", "mp_cost", "mp_seconds", "operations", "transcendentals",
           "truncated_cost"]
