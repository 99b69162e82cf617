"""Where float64 does not hold a pass: the exact (mpmath) passes and the decision to take them.

A float64 pass stands where it raised no floating-point event, or where its only events are underflows
that numeric/underflow.py bounds, and where no saturated gate's difference lost digits beyond what the
distances to ±1 hold (numeric/distances.py).  Otherwise what float64 lost is computed again with mpmath:
at DPS digits for range, and for a saturated gate at DPS more than its differences cancel, as measured on
the exact pass itself (measured_saturation).  grad_report and symbptt.gradients both decide here.
"""

from __future__ import annotations

import math
import operator
from contextlib import ExitStack
from typing import Any

import mpmath
import numpy as np

from ..budget import MAX_MP_DIGITS, saturation_digits_needed
from ..collector import fewer_full_collections
from ..errors import RunFailed
from . import arbforward, jit, jit_nudge, kernel, split, tangent, underflow
from .cancelled import difference_digits
from .cost import arb_cost, mp_cost
from .distances import cancellation, carried
from .factors import ArrayFactors, FloatWatch, NumericModel, gradient_blocks
from .forward import Trajectory, compiled, forward

DPS = 30  # the digits of an exact pass that recomputes what float64 lost to range
MAX_DIGITS = MAX_MP_DIGITS  # the most digits an exact recomputation uses


def _needs(watch: FloatWatch, layers: int) -> set[tuple[str, int]] | None:
    """Blocks to recompute: None for all of them, else the (param, layer) blocks that lost range."""
    if watch.touched("forward") or watch.touched("delta") or any(watch.touched(("coef", ell))
                                                                 for ell in range(1, layers + 1)):
        return None
    return {(label[1], label[2]) for label, _ in watch.events if isinstance(label, tuple) and label[0] == "grad"}


def saturation_digits(values: ArrayFactors) -> int:
    """The most digits a saturated gated cell can need: when a cell subtracts computed values (the GRU's
    h_{t-1} − n_t) and a tanh or sigmoid saturates, the difference can keep up to about 2|a|/ln 10 fewer
    digits than its values (0 when neither happens).  A bound: measured_saturation finds what the
    differences of this trajectory do cancel."""
    cc = values.cc
    if not cc.differences or not cc.saturating:
        return 0
    largest = 0.0
    for layer in values.traj.values:
        saturated = False
        for name, odd in cc.saturating.items():  # within 1e-10 of ±1 (tanh), of 0 or 1 (σ): by max and min
            top, low = _extremes(layer[name][1:])
            saturated |= max(abs(top), abs(low)) > 1 - 1e-10 if odd else top > 1 - 1e-10 or low < 1e-10
        extremes = [_extremes(layer[lin.name][1:]) for lin in cc.cell.linears]
        if saturated or not all(math.isfinite(top) and math.isfinite(low) for top, low in extremes):
            largest = max(largest, sum(max(abs(top), abs(low)) for top, low in extremes))
    if not math.isfinite(largest):  # float64 lost the forward pass (inf, NaN): measure on an exact one
        if values.kind == "mp":
            raise RunFailed("a saturated gate here cancels more digits than the exact path can carry; shorten "
                            "x or shrink the inputs")
        from .forward import CellDomainError

        dps = DPS
        while True:  # the exact pass (checked, as each is) may need more digits to get through the gates
            try:
                traj = exact_forward(values.model, dps)
                with mpmath.workdps(traj.digits):
                    return saturation_digits(split.exact_values(values.model, traj))
            except CellDomainError:
                if dps >= MAX_DIGITS:
                    raise
                dps = min(MAX_DIGITS, 4 * dps)
    return saturation_digits_needed(largest, DPS) if largest else 0


