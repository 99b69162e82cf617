"""The float64 step kernel: BPTT for any cell as one loop over t for the δ recursion, and one matrix
product per parameter for the sums over t.

paths.py walks the recursion step object by step object, which is what the symbolic side and mpmath
need; for float64 arrays that walk costs more than the arithmetic at small n.  Here the recursion of
paths.delta_recursion is resolved once per cell structure into a plan: for each layer and state, which
later δ it reads, through which coefficient arrays and which transposed weights.  The loop then does
only the arithmetic BPTT needs,

    δ^(ℓ)_t[s] = Σ_{routes s→s'} Σ_terms Mᵀ (c_{t+1} ⊙ δ^(ℓ)_{t+1}[s'])  +  (V routes from layer ℓ+1)  +  e_t,

and every gradient is a sum over t done at once:

    ∂L/∂M = Σ_t (Σ_{s'} c_t[s'←p] ⊙ δ_t[s']) z_tᵀ  =  R Zᵀ   (R, Z: (n, T·B), (k, T·B)),

so the sums over time and batch are one matrix product (BLAS) instead of T outer products.  The
numbers are those of paths.py's recursive form (test_numeric compares every cell, stack and loss).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from ..cells import INPUT, Cell
from ..paths import delta_recursion, param_entry, targets
from .extended import extended_sum, value_of
from .factors import ArrayFactors, NumericModel, summed_to
from .flags import matmul, product_for

StateKey = tuple[int, str]  # (layer, state)


@dataclass(frozen=True)
class _Part:
    """One summand of a δ: the later δ it reads, one layer up (V) or one step later (J, F), through
    Σ (coefficient key, weight name or None)."""

    later: StateKey
    up: bool  # V: the layer above at the same t; else the same layer at t + 1
    terms: tuple[tuple[tuple[str, str], str | None], ...]


@dataclass(frozen=True)
class _Plan:
    order: tuple[tuple[StateKey, tuple[_Part, ...], bool], ...]  # (δ key, parts, reads the loss error)
    rows: tuple[tuple[int, str, tuple[str, ...]], ...]  # (layer, leaf, the states whose δ enter it)
    grads: tuple[tuple[str, int, str, str, str | None], ...]  # (param, layer, kind, leaf, source)


@lru_cache(maxsize=64)
def plan(cell: Cell, layers: int, loss: str) -> _Plan:
    """The recursion of paths.delta_recursion for an interior step, resolved once per structure."""
    rnn = NumericModel(cell, [{}] * layers, np.zeros((3, 1, 1)), np.zeros((1, 1)), loss).structure()  # T = 3
    graph = rnn.graph
    order = []
    for (layer, t, state), parts in delta_recursion(rnn):
        if t != 1:  # at t = 1 every kind of part occurs (J, F from t = 2, V from above, the error)
            continue
        resolved = []
        for part in parts:
            if part.kind == "E":
                continue
            route = next(r for r in graph.routes if (r.kind, r.target) == (part.kind, part.target)
                         and (part.kind == "V" or r.source == part.source))
            terms = tuple(((part.target, leaf), matrix) for leaf, matrix in graph.terms(route))
            resolved.append(_Part((part.layer, part.target), part.kind == "V", terms))
        has_error = state == "h" and layer == layers
        order.append(((layer, state), tuple(resolved), has_error))
    leaves = sorted({param_entry(rnn, p)[1] for p in cell.params if cell.kind(p) != "initial"})
    rows = tuple((layer, leaf, tuple(r.target for r in graph.entries(leaf)))
                 for layer in range(1, layers + 1) for leaf in leaves)
    grads = tuple((param, layer, *param_entry(rnn, param)) for param, layer in targets(rnn, "all"))
    return _Plan(tuple(order), rows, grads)


def _transposed(matrix: np.ndarray) -> np.ndarray:
    """Mᵀ, stored row-major once for the whole loop."""
    return np.ascontiguousarray(matrix.T)


def _errors(values: ArrayFactors) -> Callable[[int], np.ndarray | None]:
    """t ↦ h_t − y_t of the top layer, or None at a step the loss does not read."""
    model = values.model
    h = values.traj.values[model.layers - 1]["h"]
    if model.loss == "last":
        return lambda t: h[-1] - model.y if t == model.T else None
    return lambda t: h[t] - model.y[t - 1] if t >= 1 else None


RESCALE_EVERY = 16  # steps between looks at the size of δ_t (a look costs two NumPy calls per state)
CHECKED_EVERY = 1  # ... in a pass the Ledger checks: a saturated step can shrink δ by 10^-300 at once, and the
# products that make δ_{t-1} must not underflow where a look would have rescaled δ_t (GRU driven × 100, seed 15)
LOW, HIGH = 2.0 ** -400, 2.0 ** 400  # δ_t is rescaled by a power of two when its largest entry leaves this
UNITS = 1020  # a Ledger counts in units of 2⁻¹⁰⁷⁵; half an ulp of S is 2⁻⁵⁴·S = S·2¹⁰²¹ units, and the check
# allows half of that (the rest covers the rounding of the bound and of Σ|terms| as they are computed)


@dataclass
class Ledger:
    """What underflow may have cost a float64 pass, summed beside it: the check that lets the pass stand
    where NumPy raised underflow (numeric/underflow.py).

    An operation whose result is subnormal or 0 is off by at most η = 2⁻¹⁰⁷⁵ (half the subnormal spacing;
    an addition or subtraction that ends there is exact); a normal result carries its rounding, which
    is not counted here.  Every sum the pass forms (a δ_t entry, a row of the gradients' products, a
    gradient entry) gets a bound on what its terms' underflows and the coefficients' own errors
    (``eta``: in units of η, per coefficient entry) can have moved it, and stands when that is at most
    a quarter of an ulp of its Σ|terms|, below what every sum's rounding already costs it (numeric/flags.py
    allows half an ulp for a single product; the other half here covers the rounding of the bound and
    of Σ|terms| as they are computed).  The bounds are counted in units of η so that they never
    underflow themselves; a Σ|terms| that underflows comes out smaller, which makes the check stricter.

    A δ_t entry (t ≥ 1) whose bound is more than that is not a result: its bound is carried instead
    (``carried``), in units of η at the exponent δ_t is stored at, into every sum that reads it — the
    δ of the step before and the rows of the gradients — so that a unit whose δ dies out below float64's
    range (an IndRNN or minGRU unit over a long sequence) costs the sums what it can cost them, and they
    decide.  A δ_0 entry is a gradient (∂L/∂h_0): where one does not stand it is listed in ``short``,
    and the pass stands only if each unit's δ_0 is computed again at an exponent of its own
    (``unit_initial``).

    Args:
        eta: per layer, the error bound of each coefficient entry in units of η (arrays shaped as the
            trajectory's coefficients), for the coefficients that have any.
        by_unit: what computes δ_0 unit by unit (unit_initial's numbers), None for unit_initial itself.
    """

    eta: list[dict[tuple[str, str], np.ndarray]]
    held: bool = True
    where: str = ""  # the first sum that did not stand
    carried: dict[StateKey, np.ndarray] = field(default_factory=dict)  # per δ key: (T + 1, n, B), units of η
    # per δ key whose δ_0 did not stand: its bound and Σ|terms|, checked where unit_initial does not serve
    short: dict[StateKey, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # what computes δ_0 unit by unit: unit_initial, or its compiled twin (numeric/jit_units.py)
    by_unit: Callable[[ArrayFactors, _Plan], dict[StateKey, tuple[np.ndarray, np.ndarray]] | None] | None = None

    def check(self, units: np.ndarray, size: np.ndarray, what: str) -> None:
        """Record whether every entry's bound (``units`` of η) is at most a quarter of an ulp of its Σ|terms|."""
        if self.held and not np.all(self.stands(units, size)):
            self.held, self.where = False, what

    @staticmethod
    def carried_bound(units: np.ndarray, short: np.ndarray, k: int) -> np.ndarray:
        """What the δ_t entries that did not stand (``short``) carry into the sums that read them: their
        bounds (``units`` of η at the exponent δ_t was computed in) at the exponent it is stored at, 2^k
        lower; 0 for the entries that stood (their bounds are below what rounding already costs them)."""
        with np.errstate(over="ignore", invalid="ignore"):  # ∞ beyond float64: no sum that reads it stands
            return np.where(short, np.ldexp(units, -k) if k else units, 0.0)

    @staticmethod
    def stands(units: np.ndarray, size: np.ndarray) -> np.ndarray:
        """Which entries' bounds (``units`` of η) are at most a quarter of an ulp of their Σ|terms|."""
        with np.errstate(over="ignore", under="ignore"):
            room = np.ldexp(size, UNITS)  # inf for a large sum: nothing to check
        return units <= room


def deltas(values: ArrayFactors, the_plan: _Plan, lowest: int = 0, rescale: bool = False,
           ledger: Ledger | None = None) -> tuple[dict[StateKey, np.ndarray], np.ndarray]:
    """Every δ^(ℓ)_t[s] for t = 0..T as arrays (T + 1, n, B): the recursion as one loop over t.  With
    ``lowest`` > 0 the recursion stops there (truncated BPTT of a loss at T: δ below it stays 0).

    The recursion is linear in δ, so with ``rescale`` every δ_t is kept as a float64 array times 2^e_t
    (one integer exponent per step, shared by every layer and state): multiplying by a power of two is
    exact, and a δ that would underflow (or overflow) over thousands of steps keeps all its digits.
    Returns the arrays and the exponents e_0..e_T (all 0 without ``rescale``).  With a ``ledger`` (a plain
    pass), each δ_t entry's bound on what underflow cost it is checked against its Σ|terms|."""
    model = values.model
    T = model.T
    coefs = values.traj.coefs
    error = _errors(values)
    exps = np.zeros(T + 2, dtype=np.int64)  # δ_t = store[t] · 2^exps[t]
    like = values.traj.values[model.layers - 1]["h"]
    store = {key: np.empty_like(like) for key, _, _ in the_plan.order}  # every row is written below
    for out in store.values():
        out[:lowest] = 0.0
    noise = values.noise
    assert noise is None or ledger is None, "a ledger follows a plain pass"
    sizes = noise is not None or ledger is not None  # Σ|terms| of each sum, for the noise or the ledger

    def weight(layer: int, name: str | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Mᵀ, and beside it |Mᵀ| when the pass is nudged or checked (for Σ|terms| of each sum), or None."""
        if name is None:
            return None, None
        mt = _transposed(model.params[layer - 1][name])
        return mt, np.abs(mt) if sizes else None

    def eta(layer: int, key: tuple[str, str]) -> np.ndarray | None:
        return None if ledger is None else ledger.eta[layer - 1].get(key)

    # the bounds carried by δ entries that did not stand (Ledger.carried), 0 elsewhere
    carried = {key: np.zeros_like(like) for key, _, _ in the_plan.order} if ledger is not None else {}
    if ledger is not None:
        ledger.carried = carried
    flat = [(store[key], carried.get(key), [(store[p.later], carried.get(p.later), p.up,
                                             [(coefs[p.later[0] - 1][c], *weight(p.later[0], m),
                                               eta(p.later[0], c)) for c, m in p.terms]) for p in parts], err)
            for key, parts, err in the_plan.order]
    outs = [out for out, _, _, _ in flat]
    product = product_for(like.shape[2] * max((mt.size for _, _, parts, _ in flat for _, _, _, terms in parts
                                               for _, mt, _, _ in terms if mt is not None), default=0))
    for t in range(T, lowest - 1, -1):
        reads_error = t == T or (model.loss == "sum" and t >= 1)
        later_exp = int(exps[t + 1])
        scale = max(later_exp, 0) if reads_error else later_exp  # the exponent δ_t is computed in
        shift = later_exp - scale  # δ_{t+1}'s parts, brought to that exponent (0 unless δ is tiny)
        units_at: list[np.ndarray | None] = []  # the ledger's bound of each δ_t (units of η), in flat's order
        sizes_at: list[np.ndarray | None] = []
        for out, _, parts, err in flat:
            e_t = error(t) if err else None
            total = None if e_t is None else (e_t if not scale else np.ldexp(e_t, -scale))
            size = None if not sizes or total is None else np.abs(total)
            # Σ over its terms of what underflow can have cost them, in units of η (h_t − y brought down to
            # δ_t's exponent: one η)
            units = None if ledger is None or total is None or not scale else np.ones_like(total)
            for later, later_carried, up, terms in parts:
                s = t if up else t + 1
                if (up and t == 0) or s > T:
                    continue
                v = later[s]
                for coef, mt, absolute, off in terms:
                    scaled = coef[s] * v
                    part = scaled if mt is None else product(mt, scaled)
                    if shift and not up:
                        part = np.ldexp(part, shift)
                    total = part if total is None else total + part
                    if sizes:
                        bound = np.abs(scaled) if absolute is None else absolute @ np.abs(scaled)
                        bound = np.ldexp(bound, shift) if shift and not up else bound
                        size = bound if size is None else size + bound
                    if ledger is not None:  # c ⊙ v: the coefficient's own error times |v|, and one η; Mᵀ: K more
                        lost = np.ones_like(v) if off is None else off[s] * np.abs(v) + 1.0
                        if later_carried is not None and later_carried[s].any():  # and |c| times what v carries
                            lost = lost + np.abs(coef[s]) * later_carried[s]
                        lost = lost if mt is None else absolute @ lost + (mt.shape[1] + 1)
                        if shift and not up:  # brought down to δ_t's exponent: one η more
                            lost = np.ldexp(lost, shift) + 1.0
                        units = lost if units is None else units + lost
            if total is None:
                out[t] = 0.0
            else:
                out[t] = total if noise is None else noise(total, size)
            units_at.append(units)
            sizes_at.append(size)
        exps[t] = scale
        k = 0
        if rescale and (t % (RESCALE_EVERY if ledger is None else CHECKED_EVERY) == 0 or t == T):
            largest = max(float(np.abs(out[t]).max()) for out in outs)
            if largest and not LOW <= largest <= HIGH:
                k = int(np.frexp(largest)[1])
                for out in outs:
                    out[t] = np.ldexp(out[t], -k)
                exps[t] = scale + k
        if ledger is not None:
            for (key, _, _), (_, carry, _, _), units, size in zip(the_plan.order, flat, units_at, sizes_at,
                                                                  strict=True):
                if units is None or size is None:
                    continue
                units = units + math.ldexp(1.0, min(k, 1023)) if k > 0 else units  # shrunk: one η at the new exponent
                short = ~Ledger.stands(units, size)
                if not short.any():
                    continue
                if t == lowest:  # a gradient (∂L/∂h_0): its bound listed, for unit_initial or the check
                    ledger.short[key] = (units, size)
                else:
                    assert carry is not None  # a ledger gives every δ key one
                    carry[t] = Ledger.carried_bound(units, short, k)
    return store, exps[:T + 1]


def run_bounds(exps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The runs of steps t = 1..T that share an exponent as three int64 arrays: first step, stop, exponent."""
    steps = exps[1:]
    starts = np.zeros(1, dtype=np.int64)
    cuts = np.flatnonzero(steps[1:] != steps[:-1])
    if cuts.size:  # rescaled on the way (the usual case has one run)
        starts = np.concatenate((starts, cuts + 1))
    stops = np.empty_like(starts)
    stops[:-1], stops[-1] = starts[1:], len(steps)
    return starts, stops, steps[starts].astype(np.int64)


def _runs(exps: np.ndarray) -> list[tuple[int, int, int]]:
    """(first, stop, exponent) of each run of steps t = 1..T that share an exponent."""
    first = int(exps[1])
    if (exps[2:] == first).all():  # the usual case: δ never rescaled on the way
        return [(0, len(exps) - 1, first)]
    return list(zip(*(part.tolist() for part in run_bounds(exps)), strict=True))


def gradients(values: ArrayFactors, magnitudes: list[dict[str, np.ndarray]] | None = None,
              computed: tuple[dict[StateKey, np.ndarray], np.ndarray] | None = None,
              seen: list[tuple[dict[StateKey, np.ndarray], np.ndarray]] | None = None,
              ledger: Ledger | None = None) -> tuple[float, list[dict[str, np.ndarray]]]:
    """Loss and ∂L/∂θ of every parameter (shapes as in the model's params), float64 throughout: a
    gradient beyond float64's range comes back as an object array of exact mpf values.

    Args:
        values: the float64 forward pass (and its coefficients) of a model whose parameters are shared
            by the batch.
        magnitudes: when given (one empty dict per layer), filled with Σ|terms| of each gradient's sum
            over t and the batch, the same shape: how much that sum can cancel.
        computed: every δ_t and its exponents as ``deltas`` returns them, when already computed without a
            float64 event (numeric/jit.py's kernel).
        seen: when given, the δ the sums read (``computed`` or made here) are appended to it.
        ledger: when given (a plain pass, ``computed`` None), every δ entry and gradient entry is checked
            against what underflow can have cost it (Ledger); ``ledger.held`` says whether all stood.

    Returns:
        (loss summed over the batch, one dict of gradients per layer).
    """
    model = values.model
    the_plan = plan(model.cell, model.layers, model.loss)
    watch = values.watch
    assert ledger is None or computed is None, "the ledger checks the δ it computes"
    with watch.watch("gradients"):  # one error state for the blocks below (each labelled on its own)
        return _gradients(values, the_plan, magnitudes, computed, seen, ledger)


def _gradients(values: ArrayFactors, the_plan: _Plan, magnitudes: list[dict[str, np.ndarray]] | None,
               computed: tuple[dict[StateKey, np.ndarray], np.ndarray] | None,
               seen: list[tuple[dict[StateKey, np.ndarray], np.ndarray]] | None = None,
               ledger: Ledger | None = None) -> tuple[float, list[dict[str, np.ndarray]]]:
    model, watch = values.model, values.watch
    with watch.watch("loss"):
        loss = values.loss()
    if computed is not None:
        store, exps = computed
    else:
        with watch.watch("delta"):
            store, exps = deltas(values, the_plan, rescale=True, ledger=ledger)
    if seen is not None:
        seen.append((store, exps))
    coefs, traj = values.traj.coefs, values.traj
    rows: dict[tuple[int, str], np.ndarray] = {}  # Σ_{s'} c_t[s'←p] ⊙ δ_t[s'] for t = 1..T: (T, n, B)
    sizes: dict[tuple[int, str], np.ndarray] = {}  # Σ_{s'} |c_t[s'←p] ⊙ δ_t[s']|, when magnitudes are asked for
    lost: dict[tuple[int, str], np.ndarray] = {}  # the ledger's bound of each row entry, in units of η
    for layer, leaf, states in the_plan.rows:
        with watch.watch(("row", layer, leaf)):  # shared by the weights, input weights and bias of a map
            total = size = units = None
            for state in states:
                delta = store[(layer, state)][1:]
                part = coefs[layer - 1][(state, leaf)][1:] * delta
                total = part if total is None else total + part
                if magnitudes is not None or ledger is not None:
                    size = np.abs(part) if size is None else size + np.abs(part)
                if ledger is not None:  # the coefficient's own error times |δ|, and one η for the product
                    off = ledger.eta[layer - 1].get((state, leaf))
                    bound = np.ones_like(delta) if off is None else off[1:] * np.abs(delta) + 1.0
                    carry = ledger.carried.get((layer, state))
                    if carry is not None and carry[1:].any():  # and |c| times what a δ that did not stand carries
                        bound = bound + np.abs(coefs[layer - 1][(state, leaf)][1:]) * carry[1:]
                    units = bound if units is None else units + bound
        if total is not None:
            rows[(layer, leaf)] = total
            if size is not None:
                sizes[(layer, leaf)] = size
            if units is not None:
                lost[(layer, leaf)] = units
    runs = _runs(exps)
    rescued = None  # δ_0 of each unit at an exponent of its own, where some δ_0 entry did not stand
    if ledger is not None and ledger.short:
        rescued = (ledger.by_unit or unit_initial)(values, the_plan) if not any(ledger.eta) else None
        if rescued is None:
            for units, size in ledger.short.values():
                ledger.check(units, size, "δ_0")
    grads: list[dict[str, np.ndarray]] = [{} for _ in model.params]
    for param, layer, kind, leaf, source in the_plan.grads:
        shape = model.params[layer - 1][param].shape
        with watch.watch(("grad", param, layer)):
            z = None if source is None or kind == "initial" else (
                (traj.inputs if layer == 1 else traj.values[layer - 2]["h"][1:]) if source == INPUT
                else traj.values[layer - 1][source][:-1])  # z_t for t = 1..T
            if kind == "initial" and rescued is not None:
                mantissa, exponent = rescued[(layer, leaf)]
                g = _scaled(mantissa, exponent, shape)
                if magnitudes is not None:
                    magnitudes[layer - 1][param] = _scaled(np.abs(mantissa), exponent, shape)
                grads[layer - 1][param] = g
                continue
            parts = _blocks(kind, shape, store[(layer, leaf)][0] if kind == "initial" else rows.get((layer, leaf)),
                            z, runs, int(exps[0]))
            g = _combined(parts)
            if magnitudes is not None:
                size_parts = _blocks(kind, shape, np.abs(store[(layer, leaf)][0]) if kind == "initial" else
                                     sizes.get((layer, leaf)), None if z is None else np.abs(z), runs, int(exps[0]))
                magnitudes[layer - 1][param] = _combined(size_parts)
            if ledger is not None and kind != "initial" and (layer, leaf) in lost:  # δ_0 was checked as made
                _check_sum(ledger, lost[(layer, leaf)], sizes[(layer, leaf)], z, runs, f"∂L/∂{param}")
        if watch.touched(("row", layer, leaf)):
            watch.mark(("grad", param, layer), "row")
        grads[layer - 1][param] = g
    return float(loss), grads


Noise = Callable[[np.ndarray, np.ndarray], np.ndarray]  # a nudged rerun's (forward.UlpNoise)
ByUnit = Callable[[ArrayFactors, _Plan, Any], dict[StateKey, tuple[np.ndarray, np.ndarray]] | None]


def unit_initial(values: ArrayFactors, the_plan: _Plan, noise: Noise | None = None
                 ) -> dict[StateKey, tuple[np.ndarray, np.ndarray]] | None:
    """δ_0 of every state as (mantissa, exponent) arrays (n, B), each unit's recursion carried at an
    exponent of its own: for one layer whose steps are diagonal (no weight matrix on the way back: the
    IndRNN, minGRU, minLSTM, LRU), where a unit's δ dies out below float64's range while the others' do
    not, so the one exponent per step that ``deltas`` shares cannot hold it.

    Each unit's δ is the same float64 arithmetic as in ``deltas`` (the same products and sums in the same
    order), scaled by powers of two after every step so that the unit's largest δ lies in [½, 1):
    exact, so where no operation under- or overflows (NumPy raises, and None is returned) the numbers
    carry only the rounding the plain pass carries.  None too for a stack, a cell with a weight matrix
    on the way back, or a coefficient below float64's normal range (whose own error is not relative).

    Args:
        values: a float64 pass of one sequence or batch.
        the_plan: its plan.
        noise: a nudged rerun's (forward.UlpNoise), which moves each δ as ``deltas`` moves it: the reruns
            that measure a pass whose ∂L/∂h_0 was computed so (reruns.kept_digits).

    Returns:
        {δ key: (mantissa, exponent)} at t = 0, or None.
    """
    model = values.model
    if not unit_ready(values, the_plan):
        return None
    T, coefs, error = model.T, values.traj.coefs[0], _errors(values)
    like = values.traj.values[0]["h"][0]
    mantissa = {key: np.zeros_like(like) for key, _, _ in the_plan.order}  # δ_{t+1} of each state, scaled
    exponent = np.zeros(like.shape, dtype=np.int64)  # shared by the states of a unit (and batch element)
    try:
        with np.errstate(all="raise"):
            for t in range(T, -1, -1):
                reads_error = t == T or (model.loss == "sum" and t >= 1)
                scale = np.maximum(exponent, 0) if reads_error else exponent
                shift = exponent - scale
                now = {}
                for key, parts, err in the_plan.order:
                    e_t = error(t) if err else None
                    total = None if e_t is None else (np.ldexp(e_t, -scale) if scale.any() else e_t)
                    size = None if total is None else np.abs(total)  # Σ|terms|, for the noise
                    for p in parts:
                        if t + 1 > T:
                            continue
                        for c, _ in p.terms:
                            part = coefs[c][t + 1] * mantissa[p.later]
                            part = np.ldexp(part, shift) if shift.any() else part
                            total = part if total is None else total + part
                            size = np.abs(part) if size is None else size + np.abs(part)
                    if total is None or size is None:
                        now[key] = np.zeros_like(like)
                    else:
                        now[key] = total if noise is None else noise(total, size)
                largest = np.max(np.abs(np.stack(list(now.values()))), axis=0)
                k = np.frexp(largest)[1].astype(np.int64)  # 0 where the unit's δ is 0
                mantissa = {key: np.ldexp(v, -k) for key, v in now.items()}
                exponent = scale + k
    except FloatingPointError:
        return None
    return {key: (v, exponent) for key, v in mantissa.items()}


def unit_ready(values: ArrayFactors, the_plan: _Plan) -> bool:
    """Whether unit_initial can carry each unit at an exponent of its own: one layer, no weight matrix on
    the way back (diagonal steps), and every coefficient it reads 0 or in float64's normal range (a
    subnormal one's error is not relative).

    Args:
        values: a float64 pass.
        the_plan: its plan.

    Returns:
        True where unit_initial (or its compiled twin) may compute δ_0.
    """
    if values.model.layers != 1 or any(p.up or any(mt is not None for _, mt in p.terms)
                                       for _, parts, _ in the_plan.order for p in parts):
        return False
    coefs = values.traj.coefs[0]
    read = [coefs[c][1:] for _, parts, _ in the_plan.order for p in parts for c, _ in p.terms]
    return not any(np.any((np.abs(c) < np.finfo(float).tiny) & (c != 0)) for c in read)


def initial_by_unit(values: ArrayFactors, noise: Noise | None = None, by_unit: ByUnit | None = None
                    ) -> dict[str, np.ndarray] | None:
    """The initial states' gradients (∂L/∂h_0, …) of ``values`` from unit_initial, each summed to its
    parameter's shape (float64, or exact mpf entries beyond its range); None where unit_initial is.

    Args:
        values: a float64 pass of a one-layer cell.
        noise: as unit_initial takes it.
        by_unit: what computes δ_0 unit by unit with that noise (unit_initial's numbers; its compiled twin,
            numeric/jit_units.py), None for unit_initial itself.

    Returns:
        {parameter: gradient}, or None.
    """
    model = values.model
    the_plan = plan(model.cell, model.layers, model.loss)
    found = (by_unit or unit_initial)(values, the_plan, noise)
    if found is None:
        return None
    return {param: _scaled(*found[(layer, leaf)], model.params[layer - 1][param].shape)
            for param, layer, kind, leaf, _ in the_plan.grads if kind == "initial"}


def _scaled(mantissa: np.ndarray, exponent: np.ndarray, shape: tuple) -> np.ndarray:
    """A δ_0 held as mantissa · 2^exponent, (n, B), summed to ``shape`` (summed_to) as one array."""
    return value_of(*extended_sum(_columns(mantissa, exponent, shape)))


def _columns(mantissa: np.ndarray, exponent: np.ndarray, shape: tuple) -> list[tuple[np.ndarray, np.ndarray]]:
    """A δ_0 held as mantissa · 2^exponent, (n, B), as the parts of its sum to ``shape`` (summed_to): the
    whole for one sequence, one part per batch element for a vector, one per entry for a single number."""
    if mantissa.shape == shape:
        return [(mantissa, exponent)]
    if math.prod(shape) == 1:
        return [(np.full(shape, m), np.full(shape, e)) for m, e in zip(mantissa.ravel(), exponent.ravel(), strict=True)]
    return [(mantissa[:, b:b + 1], exponent[:, b:b + 1]) for b in range(mantissa.shape[1])]


def _check_sum(ledger: Ledger, units: np.ndarray, size: np.ndarray, z: np.ndarray | None,
               runs: list[tuple[int, int, int]], what: str) -> None:
    """The ledger's check of one gradient: a bias sums its rows (additions that end below the normal range
    are exact), a weight multiplies them by |z_t| (one η more per product: T·B of them per entry).  Each
    run's bound and Σ|terms| carry the run's exponent, and what is checked is their totals over the runs:
    a run of tiny rows can fail alone where the whole sum, which larger runs decide, stands."""
    bounds, sizes = [], []
    with np.errstate(all="ignore"):
        for a, b, e in runs:
            if z is None:
                bounds.append((units[a:b].sum(axis=(0, 2)), e))
                sizes.append((size[a:b].sum(axis=(0, 2)), e))
            else:
                magnitude = np.abs(z[a:b])
                bounds.append((summed_outer(units[a:b], magnitude) + (b - a) * z.shape[2], e))
                sizes.append((summed_outer(size[a:b], magnitude), e))
        if len(runs) == 1:
            ledger.check(bounds[0][0], sizes[0][0], what)
            return
        (bm, bx), (sm, sx) = extended_sum(bounds), extended_sum(sizes)
        # bm·2^bx ≤ sm·2^(sx + UNITS) checked as bm ≤ sm·2^(sx − bx) (then ·2^UNITS in check); beyond ±2100
        # the shift makes any finite mantissa 0 or ∞ either way
        ledger.check(bm, np.ldexp(sm, np.clip(sx - bx, -2100, 2100)), what)


def _combined(parts: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """Σ_b G_b · 2^e_b as one array (float64, or mpf entries beyond its range)."""
    return parts[0][0] if len(parts) == 1 and parts[0][1] == 0 else value_of(*extended_sum(parts))


def _blocks(kind: str, shape: tuple, row: np.ndarray | None, z: np.ndarray | None, runs: list[tuple[int, int, int]],
            initial_exp: int) -> list[tuple[np.ndarray, int]]:
    """One gradient as (block, exponent) parts, one per run of steps sharing an exponent: the initial
    state's δ_0 summed to its shape; a bias's rows summed over t; a weight's rows against its z_t."""
    if kind == "initial":
        assert row is not None
        return [(summed_to(row, shape), initial_exp)]
    if row is None:
        return [(np.zeros(shape), 0)]
    if z is None:
        return [(summed_to(row[a:b].sum(axis=0), shape), e) for a, b, e in runs]
    return [(summed_outer(row[a:b], z[a:b]), e) for a, b, e in runs]


OUTER_BYTES = 4 << 20  # the most the per-step products of summed_outer hold at once


def summed_outer(row: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Σ_t Σ_b row[t, :, b] z[t, :, b]ᵀ for (T, n, B) and (T, k, B): with a batch, one product per step
    (NumPy's stacked matmul, no copies) summed over t in order, a chunk of steps at a time so the
    products never hold more than OUTER_BYTES (each chunk's sum starts from the sum so far: the same
    additions in the same order as one stacked product of all T steps, which NumPy sums over t in order
    unless n = k = 1); for one sequence, one (n, T)·(T, k) product."""
    if row.shape[2] == 1:
        return matmul(row[:, :, 0].T, z[:, :, 0])
    T, n, k = row.shape[0], row.shape[1], z.shape[1]
    zt = z.transpose(0, 2, 1)
    chunk = max(1, OUTER_BYTES // (8 * n * k))
    if T <= chunk or n * k == 1:  # (T, 1, 1) products are summed pairwise by NumPy: never in chunks
        return matmul(row, zt).sum(axis=0)
    total = None
    for a in range(0, T, chunk):
        b = min(T, a + chunk)
        first = 0 if total is None else 1
        products = np.empty((b - a + first, n, k), dtype=np.result_type(row, z))
        if total is not None:
            products[0] = total
        matmul(row[a:b], zt[a:b], out=products[first:])
        total = products.sum(axis=0)
    assert total is not None
    return total


def applies(values: ArrayFactors) -> bool:
    """The kernel serves float64 passes whose parameters the whole batch shares (a sweep that gives
    each batch element its own matrix takes paths.py's walk)."""
    return values.kind == "float" and all(v.ndim <= 2 for p in values.model.params for v in p.values())
