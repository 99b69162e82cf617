"""The `grad` report: loss, gradients, Jacobian norms, the bound and what was observed, truncation.

Every number is computed once in float64 through the factor structure (and three times more with every
stored value nudged by one rounding, to measure the digits float64 kept: kept_digits).  Work that raised a
floating-point event (underflow, overflow, invalid) is computed again with mpmath at 30 digits — only
the parameter blocks it touched (all of them when the forward pass itself lost range); an exactly zero
entry is not such an event and costs nothing (numeric/exact.py decides, and makes those passes).  Each
entry is printed as a number when float64 holds it as a normal float (or it is exactly 0), else as
{"sign": ±1, "log10": …}, and its log10 is always beside it.
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np

from ..collector import fewer_full_collections
from ..config import Config
from ..errors import RunFailed
from ..paths import evaluate_truncated, targets
from ..validate import instance, integer
from . import arbforward, split, unitwise
from .cancelled import cancelled_digits
from .cost import truncated_cost
from .exact import (
    DPS,
    MAX_DIGITS,
    exact_forward,
    exact_gradients,
    float64_pass,
    float_cancellation,
    measured_saturation,
    raised_by,
    saturation_digits,
)
from .factors import ArrayFactors, FloatWatch, NumericModel, summed_to
from .forward import Trajectory
from .logspace import (
    constant_factor,
    constant_regime,
    listed_steps,
    log10_jacobian_norms,
    lyapunov_rate,
    observed,
    path_weight,
    regime,
)
from .reruns import (
    FLOAT64_DIGITS,
    EntryChanges,
    exact_then_float64,
    kept_by_reruns,
    kept_digits,
    kept_words,
    lost_digits,
    measured_words,
    saturated_kept,
    shared_rounding,
    shown_digits,
    whole_pays,
)

DIGITS = 12  # by default the report stays in float64 where that keeps 12 significant digits (16 - 4 lost)
TINY = np.finfo(float).tiny


def entry(value: Any) -> tuple[float | dict | None, float | None]:
    """(value for JSON, log10|value|): 0 is 0 with log10 null; beyond float64's normal range the value is
    {"sign": ±1, "log10": …}, so that nothing finite in log space is null."""
    if isinstance(value, mpmath.mpf):
        if value == 0:
            return 0.0, None
        log = float(mpmath.log10(abs(value)))
        as_float = float(value)
        normal = math.isfinite(as_float) and abs(as_float) >= TINY
        return (as_float if normal else {"sign": int(mpmath.sign(value)), "log10": log}), log
    value = float(value)
    if value == 0:
        return 0.0, None
    if not math.isfinite(value):
        return None, None
    return (value if abs(value) >= TINY else None), math.log10(abs(value))


def _shaped(values: np.ndarray, shape: tuple, scalar: bool) -> Any:
    values = np.asarray(values, dtype=object).reshape(shape)
    return values.reshape(-1)[0] if scalar and values.size == 1 else values.tolist()


def _split(block: np.ndarray, shape: tuple, scalar: bool) -> tuple[Any, Any]:
    """The block's JSON values and log10s (entry's rules), a whole float64 block at once."""
    flat = np.ravel(block)
    if flat.dtype == object:
        pairs = [entry(v) for v in flat]
        vals = np.array([p[0] for p in pairs], dtype=object)
        logs = np.array([p[1] for p in pairs], dtype=object)
    else:
        flat = flat.astype(float)
        size = np.abs(flat)
        finite, zero = np.isfinite(flat), flat == 0
        vals = np.array(flat.tolist(), dtype=object)
        vals[~finite | (size < TINY)] = None
        vals[zero] = 0.0
        logs = np.full(flat.size, None, dtype=object)
        kept = finite & ~zero
        logs[kept] = [math.log10(v) for v in size[kept].tolist()]  # math.log10, as entry() takes it
    return _shaped(vals, shape, scalar), _shaped(logs, shape, scalar)


def _split_layers(grads: list[dict[str, Any]], cfg: Config) -> tuple[list[dict], list[dict]]:
    """Each layer's gradients as JSON values beside their log10s, in the parameters' own shapes."""
    vals, logs = [], []
    for layer, g in enumerate(grads):
        v, lg = {}, {}
        for param in cfg.spec.params:
            v[param], lg[param] = _split(g[param], cfg.layers[layer][param].shape, cfg.scalar)
        vals.append(v)
        logs.append(lg)
    return vals, logs


def _per_layer(items: list) -> Any:
    return items[0] if len(items) == 1 else items


@fewer_full_collections
def grad_report(cfg: Config, digits: int = DIGITS) -> dict:
    """Loss, gradients (float64 where it holds them, else {sign, log10}, log10 always beside), Jacobian
    norms with their k, the bound beside what was observed, and, when asked, truncated BPTT; every field
    from one trajectory, exact where the measured conditioning demands it (see lost_digits).

    Args:
        cfg: the configuration (parameters, x, y, loss, truncate).
        digits: the significant digits float64 must keep (as measured) for the report to stay in float64;
            below that its forward pass is recomputed exactly (Arb's, else mpmath's) and the rest read in
            float64 from it where that keeps them (numeric/split.py), else computed exactly too (Arb's
            where it serves, numeric/arbbackward.py): about 6–16× the float64 report with Arb, 80–120×
            with mpmath (an LSTM of 128 units at T = 1000, an rnn of 64 at T = 1000, a GRU of 64 and an
            LSTM of 16 at T = 300).

    Returns:
        The report as a JSON-ready dict; its "precision" field says what was used and why.

    Raises:
        SymbpttError: a run too large for the budget, or digits outside 1..15.
    """
    instance("grad_report", cfg, Config, "a Config", "grad_report(load_config('example'))")
    digits = integer("digits", digits, 1, 15)  # as symbptt.gradients checks it
    max_lost = 16.0 - digits
    from ..budget import estimate, norm_sweep_cost

    T, n = cfg.x.shape[0], cfg.layers[0][f"{cfg.spec.states[0]}0"].size
    cost = norm_sweep_cost(cfg.spec, n, T, len(cfg.layers) * (2 if cfg.truncate else 1))
    estimate(f"the report of a {cfg.spec.name} with n = {n}, T = {T}, {len(cfg.layers)} layer(s)",
             "use fewer steps (a shorter x) or a smaller n", **cost)
    model = NumericModel.of(cfg)
    kept: tuple[float, float] | None = None  # the digits float64 kept, once measured
    differences: float | None = None  # the digits saturated gates' differences cancel, measured exactly
    measured: tuple[int, ArrayFactors, NumericModel] | None = None  # the exact pass read, for the truncated report
    held: tuple[float, float] | None = None  # the digits kept where the exact forward pass was read in float64
    short: tuple[tuple[float, float], int] | None = None  # where they fell short: what they kept, and the
    # digits the rest was then computed at exactly (fewer than the forward pass's), from the read's reruns
    engine = "mpmath"  # what made the exact forward pass (Arb's where numeric/arbforward.py serves)
    rest = "mpmath"  # what computed the rest from it, where float64 did not (Arb's where arbbackward serves)
    found: tuple[float, str] | None = None  # where the check of that pass raised its digits: the amplification
    # it measured, and how (exact.AGAINST or exact.CARRIED)
    units: unitwise.UnitPass | None = None  # where only some units were computed exactly (numeric/unitwise.py)
    values, computed = float64_pass(model)  # the float64 forward pass of the report (and its δ, compiled)
    ks = listed_steps(cfg.T)
    saturation = saturation_digits(values)  # measured once: the decision, the digits, exact_gradients
    cancelled = cancelled_digits(values.cc, values.traj)
    finite = all(np.all(np.isfinite(np.asarray(v, dtype=float)))
                 for layer in values.traj.values for v in layer.values())
    trial = (_saturated_trial(model, values, saturation, computed, ks, digits, max_lost)
             if saturation and finite else None)
    if trial is not None:  # a saturated gate, whose differences the reruns measured float64 to keep
        norms, lost = trial[0], lost_digits(trial[0]) + cancelled
    elif saturation:  # a saturated gate's difference lost digits: the norms need the exact pass too (not
        norms, lost = [], math.inf  # taken here in float64, where they would be thrown away)
    else:
        norms = [log10_jacobian_norms(values, layer, ks) for layer in range(1, model.layers + 1)]
        lost = lost_digits(norms) + cancelled
    if not finite:
        lost = math.inf  # the float64 forward pass left range (inf, NaN): its norms and gradients mean nothing
    # the norms foretell what amplification costs; what a cancelling sum costs the gradients is measured by
    # the reruns below (each nudged sum moves by its Σ|terms|·2⁻⁵³), so cancellation alone does not decide
    if lost - cancelled > max_lost:  # the float64 trajectory does not hold the digits: every field exactly
        # as many digits as the conditioning asks for, and as a saturated gate's differences cancel
        dps = DPS + math.ceil(lost if math.isfinite(lost) else 0)
        guess = float_cancellation(values) if saturation else None
        while True:
            if cfg.truncate is not None:  # the truncated gradients walk this exact pass too: priced first
                truncated_cost(model, cfg.truncate, dps)
            if saturation:  # at least that, and what the differences cancel, measured on the pass itself
                dps, values, mp_model, differences = measured_saturation(model, saturation, least=dps, guess=guess)
                engine = split.made_by(values)
                with mpmath.workdps(dps):
                    loss, grads, rest = split.exact_rest(model, values)
            else:
                # the backward pass from the exact trajectory in float64, where that keeps the digits
                exact, read = exact_then_float64(model, dps, ks, digits, cfg.truncate is not None,
                                                 whole_pays(model, dps))
                dps, engine = exact.digits, forward_engine(exact)  # more where its check asked for them
                found = raised_by(exact)
                if read is not None and read.holds(digits):
                    values, loss, grads, norms, held = read
                    lost = lost_digits(norms) + cancelled
                    break
                # the rest exactly (with Arb's balls where they serve), at the digits the read's reruns ask
                # for where it fell short and its norms show this pass carries DPS beyond amplification
                enough = read is not None and dps >= DPS + lost_digits(read.norms)
                rest_at = read.rest_digits(dps) if read is not None and enough else None
                with mpmath.workdps(rest_at or dps):
                    values, loss, grads, rest = split.exact_pass(model, exact)
                mp_model = values.model
                if read is not None and rest_at is not None:  # the norms: the read's, from the same trajectory
                    norms, short = read.norms, (read.kept, rest_at)
                    lost = lost_digits(norms) + cancelled
                    break
            with mpmath.workdps(dps):
                norms = [log10_jacobian_norms(values, layer, ks) for layer in range(1, model.layers + 1)]
            lost = lost_digits(norms) + cancelled
            if not math.isfinite(lost) or dps >= DPS + lost or dps >= MAX_DIGITS:
                break
            dps = min(MAX_DIGITS, DPS + math.ceil(lost))  # the float64 norms had overflowed: now known
        if not math.isfinite(lost):
            raise RunFailed("this run's numbers reach beyond what the report can hold (the log10 of a Jacobian "
                            "norm or step factor is beyond float64's range, |log10| > 1.8e308); shorten x or "
                            "shrink the weights")
        if held is None and not dps >= DPS + lost:
            raise RunFailed(f"this run amplifies rounding by 10^{lost:.4g}, beyond the {MAX_DIGITS} digits "
                            "the exact path uses; shorten x or shrink the weights")
        used_mp = dps
        if held is None and short is None:  # the exact pass the report read, at its digits: the truncated
            measured = (dps, values, mp_model)  # gradients read it too
    else:
        magnitudes: list[dict[str, np.ndarray]] = [{} for _ in range(model.layers)]
        made: list[tuple[Trajectory, str]] = []  # the exact pass where float64 lost range, and its rest's engine
        if trial is not None:
            _, loss, grads, kept = trial
            used_mp = 0
        else:
            loss, grads, used_mp = exact_gradients(model, values, saturation=saturation, magnitudes=magnitudes,
                                                   computed=computed, made=made)
        if made:
            (ran, rest), = made
            engine, found = forward_engine(ran), raised_by(ran)
        if not used_mp and trial is None:
            changes = EntryChanges()  # where the reruns found float64 short, for the units alone (unitwise)
            kept = kept_digits(model, loss, grads, magnitudes, changes=changes)
            by_unit = (unitwise.exactly(model, loss, grads, changes, digits, kept)
                       if kept[0] < digits and cfg.truncate is None else None)
            if by_unit is not None:  # short in some units alone of a cell whose units never meet: those exactly
                grads, units = by_unit.grads, by_unit
            elif kept[0] < digits:  # rounding in float64 cost more than the norms foretold: the forward pass
                # exactly, and the rest in float64 from it where that keeps the digits, else exactly too
                if cfg.truncate is not None:
                    truncated_cost(model, cfg.truncate, DPS)
                exact, read = exact_then_float64(model, DPS, ks, digits, cfg.truncate is not None, whole=False)
                engine, at = forward_engine(exact), exact.digits  # DPS, or more where its check asked for them
                found = raised_by(exact)
                if read is not None and read.holds(digits):
                    values, loss, grads, norms, held = read
                    lost = lost_digits(norms) + cancelled
                else:
                    with mpmath.workdps(at):
                        exact_values, loss, grads, rest = split.exact_pass(model, exact)
                    measured = (at, exact_values, exact_values.model)
                used_mp = at
    out_grad, out_log = _split_layers(grads, cfg)
    loss_value, loss_log10 = entry(loss)
    whole = [layer_norms["state"][0] for layer_norms in norms]  # log10‖∂s_T/∂s_0‖ of each layer
    report = {
        "cell": cfg.spec.name,
        "loss_function": cfg.loss,
        "T": cfg.T,
        "loss": loss_value,
        "loss_log10": loss_log10,
        "grad": _per_layer(out_grad),
        "grad_log10": _per_layer(out_log),
        "log10_jacobian_norms": _per_layer([_norm_rows(ks, layer_norms) for layer_norms in norms]),
        "lyapunov_rate": _per_layer([lyapunov_rate(v, cfg.T) for v in whole]),
        "observed": _per_layer([observed(v, cfg.T) for v in whole]),
        "precision": _precision(used_mp, lost, cancelled, max_lost, kept, differences, held, engine, rest,
                                inputs=not model.cell.linears, short=short, found=found, units=units,
                                outward=shared_rounding(model.cell)),
    }
    # what the float64 gradients kept, measured (see kept_digits); with some units exact, counted again
    shown = held if held is not None else units.counted if units is not None else kept
    if shown is not None:
        report["float64_digits"] = dict(zip(("relative_to_largest", "worst_entry"), shown_digits(shown), strict=True))
    if len(cfg.spec.states) > 1:  # the whole state decides; the h → h block beside it
        report["observed_h"] = _per_layer([observed(layer_norms["h"][0], cfg.T) for layer_norms in norms])
    if cfg.spec.uses_activation:
        report["activation"] = cfg.act_name
    weights = [path_weight(cfg.spec, p) for p in cfg.layers]
    constants = [] if all(w is not None for w in weights) else [constant_factor(cfg.spec, p) for p in cfg.layers]
    if all(w is not None for w in weights):  # γ·σ_max of the weight on the one path back (W, or diag(w))
        report["regime"] = _per_layer([regime(w, cfg.act_name) for w in weights if w is not None])
        labels = [r["label"] for r in (report["regime"] if model.layers > 1 else [report["regime"]])]
    elif all(c is not None for c in constants):  # the factor does not depend on the data: exact
        report["regime"] = _per_layer([constant_regime(c) for c in constants if c is not None])
        labels = [r["label"] for r in (report["regime"] if model.layers > 1 else [report["regime"]])]
    else:
        labels = ["no simple bound for a gated cell"] * model.layers
    report["summary"] = summary(labels, [observed(v, cfg.T) for v in whole], whole)
    if cfg.truncate is not None:
        report["truncated"] = truncated_report(cfg, model, grads, values, lost > max_lost, measured, digits)
    return report


def _saturated_trial(model: NumericModel, values: ArrayFactors, saturation: int, computed: Any, ks: list[int],
                     digits: int, max_lost: float) -> tuple | None:
    """A pass with a saturated gate kept in float64 where its reruns measure ``digits`` in it and a digit in
    every entry (reruns.saturated_kept): (its norms, loss, gradients, kept digits), or None where it lost
    range, the reruns measured fewer, or its norms foretell more amplification than float64 spares (the
    exact pass then decides, at the digits its differences need, as before).  The norms come last: where
    the steps underflow they are multiplied in mpmath, which costs more than the rest, and a pass that
    goes to the exact one takes them from it only."""
    found = saturated_kept(model, values, saturation, computed, digits)
    if found is None:
        return None
    norms = [log10_jacobian_norms(values, layer, ks) for layer in range(1, model.layers + 1)]
    return (norms, *found) if lost_digits(norms) <= max_lost else None


def summary(labels: list[str], seen: list[str], logs: list[float]) -> str:
    """One line: the bound beside what was observed; for a stack, each layer and the worst one (the
    layer whose ‖∂s_T/∂s_0‖ lies furthest from 1)."""
    if len(labels) == 1:
        return f"bound: {labels[0]}; observed: {seen[0]}"
    parts = [f"layer {i}: bound {label}, observed {what}"
             for i, (label, what) in enumerate(zip(labels, seen, strict=True), 1)]
    worst = max(range(len(logs)), key=lambda i: abs(logs[i]) if not math.isnan(logs[i]) else -1.0)
    return "; ".join(parts) + f"; worst: layer {worst + 1}"


READ_IN_FLOAT64 = "for the forward pass, float64 from its trajectory"  # the precision line of a split pass


def forward_engine(exact: Trajectory) -> str:
    """What made an exact forward pass, as the precision line names it: "Arb" (python-flint's balls,
    numeric/arbforward.py) or "mpmath"."""
    return "Arb" if arbforward.made_with_arb(exact) else "mpmath"


def gradients_in_float64(report: dict) -> bool:
    """Whether a report's gradients are float64 with their digits measured (``float64_digits`` their
    claim): a float64 pass, or an exact forward pass read in float64 — not an mpmath report that gives
    beside it the digits float64 kept before it was recomputed."""
    precision = report["precision"]
    return "float64_digits" in report and (precision.startswith("float64") or READ_IN_FLOAT64 in precision)


def _power(log10: float) -> str:
    """A power of ten's exponent as the precision line gives it: three significant digits below 1000."""
    return f"{log10:.0f}" if log10 >= 1000 else f"{log10:.3g}"