def saturated_exact(model: NumericModel, bound: int, guess: float | None = None
                    ) -> tuple[Any, list[dict[str, np.ndarray]], int]:
    """Loss and every gradient of a model whose saturated gates may make its differences cancel, exactly:
    from its exact forward pass at the digits they need as measured on it (measured_saturation, within
    ``bound`` and from ``guess``), and the digits.

    Args:
        model: the model in float64.
        bound: its saturation_digits (always enough).
        guess: what the float64 pass's distances say the differences cancel (float_cancellation), or None.

    Returns:
        (loss, gradients per layer as mpf arrays, the digits they were computed at).
    """
    digits, mp_values, _, _ = measured_saturation(model, bound, guess=guess)
    with mpmath.workdps(digits):
        mp_loss, mp_grads, _ = split.exact_rest(model, mp_values)
    return mp_loss, mp_grads, digits


def measured_saturation(model: NumericModel, bound: int, least: int = 0, guess: float | None = None
                        ) -> tuple[int, ArrayFactors, NumericModel, float]:
    """The exact forward pass of a model whose saturated gates may make its differences cancel, at the
    digits they need as measured on that pass: DPS more than the most any of them cancels
    (cancelled.difference_digits), and at least ``least``.  Tried first at DPS more than ``guess`` rounded
    up, and one spare — ``guess`` being the count the float64 pass's distances to ±1 read
    (distances.cancellation) — or, without one, at 2·DPS digits, and raised until the pass's own count
    fits (_saturated_digits), never beyond ``bound`` (saturation_digits, which always suffices) unless
    ``least`` asks for more: a GRU with pre-activations up to |a| ≈ 370 may need 354 digits, while its
    h_{t-1} − n_t cancels only 28.

    Each pass is Arb's where it serves (exact_forward, split.exact_values: read as mpf, and split.exact_rest
    computes its gradients with Arb's balls too), else mpmath's.

    Returns:
        (the digits, the exact pass made at them, its model in mpf, the digits its differences cancel):
        read the pass at those digits.
    """
    most = max(bound, least)  # checked before any work: each pass costs at most this (Arb's where it serves)
    if arbforward.serves(model):
        arb_cost(model, most, most=True)
    else:
        mp_cost(model, most, most=True)
    first = 2 * DPS if guess is None else DPS + math.ceil(guess) + 1
    dps = max(least, min(bound, first))
    while True:
        traj = exact_forward(model, dps)
        dps = traj.digits  # more where its check asked for them
        with mpmath.workdps(dps):
            values = split.exact_values(model, traj)
            mp_model = values.model
            cancelled = difference_digits(values.cc, values.traj)
        wanted = _saturated_digits(dps, cancelled, bound)
        if wanted == dps:
            return dps, values, mp_model, cancelled
        dps = wanted


def float_cancellation(values: ArrayFactors) -> float | None:
    """The digits a float64 pass's saturated differences cancel, read from its distances to ±1
    (distances.cancellation), where they hold them; None for an exact pass or where they do not."""
    return cancellation(values.cc, values.traj) if values.kind == "float" else None


def _saturated_digits(dps: int, cancelled: float, bound: int) -> int:
    """The digits a pass at ``dps`` whose differences cancel ``cancelled`` digits (cancelled.difference_digits)
    asks for, at most ``bound``: ``dps`` when it holds DPS more than that; DPS more than the count when the
    differences kept 3 digits or more (then the count is theirs, not rounding's); else (∞ included, a
    difference that lost every digit) twice ``dps``, as the count only says "more"."""
    if dps >= bound or dps >= DPS + cancelled:
        return dps
    return min(bound, math.ceil(DPS + cancelled) if cancelled <= dps - 3 else 2 * dps)


def _extremes(values: np.ndarray) -> tuple[float, float]:
    """(largest, smallest) entry as floats, NaN when one is NaN (NumPy's max and min propagate it)."""
    arr = np.asarray(values, dtype=float)
    return float(arr.max()), float(arr.min())


