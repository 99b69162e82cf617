"""Distances to ±1 carried beside saturating values: a saturated cell's differences in float64.

float64 holds a value v near ±1 to an absolute 2⁻⁵³, so a difference of two such values (the GRU's
h_{t−1} − n_t, which ∂h_t/∂a_z multiplies) loses every digit below that.  Its distance d = 1 − s·v (s = ±1,
v's sign) is held to a relative 2⁻⁵³ instead.  A tanh node's distance comes from its argument a,
2e/(1 + e) with e = e^{−2|a|}.  A state's comes from its step: each saturating value u the step reads is
written s_u(1 − d_u), and 1 − s·(step) is expanded symbolically, one form per pattern of signs.  For the
GRU's h_t = (1 − z)n + z h_{t−1} with shared signs this gives d_h = (1 − z)d_n + z d_{t−1}, a sum of
positive terms; with opposite signs the forms keep positive terms too ((1 − z)d_n + z(2 − d_{t−1})).

Where two values share a sign s their difference is s·(d_v − d_u), which cancels only as much as the
distances do; with opposite signs nothing cancels.  How many digits each difference keeps is bounded as
the distances are made: each carries a bound on its relative error (the rounding of every operation,
and the relative |a|·2⁻⁵³ a gate or tanh read from a pre-activation a holds), summed through each step
and divided by the distance it makes, then divided by the gap d_v − d_u.  When every difference keeps
KEPT_DIGITS digits by that bound, the step coefficients that read differences are recomputed from them,
and the float64 pass stands where the saturation bound (exact.saturation_digits) would otherwise
send the whole pass to mpmath.  Like every float64 pass of symbptt.gradients, the forward values
themselves are taken as float64 computed them.  A distance below float64's normal range (a tanh read
from |a| > 354, a state that has followed one) is carried with an exponent of its own (Wide: an
int64 beside each float64), the same bounds beside it; a coefficient that reads such a difference is
formed from it (the cell's are linear in their difference) and rounded once to float64, and a value
that lands below the normal range is then checked as an underflow (numeric/underflow.py).  The gates
and factors such a pass multiplies its distances by are Wide numbers too: where float64 cannot evaluate
one (it underflows, or the forward pass's node did and stored 0), mpmath does (_Exact).  Where float64
is not enough all the same, the distances still say how many digits each difference cancels
(cancellation), and the exact pass starts at that many more.

A cell qualifies when each of its differences subtracts two values, each either a tanh node or a
previous state whose step is linear in the distances of the values it reads (DistanceForms.of returns
None otherwise).  The built-in GRU is such a cell.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from functools import lru_cache, partial
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from .. import primitives as P
from ..activations import numpy_functions
from ..cells import Cell, prev, unit
from .flags import underflowing
from .forward import ROUNDING, CompiledCell, Trajectory, compiled, stable_form, step_rows, value_differences
from .wide import Wide, carry, choose, mul

# the digits every difference must keep, by the running bound, for float64 to stand: a worst case that
# adds every rounding up, 2–3 digits below what the gradients keep in the tests' saturated GRUs
KEPT_DIGITS = 10
TINY = np.finfo(float).tiny


class DistanceForms:
    """The symbolic side for one cell: the tanh nodes' arguments, each carried state's step as a linear
    form in the distances per sign pattern, and the coefficients with each difference as a symbol."""

    def __init__(self, cell: Cell, cc: CompiledCell, pairs: list[tuple[sp.Add, int, sp.Symbol, sp.Symbol]],
                 tanh_args: dict[str, sp.Expr], states: dict[str, tuple[list[sp.Symbol], dict]]) -> None:
        self.cell, self.cc = cell, cc
        self.pairs = pairs  # (the difference, c, u, v): the difference is c·(u − v)
        args = cc.args
        self.tanh_args = {name: _float(args, expr) for name, expr in tanh_args.items()}
        # each carried state: the symbols whose distances its step reads, and per pattern of signs
        # (the state's, then each read value's) the coefficient of each distance and the rest
        self.states = {s: (reads, {pattern: ([_float(args, c) for c in coefs], _float(args, rest))
                                   for pattern, (coefs, rest) in forms.items()})
                       for s, (reads, forms) in states.items()}
        # the same forms in mpmath: where their float64 evaluation underflows (_Exact)
        self.exact_states = {s: {pattern: ([_exact(args, c) for c in coefs], _exact(args, rest))
                                 for pattern, (coefs, rest) in forms.items()} for s, (_, forms) in states.items()}
        symbols = [sp.Symbol(f"_difference{i}", real=True) for i in range(len(pairs))]
        swap = {add: symbol for (add, _, _, _), symbol in zip(pairs, symbols, strict=True)}
        read = {key: expr.xreplace(swap) for key, expr in cc.coefficient_exprs.items()
                if expr.atoms(sp.Add) & set(swap)}
        self.coefficients = {key: _float([*args, *symbols], expr) for key, expr in read.items()}
        # each coefficient as factor·difference, when it is linear in one difference (the GRU's ∂h/∂a_z =
        # σ'(a_z)·(h_{t-1} − n_t)): what a difference beyond float64's range is multiplied by (_layer_wide)
        linear: dict[tuple[str, str], tuple[int, Callable[..., np.ndarray]]] | None = {}
        exact: dict[tuple[str, str], Callable[..., Any]] = {}
        for key, expr in read.items():
            used = [i for i, symbol in enumerate(symbols) if expr.has(symbol)]
            factor = expr.diff(symbols[used[0]]) if len(used) == 1 else None
            if factor is None or factor.has(symbols[used[0]]) or expr.subs(symbols[used[0]], 0) != 0:
                linear = None
                break
            assert linear is not None
            linear[key] = (used[0], _float(args, factor))
            exact[key] = _exact(args, factor)
        self.linear = linear
        self.exact_factors = exact  # each factor in mpmath: where its float64 evaluation underflows (_Exact)

    @property
    def keys(self) -> list[tuple[str, str]]:
        """The coefficients that read a difference (the GRU's ∂h_t/∂a_z)."""
        return list(self.coefficients)

    @staticmethod
    def of(cell: Cell) -> DistanceForms | None:
        """The forms of ``cell`` (made once per cell), or None when its differences are not all of values
        that have distances (see the module's notes)."""
        return _forms(cell)


def _float(args: list[sp.Symbol], expr: sp.Expr) -> Callable[..., np.ndarray]:
    fn = sp.lambdify(args, expr, numpy_functions(expr))
    return lambda *values: np.asarray(fn(*values), dtype=float)


def _exact(args: list[sp.Symbol], expr: sp.Expr) -> Callable[..., Any]:
    return sp.lambdify(args, expr, [P.mpmath_module(expr), "mpmath"])


@lru_cache(maxsize=32)
def _forms(cell: Cell) -> DistanceForms | None:
    cc = compiled(cell, "float")
    nodes = dict(cell.nodes)
    values = {unit(n) for n in cc.node_names} | {prev(s) for s in cell.states}
    steps = [stable_form(expr, cell) for _, expr in cell.nodes]
    found = value_differences(steps + list(cc.coefficient_exprs.values()), values)
    in_steps = value_differences(steps, values)
    if not found or in_steps:  # a difference inside a step would make the float64 values themselves lossy
        return None
    pairs = []
    for add in found:
        terms = [term.as_coeff_Mul() for term in add.args]
        if len(terms) != 2 or any(abs(c) != 1 or rest not in values for c, rest in terms) or terms[0][0] == terms[1][0]:
            return None
        (c, u), (_, v) = terms
        pairs.append((add, int(c), u, v))
    tanh_args: dict[str, sp.Expr] = {}
    states: dict[str, tuple[list[sp.Symbol], dict]] = {}
    wanted = [w for _, _, u, v in pairs for w in (u, v)]
    while wanted:
        w = wanted.pop()
        name = w.name.removeprefix("prev_")
        if w == unit(name) and isinstance(nodes.get(name), P.tanh):
            tanh_args.setdefault(name, nodes[name].args[0])
            continue
        if name not in cell.states or name not in nodes:  # neither a tanh nor a state with a step of its own
            return None
        if name in states:
            continue
        step = nodes[name]
        reads = sorted((r for r in step.free_symbols if r in values and (
            isinstance(nodes.get(r.name), P.tanh) or r.name.startswith("prev_"))), key=str)
        forms = _state_forms(cell, step, reads)
        if forms is None:
            return None
        states[name] = (reads, forms)
        wanted.extend(reads)
    return DistanceForms(cell, cc, pairs, tanh_args, states)


def _state_forms(cell: Cell, step: sp.Expr, reads: list[sp.Symbol]) -> dict | None:
    """1 − s·step with each read value u written s_u(1 − d_u), for every pattern of the signs (s, s_u…):
    {pattern: ([coefficient of each d_u], the rest)}, each with 1 − z written σ(−a) (stable_form); None
    when a form is not linear in the distances."""
    d = [sp.Symbol(f"_d_{u.name}", real=True) for u in reads]
    gates = {unit(name): P.sigmoid(-definition.args[0]) for name, definition in cell.nodes
             if isinstance(definition, P.sigmoid)}
    forms = {}
    for pattern in itertools.product((1, -1), repeat=len(reads) + 1):
        own, signs = pattern[0], pattern[1:]
        expr = sp.expand(1 - own * step.xreplace({u: sign * (1 - du) for u, sign, du in zip(reads, signs, d,
                                                                                              strict=True)}))
        if d and (not expr.is_polynomial(*d) or sp.Poly(expr, *d).total_degree() > 1):
            return None
        coefs = [_gated(expr.coeff(du), gates, cell) for du in d]
        rest = _gated(expr.xreplace({du: 0 for du in d}), gates, cell)
        if any(c is None for c in coefs) or rest is None:
            return None
        forms[pattern] = (coefs, rest)
    return forms


def _gated(expr: sp.Expr, gates: dict[sp.Symbol, sp.Expr], cell: Cell) -> sp.Expr | None:
    """``expr`` with each gate z = σ(a) it reads to degree one written through z and 1 − z only,
    p(z) = p(0)·(1 − z) + p(1)·z, and 1 − z as σ(−a): expanded, 2 − 2z would cancel where z is near 1,
    while 2·σ(−a) keeps its digits.  None when a gate appears to a higher degree."""
    expr = sp.expand(expr)
    for z, complement in gates.items():
        if z not in expr.free_symbols:
            continue
        if not expr.is_polynomial(z) or sp.Poly(expr, z).degree() > 1:
            return None
        held = sp.Dummy("complement")  # a symbol for 1 − z: a number times 1 − z would be multiplied out
        low, high = sp.expand(expr.xreplace({z: 0})), sp.expand(expr.xreplace({z: 1}))
        expr = (low * held + high * z).xreplace({held: complement})
    return stable_form(expr, cell)


def carried(cc: CompiledCell, traj: Trajectory) -> bool:
    """Recompute, in every layer of a float64 trajectory, the step coefficients that read a difference of
    saturating values, from the distances to ±1 (see the module's notes).

    Args:
        cc: the cell's compiled float64 functions (forward.compiled).
        traj: the float64 forward pass with its coefficients; those that read a difference are replaced.

    Returns:
        True when it recomputed them; False, with the trajectory untouched, when the cell does not
        qualify, a difference keeps fewer than KEPT_DIGITS digits by the running bound somewhere, or a
        coefficient's evaluation from them underflowed (then only more digits will do)."""
    found = _layers(cc, traj)
    made = [coefs for coefs, _ in found] if found is not None else []
    if not made or any(coefs is None for coefs in made):
        return False
    for layer, coefs in enumerate(made):
        traj.coefs[layer] = traj.coefs[layer] | (coefs or {})
    return True


def cancellation(cc: CompiledCell, traj: Trajectory) -> float | None:
    """The decimal digits the cell's differences cancel on a float64 trajectory, read from the distances
    to ±1: the largest log10((|u| + |v|)/|u − v|) over every step, unit, layer and difference u − v, the
    quantity cancelled.difference_digits measures on an exact pass, held here to the KEPT_DIGITS digits
    the running bound promises; the trajectory is not changed.  An exact pass needs about this many
    digits more than it keeps (exact.measured_saturation starts from it).

    Args:
        cc: the cell's compiled float64 functions (forward.compiled).
        traj: the float64 forward pass.

    Returns:
        The count, or None when the cell does not qualify, a difference keeps fewer than KEPT_DIGITS
        digits by the bound, or one is 0 in float64 (its cancellation is then unknown)."""
    found = _layers(cc, traj)
    if found is None:
        return None
    worst = max(count for _, count in found)
    return worst if np.isfinite(worst) else None


def _layers(cc: CompiledCell, traj: Trajectory) -> list[tuple[dict | None, float]] | None:
    """Per layer, the coefficients that read a difference (None where their evaluation underflowed) and
    the digits its differences cancel (see _layer); None when the cell does not qualify or some layer's
    bound fails."""
    forms = DistanceForms.of(cc.cell)
    if forms is None:
        return None
    found = []
    for layer in range(1, len(traj.values) + 1):
        with np.errstate(all="ignore"):
            made = _layer(forms, traj, layer)
        if made is None:
            return None
        found.append(made)
    return found


def _layer(forms: DistanceForms, traj: Trajectory, layer: int) -> tuple[dict | None, float] | None:
    """The coefficients of one layer that read a difference, from the distances, and the most digits a
    difference cancels, log10((|u| + |v|)/|u − v|) (∞ for one that is 0 with u and v not); None when a
    difference would keep fewer than KEPT_DIGITS digits by the running bound (see _carried_state)."""
    values = traj.values[layer - 1]
    row = step_rows(forms.cc, traj, layer)  # every leaf and node for t = 1..T, leading axis t
    shape = row[0].shape
    flagged = forward_underflows(forms.cc, flattened(row[:len(forms.cc.leaf_names)])[0])
    if flagged:
        return _layer_wide(forms, traj, layer, flagged)  # a node below the range: its forms evaluated exactly there
    # a pre-activation a holds about |a|·2⁻⁵³ of rounding, and a gate or tanh read from it a relative
    # |a|·2⁻⁵³ (twice that for tanh's distance, e^{−2|a|}); the largest |a| of the step bounds every one
    largest = np.max([np.abs(values[lin.name][1:]) for lin in forms.cell.linears], axis=0)
    gate_error = (largest + 4.0) * ROUNDING
    dist: dict[sp.Symbol, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # distance, sign, relative error
    for name, arg in forms.tanh_args.items():
        a = np.broadcast_to(arg(*row), shape)
        e = np.exp(-2.0 * np.abs(a))
        if not np.all(e >= TINY):  # a distance below float64's normal range (|a| > 354): a wider exponent
            return _layer_wide(forms, traj, layer)
        dist[unit(name)] = (2.0 * e / (1.0 + e), np.where(a >= 0, 1.0, -1.0), (2.0 * np.abs(a) + 2.0 * largest + 6.0)
                            * ROUNDING)
    try:
        if not _states(forms, values, row, dist, gate_error, _carried_state):
            return None
    except _OutOfRange:
        return _layer_wide(forms, traj, layer)
    differences, worst, cancels = [], 0.0, 0.0
    for _, c, u, v in forms.pairs:
        (du, su, eu), (dv, sv, ev) = dist[u], dist[v]
        same = su == sv
        value_u, value_v = _value(values, u), _value(values, v)
        differences.append(np.where(same, c * su * (dv - du), c * (value_u - value_v)))
        # with one sign, |u − v| = |d_v − d_u| and |u| + |v| = 2 − d_u − d_v; with opposite signs nothing cancels
        size, gap = np.where(same, 2.0 - du - dv, 1.0), np.where(same, np.abs(dv - du), 1.0)
        with np.errstate(divide="ignore"):
            ratio = np.where(size > 0, size / gap, 1.0)
        cancels = max(cancels, float(np.max(np.log10(ratio), initial=0.0)))
        held, gap = du * eu + dv * ev, np.abs(dv - du)  # with opposite signs nothing cancels
        cancelled = np.where(gap > 0, held / np.where(gap > 0, gap, 1.0), np.where(held > 0, np.inf, 0.0))
        worst = max(worst, float(np.max(np.where(same, cancelled, 0.0))) + 2.0 * ROUNDING)
    if not worst <= 10.0 ** -KEPT_DIGITS:
        return None
    parts = {key: partial(_evaluated, fn, [*row, *differences], shape) for key, fn in forms.coefficients.items()}
    return _made(traj, layer, parts), cancels


def _evaluated(fn: Callable[..., np.ndarray], args: list, shape: tuple) -> np.ndarray:
    return np.broadcast_to(fn(*args), shape)


def _formed(fn: Callable[..., np.ndarray], row: list[np.ndarray], difference: Wide, shape: tuple,
            exact: _Exact | None = None, exact_fn: Callable[..., Any] | None = None) -> np.ndarray:
    """A coefficient linear in its difference: its factor times the difference, rounded once to float64
    (below the normal range too).  With ``exact`` the factor is a Wide number too, its entries that
    underflow in float64 (a gate's σ'(a) at |a| > 708), or whose forward pass did, from mpmath (exact_fn).
    A nonzero value below the smallest subnormal is kept as that, ±2⁻¹⁰⁷⁴, not 0: off by at most 2⁻¹⁰⁷⁴
    like any value rounded below the range, and visible as one to numeric/underflow.py's mark_carried
    (which cannot tell an exact 0 from one rounded there)."""
    made = (difference.times(np.broadcast_to(fn(*row), shape)) if exact is None or exact_fn is None
            else difference.times_wide(exact.wide(fn, exact_fn)))
    value = made.value()
    return np.where((value == 0) & (made.m != 0), np.copysign(2.0**-1074, made.m), value)


def _made(traj: Trajectory, layer: int, parts: Mapping[tuple[str, str], Callable[[], np.ndarray]]) -> dict | None:
    """The coefficients that read a difference, each made by its part (t = 1..T; row 0 unused), or None
    where an evaluation underflowed on the way: such a value has no bound here, so the pass is not carried
    (more digits will do), while the count of what the differences cancel stands.  A part's own final
    rounding below the normal range (Wide.value) is not such an event: it is one rounding, and
    numeric/underflow.py counts it."""
    made: dict[tuple[str, str], np.ndarray] = {}
    clean = True
    for key, part in parts.items():
        full = np.zeros_like(traj.coefs[layer - 1][key])
        with np.errstate(under="call"), _Underflow() as seen:
            full[1:] = part()
        made[key] = full
        clean = clean and not seen.happened
    return made if clean else None


def _states(forms: DistanceForms, values: dict[str, np.ndarray], row: list[np.ndarray], dist: dict,
            gate_error: np.ndarray, carry: Callable[..., tuple | None]) -> bool:
    """Each carried state's distance, sign and bound for t = 0..T into ``dist`` (at t − 1 and at t), made by
    ``carry`` (_carried_state or its Wide twin); False where one does not qualify."""
    for state, (reads, patterns) in forms.states.items():
        found = carry(values[state], prev(state), reads, patterns, row, dist, gate_error)
        if found is None:
            return False
        d, sign, error = found
        dist[prev(state)] = (d[:-1], sign[:-1], error[:-1])
        dist[unit(state)] = (d[1:], sign[1:], error[1:])
    return True


class _Underflow:
    """Whether NumPy raised underflow inside the block (under an error state of 'call')."""

    def __enter__(self) -> _Underflow:
        self.happened = False
        self.saved = np.seterrcall(self._record)
        return self

    def _record(self, kind: str, flag: int) -> None:  # noqa: ARG002 - numpy's callback signature
        self.happened = True

    def __exit__(self, *exc: object) -> None:
        np.seterrcall(self.saved)


def _carried_state(h: np.ndarray, own_read: sp.Symbol, reads: list[sp.Symbol], patterns: dict, row: list[np.ndarray],
                   dist: dict, gate_error: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A state's distance to ±1 for t = 0..T, its sign and a bound on the distance's relative error: each
    step's terms carry their inputs' bounds, the gates' (gate_error) and a rounding per operation, and the
    sum's bound is divided by the distance it makes (a form with terms of both signs pays for what it
    cancels).  None when an input has no distance, or the distances are not those of values in [−1, 1]."""
    shape = row[0].shape
    sign = np.where(h >= 0, 1.0, -1.0)  # t = 0..T
    if any(r != own_read and r not in dist for r in reads):
        return None
    coef, rest = _pattern_forms(sign, own_read, reads, patterns, row, dist, shape)
    operations = (len(reads) + 2) * ROUNDING
    fixed, size, held, own = _read_terms(coef, reads, own_read, rest, dist, gate_error, np.copy,
                                         lambda a, b: a * b)
    d, error = np.empty_like(h), np.empty_like(h)
    d[0] = 1.0 - np.abs(h[0])
    error[0] = ROUNDING
    for t in range(shape[0]):
        d[t + 1] = fixed[t] + own[t] * d[t]
        terms = np.abs(own[t]) * d[t]
        bound = held[t] + terms * (error[t] + gate_error[t]) + operations * (size[t] + terms)
        error[t + 1] = np.where(d[t + 1] > 0, bound / np.where(d[t + 1] > 0, d[t + 1], 1.0),
                                np.where(bound > 0, np.inf, 0.0))
    if not np.all(np.isfinite(d)) or np.any(d < 0) or np.any(d > 1 + 1e-12):  # not a value in [−1, 1]
        return None
    if not np.all(d[1:] >= TINY):  # a distance that left float64's normal range on the way
        raise _OutOfRange
    return d, sign, error


def _read_terms(coef: list[np.ndarray], reads: list[sp.Symbol], own_read: sp.Symbol, rest: np.ndarray, dist: dict,
                gate_error: np.ndarray, lift: Callable[[np.ndarray], Any], times: Callable[[Any, np.ndarray], Any]
                ) -> tuple[Any, Any, Any, np.ndarray]:
    """What a state's step adds beside its own previous distance, for every t: the sum of its terms
    (``fixed``), the sum of their sizes, the bound on their error (each read distance's own and the
    gates'), and the coefficient of the previous distance (``own``); in the distances' number type
    (``lift`` makes one from what the forms gave, ``times`` multiplies two: plain arrays, or Wide where
    one of them is)."""
    fixed, size, held = lift(rest), lift(abs(rest)), lift(times(abs(rest), gate_error))
    own = None
    for c, r in zip(coef, reads, strict=True):
        if r == own_read:
            own = c
            continue
        d_r, _, e_r = dist[r]
        fixed = fixed + times(d_r, c)
        size = size + times(d_r, abs(c))
        held = held + times(d_r, times(abs(c), e_r + gate_error))
    return fixed, size, held, lift(np.zeros(np.shape(gate_error))) if own is None else own


def _pattern_forms(sign: np.ndarray, own_read: sp.Symbol, reads: list[sp.Symbol], patterns: dict,
                   row: list[np.ndarray], dist: dict, shape: tuple, exact: _Exact | None = None,
                   exact_patterns: dict | None = None) -> tuple[list[Any], Any]:
    """Each read distance's coefficient and the rest of a state's step, for every t at once: the pattern of
    signs of each entry is known beforehand (the signs are the float64 values'), so only the recursion
    itself runs step by step.  With ``exact`` (and the forms in mpmath), as Wide numbers: entries whose
    float64 evaluation underflows, or whose forward pass's did, computed with mpmath."""
    def zero() -> Any:
        return np.zeros(shape) if exact is None else Wide(np.zeros(shape))

    coef = [zero() for _ in reads]
    rest = zero()
    read_signs = [sign[:-1] if r == own_read else dist[r][1] for r in reads]
    for pattern, (coef_fns, rest_fn) in patterns.items():
        where = sign[1:] == pattern[0]
        for s, want in zip(read_signs, pattern[1:], strict=True):
            where = where & (s == want)
        if not where.any():
            continue
        if exact is None or exact_patterns is None:
            for target, fn in zip(coef, coef_fns, strict=True):
                target[where] = np.broadcast_to(fn(*row), shape)[where]
            rest[where] = np.broadcast_to(rest_fn(*row), shape)[where]
            continue
        exact_coefs, exact_rest = exact_patterns[pattern]
        for target, fn, exact_fn in zip(coef, coef_fns, exact_coefs, strict=True):
            target[where] = exact.wide(fn, exact_fn, where)[where]
        rest[where] = exact.wide(rest_fn, exact_rest, where)[where]
    return coef, rest


class _Exact:
    """One layer's step values, for what float64 cannot evaluate: the entries at which the forward pass's
    nodes underflowed (their stored values may be 0 where the exact ones are not), and each entry's leaves
    with its nodes computed again from them at 30 digits (mpmath)."""

    def __init__(self, forms: DistanceForms, row: list[np.ndarray], flagged: list[int] | None = None) -> None:
        """``flagged``: the entries forward_underflows gives for this layer, when known already."""
        cc = forms.cc
        self.forms, self.row = forms, row
        self.flat, self.shape = flattened(row)
        if flagged is None:
            flagged = forward_underflows(cc, self.flat[:len(cc.leaf_names)])
        self.flagged = np.array(flagged, dtype=np.int64)
        self.mp = compiled(cc.cell, "mp")
        self._args: dict[int, list] = {}

    def args(self, entry: int) -> list:
        """The mpf arguments (leaves, then nodes) of one entry."""
        if entry not in self._args:
            with mpmath.workdps(30):
                leaves = [mpmath.mpf(float(v[entry])) for v in self.flat[:len(self.mp.leaf_names)]]
                self._args[entry] = leaves + self.mp.node_values(leaves)
        return self._args[entry]

    def wide(self, fn: Callable[..., np.ndarray], exact_fn: Callable[..., Any], where: np.ndarray | None = None
             ) -> Wide:
        """fn over every entry as Wide numbers, those (of ``where``) at which it underflows or the forward
        pass did evaluated by exact_fn at 30 digits and rounded to a 53-bit mantissa."""
        with np.errstate(all="ignore"):
            made = Wide(np.broadcast_to(fn(*self.row), self.shape))
        entries = np.arange(self.flat[0].size) if where is None else np.flatnonzero(where.reshape(-1))
        redo = set(underflowing(fn, self.flat, entries)) | set(np.intersect1d(self.flagged, entries).tolist())
        with mpmath.workdps(30):
            for entry in sorted(redo):
                made.put(np.unravel_index(entry, self.shape), mpmath.mpf(exact_fn(*self.args(entry))))
        return made


def forward_underflows(cc: CompiledCell, leaves: list[np.ndarray]) -> list[int]:
    """The entries at which a layer's nodes, evaluated from its leaves (one-dimensional arrays, every step
    and unit), raise underflow, as the forward pass evaluates them.

    Args:
        cc: the cell's compiled float64 functions.
        leaves: the layer's leaves (cc.leaf_names' order), flattened alike.

    Returns:
        The flat indices, in increasing order.
    """
    def nodes(*values: np.ndarray) -> list[np.ndarray]:
        return cc.node_values(list(values))

    return underflowing(nodes, leaves, np.arange(leaves[0].size)) if leaves and leaves[0].size else []


def flattened(row: list[np.ndarray]) -> tuple[list[np.ndarray], tuple[int, ...]]:
    """A layer's step values (step_rows: leaves, then nodes, each broadcastable to t = 1..T × units ×
    batch) as one-dimensional arrays of one length, and the shape they were broadcast to."""
    shape = np.broadcast_shapes(*(np.shape(r) for r in row))
    return [np.broadcast_to(r, shape).reshape(-1) for r in row], shape


class _OutOfRange(Exception):
    """A distance below float64's normal range: carried with a wider exponent instead (_layer_wide)."""


def _layer_wide(forms: DistanceForms, traj: Trajectory, layer: int, flagged: list[int] | None = None
                ) -> tuple[dict | None, float] | None:
    """_layer with every distance carried as a Wide number: for a pass whose tanh nodes or states come
    nearer ±1 than float64's normal range can say (|a| > 354).  The same bounds, the same rule for
    float64 to stand; each coefficient that reads a difference is formed from it (forms.linear: the cell's
    are linear in their difference) and rounded once to float64, possibly below its normal range — the
    underflow check then counts that rounding (numeric/underflow.py).  None where _layer's rules fail or
    a coefficient is not linear in its difference.  ``flagged``: the entries at which the forward pass's
    nodes underflowed, when _layer found them already."""
    if forms.linear is None:
        return None
    values = traj.values[layer - 1]
    row = step_rows(forms.cc, traj, layer)
    shape = row[0].shape
    largest = np.max([np.abs(values[lin.name][1:]) for lin in forms.cell.linears], axis=0)
    gate_error = (largest + 4.0) * ROUNDING
    dist: dict[sp.Symbol, tuple[Wide, np.ndarray, np.ndarray]] = {}
    for name, arg in forms.tanh_args.items():
        a = np.broadcast_to(arg(*row), shape)
        e = Wide.exp_minus(2.0 * np.abs(a))
        dist[unit(name)] = (e.times(2.0 / (1.0 + e.value())), np.where(a >= 0, 1.0, -1.0),
                            (2.0 * np.abs(a) + 2.0 * largest + 8.0) * ROUNDING)
    exact = _Exact(forms, row, flagged)
    if not _states(forms, values, row, dist, gate_error, partial(_carried_state_wide, exact=exact)):
        return None
    differences, worst, cancels = [], 0.0, 0.0
    for _, c, u, v in forms.pairs:
        (du, su, eu), (dv, sv, ev) = dist[u], dist[v]
        same = su == sv
        apart = dv - du
        differences.append(choose(same, apart.times(c * su), Wide(c * (_value(values, u) - _value(values, v)))))
        size = np.where(same, 2.0 - du.value() - dv.value(), 1.0)
        with np.errstate(divide="ignore"):
            ratio = np.where(same, np.log10(size) - abs(apart).log10(), 0.0)
        cancels = max(cancels, float(np.max(ratio, initial=0.0)))
        cancelled = (du.times(eu) + dv.times(ev)).over(abs(apart))
        worst = max(worst, float(np.max(np.where(same, cancelled, 0.0))) + 2.0 * ROUNDING)
    if not worst <= 10.0 ** -KEPT_DIGITS:
        return None
    parts = {key: partial(_formed, fn, row, differences[k], shape, exact, forms.exact_factors[key])
             for key, (k, fn) in forms.linear.items()}
    return _made(traj, layer, parts), cancels


def _carried_state_wide(h: np.ndarray, own_read: sp.Symbol, reads: list[sp.Symbol], patterns: dict,
                        row: list[np.ndarray], dist: dict, gate_error: np.ndarray, exact: _Exact | None = None
                        ) -> tuple[Wide, np.ndarray, np.ndarray] | None:
    """_carried_state with the distances as Wide numbers (the bounds stay float64: they are relative), and
    the forms' coefficients too: where their float64 evaluation underflows, or the forward pass's did,
    ``exact`` computes them with mpmath."""
    shape = row[0].shape
    sign = np.where(h >= 0, 1.0, -1.0)
    if any(r != own_read and r not in dist for r in reads):
        return None
    exact_patterns = None if exact is None else exact.forms.exact_states[own_read.name.removeprefix("prev_")]
    coef, rest = _pattern_forms(sign, own_read, reads, patterns, row, dist, shape, exact, exact_patterns)
    operations = (len(reads) + 2) * ROUNDING
    fixed, size, held, own = _read_terms(coef, reads, own_read, rest, dist, gate_error,
                                         lambda v: v if isinstance(v, Wide) else Wide(v), mul)
    d, error = carry(Wide(1.0 - np.abs(h[0])), fixed, own, held, size, ROUNDING, gate_error, operations)
    if not np.all(np.isfinite(d.m)) or np.any(d.m < 0) or np.any(d.value() > 1 + 1e-12) or np.any(d.m[1:] == 0):
        return None
    return d, sign, error


def _value(values: dict[str, np.ndarray], symbol: sp.Symbol) -> np.ndarray:
    """A node's or previous state's float64 values at t = 1..T."""
    name = symbol.name
    return values[name.removeprefix("prev_")][:-1] if name.startswith("prev_") else values[name][1:]


__all__ = ["KEPT_DIGITS", "DistanceForms", "cancellation", "carried"]