def _would_keep(lost: float) -> str:
    """What float64 would keep of its ~15.9 digits where rounding costs ``lost`` of them, in words."""
    left = 15.9 - lost
    return f"would keep about {left:.0f} digits" if left >= 0.5 else "would keep no digit"


def _precision(used_mp: int, lost: float, cancelled: float, max_lost: float = 16.0 - DIGITS,
               kept: tuple[float, float] | None = None, differences: float | None = None,
               held: tuple[float, float] | None = None, engine: str = "mpmath", rest: str = "mpmath",
               inputs: bool = False, short: tuple[tuple[float, float], int] | None = None,
               found: tuple[float, str] | None = None, units: unitwise.UnitPass | None = None,
               outward: bool = False) -> str:
    """The precision used and the digits it keeps, in words: ``kept`` as measured by kept_digits (None
    when the float64 pass was not finished), beside the Jacobian norms' amplification, the cancellation
    measured in the forward pass and, for saturated gates, the most their differences cancel on the exact
    pass (``differences``, cancelled.difference_digits); ``engine``: what made the exact forward pass
    (forward_engine), ``rest``: what computed the gradients from it where float64 did not (split.exact_pass);
    ``short``: where float64 read from that pass fell short, what it kept and the digits the rest took
    (ReadIn.rest_digits); ``found``: where the check of the exact forward pass raised its digits, the
    amplification it measured in the states (Trajectory.amplified, where Trajectory.raised), which the norms
    then did not bound, and how it measured it (Trajectory.checked); ``units``: where float64 fell short in
    some units alone and those were computed exactly (unitwise.exactly), the rest float64's; ``outward``:
    the float64 pass was measured by the outward rerun too (reruns.nudged_runs)."""
    how = measured_words(inputs=inputs, outward=outward)  # how a float64 pass's digits were measured
    amplified = lost - cancelled
    power = _power(amplified)
    parts = [f"rounding amplified by up to 10^{power}"] if amplified > 0 else []
    if found is not None:  # the norms' bound did not hold: what the check measured, beside what they say
        parts = [f"rounding amplified by about 10^{_power(found[0])} in the states, as measured {found[1]}, "
                 f"though the Jacobian norms ‖∂s_T/∂s_k‖ reach only 10^{power}"]
        lost = max(lost, found[0] + cancelled)  # what float64 throughout would keep, from what was measured
    if cancelled >= 0.5:
        parts.append(f"{cancelled:.2g} digits cancelled in a sum")
    measured = "; ".join(parts)
    tail = f"; {measured}" if measured else ""
    if units is not None:  # float64, except the units it fell short in alone
        assert kept is not None
        n = len(units.grads[0][next(iter(units.grads[0]))])
        which, one = unitwise.unit_words(units.units, n), units.units.size == 1
        return (f"float64, with {which} computed again by {units.engine} at {units.digits} digits "
                f"(float64 {kept_words(kept, only=True)}, {how}, and fell short of the "
                f"{16.0 - max_lost:.0f} asked in {'that unit' if one else 'those units'} alone; with "
                f"{'it' if one else 'them'} exact, the gradients {kept_words(units.counted)}{tail})")
    if not used_mp:
        assert kept is not None
        return f"float64 ({kept_words(kept)}, {how}{tail})"
    saturated = (None if differences is None
                 else f"saturated gates: their differences cancel up to {differences:.0f} digits"
                 if math.isfinite(differences) else "saturated gates: a difference of theirs cancels every digit")
    colon = f": {measured}" if measured else ""
    if held is not None:
        throughout = (f"float64 throughout {kept_words(kept, only=True)}" if kept is not None
                      else f"float64 throughout {_would_keep(lost)}")
        return (f"{engine} at {used_mp} digits {READ_IN_FLOAT64} for the rest "
                f"({kept_words(held)}, {measured_words(held=True, inputs=inputs)}; {throughout}{colon})")
    if short is not None:
        read_kept, rest_at = short
        cost = math.ceil(FLOAT64_DIGITS - read_kept[1])
        return (f"{engine} at {used_mp} digits for the forward pass, {rest} at {rest_at} digits for the rest "
                f"(float64 from that trajectory {kept_words(read_kept, only=True)}, "
                f"{measured_words(held=True, inputs=inputs)}: "
                f"rounding cost it up to {cost} digits, and the rest carries {rest_at - cost} beyond them; "
                f"float64 throughout {_would_keep(lost)}{colon})")
    if kept is not None:
        why = f"float64 {kept_words(kept, only=True)}, {how}{tail}"
    elif lost > max_lost:
        why = f"float64 {_would_keep(lost)}: {measured}" + (
            f"; {saturated}" if saturated else "")
    else:
        why = saturated or "float64 lost range"
    if engine != rest:
        return f"{engine} at {used_mp} digits for the forward pass, {rest} for the rest ({why})"
    return f"{engine} at {used_mp} digits ({why})"