@fewer_full_collections
def exact_gradients(model: NumericModel, values: ArrayFactors | None = None, watch: FloatWatch | None = None,
                    saturation: int | None = None, magnitudes: list[dict[str, np.ndarray]] | None = None,
                    computed: tuple[dict, np.ndarray] | None = None, carry: bool = True,
                    seen: list | None = None, made: list | None = None) -> tuple[Any, list[dict[str, np.ndarray]], int]:
    """Loss and gradients, float64 where that kept every digit, else exactly — every block from the exact pass
    once float64 lost range in one (nothing here measures what it kept of the others); the last value is
    the number of digits the exact pass used (0: float64 throughout).  A plain pass whose only events are
    underflow stands where numeric/underflow.py bounds what it cost every sum.  ``values``: the float64 forward pass
    (made here when not given), with the ``watch`` that saw it; ``saturation``: its saturation_digits, when
    the caller has measured them already; ``magnitudes``: filled as kernel.gradients fills it; ``computed``:
    the δ of ``values`` when the compiled kernel made them (kernel.gradients); ``carry``: where a saturated gate
    would send the pass to mpmath, first take the differences it cancels from the distances to ±1
    (numeric/distances.py), and keep float64 when they hold its digits; ``seen``: filled with the float64
    δ, as kernel.gradients fills it; ``made``: filled with the exact forward pass (exact_forward: checked,
    its digits raised where rounding grows past them) and what computed the rest from it ("Arb" or
    "mpmath"), where float64 lost range and one ran."""
    if values is None:
        watch = FloatWatch()
        values = ArrayFactors(model, watch=watch)
    watch = watch or values.watch
    digits = saturation_digits(values) if saturation is None else saturation
    standing = _standing(model, values, watch, digits, carry, magnitudes, computed, seen, measure=False)
    if standing is not None:
        return *standing, 0
    if digits:  # at the digits this trajectory's differences need, measured on its exact pass
        mp_loss, mp_grads, digits = saturated_exact(model, digits, float_cancellation(values))
    else:  # the forward pass checked (exact_forward), as every exact pass is, and the rest from it
        exact = exact_forward(model, DPS)
        digits = exact.digits
        with mpmath.workdps(digits):
            _, mp_loss, mp_grads, rest = split.exact_pass(model, exact)
        if made is not None:
            made.append((exact, rest))
    # every block and the loss from the exact pass, which computed them all: nothing measured what float64
    # kept of the blocks it did not lose (the norms to T miss growth that peaks before it, and a δ
    # recursion whose sum cancels)
    return mp_loss, [dict(layer) for layer in mp_grads], max(DPS, digits)


def saturated_in_float64(model: NumericModel, values: ArrayFactors, saturation: int,
                         magnitudes: list[dict[str, np.ndarray]], computed: tuple[dict, np.ndarray] | None = None
                         ) -> tuple[Any, list[dict[str, np.ndarray]]] | None:
    """The float64 loss and gradients of a pass whose saturation bound (saturation_digits) would send it to
    the exact pass before anything is measured, where float64 held range (or lost it only to underflow
    that numeric/underflow.py bounds), for `grad`'s report and ``digits=`` to measure with their nudged
    reruns as any float64 pass: each coefficient that reads a difference is moved by its rounding size,
    which counts the difference's terms at their magnitudes (numeric/sizes.py), so a difference that
    cancels moves by what rounding its terms costs it.  None where float64 lost range: the caller then
    makes the exact pass at the digits the differences need (exact_gradients), as before.

    Args:
        model: the model in float64.
        values: its float64 forward pass (float64_pass), watched.
        saturation: its saturation_digits (> 0).
        magnitudes: one dict per layer, filled with each gradient's Σ|terms| (kernel.gradients).
        computed: its δ, where the compiled kernel made them.

    Returns:
        (loss, one dict of gradients per layer), or None.
    """
    return _standing(model, values, values.watch, saturation, False, magnitudes, computed, None, measure=True)


ENTRY_DIGITS = 1.0  # the digits every entry of a saturated pass must keep, as measured, for float64 to stand


