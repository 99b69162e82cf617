"""An exact forward pass read in float64: where rounding in the forward pass is amplified beyond what
float64 holds (a chaotic trajectory), only the forward pass needs more digits.

The δ recursion is linear in δ with the trajectory's own Jacobians, so it amplifies an error made at step
k by as much as it grows δ itself; what the backward pass needs from the trajectory is each stored value
(linear maps, nodes, states) to within one rounding. So the forward pass runs exactly (Arb's pass,
numeric/arbforward.py, else mpmath's), every stored value is rounded once to float64, and the
coefficients, δ, gradients and Jacobian norms are float64 from that trajectory. What they kept is
measured as the float64 pass's digits are (reruns.kept_digits): by reruns that nudge every stored
value by one rounding — here with the trajectory held where it is, since its values carry one rounding
each and nothing of the forward pass's amplification. When the reruns show fewer digits than asked, the
caller computes the rest exactly from the same exact pass (``exact_pass``: Arb's balls where they serve,
else mpmath), so the attempt costs only the float64 passes — at the digits the reruns say rounding costs
it plus DPS, where they measured that (reruns.ReadIn.rest_digits), else at the forward pass's.
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np

from . import arbbackward, arbforward, jit_nudge, kernel
from .cost import mp_cost
from .factors import ArrayFactors, FloatWatch, NumericModel, Unwatched, gradient_blocks
from .flags import TINY  # a nonzero value below it (float64's normal range) keeps fewer than 53 bits
from .forward import Trajectory, UlpNoise, compiled, nudged_coefficients, step_coefficients, unit_params

SPARE = 20  # the digits an exact forward pass keeps beyond what amplification costs it: each stored value
# within 10^−20 of itself, far inside the half unit (1.1e−16) its rounding to float64 may move it


def _float(array: np.ndarray) -> np.ndarray:
    """An mpf object array rounded once to float64, to the nearest (float64 arrays as they are; Arb's by
    arbforward.to_float): each mantissa, an integer, is rounded by float() (Python rounds an int to the
    nearest float64) and scaled exactly by its power of 2 — exact within float64's normal range, which
    _holds checks; NaN for mpmath's ±∞ and NaN, whose mantissa is 0 beside a nonzero exponent, and ±∞
    beyond float64's range."""
    if array.dtype != object:
        return array
    if array.size and arbforward.is_arb(array.flat[0]):
        return arbforward.to_float(array)
    out = []
    for value in array.reshape(-1).tolist():
        sign, man, exp, bits = value._mpf_ if isinstance(value, mpmath.mpf) else mpmath.mpf(value)._mpf_
        if not man:
            out.append(0.0 if not exp and not bits else math.nan)
            continue
        try:
            out.append(math.ldexp(float(-man if sign else man), exp))
        except OverflowError:
            out.append(math.inf)
    return np.array(out, dtype=float).reshape(array.shape)


def _holds(exact: np.ndarray, rounded: np.ndarray) -> bool:
    """Every value of ``exact`` is in float64's normal range (or exactly 0), so ``rounded`` is within half
    a unit in its last place of it."""
    if not np.all(np.isfinite(rounded)):
        return False
    small = np.abs(rounded) < TINY
    if not small.any():
        return True
    return all(v == 0 for v in np.asarray(exact, dtype=object)[small])


def rounded(exact: Trajectory) -> Trajectory | None:
    """The exact (mpf or Arb) trajectory with every stored value rounded once to float64, without coefficients
    (``coefs`` holds one empty dict per layer); None where a value lies beyond float64's normal range,
    where rounding would cost it more than its last bit."""
    values = []
    for layer in exact.values:
        out = {}
        for name, array in layer.items():
            out[name] = _float(array)
            if not _holds(array, out[name]):
                return None
        values.append(out)
    scalars = [{name: _float(np.asarray(v)) for name, v in layer.items()} for layer in exact.scalars]
    return Trajectory(values, [{} for _ in values], _float(exact.inputs), scalars)


def with_coefficients(model: NumericModel, traj: Trajectory, noise: UlpNoise | None = None) -> Trajectory:
    """``traj`` with every layer's float64 step coefficients, computed from its stored values (each moved
    by ``noise`` when given, as the float64 pass moves them: forward.nudged_coefficients)."""
    cc = compiled(model.cell, "float")
    for layer in range(1, model.layers + 1):
        coefs = step_coefficients(cc, traj, layer)
        traj.coefs[layer - 1] = coefs if noise is None else nudged_coefficients(cc, traj, layer, coefs, noise)
    return traj


def float_values(model: NumericModel, exact: Trajectory) -> ArrayFactors | None:
    """The float64 pass read from the exact trajectory (watched: its coefficients and δ may still leave
    float64's range, which the caller checks), or None where the trajectory does not fit in float64."""
    traj = rounded(exact)
    if traj is None:
        return None
    watch = FloatWatch()
    with watch.watch("coef"):
        with_coefficients(model, traj)
    return ArrayFactors(model, watch=watch, trajectory=traj)


def gradients(values: ArrayFactors, magnitudes: list[dict[str, np.ndarray]] | None = None
              ) -> tuple[Any, list[dict[str, np.ndarray]]]:
    """Loss and gradients of a float64 pass (kernel.gradients where it serves, else paths.py's walk)."""
    if kernel.applies(values):
        return kernel.gradients(values, magnitudes)
    return gradient_blocks(values, values.model)