def _norm_rows(ks: list[int], norms: dict[str, list[float]]) -> list[dict]:
    rows = []
    for i, k in enumerate(ks):
        row = {"k": k, "log10": _finite(norms["state"][i])}
        if len(norms) > 2:
            row |= {name: _finite(v[i]) for name, v in norms.items() if name != "state"}
        rows.append(row)
    return rows


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def truncated_gradients(model: NumericModel, k: int, kind: str = "float", values: ArrayFactors | None = None
                        ) -> list[dict[str, np.ndarray]]:
    """Truncated BPTT through the same factor structure (each loss term flows back k steps)."""
    values = values or ArrayFactors(model, kind)
    rnn = model.structure()
    grads: list[dict[str, np.ndarray]] = [{} for _ in model.params]
    for param, layer in targets(rnn, "all"):
        g = evaluate_truncated(rnn, param, layer, values, k)
        grads[layer - 1][param] = summed_to(g, model.params[layer - 1][param].shape)
    return grads


def truncated_report(cfg: Config, model: NumericModel, full: list[dict], values: ArrayFactors,
                     at_stake: bool = False, measured: tuple[int, ArrayFactors, NumericModel] | None = None,
                     asked: int = DIGITS) -> dict:
    """The truncated gradient (same null/log10 rules) and ‖g_k − g‖/‖g‖, computed exactly whenever a float64 step lost
    range, ``at_stake`` (the float64 forward pass, ``values``, lost more digits to amplification and
    cancellation than the report asks for) or, measured by reruns of their own (reruns.kept_by_reruns: the
    reruns that measure what the full gradients kept do not cover them), the float64 truncated gradients keep
    fewer than ``asked`` digits relative to each one's largest entry. ``measured``: the report's own exact pass
    (its digits, values and model), from which ``full`` was computed: the truncated gradients read the same pass
    at its digits — which carry what amplification costs (a chaotic run's trajectory at 30 digits is another
    trajectory) and a saturated run's differences cancel; without it a saturated run measures them on an exact
    pass of its own, and any other starts at 30 digits."""
    if cfg.truncate is None:
        raise ValueError("truncated_report needs a configuration with truncate set")
    if cfg.truncate >= cfg.T:  # through every step: each loss term flows back to step 0, so the truncated
        # gradients are the full ones, exactly (a walk of T·k steps for loss 'sum' would only repeat them)
        vals, logs = _split_layers(full, cfg)
        return {"k": cfg.truncate, "grad": _per_layer(vals), "grad_log10": _per_layer(logs), "relative_difference": 0.0}
    watch = FloatWatch()
    digits = saturation_digits(values)
    if measured is not None:  # ``full`` was computed from that pass at its digits
        digits = measured[0]
    elif digits:  # the digits a saturated gate's differences cancel on this trajectory, measured on an exact
        # pass, which the exact loop below reads when it runs at those digits
        digits, mp_values, mp_model, _ = measured_saturation(model, digits, guess=float_cancellation(values))
        measured = (digits, mp_values, mp_model)
    exact, relative = False, 0.0  # a saturated run goes to the exact loop below whatever float64 makes of it
    if not digits:
        with watch.watch("truncated"):
            cut = truncated_gradients(model, cfg.truncate, values=values)
            a = np.concatenate([np.ravel(g[p]) for g in cut for p in cfg.spec.params]).astype(float)
            b = np.concatenate([np.ravel(np.asarray(g[p], dtype=object)) for g in full for p in cfg.spec.params])
            exact = all(isinstance(v, float) or isinstance(v, np.floating) for v in b)
            if exact:
                b = b.astype(float)
                denom = float(np.linalg.norm(b))
                relative = float(np.linalg.norm(a - b)) / denom if denom > 0 else 0.0
    # a difference below ~1e-12 of the gradient is rounding in float64: it needs the exact path, with
    # as many more digits as it is small (4.05e-80 needs 79 + 30)
    unresolved = exact and relative < 1e-12 and cfg.truncate < cfg.T  # k ≥ T drops nothing: exactly 0
    again = bool(watch.events or not exact or digits or unresolved or (at_stake and values.kind == "float"))
    if not again:  # what float64 kept of them, measured (a GRU whose full gradients kept 12.1 digits kept
        # 10.6 of its truncated ones: split_sweep's seed-5 family)
        k = cfg.truncate
        again = kept_by_reruns(cut, lambda v: truncated_gradients(model, k, values=v), model)[0] < asked
    if again:
        dps, previous = max(DPS, digits), None
        while True:
            truncated_cost(model, cfg.truncate, dps)  # the walk, priced before the pass it reads
            own = measured is not None and measured[0] == dps  # the report's own pass, ``full`` read from it
            if not own:  # a pass of its own (Arb's where it serves, priced as it runs: exact_forward)
                fresh = exact_forward(model, dps)
                if fresh.digits > dps:  # its check asked for more: the walk read at them, priced again
                    dps = fresh.digits
                    truncated_cost(model, cfg.truncate, dps)
            with mpmath.workdps(dps):
                if own:
                    assert measured is not None
                    _, mp_values, mp_model = measured
                    full_mp = full
                else:
                    mp_values, _, full_mp, _ = split.exact_pass(model, fresh)
                    mp_model = mp_values.model
                # one exact forward pass for both gradients; the walk with Arb's balls where the pass is Arb's
                balls = split.exact_truncated(model, mp_values, cfg.truncate)
                cut = truncated_gradients(mp_model, cfg.truncate, "mp", values=mp_values) if balls is None else balls
                a_mp = [v for g in cut for p in cfg.spec.params for v in np.ravel(g[p])]
                b_mp = [v for g in full_mp for p in cfg.spec.params for v in np.ravel(g[p])]
                denom = mpmath.sqrt(sum(v * v for v in b_mp))
                diff = mpmath.sqrt(sum((u - v) ** 2 for u, v in zip(a_mp, b_mp, strict=True)))
                ratio = diff / denom if denom != 0 else mpmath.mpf(0)
            if previous is not None and ratio < previous[0] * mpmath.mpf(10) ** (-(dps - previous[1]) / 2):
                ratio = mpmath.mpf(0)  # it fell with the working precision: rounding of an exact 0
            # the ratio carries about dps + log10(ratio) digits: DPS − 1 of them at least are asked for
            needed = DPS + (max(0, math.floor(-float(mpmath.log10(ratio)))) if ratio != 0 else 0)
            if ratio == 0 or needed <= dps or dps >= MAX_DIGITS:
                break
            previous, dps = (ratio, dps), min(MAX_DIGITS, needed)
        relative = float(ratio)
    vals, logs = _split_layers(cut, cfg)
    return {"k": cfg.truncate, "grad": _per_layer(vals), "grad_log10": _per_layer(logs),
            "relative_difference": relative}