def saturated_stands(kept: tuple[float, float], digits: float) -> bool:
    """Whether the digits the reruns measured in a saturated pass (saturated_in_float64) let its float64
    numbers stand: ``digits`` relative to each gradient's largest entry, and ENTRY_DIGITS in every entry.
    An entry made of a difference that float64 holds nothing of is noise at the rounding of the
    difference's terms, which the reruns move by about as much as the entry itself: they measure it as
    keeping no digit however far it lies from its true value (a two-layer GRU with inputs × 50 gave
    2e-31 for ∂L/∂b_z of a unit whose true value is -1.3e-54, and the reruns said −1.4 digits), so
    such a pass goes to the exact one.

    Args:
        kept: reruns.kept_digits' two counts (each gradient's largest entry, the worst entry).
        digits: the digits asked for.

    Returns:
        True where float64 stands.
    """
    return kept[0] >= digits and kept[1] >= ENTRY_DIGITS


def _standing(model: NumericModel, values: ArrayFactors, watch: FloatWatch, digits: int, carry: bool,
              magnitudes: list[dict[str, np.ndarray]] | None, computed: tuple[dict, np.ndarray] | None,
              seen: list | None, measure: bool) -> tuple[Any, list[dict[str, np.ndarray]]] | None:
    """exact_gradients' float64 numbers where they stand, else None; ``measure``: a saturated gate alone
    (``digits`` > 0) does not stop them (saturated_in_float64)."""
    held = bool(digits) and carry and values.kind == "float" and values.noise is None and carried(values.cc,
                                                                                                values.traj)
    stopped = bool(digits) and not measure and not held  # the saturation bound alone sends it to the exact pass
    if held:  # the coefficients that read a difference changed: δ is computed again
        computed = None
        underflow.mark_carried(values, watch)  # one below float64's range is checked as an underflow
    # a plain pass whose only events are underflow may stand where what underflow cost it is bounded
    # (numeric/underflow.py): at once when the coefficients underflowed (the checked pass is the only one)
    followed = not stopped and kernel.applies(values)

    def kept() -> tuple[Any, list[dict[str, np.ndarray]]] | None:
        return underflow.recover(values, watch, held, seen, magnitudes) if underflow.recoverable(watch) else None

    tried = followed and any(watch.touched(("coef", ell)) for ell in range(1, model.layers + 1))
    if tried and (recovered := kept()) is not None:
        return recovered
    loss, grads = (kernel.gradients(values, magnitudes, computed, seen) if kernel.applies(values)
                   else gradient_blocks(values, model))
    blocks = _needs(watch, model.layers)
    loss_lost = watch.touched("loss") or watch.touched("forward")
    if stopped:
        blocks, loss_lost = None, True
    if blocks is not None and not blocks and not loss_lost:
        return loss, grads
    if followed and not tried and (recovered := kept()) is not None:  # the sums underflowed, not the coefficients
        return recovered
    return None


def float64_pass(model: NumericModel) -> tuple[ArrayFactors, tuple[dict, np.ndarray] | None]:
    """The float64 forward pass whose digits the report measures, watched, and its δ when the compiled
    kernels made them: theirs where the reruns that measure the digits run compiled too (a run long enough
    to repay a first compile: jit_nudge.applies) and float64 raised no event on the way (numeric/jit.py),
    else NumPy's (δ None: exact_gradients computes them)."""
    n = model.params[0][f"{model.cell.states[0]}0"].shape[0]
    fast = (jit.float_pass(model.cell, model.params, model.x, model.y, model.loss)
            if jit_nudge.applies(model.cell, model.layers, model.loss, n, model.x.shape[2], model.T) else None)
    if fast is None:
        watch = FloatWatch()
        with watch.watch(None):  # one outer block: each labelled block inside swaps a label (0.8 µs, not 3.8)
            return ArrayFactors(model, watch=watch), None
    return ArrayFactors(model, watch=FloatWatch(), trajectory=fast.trajectory), fast.deltas