def nudged_on(values: ArrayFactors, noise: UlpNoise, model: NumericModel | None = None
              ) -> tuple[Any, list[dict[str, np.ndarray]]]:
    """Loss and gradients again with every stored value of the pass's trajectory moved by ``noise`` where it
    is (the forward pass is not run again), its coefficients computed from the moved values and moved in
    turn, and the δ recursion's sums moved as it runs: compiled where jit_nudge.held_gradients runs, else
    kernel.gradients with a noisy pass; the coefficients and sums read the parameters and inputs of
    ``model``: the pass's own, or, for a cell without linear maps, whose u·x + b no stored value holds,
    those moved too (reruns._inputs_moved)."""
    traj, model = values.traj, model or values.model
    n, B = traj.values[0][model.cell.states[0]].shape[1:]
    moved = Trajectory([{name: noise(v) for name, v in layer.items()} for layer in traj.values],
                       [{} for _ in traj.values], model.x, unit_params(model.cell, model.params, n, B))
    with_coefficients(model, moved, noise)
    compiled_rerun = jit_nudge.held_gradients(model, moved.values, moved.coefs, noise)
    if compiled_rerun is not None:
        return compiled_rerun
    with np.errstate(all="ignore"):
        return gradients(ArrayFactors(model, watch=Unwatched(), noise=noise, trajectory=moved))


def exact_values(model: NumericModel, exact: Trajectory) -> ArrayFactors:
    """The exact pass of ``model`` (float64 parameters) from its forward trajectory: the model in mpf, the
    trajectory as mpf, and the step coefficients at the working precision, which must be the one the
    trajectory was made at.  From an Arb trajectory, the coefficients are Arb's where
    arbforward.coefficients proves them, and both stay Arb's until read as mpf (arbforward.lazy_mpf), so
    that ``exact_rest`` can run on them; else they are computed with mpmath (priced before they start)."""
    mp_model = model.as_mp()
    coefs: list[Any] | None = None  # per layer: dicts of mpf, or Arb's read as mpf (arbforward.lazy_mpf)
    if arbforward.made_with_arb(exact):
        balls = arbforward.coefficients(model, exact)
        if balls is not None:
            coefs = [arbforward.lazy_mpf(layer) for layer in balls]
        else:
            mp_cost(model, mpmath.mp.dps)  # Arb gave up on them: mpmath's, priced before they start
        exact = arbforward.as_mpf(exact, mp_model)
    if coefs is None:
        cc = compiled(mp_model.cell, "mp")
        coefs = [step_coefficients(cc, exact, layer) for layer in range(1, mp_model.layers + 1)]
    return ArrayFactors(mp_model, "mp", trajectory=Trajectory(exact.values, coefs, exact.inputs, exact.scalars))


def exact_rest(model: NumericModel, values: ArrayFactors) -> tuple[Any, list[dict[str, np.ndarray]], str]:
    """Loss and gradients of an exact pass (``exact_values``') at the working precision: with Arb's balls
    where the pass's trajectory and coefficients are Arb's and arbbackward proves the rest, else with
    mpmath (factors.gradient_blocks; priced before it starts where Arb gave up).

    Returns:
        (loss, one dict of gradients per layer, what computed them: "Arb" or "mpmath").
    """
    balls = _arb_parts(model, values)
    if balls is not None:
        if (done := arbbackward.gradients(model, *balls)) is not None:
            return (*done, "Arb")
        mp_cost(model, mpmath.mp.dps)
    return (*gradient_blocks(values, values.model), "mpmath")


def exact_pass(model: NumericModel, exact: Trajectory) -> tuple[ArrayFactors, Any, list[dict[str, np.ndarray]], str]:
    """``exact_values`` and ``exact_rest``: (the exact pass, loss, gradients, what computed them)."""
    values = exact_values(model, exact)
    return (values, *exact_rest(model, values))


def exact_truncated(model: NumericModel, values: ArrayFactors, k: int) -> list[dict[str, np.ndarray]] | None:
    """Truncated BPTT through k steps of an exact pass (``exact_values``') at the working precision with
    Arb's balls (arbbackward.truncated), where the pass is Arb's and they prove it; else None, and the
    caller walks it with mpmath (grad_report.truncated_gradients)."""
    balls = _arb_parts(model, values)
    return None if balls is None else arbbackward.truncated(model, *balls, k)


def made_by(values: ArrayFactors) -> str:
    """What made an exact pass's trajectory: "Arb" where ``exact_values`` read it from Arb's, else "mpmath"."""
    layer = values.traj.values[0]
    return "Arb" if arbforward.arb_source(layer, next(iter(layer))) is not None else "mpmath"


def _arb_parts(model: NumericModel, values: ArrayFactors) -> tuple[Trajectory, list[dict]] | None:
    """The Arb trajectory (inputs and parameters in float64, as arbforward.forward made it) and Arb
    coefficients behind an exact pass, or None where either is mpmath's."""
    parts: list[list[dict[Any, Any]]] = []
    for layers in (values.traj.values, values.traj.coefs):
        arrays = [{key: arbforward.arb_source(layer, key) for key in layer} for layer in layers]
        if any(array is None for layer in arrays for array in layer.values()):
            return None
        parts.append(arrays)
    traj, coefs = parts
    return Trajectory(traj, [{} for _ in traj], model.x, values.traj.scalars), coefs


__all__ = ["exact_pass", "exact_rest", "exact_truncated", "exact_values", "float_values", "gradients", "made_by",
           "nudged_on", "rounded", "with_coefficients"]
