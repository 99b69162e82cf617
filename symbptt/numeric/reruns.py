"""The digits float64 kept, measured, and an exact forward pass read in float64 where they hold.

A float64 pass's loss and gradients are run again with every stored value nudged by one rounding
(``kept_digits``; the reruns and their margins in NUDGED_RUNS and HELD_RUNS), and the digits the largest
change leaves are what the report and ``symbptt.gradients`` claim.  Where rounding in the forward pass is
amplified beyond what float64 holds, the forward pass is made exactly and the rest read in float64 from
it (``exact_then_float64``, ``read_in_float64``; numeric/split.py), its digits measured the same way with
the trajectory held where it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple

import mpmath
import numpy as np

from ..cells import Cell
from . import arbforward, jit_units, kernel, split
from .cancelled import float_difference_digits
from .cost import arb_seconds, mp_seconds
from .exact import DPS, exact_forward, saturated_in_float64, saturated_stands
from .factors import ArrayFactors, NumericModel, Unwatched, gradient_blocks
from .forward import ROUNDING, Trajectory, UlpNoise, compiled
from .jit_nudge import nudged_gradients
from .logspace import log10_jacobian_norms


def lost_digits(norms: list[dict[str, list[float]]]) -> float:
    """How many decimal digits rounding in the float64 forward pass can cost: log10 of the largest
    ‖∂s_T/∂s_k‖ over k, blocks and layers (an error made at step k reaches h_T multiplied by it); ∞ when
    a norm overflowed float64, 0 when nothing grows."""
    largest = 0.0
    for layer in norms:
        for values in layer.values():
            for v in values:
                if math.isnan(v) or v == math.inf:
                    return math.inf
                largest = max(largest, v)
    return largest


# the reruns that measure what rounding cost, as (direction, scattered, seed, margin): every value nudged
# up, then twice each up or down by a sign of its own, drawn from two seeds; the digits are counted from
# each rerun's change times its margin.  The reruns sample what rounding can do, they do not bound it: over
# 11,000 random cells kept in float64, two reruns without a margin left 61 off by up to 3.6 times the
# change they showed.  Nudged all one way, the changes of a long pass add up and overstate what rounding
# did (an LSTM with n = 64, T = 1000 held 14.2 digits where that rerun showed 12.6), so that rerun is
# counted twice; a rerun of signs of its own is one sample of rounding's many, counted four times.
# benchmarks/claims_sweep.py checks the counts against reference.py
NUDGED_RUNS = ((1, False, UlpNoise.SEED, 2.0), (1, True, UlpNoise.SEED, 4.0), (1, True, UlpNoise.SEED + 1, 4.0))
# the sums over t (and the batch) are not nudged: a sum of N terms is charged SUM_SPREAD·√N·2⁻⁵³·Σ|terms|.
# Its N − 1 roundings, each at most 2⁻⁵³ of a partial sum, add up as a random walk does (√N of them)
# when their signs are independent; an LSTM with T = 55, batch 2 was off by 10.7·2⁻⁵³·Σ|terms| in an
# entry whose sum was charged 4·2⁻⁵³ then, and claimed 13.5 digits where it held 13.47
SUM_SPREAD = 2.0
# an exact trajectory read in float64 (numeric/split.py) is nudged once more, every value outward: its
# passes are the saturated and chaotic ones, where a long product of σ′ decides a gradient, and σ′ of
# values nudged all up moves up on one side of 0 and down on the other.  An rnn (sigmoid, n = 7, T = 237)
# held 13.78 digits in ∂L/∂h0 relative to its largest entry where the three reruns measured 14.0 (counted
# 2× to 4×); scattered reruns of eight seeds showed changes from 4.7e−16 to 1.3e−13, the outward one 1.5e−13
HELD_RUNS = ((0, False, UlpNoise.SEED, 2.0), *NUDGED_RUNS)  # outward first: it most often decides
FLOAT64_DIGITS = 53 * math.log10(2)  # a float64 result is off by up to 2⁻⁵³ of itself: 15.95 digits at most


@lru_cache(maxsize=32)
def shared_rounding(cell: Cell) -> bool:
    """Whether a step coefficient of ``cell`` reads its parameters alone (the LRU's λ = exp(−exp(ν))): float64
    computes it with a rounding that every step shares, which a product over the steps multiplies as often
    as it has steps.  All up, its nudge and a negative δ's cancel in that product, where the rounding does not
    cancel; moved outward, away from 0, they accumulate as it does: such a cell's plain pass is measured by
    the outward rerun too (nudged_runs; with λ's slope counted, numeric/sizes.py, an LRU of 2 units over 231
    steps claimed 14.0 digits of an entry that held 13.7 without that rerun, 12.5 with it)."""
    params = set(cell.params)
    return any((names := {str(symbol) for symbol in expr.free_symbols}) and names <= params
               for expr in compiled(cell).coefficient_exprs.values())


def nudged_runs(cell: Cell) -> tuple[tuple[int, bool, int, float], ...]:
    """The reruns that measure a float64 pass of ``cell``: NUDGED_RUNS, and the outward one first too
    (HELD_RUNS) where a coefficient's rounding is shared by every step (shared_rounding)."""
    return HELD_RUNS if shared_rounding(cell) else NUDGED_RUNS


def measured_words(held: bool = False, inputs: bool = False, outward: bool = False) -> str:
    """How the digits were measured, in words: the reruns and their margins as they are set; ``held``:
    the reruns nudged the exact trajectory the sentence has named, where it is (numeric/split.py);
    ``inputs``: they moved every parameter and input too (_inputs_moved: a cell without linear maps);
    ``outward``: the outward rerun ran too (nudged_runs)."""
    runs = HELD_RUNS if held or outward else NUDGED_RUNS
    margins = sorted({run[3] for run in runs})
    counted = f"{margins[0]:g}×" if len(margins) == 1 else f"{margins[0]:g}× to {margins[-1]:g}×"
    which = " of that trajectory" if held else ""  # nudged where it is: the forward pass is not run again
    moved = ", parameter and input" if inputs else ""
    return (f"as measured by {len(runs)} reruns with every stored value{which}{moved} nudged by one rounding, "
            f"counting {counted} the changes they show")


def _changes(plain: Any, nudged: Any) -> tuple[float, float]:
    """(largest |nudged − plain| / |plain| over the entries, largest |nudged − plain| / max|plain|): the
    worst entry's relative change (∞ where plain is 0 and nudged is not) and the block's, relative to
    its largest entry; ∞ where a rerun made a NaN (a value rounding can make undefined has no digits to
    count: compared, a NaN would count as no change at all)."""
    entry, block = _raw_changes(plain, nudged)
    return (math.inf if math.isnan(entry) else entry), (math.inf if math.isnan(block) else block)


def _raw_changes(plain: Any, nudged: Any) -> tuple[float, float]:
    """_changes as the arithmetic gives them: NaN where a rerun made one."""
    a, b = np.asarray(plain), np.asarray(nudged)
    if a.dtype == object or b.dtype == object:  # entries beyond float64's range: exact mpf arithmetic
        pairs = [(mpmath.mpf(x), mpmath.mpf(y)) for x, y in zip(a.ravel(), b.ravel(), strict=True)]
        if any(mpmath.isnan(x) or mpmath.isnan(y) for x, y in pairs):  # (Python's max passes a NaN over)
            return math.nan, math.nan
        largest = max((abs(x) for x, _ in pairs), default=mpmath.mpf(0))
        change = max((abs(y - x) for x, y in pairs), default=mpmath.mpf(0))
        entry = max((abs(y - x) / abs(x) if x else (mpmath.mpf(0) if y == 0 else mpmath.inf) for x, y in pairs),
                    default=mpmath.mpf(0))
        return float(entry), float(change / largest) if largest else (0.0 if change == 0 else math.inf)
    if not a.size:
        return 0.0, 0.0
    with np.errstate(all="ignore"):
        rel = np.where(a == 0, np.where(b == 0, 0.0, np.inf), np.abs(b - a) / np.abs(a))
        largest, change = float(np.max(np.abs(a))), float(np.max(np.abs(b - a)))
    return float(np.max(rel)), change / largest if largest else (0.0 if change == 0 else math.inf)


def _digits(relative: float) -> float:
    """The digits a relative change (its margin applied) leaves: never more than a float64 holds."""
    return FLOAT64_DIGITS if relative == 0 else min(FLOAT64_DIGITS, -math.log10(relative))


def exact_digits(kept: tuple[float, float]) -> int:
    """The digits an exact pass is made with where the float64 pass kept fewer than asked (kept_digits'
    two counts): DPS beyond what rounding cost its worst entry (16 − kept, rounded up), so that rounding
    at those digits costs the exact pass as many and leaves it about DPS; DPS + 16 where the worst entry
    kept less than a digit (what rounding cost it is then not measured)."""
    return DPS + math.ceil(16 - kept[1]) if kept[1] >= 1 else DPS + 16


def sum_allowance(terms: int) -> float:
    """What a sum of ``terms`` terms is charged for its rounding, relative to its Σ|terms|."""
    return SUM_SPREAD * math.sqrt(max(terms, 1)) * ROUNDING


class EntryChanges:
    """What kept_digits counted against each entry: the largest change a rerun showed in it (times that
    rerun's margin) or its sum's allowance, whichever is larger, and the loss's; for measuring where, not
    only how much, float64 fell short (numeric/unitwise.py).  A block with entries beyond float64's range
    (exact mpf numbers) has its changes as mpf numbers too.  ``usable`` is False where the reruns stopped
    early or a change could not be counted."""

    def __init__(self) -> None:
        self.loss = 0.0
        self.blocks: list[dict[str, np.ndarray]] = []
        self.usable = True

    def widen(self, loss: Any, nudged_loss: Any, grads: list[dict[str, np.ndarray]],
              nudged: list[dict[str, np.ndarray]], margin: float) -> None:
        """Take one rerun's changes, each counted ``margin`` times (∞ where it made a NaN)."""
        if not self.usable:
            return
        if not self.blocks:
            self.blocks = [{} for _ in grads]
        with np.errstate(all="ignore"):
            change = margin * abs(float(nudged_loss) - float(loss))
            self.loss = max(self.loss, math.inf if math.isnan(change) else change)
            for layer, (plain_layer, nudged_layer) in enumerate(zip(grads, nudged, strict=True)):
                for param, block in plain_layer.items():
                    moved = _moved(block, nudged_layer[param], margin)
                    held = self.blocks[layer].get(param)
                    self.blocks[layer][param] = moved if held is None else np.maximum(held, moved)

    def charge(self, layer: int, param: str, allowance: np.ndarray) -> None:
        """Count a sum's allowance (sum_allowance times its Σ|terms|) against its entries."""
        held = self.blocks[layer].get(param) if self.usable and self.blocks else None
        if held is None:
            self.usable = False
            return
        allowance = np.asarray(allowance)
        if allowance.dtype == object or held.dtype == object:
            held, allowance = held.astype(object), allowance.astype(object)
        self.blocks[layer][param] = np.maximum(held, allowance.reshape(held.shape))


def _moved(plain: Any, nudged: Any, margin: float) -> np.ndarray:
    """margin·|nudged − plain| entry by entry: float64, or mpf where either holds mpf entries; ∞ for a NaN."""
    a, b = np.asarray(plain), np.asarray(nudged)
    if a.dtype != object and b.dtype != object:
        moved = margin * np.abs(b.astype(float) - a.astype(float))
        return np.where(np.isnan(moved), np.inf, moved)
    out = []
    for x, y in zip(a.ravel(), b.ravel(), strict=True):
        change = abs(mpmath.mpf(y) - mpmath.mpf(x))
        out.append(mpmath.inf if mpmath.isnan(change) else margin * change)
    return np.array(out, dtype=object).reshape(a.shape)


def kept_digits(model: NumericModel, loss: Any, grads: list[dict[str, np.ndarray]],
                magnitudes: list[dict[str, np.ndarray]] | None = None, fixed: ArrayFactors | None = None,
                least: float | None = None, changes: EntryChanges | None = None) -> tuple[float, float]:
    """The significant decimal digits the float64 loss and gradients keep, measured: the same pass is run
    again with every stored value (linear maps, nodes, coefficients, δ) moved as one rounding could move
    it (forward.UlpNoise) — all up, then twice each by a sign of its own (NUDGED_RUNS; nudged_runs adds an
    outward one first for a cell whose coefficient every step shares) — and the digits
    that the largest change, each rerun's times its margin, leaves are counted (at most FLOAT64_DIGITS).
    The sums over t that make each gradient are not nudged: what they can lose is counted from
    ``magnitudes`` (Σ|terms| of each entry, from kernel.gradients) as sum_allowance(T × batch)·Σ|terms|.
    Returns (the digits of each gradient relative to its largest entry, the digits of the worst entry).
    The reruns sample what rounding does rather than bound it; the margins are what makes the counts err
    low in benchmarks/claims_sweep.py's random cells, each checked against reference.py.  Each rerun runs
    compiled where jit_nudge.applies (Numba; one sequence of at most jit.MAX_SEQUENCE_UNITS units or a
    batch with n² × batch at most jit_nudge.LOOP_WORK; at least jit_nudge.MIN_STEPS steps × layers), else
    on NumPy; where only its compiled sums raise a float64 event (a δ that died out), NumPy's sums read the
    compiled rerun's forward pass and δ.  ``fixed``: the float64 pass read from an exact trajectory
    (numeric/split.py), whose reruns (HELD_RUNS: NUDGED_RUNS and an outward one) nudge its stored values
    where they are instead of running the forward pass again (split.nudged_on; their δ recursion compiled
    where jit_nudge.held_gradients runs, else on NumPy); benchmarks/split_sweep.py checks their counts.
    ``least``: the reruns stop once the count relative to the largest entries falls below it (the counts
    returned are then only known to be that low).  ``changes``: when given, filled with what was counted
    against each entry (EntryChanges)."""
    worst_block = worst_entry = 0.0
    deep = fixed is None and _deep_initial(model, grads)
    for direction, scattered, seed, margin in nudged_runs(model.cell) if fixed is None else HELD_RUNS:
        moved = _inputs_moved(model, direction, scattered, seed)  # the model itself where it has linear maps
        passes: list[Trajectory] = []  # the compiled rerun's nudged forward pass, where it ran
        made: list[tuple[dict, np.ndarray]] = []  # and its nudged δ (only its sums can have raised an event)
        rerun = (split.nudged_on(fixed, UlpNoise(direction, scattered, seed), moved) if fixed is not None
                 else nudged_gradients(moved, direction, scattered, seed, passes, made))  # compiled, where jit.py runs
        values = None  # the rerun on NumPy (its sums, or ∂L/∂h_0 unit by unit): from the compiled rerun's
        if rerun is None or deep:  # forward pass and δ where those ran (only its sums raised an event), else its own
            with np.errstate(all="ignore"):
                values = ArrayFactors(moved, watch=Unwatched(), noise=UlpNoise(direction, scattered, seed),
                                      trajectory=passes[0] if passes else None)
        if rerun is not None:
            nudged_loss, nudged = rerun
        else:
            assert values is not None
            with np.errstate(all="ignore"):
                nudged_loss, nudged = (kernel.gradients(values, computed=made[0] if made else None)
                                       if kernel.applies(values) else gradient_blocks(values, model))
        if deep:  # ∂L/∂h_0 as the plain pass computed it: unit by unit, on the rerun's nudged pass
            assert values is not None and values.noise is not None
            initial = kernel.initial_by_unit(values, values.noise, by_unit=jit_units.unit_initial)  # compiled
            nudged = [nudged[0] | (initial or {}), *nudged[1:]]
        worst_block, worst_entry = _widest([(loss, nudged_loss), *_pairs(grads, nudged)], margin,
                                           worst_block, worst_entry)
        if changes is not None:
            changes.widen(loss, nudged_loss, grads, nudged, margin)
        if least is not None and _digits(worst_block) < least:  # short of it already: the rest cannot help
            if changes is not None:
                changes.usable = False
            return _digits(worst_block), _digits(worst_entry)
    charge = sum_allowance(model.x.shape[0] * model.x.shape[2])  # every gradient sums over t and the batch
    charged = []  # each block beside itself moved by its sums' allowance, read as a rerun's (margin 1)
    for layer, (plain_layer, sizes) in enumerate(zip(grads, magnitudes or [], strict=False)):
        for param, block in plain_layer.items():
            size = sizes.get(param)
            if size is None:
                continue
            if changes is not None:
                changes.charge(layer, param, charge * size)
            shifted = np.asarray(block) + np.asarray(charge * size, dtype=object if size.dtype == object else float)
            charged.append((block, shifted))
    worst_block, worst_entry = _widest(charged, 1.0, worst_block, worst_entry)
    return _digits(worst_block), _digits(worst_entry)


def _deep_initial(model: NumericModel, grads: list[dict[str, np.ndarray]]) -> bool:
    """Whether a one-layer pass's initial-state gradient (∂L/∂h_0, …) holds an entry below float64's normal
    range: one that kernel.unit_initial computed unit by unit (the step's shared exponent cannot hold it),
    so that each rerun computes it so too (kernel.initial_by_unit) rather than as 0.  A coefficient read
    from the parameters alone moves in the reruns by what computing it cost (numeric/sizes.py: the LRU's
    λ = exp(−exp(ν)) by exp(ν) roundings of itself, which λ^T multiplies)."""
    if model.layers != 1:
        return False
    blocks = [np.asarray(grads[0][param]) for param in model.cell.params if model.cell.kind(param) == "initial"]
    return any(block.dtype == object or np.any((np.abs(block) < np.finfo(float).tiny) & (block != 0))
               for block in blocks)


def saturated_kept(model: NumericModel, values: ArrayFactors, saturation: int, computed: Any, digits: float
                   ) -> tuple[Any, list[dict[str, np.ndarray]], tuple[float, float]] | None:
    """A saturated pass's float64 loss and gradients, and the digits its reruns measure in them (kept_digits),
    where float64 held range (exact.saturated_in_float64) and those digits let it stand
    (exact.saturated_stands); None elsewhere, where the exact pass decides.

    Args:
        model: the model in float64.
        values: its float64 forward pass, watched.
        saturation: its exact.saturation_digits (> 0).
        computed: its δ, where the compiled kernel made them.
        digits: the digits asked for.

    Returns:
        (loss, one dict of gradients per layer, kept_digits' two counts), or None.
    """
    magnitudes: list[dict[str, np.ndarray]] = [{} for _ in range(model.layers)]
    found = saturated_in_float64(model, values, saturation, magnitudes, computed)
    if found is None:
        return None
    kept = kept_digits(model, *found, magnitudes, least=digits)
    return (*found, kept) if saturated_stands(kept, digits) else None


def kept_by_reruns(plain: list[dict[str, np.ndarray]], rerun: Callable[[ArrayFactors], list[dict[str, np.ndarray]]],
                   model: NumericModel) -> tuple[float, float]:
    """What nudged_runs measure a quantity kept_digits does not cover (the truncated gradients) kept:
    ``rerun`` computes it from each rerun's float64 pass of ``model`` (every stored value of the forward
    pass and its coefficients moved as one rounding could move them), and the digits that the largest
    change from ``plain``, each rerun's times its margin, leaves are counted as kept_digits counts them.
    Returns (the digits relative to each block's largest entry, the digits of the worst entry)."""
    worst_block = worst_entry = 0.0
    for direction, scattered, seed, margin in nudged_runs(model.cell):
        moved = _inputs_moved(model, direction, scattered, seed)
        with np.errstate(all="ignore"):
            nudged = rerun(ArrayFactors(moved, watch=Unwatched(), noise=UlpNoise(direction, scattered, seed)))
        worst_block, worst_entry = _widest(_pairs(plain, nudged), margin, worst_block, worst_entry)
    return _digits(worst_block), _digits(worst_entry)


def _pairs(plain: list[dict[str, Any]], nudged: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    """Each block of ``plain`` beside the same block of a rerun, layer by layer."""
    return [(block, nudged_layer[param]) for plain_layer, nudged_layer in zip(plain, nudged, strict=True)
            for param, block in plain_layer.items()]


def _widest(pairs: list[tuple[Any, Any]], margin: float, block: float, entry: float) -> tuple[float, float]:
    """The largest changes so far (relative to each block's largest entry, and to the worst entry), widened
    by a rerun's ``pairs`` (_changes), each counted ``margin`` times.  The float64 blocks are read together
    (_float_changes: the same numbers as _changes block by block, in a few NumPy calls for all of them
    instead of a few for each: an LSTM has 15 blocks, and each digits=12 call reads three reruns); a block
    with mpf entries is read alone.  (margin·max is the max of margin·each: rounding is monotone.)"""
    arrays = [(np.asarray(a), np.asarray(b)) for a, b in pairs]
    together = [(a, b) for a, b in arrays if _alike(a, b) and a.size]  # an empty block changes nothing
    if together:
        entries, blocks = _float_changes(together)
        entry, block = max(entry, margin * float(np.max(entries))), max(block, margin * float(np.max(blocks)))
    for a, b in arrays:
        if not _alike(a, b):
            each, whole = _changes(a, b)
            entry, block = max(entry, margin * each), max(block, margin * whole)
    return block, entry


def _alike(a: np.ndarray, b: np.ndarray) -> bool:
    """Two float64 blocks of one shape: what _float_changes reads together."""
    return a.dtype == np.float64 and b.dtype == np.float64 and a.shape == b.shape


def _float_changes(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """_changes of each pair of non-empty float64 blocks, as two arrays (∞ where _changes gives ∞): the
    blocks laid end to end and each block's largest values read by one reduceat per quantity."""
    a = np.concatenate([p.ravel() for p, _ in pairs])
    b = np.concatenate([q.ravel() for _, q in pairs])
    starts = np.cumsum([0] + [p.size for p, _ in pairs[:-1]])
    with np.errstate(all="ignore"):
        diff = np.abs(b - a)
        rel = np.where(a == 0, np.where(b == 0, 0.0, np.inf), diff / np.abs(a))
        each = np.maximum.reduceat(rel, starts)
        largest, change = np.maximum.reduceat(np.abs(a), starts), np.maximum.reduceat(diff, starts)
        whole = np.where(largest != 0, change / largest, np.where(change == 0, 0.0, np.inf))
    return np.where(np.isnan(each), np.inf, each), np.where(np.isnan(whole), np.inf, whole)


def _inputs_moved(model: NumericModel, direction: int, scattered: bool, seed: int) -> NumericModel:
    """The model a rerun runs; for a cell without linear maps, whose sums of parameters times inputs (u·x + b)
    no stored value holds, with every parameter and input moved one rounding too (signs of their own)."""
    return model if model.cell.linears else model.moved(UlpNoise(direction, scattered, seed + 1))


def shown_digits(kept: tuple[float, float]) -> tuple[float, float]:
    """kept_digits' two counts as they are shown: rounded down to a tenth (never more than was measured); a
    count below 0 says what rounding cost beyond float64's digits, and −∞ (null in JSON) that no count
    bounds it (a rerun moved a gradient float64 gives as 0, or made a value undefined)."""
    return tuple(math.floor(10 * count) / 10 if math.isfinite(count) else -math.inf  # type: ignore[return-value]
                 for count in kept)


def kept_words(kept: tuple[float, float], only: bool = False) -> str:
    """What float64 kept, as kept_digits counts it, in words that begin with "kept" ("kept only" where
    ``only``): the two counts floored as shown; where a count is below 1, no digit, and what rounding
    cost: FLOAT64_DIGITS less the count."""
    if not kept[0] >= 1:
        if not math.isfinite(kept[0]):
            return ("kept no digit of some gradient, one rounding having moved a gradient float64 gives as 0 "
                    "or made a value undefined")
        return f"kept no digit of some gradient, rounding having cost about {FLOAT64_DIGITS - kept[0]:.0f} digits"
    block, entry = math.floor(kept[0]), math.floor(kept[1]) if math.isfinite(kept[1]) else 0
    verb = "kept only" if only else "kept"
    worst = f"{entry}" if entry >= 1 else "none"
    if entry >= block:
        return f"{verb} about {block} digits in every entry"
    return f"{verb} about {block} digits relative to each gradient's largest entry, {worst} in the worst entry"


class ReadIn(NamedTuple):
    """An exact forward pass read in float64 (read_in_float64): the pass, its loss, gradients and Jacobian
    norms, and the digits its gradients kept (kept_digits' two counts, every rerun run)."""

    values: ArrayFactors
    loss: Any
    grads: list[dict[str, np.ndarray]]
    norms: list[dict[str, list[float]]]
    kept: tuple[float, float]

    def holds(self, digits: int) -> bool:
        """Whether the gradients kept ``digits`` relative to each gradient's largest entry, as measured."""
        return self.kept[0] >= digits

    def rest_digits(self, dps: int) -> int | None:
        """The digits an exact rest from the same trajectory (made at ``dps`` digits) is computed at where the
        read fell short: DPS (numeric/exact.py) beyond what rounding cost the read's worst entry,
        ⌈FLOAT64_DIGITS − kept⌉, as its reruns measured it — rounding at those digits costs the rest as
        many, so its gradients hold about DPS.  None where that is not below ``dps`` or the worst entry
        kept less than a digit (what rounding cost it is then not measured: it may have cost more)."""
        if self.kept[1] < 1:
            return None
        at = DPS + math.ceil(FLOAT64_DIGITS - self.kept[1])
        return at if at < dps else None


RERUN_STEP = 8e-6  # seconds of Python one held rerun on NumPy spends per step, layer and sequence (a scalar
# sin(a) unit, T = 1000: 7 ms a rerun)


def whole_pays(model: NumericModel, dps: int) -> bool:
    """Whether a read from an exact forward pass of ``model`` at ``dps`` digits that falls short is measured
    by every held rerun, so that its exact rest can take ReadIn.rest_digits (at most DPS + 16 digits),
    rather than stopped at the first rerun that shows it short (the rest then at ``dps``): where what the
    rest at those digits saves — half of what the budget prices the exact pass and rest at ``dps`` beyond
    what it prices them at DPS + 16 (the rest is about half of that work; Arb's where arbforward serves the
    model, budget.arb_pass_seconds, else mpmath's, budget.mp_pass_seconds) — is more than the reruns left
    cost on NumPy (RERUN_STEP a step).  Deterministic: it reads the sizes only."""
    cell, T, m, B, layers = model.cell, model.x.shape[0], model.x.shape[1], model.x.shape[2], model.layers
    n = model.params[0][f"{cell.states[0]}0"].shape[0]
    seconds = arb_seconds if arbforward.serves(model) else mp_seconds

    def priced(digits: int) -> float:
        return seconds(cell, n, m, T, B, layers, digits)

    return (priced(dps) - priced(DPS + 16)) / 2 > (len(HELD_RUNS) - 1) * RERUN_STEP * T * layers * B


def exact_then_float64(model: NumericModel, dps: int, ks: list[int], digits: int, truncated: bool = False,
                       whole: bool = True) -> tuple[Trajectory, ReadIn | None]:
    """The exact forward pass at ``dps`` digits (exact_forward), and the rest read in float64 from it
    (read_in_float64, measured whole or not as ``whole`` says; not tried for a truncated report, whose
    exact pass the truncated gradients read too)."""
    exact = exact_forward(model, dps)
    return exact, None if truncated else read_in_float64(model, exact, ks, digits, dps, whole)


def read_in_float64(model: NumericModel, exact: Trajectory, ks: list[int], digits: int, dps: int,
                    whole: bool = True) -> ReadIn | None:
    """The rest of the report in float64 from a forward pass made exactly at ``dps`` digits
    (numeric/split.py): the pass, loss, gradients, Jacobian norms and the digits the gradients kept as the
    reruns measure them with the trajectory held (kept_digits; the caller reads the gradients where they
    hold the digits it asks for, ReadIn.holds, else computes the rest exactly, at ReadIn.rest_digits where
    they say).  None — the caller computes the rest exactly at ``dps`` — where a value or step leaves
    float64's range, where a difference of two stored values (the GRU's h_{t−1} − n_t near a fixed point)
    cancels more than the 16 − ``digits`` digits float64 can spare, where the norms show that ``dps`` did
    not leave the trajectory split.SPARE digits beyond what amplification cost it, or, not ``whole``, where
    the reruns (outward first) show fewer than ``digits`` and stop there (whole_pays)."""
    values = split.float_values(model, exact)
    if values is None or values.watch.events or not kernel.applies(values):
        return None
    if values.cc.differences and float_difference_digits(values.cc, values.traj) > 16.0 - digits:
        return None  # a difference of two stored values cancels more digits than float64 can spare it
    magnitudes: list[dict[str, np.ndarray]] = [{} for _ in range(model.layers)]
    loss, grads = split.gradients(values, magnitudes)
    if values.watch.events:
        return None
    kept = kept_digits(model, loss, grads, magnitudes, fixed=values, least=None if whole else digits)
    if not whole and kept[0] < digits:
        return None
    norms = [log10_jacobian_norms(values, layer, ks) for layer in range(1, model.layers + 1)]
    if not dps >= lost_digits(norms) + split.SPARE:
        return None
    return ReadIn(values, loss, grads, norms, kept)