CHECK = 20  # digits an exact forward pass carries beyond those asked for (a pass at those checks it, where one does)
HELD = 20  # digits a pass at the digits asked for must keep of it (split.SPARE's twenty)
# how a pass was checked, in the precision line's words: against a second pass, or by carrying its rounding
AGAINST = f"against a pass with {CHECK} digits more"
CARRIED = "by carrying the rounding Arb proved for each stored value along the pass"  # numeric/tangent.py


@fewer_full_collections
def exact_forward(model: NumericModel, dps: int) -> Trajectory:
    """The forward pass of ``model`` at ``dps`` digits or more, without the step coefficients
    (numeric/split.py reads it in float64 or adds them), checked — the digits were chosen from
    ‖∂s_T/∂s_k‖, which misses growth that peaks before T (a chaotic network with loss 'sum':
    tests/test_split.py): the pass is made with CHECK digits more, and the digits a pass at ``dps`` keeps
    of it are found (_checked): by carrying each stored value's proven rounding along it where Arb made
    it and float64's range holds it (numeric/tangent.py), else by making that pass and comparing the two.
    Where it keeps fewer than HELD digits of some step's largest state, the pass is made again with DPS
    digits more than were lost (twice the digits where none was kept), until it keeps them; refused in one
    line where it does not within MAX_DIGITS.  The pass with CHECK digits more is returned: ``digits`` the
    digits asked of it (``dps`` as last raised), ``raised`` whether the check raised them, ``amplified``
    the log10 of what rounding was amplified by in the states: the most, over the passes checked, of the
    digits a pass ran at less the digits it kept (a lower bound, the digits it ran at, where it kept none;
    about the amplification where it kept HELD or more), and ``checked`` how that was found (AGAINST or
    CARRIED)."""
    asked, amplified, by = dps, -math.inf, AGAINST  # the most rounding was amplified by, as the checks found it
    while True:
        second = _forward_at(model, dps + CHECK)
        held, how = _checked(model, dps, second)
        if dps - held > amplified:  # none shared: at least dps lost
            amplified, by = dps - held, how
        if held >= HELD:
            second.digits, second.amplified, second.raised, second.checked = dps, amplified, dps > asked, by
            return second
        if dps >= MAX_DIGITS:
            raise RunFailed(f"this run's forward pass still changes beyond {MAX_DIGITS} digits: its rounding is "
                            "amplified past what the exact path carries; shorten x or shrink the weights")
        # DPS more than were lost; twice the digits where none was shared (a lower bound only: a pass whose
        # LSTM gate is exp(−10^299) needs about 300 digits, found in five checks rather than eleven)
        dps = min(MAX_DIGITS, dps + max(math.ceil(DPS - held), dps if held == 0 else 0))


def _checked(model: NumericModel, dps: int, second: Trajectory) -> tuple[float, str]:
    """The digits a pass of ``model`` at ``dps`` keeps of ``second`` (its pass with CHECK digits more), 0
    where none, and how they were found: ``dps`` less what carrying rounding along ``second`` amplifies it
    by, where that applies (numeric/tangent.py: CARRIED), else those it shares with a pass made at ``dps``
    (AGAINST)."""
    carried = tangent.amplification(model, second)
    if carried is not None:
        return max(0.0, dps - carried), CARRIED
    return max(0.0, _agreeing_digits(model.cell.states, _forward_at(model, dps), second)), AGAINST


def raised_by(traj: Trajectory) -> tuple[float, str] | None:
    """Where the check of an exact forward pass raised its digits: the amplification it measured in the
    states and how it measured it (AGAINST or CARRIED); else None."""
    if not traj.raised or traj.amplified is None:
        return None
    return traj.amplified, traj.checked


def _agreeing_digits(states: tuple[str, ...] | list[str], first: Trajectory, second: Trajectory) -> float:
    """The fewest digits two passes' ``states`` share at any step, relative to the step's largest entry of
    each (∞ where they are equal): each difference of two exact values rounded to 64 bits, compared in
    float64 at the steps whose largest entry is within its range (NORMAL or more: a difference rounded to
    0 there is 10^−20 of it or less), and from the exact values' mantissas and exponents at the others
    (_relative_log10s: no float64 range to leave), so that a state decaying below float64's range is
    compared too."""
    worst = -math.inf  # log10 of the largest gap relative to its step's largest entry
    for a_layer, b_layer in zip(first.values, second.values, strict=True):
        for name in states:
            a, b = np.asarray(a_layer[name]), np.asarray(b_layer[name])
            T = a.shape[0]
            with _working_bits(64):
                gaps = _float_differences(a, b)
            with np.errstate(all="ignore"):
                gap, top = (np.abs(v).reshape(T, -1).max(axis=1) for v in (gaps, b.astype(float)))
                beyond = ~(np.isfinite(gap) & np.isfinite(top) & (top >= NORMAL))  # steps to read exactly
                relative = np.log10(gap) - np.log10(top)  # NaN for a step of zeros, −∞ for equal values
            if np.any(beyond):
                rows = np.flatnonzero(beyond)
                with _working_bits(64):
                    differences = _difference(a[rows], b[rows])
                relative[rows] = _relative_log10s(differences.reshape(rows.size, -1), b[rows].reshape(rows.size, -1))
            counted = ~np.isnan(relative) & (relative > -math.inf)  # not a step of zeros, or of equal values
            if np.any(counted):
                worst = max(worst, float(np.max(relative[counted])))
    return -worst


def _relative_log10s(differences: np.ndarray, values: np.ndarray) -> np.ndarray:
    """log10 of each row's largest |difference| over its largest |value| (exact values; −∞ where the
    differences are 0, +∞ where they are beyond float64's range above it, NaN where the values are 0 or
    their log10 is beyond float64's range), from exponents exact as integers: the log10s
    themselves, in float64, lose the ratio where they are near ±10^299 (float64's spacing there is
    10^283: an LSTM state of e^(−10^299))."""
    out = np.empty(differences.shape[0])
    for i, (gaps, tops) in enumerate(zip(differences, values, strict=True)):
        (e_gap, f_gap), (e_top, f_top) = max(map(_log2_parts, gaps)), max(map(_log2_parts, tops))
        if e_top == -math.inf or abs(int(e_top)) >= BEYOND_LOG:  # a step of zeros, or a state whose log10
            out[i] = math.nan  # is beyond float64 (h = exp(50·e^12200)): not compared (the report refuses it)
        elif e_gap == -math.inf:
            out[i] = -math.inf
        else:
            apart = int(e_gap) - int(e_top)
            beyond = abs(apart) >= BEYOND_LOG
            # the sign of ``apart`` read as an int: copysign would make a float of it, which an exponent
            # gap of 2^1024 or more is not
            out[i] = (math.inf if apart > 0 else -math.inf) if beyond else (float(apart) + (f_gap - f_top)) * LOG10_2
    return out


BEYOND_LOG = 1 << 1023  # a binary exponent from which its log10 is beyond float64's range


LOG10_2 = math.log10(2.0)


def _log2_parts(value: Any) -> tuple[float, float]:
    """log2|value| = e + f for an exact value (Arb midpoint or mpf), e an exact integer (a Python int:
    any size) and f in [−1, 0); (−∞, 0.0) for 0 (and for mpmath's ±∞ and NaN, which have no mantissa)."""
    if arbforward.is_arb(value):
        man, exp = (int(part) for part in value.man_exp())
    else:
        sign, man, exp, _ = (value if isinstance(value, mpmath.mpf) else mpmath.mpf(value))._mpf_
    man = abs(man)
    if not man:
        return -math.inf, 0.0
    bits = man.bit_length()
    top = man >> max(0, bits - 53)
    return exp + bits, math.log2(top) - min(bits, 53)


NORMAL = 1e-280  # a step's largest state from which its differences are compared in float64 (see above)


def _float_differences(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Each difference of two arrays of exact values at the working bits, rounded to float64 (±inf beyond
    its range): one float() a pair, as _difference's midpoints would give it, without building them."""
    pairs = map(operator.sub, a.ravel().tolist(), b.ravel().tolist())
    return np.fromiter(map(float, pairs), dtype=float, count=a.size).reshape(a.shape)


_difference = np.frompyfunc(  # two exact values' difference at the working bits, as an exact value
    lambda u, v: (u - v).mid() if arbforward.is_arb(u) else u - v, 2, 1)


def _working_bits(bits: int) -> ExitStack:
    """mpmath and Arb (where python-flint is on) working at ``bits`` bits inside the block."""
    stack = ExitStack()
    stack.enter_context(mpmath.workprec(bits))
    flint = arbforward.flint_module()
    if flint is not None:
        stack.enter_context(flint.ctx.workprec(bits))
    return stack


def _forward_at(model: NumericModel, dps: int) -> Trajectory:
    """The forward pass of ``model`` at ``dps`` digits: Arb's where it serves (numeric/arbforward.py: each
    value proven to mpmath's working precision), else mpmath's — each refused first when beyond the
    budget, Arb's pass and the rest from it priced as Arb's (numeric/cost.py)."""
    if arbforward.serves(model):  # Arb's pass priced as Arb's; mpmath's priced in turn where Arb gives up
        arb_cost(model, dps)
        traj = arbforward.forward(model, dps)
        if traj is not None:
            return traj
    mp_cost(model, dps)
    with mpmath.workdps(dps):
        mp_model = model.as_mp()
        return forward(compiled(model.cell, "mp"), mp_model.params, mp_model.x)


@fewer_full_collections
def mp_gradients(model: NumericModel, dps: int) -> tuple[Any, list[dict[str, np.ndarray]]]:
    """Loss and every gradient from an mpmath pass at ``dps`` digits, refused first when it would take
    longer than the budget allows."""
    mp_cost(model, dps)
    with mpmath.workdps(dps):
        mp_model = model.as_mp()
        return gradient_blocks(ArrayFactors(mp_model, "mp"), mp_model)


@fewer_full_collections
def exact_gradients_at(model: NumericModel, dps: int) -> tuple[Any, list[dict[str, np.ndarray]]]:
    """Loss and every gradient exactly at ``dps`` digits (mpf, as mp_gradients returns them): Arb's forward
    pass and rest where they serve (numeric/arbforward.py, numeric/arbbackward.py; each value proven to
    the working precision), else mpmath's; each refused first when beyond the budget (numeric/cost.py)."""
    traj = exact_forward(model, dps)
    return rest_of(model, traj, traj.digits)


def rest_of(model: NumericModel, exact: Trajectory, dps: int) -> tuple[Any, list[dict[str, np.ndarray]]]:
    """Loss and every gradient from an exact forward pass made at ``dps`` digits (exact_forward's): the
    rest with Arb's balls where the pass is Arb's and they serve, else mpmath's (split.exact_pass, which
    prices mpmath's rest before it starts)."""
    with mpmath.workdps(dps):
        _, loss, grads, _ = split.exact_pass(model, exact)
    return loss, grads


def exact_gradients_mp(mp_model: NumericModel, values: ArrayFactors | None = None) -> list[dict[str, np.ndarray]]:
    """Every gradient of a model whose numbers are already mpf, at mpmath's current precision (from its
    exact forward pass ``values`` when made already)."""
    return gradient_blocks(values if values is not None else ArrayFactors(mp_model, "mp"), mp_model)[1]


__all__ = ["AGAINST", "CARRIED", "CHECK", "DPS", "MAX_DIGITS", "exact_forward", "exact_gradients", "exact_gradients_at",
           "exact_gradients_mp", "float64_pass", "float_cancellation", "measured_saturation", "mp_cost", "mp_gradients",
           "raised_by", "rest_of", "saturated_exact", "saturation_digits"]
