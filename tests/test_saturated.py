"""symbptt.gradients where gates saturate: a saturated pass measured by the reruns before any exact pass is
made, the digits its differences cancel, the exact pass it takes where float64 holds nothing, and the
passes refused before they start; the `grad` report of a saturated stack, a saturated minLSTM and a
saturated truncated report."""

from __future__ import annotations

import math
import re

import mpmath
import numpy as np
import pytest
from conftest import assert_report_matches, saturated_gru_layer

import symbptt
from symbptt import SymbpttError
from symbptt.config import parse_config
from symbptt.numeric.factors import ArrayFactors, NumericModel
from symbptt.numeric.grad_report import grad_report
from symbptt.reference import bptt


def _gru(n: int, scale: float, rng: np.random.Generator) -> dict:
    """A GRU's parameters: W ~ N(0, scale²/n), U ~ N(0, scale²), the rest N(0, (scale/10)²)."""
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell

    spec = get_cell("gru", get_activation("tanh"))
    sizes = {"recurrent": scale / np.sqrt(n), "input": scale}
    return {p: rng.normal(0, sizes.get(spec.kind(p), scale / 10), spec.shape(p, n, 1)) for p in spec.params}


def _saturated_gru() -> tuple[dict, np.ndarray, np.ndarray]:
    """One GRU unit from h_0 = 1 whose candidate n_t = tanh(a_n), a_n in [55, 60], sits within about 10^-50
    of 1 while its update gate stays near ½: h_{t−1} − n_t is about 10^-50 of its terms, and ∂L/∂U_z,
    ∂L/∂W_z and ∂L/∂b_z are made of it."""
    p = {"W_r": [[0.3]], "W_z": [[0.2]], "W_n": [[0.1]], "U_r": [[1.0]], "U_z": [[0.005]], "U_n": [[1.0]],
         "b_r": [0.0], "b_z": [0.0], "b_n": [0.0], "b_hn": [0.0], "h0": [1.0]}
    x = np.random.default_rng(3).uniform(55, 60, size=(12, 1))
    return {k: np.array(v) for k, v in p.items()}, x, np.array([0.2])


def _agrees_with_reference(p: dict, grads: dict, rel: float) -> None:
    with mpmath.workdps(300):
        _, ref = bptt([p], *_saturated_gru()[1:], "tanh", "last", "gru", kind="mp")
        for k, want in ref[0].items():
            have = mpmath.mpf(float(np.ravel(grads[k])[0]))
            assert abs(have / want.ravel()[0] - 1) < rel, (k, have, want)


def test_a_saturated_gru_carries_the_digits_its_difference_cancels_as_measured(monkeypatch):
    """The default call keeps this unit in float64 with the distances to ±1 (numeric/distances.py), to
    1e-14 of the reference.  Where the distances refuse (planted here), the digits of the exact pass follow
    what h_{t−1} − n_t does cancel on this trajectory (about 51 of
    them: 30 more are carried), not the most saturation could cancel (2|a|/ln 10 for every pre-activation's
    largest |a|): every gradient is the 300-digit reference's to float64's rounding, in symbptt.gradients
    and in `grad`'s report.  A planted count of 0 keeps the first try at 60 digits, and the z gate's
    gradients, made of the difference, come out about 4e-13 off — unless digits are asked for, when the
    reruns first find float64 short of them and a pass with twice the digits must agree with it."""
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.config import parse_config
    from symbptt.numeric import distances, exact
    from symbptt.numeric import grad_report as G

    p, x, y = _saturated_gru()
    spec = get_cell("gru", get_activation("tanh"))
    bound = exact.saturation_digits(ArrayFactors(NumericModel(spec, [{k: v.reshape(-1, 1) for k, v in p.items()}],
                                                          x[:, :, None], y[:, None], "last")))
    carried = symbptt.gradients(p, x, y, cell="gru")  # the default call: the distances to ±1 hold it in float64
    assert carried.digits == 0
    _agrees_with_reference(p, carried.grads, 1e-14)
    monkeypatch.setattr(distances, "KEPT_DIGITS", 17)  # the distances refused: the exact pass, as measured
    got = symbptt.gradients(p, x, y, cell="gru")
    assert exact.DPS + 50 <= got.digits < bound
    _agrees_with_reference(p, got.grads, 2e-16)
    cfg = parse_config({"cell": "gru", "x": x[:, 0].tolist(), "y": y.tolist(),
                        **{k: v.tolist() for k, v in p.items()}})
    report = G.grad_report(cfg)  # its words say what was measured: the digits carried are 30 more than it
    said = re.fullmatch(rf"Arb at {got.digits} digits \(saturated gates: their differences cancel up to (\d+) "
                        r"digits\)", report["precision"])
    assert said and got.digits - exact.DPS - 1 <= int(said[1]) <= got.digits - exact.DPS, report["precision"]
    _agrees_with_reference(p, {k: np.asarray(v, dtype=float) for k, v in report["grad"].items()}, 2e-16)
    # asked for: the reruns measure float64 first, which keeps no digit of the z gate's gradients (made of the
    # difference), then the exact pass, which a pass with twice the digits agrees with
    checked = symbptt.gradients(p, x, y, cell="gru", digits=12)
    assert checked.kept is not None and checked.kept[1] < 12 and checked.digits == 2 * got.digits
    _agrees_with_reference(p, checked.grads, 2e-16)
    monkeypatch.setattr(exact, "difference_digits", lambda cc, traj: 0.0)
    # planted on mpmath's pass, which holds what its digits say: Arb's keeps each value to its 32 guard bits
    # more (about 10 digits), which this difference's 50 cancelled digits leave standing at 60 digits
    monkeypatch.setenv("SYMBPTT_ARB", "0")
    planted = symbptt.gradients(p, x, y, cell="gru")
    assert planted.digits == 2 * exact.DPS
    with pytest.raises(AssertionError, match="'U_z'|'W_z'|'b_z'"):
        _agrees_with_reference(p, planted.grads, 1e-15)
    checked = symbptt.gradients(p, x, y, cell="gru", digits=12)  # the 60-digit pass and the 120-digit one
    assert checked.digits == 8 * exact.DPS  # disagree: the 120- and 240-digit passes agree
    _agrees_with_reference(p, checked.grads, 2e-16)


def _within_claim(cell: str, p: dict, x: np.ndarray, y: np.ndarray, grads: dict, kept: tuple) -> bool:
    """Whether every gradient entry is within 10^−kept[1] of itself against reference.py at 100 digits,
    and every gradient within 10^−kept[0] of its largest entry."""
    with mpmath.workdps(100):
        ref = bptt([p], x, y, "tanh", "last", cell, kind="mp")[1][0]
    for k, want in ref.items():
        exact = np.array([float(v) for v in np.ravel(want)])
        err = np.abs(np.ravel(np.asarray(grads[k], dtype=float)) - exact)
        top = float(np.max(np.abs(exact)))
        if np.any(err > 10.0 ** -kept[1] * np.abs(exact)) or (top and float(np.max(err)) > 10.0 ** -kept[0] * top):
            return False
    return True


@pytest.mark.parametrize(("cell", "seed"), [("gru", 0), ("mingru", 2), ("minlstm", 2)])
def test_a_saturated_pass_is_measured_before_an_exact_one_is_made(cell, seed, monkeypatch):
    """A cell whose gates saturate (inputs × 10, n = 4, T = 60), whose saturation bound (61–98 digits)
    sent `grad`'s report and digits=12 to an exact pass before anything was measured — and the plain call
    too where no distances to ±1 carry its differences (the minGRU, the minLSTM): the nudged reruns now
    measure it first, as any float64 pass, and it stays in float64 — no exact pass is made — with
    every gradient within the digits they claim of reference.py's 100-digit pass, in symbptt.gradients
    (with digits and without) and in the report.  Planted: reruns that find no change (every digit kept)
    keep the unit above, whose z-gate gradients are made of a difference float64 holds nothing of, in
    float64 too, and its claim fails against the reference; measured, that unit takes the exact pass."""
    from symbptt.config import parse_config
    from symbptt.numeric import exact, reruns
    from symbptt.numeric.examples import example_config
    from symbptt.numeric.grad_report import grad_report

    cfg = example_config(cell, 60, 4, drive=10.0, seed=seed)
    assert exact.saturation_digits(ArrayFactors(NumericModel.of(cfg))) > 60
    passes: list[int] = []
    original = exact.exact_forward
    monkeypatch.setattr(exact, "exact_forward", lambda model, dps: passes.append(dps) or original(model, dps))
    p, x, y = dict(cfg.layers[0]), cfg.x, cfg.y
    got = symbptt.gradients(p, x, y, cell=cell, digits=12)
    report = grad_report(cfg)
    plain = symbptt.gradients(p, x, y, cell=cell)  # the GRU's distances carry it; the others are measured
    assert got.digits == 0 and got.kept is not None and got.kept[0] >= 12 and not passes
    assert plain.digits == 0 and (plain.kept is None) == (cell == "gru")
    assert plain.kept is None or (plain.kept == got.kept and _within_claim(cell, p, x, y, plain.grads, plain.kept))
    assert report["precision"].startswith("float64 (kept about")
    assert _within_claim(cell, p, x, y, got.grads, got.kept)
    assert _within_claim(cell, p, x, y, {k: np.asarray(v, dtype=float) for k, v in report["grad"].items()},
                         got.kept)
    unit, ux, uy = _saturated_gru()
    unit_cfg = parse_config({"cell": "gru", "x": ux[:, 0].tolist(), "y": uy.tolist(),
                             **{k: v.tolist() for k, v in unit.items()}})
    measured = symbptt.gradients(unit, ux, uy, cell="gru", digits=12)
    assert measured.digits > 0 and measured.kept is not None and measured.kept[1] < 12
    assert grad_report(unit_cfg)["precision"].startswith("Arb")
    monkeypatch.setattr(reruns, "_widest", lambda pairs, margin, block, entry: (block, entry))
    planted = symbptt.gradients(unit, ux, uy, cell="gru", digits=12)
    assert planted.digits == 0 and not _within_claim("gru", unit, ux, uy, planted.grads, planted.kept)
    assert grad_report(unit_cfg)["precision"].startswith("float64")


def test_a_saturated_entry_that_float64_holds_nothing_of_sends_the_pass_to_the_exact_one(monkeypatch):
    """A two-layer GRU with weights × 5 and inputs × 50 (benchmarks/claims_sweep.py --saturated, seed 21):
    the first layer's z-gate gradients of one unit are made of a difference float64 holds nothing of, so
    they come out about 2e-31 where reference.py says about 1e-54.  The reruns measure 12.5 digits
    relative to each gradient's largest entry and −1.4 in the worst: an entry that keeps no digit may be
    noise however far from its value, so the pass goes to the exact one, which agrees with reference.py
    at 1000 digits in every entry.  Planted: float64 kept with any worst entry, and that entry is 10^22
    times further off than its claim allows."""
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.check.trials import draw_layers
    from symbptt.numeric import exact

    draw = np.random.default_rng(878337236)
    params = draw_layers(get_cell("gru", get_activation("tanh")), 2, 1, 2, draw, 5.0)
    x, y = draw.normal(size=(5, 1, 1)) * 50, draw.normal(size=(5, 2, 1))
    with mpmath.workdps(1000):
        ref = bptt(params, x[..., 0], y[..., 0], "tanh", "sum", "gru", kind="mp")[1]

    def worst(got: symbptt.Gradients) -> float:  # the largest error of an entry, relative to that entry
        out = 0.0
        for layer, want in enumerate(ref):
            for k, v in want.items():
                exact_values = np.array([float(e) for e in np.ravel(v)])
                have = np.ravel(np.asarray(got.grads[layer][k], dtype=float))
                out = max(out, float(np.max(np.abs(have - exact_values) / np.abs(exact_values))))
        return out

    got = symbptt.gradients(params, x, y, cell="gru", loss="sum", digits=12)
    assert got.digits > 0 and worst(got) <= 2.0 ** -52
    monkeypatch.setattr(exact, "ENTRY_DIGITS", -math.inf)
    planted = symbptt.gradients(params, x, y, cell="gru", loss="sum", digits=12)
    assert planted.digits == 0 and planted.kept is not None and planted.kept[1] < 1
    assert worst(planted) > 1e20 * 10.0 ** -planted.kept[1]


def test_a_pass_whose_sums_float64_lost_to_nan_is_recomputed_not_a_traceback():
    """A two-layer minLSTM with weights × 5 and inputs × 20 (benchmarks/claims_sweep.py --saturated, seed
    21, its 2,913th draw): its second layer's coefficients overflow and divide by zero, so some sums over
    t come out NaN beside others beyond float64's range, and turning them into exact numbers raised
    ValueError (a traceback from symbptt.gradients, with or without digits).  Now those entries are
    mpmath's NaN, the pass's events send it to the exact one, and both calls agree with reference.py."""
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.check.trials import draw_layers

    draw = np.random.default_rng(613979657)
    params = draw_layers(get_cell("minlstm", get_activation("tanh")), 4, 1, 2, draw, 5.0)
    x, y = draw.normal(size=(71, 1, 1)) * 20, draw.normal(size=(4, 1))
    with mpmath.workdps(100):
        ref = bptt(params, x[..., 0], y[..., 0], "tanh", "last", "minlstm", kind="mp")[1]
    for digits in (None, 12):
        got = symbptt.gradients(params, x, y, cell="minlstm", digits=digits)
        assert got.digits > 0
        for layer, want in enumerate(ref):
            for k, v in want.items():
                exact = np.array([float(e) for e in np.ravel(v)])
                have = np.ravel(np.asarray(got.grads[layer][k], dtype=float))
                assert np.all(np.abs(have - exact) <= 1e-15 * np.abs(exact)), (digits, layer, k)


@pytest.mark.parametrize("seed", [0, 2, 14, 20, 24, 30])  # 60 digits at once; 64, 78, 61, 129, 66 after a second pass
def test_the_measured_digits_give_the_numbers_the_bound_gives(seed, monkeypatch):
    """Random saturated GRUs (inputs × 20 to 120, stacks of one or two layers, a batch of one to three):
    symbptt.gradients at the digits its differences are measured to need returns, to the bit, the float64
    numbers of an exact pass at saturation's bound (what every saturated pass carried before).  In these
    cases the cancelled differences barely move the gradients (a count planted to 0 still agrees here);
    the unit above, whose z-gate gradients are made of its difference, is the one that catches that.
    Where the default call keeps float64 with the distances to ±1, its numbers are those to 1e-10 of
    each entry (distances.KEPT_DIGITS, by their running bound)."""
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.numeric import distances, exact

    rng = np.random.default_rng(seed)
    cell = "gru"
    spec = get_cell(cell, get_activation("tanh"))
    n, layers, B, T = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(2, 8))
    params = [{p: rng.normal(0, 0.7, spec.shape(p, n, 2 if ell == 0 else n)) for p in spec.params}
              for ell in range(layers)]
    x, y = rng.normal(size=(T, 2, B)) * float(rng.uniform(20, 120)), rng.normal(size=(n, B))
    carried = symbptt.gradients(params, x, y, cell=cell)  # float64 where the distances to ±1 hold it
    monkeypatch.setattr(distances, "KEPT_DIGITS", 17)
    got = symbptt.gradients(params, x, y, cell=cell)  # the distances refused: the exact pass, as measured
    model = NumericModel(spec, [{k: (v.reshape(-1, 1) if v.ndim < 2 else v) for k, v in p.items()} for p in params],
                         x, y, "last")
    bound = exact.saturation_digits(ArrayFactors(model))
    assert exact.DPS < got.digits < bound
    loss, grads = exact.mp_gradients(model, bound)
    assert got.loss == float(loss)
    for layer, (mine, made) in enumerate(zip(got.grads, grads, strict=True)):
        for k, block in made.items():
            want = np.array([float(v) for v in np.ravel(block)])
            assert np.array_equal(np.ravel(mine[k]), want), (layer, k)
            if carried.digits == 0:  # the float64 pass with the distances: the digits they are asked to keep
                have = np.ravel(carried.grads[layer][k])
                assert np.all(np.abs(have - want) <= 1e-10 * np.maximum(np.abs(want), 1e-300)), (layer, k)


@pytest.mark.parametrize("dps,cancelled,bound,wanted", [
    (60, 28.0, 354, 60),  # 30 more than the count: this pass holds
    (60, 52.4, 354, 83),  # 8 digits kept: the count is the difference's own
    (60, 58.0, 354, 120),  # 2 kept: the count only says "more"
    (60, math.inf, 354, 120),  # every digit lost
    (120, math.inf, 150, 150),  # never beyond the bound
    (83, 90.0, 83, 83),  # at the bound: it suffices
])
def test_the_digits_a_saturated_pass_asks_for(dps, cancelled, bound, wanted):
    from symbptt.numeric.exact import _saturated_digits

    assert _saturated_digits(dps, cancelled, bound) == wanted


@pytest.mark.timeout(60)  # the hang it guards against: a per-test limit, not a timing
def test_an_exact_pass_beyond_its_digits_or_its_time_is_refused_before_it_starts(monkeypatch):
    """A GRU with weights ~1000 saturates its gates at |a| ~ 10^6: its difference h_{t−1} − n_t needs
    millions of digits, which the exact path set out to carry (minutes, then hours, in mpmath's ln 2);
    a saturated GRU of n = 16 over T = 10 000 steps may need up to 831 digits, about 23 minutes in mpmath
    and 52 s with Arb.  Both are refused in one line, in seconds (the second with mpmath's pass, and with
    Arb's under a limit of 30 s), and the report refuses the first too."""
    from symbptt import budget
    from symbptt.config import parse_config
    from symbptt.errors import RunFailed
    from symbptt.numeric.grad_report import grad_report

    rng = np.random.default_rng(1)
    p, x, y = _gru(1, 2600.0, rng), rng.normal(size=(5, 1)), rng.normal(size=1)
    with pytest.raises(RunFailed, match=r"can cancel up to about \d+ digits .* beyond the 5000 digits"):
        symbptt.gradients(p, x, y, cell="gru")
    cfg = parse_config({"cell": "gru", "x": x[:, 0].tolist(), "y": y.tolist(),
                        **{k: np.asarray(v).tolist() for k, v in p.items()}})
    with pytest.raises(RunFailed, match="beyond the 5000 digits"):
        grad_report(cfg)
    rng = np.random.default_rng(7)
    p, x, y = _gru(16, 1.0, rng), rng.normal(size=(10_000, 1, 1)) * 40, rng.normal(size=(16, 1))
    with monkeypatch.context() as without_arb:  # mpmath's pass: about 23 minutes
        without_arb.setenv("SYMBPTT_ARB", "0")
        with pytest.raises(SymbpttError, match=r"the exact pass \(up to \d+ digits\) of a gru .* would take about"):
            symbptt.gradients(p, x, y, cell="gru")
    monkeypatch.setattr(budget, "MAX_SECONDS", 30.0)  # Arb's: about 52 s, beyond a limit of 30
    with pytest.raises(SymbpttError, match=r"the exact pass \(up to \d+ digits, with Arb's balls\) of a gru .* "
                                           r"would take about .*, more than the 30 s limit"):
        symbptt.gradients(p, x, y, cell="gru")


@pytest.mark.parametrize(("seed", "batch", "T", "scale"), [(216851861, 2, 13, 900.0), (608382930, 1, 7, 300.0)])
def test_a_min_gru_whose_linear_map_and_state_cancel_takes_the_digits_it_needs(seed, batch, T, scale):
    """Two-layer minGRUs driven hard: layer 1's gate keeps its state, so layer 2's a_h repeats, and layer 2's
    gate keeps h_{t−1} at a_{h,t−1}: ∂h/∂a_z = σ'(a_z)(a_h − h_{t−1}) then cancels hundreds of digits.  That
    difference of a linear map and a state counts as one (forward.CompiledCell.differences), so the pass
    measures what it cancels and carries the digits: both agree with reference.py's 1200-digit pass to
    1e-10.  Before, the first took 30 digits and was off by a factor of 3 in layer 2's ∂L/∂U_z (a 30- and
    a 60-digit pass agree there), and the second stayed in float64 and kept 5 digits."""
    from conftest import random_layers

    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.numeric.forward import compiled

    spec = get_cell("mingru", get_activation("tanh"))
    assert compiled(spec).differences
    rng = np.random.default_rng(seed)
    params = random_layers(spec, 1 if batch == 2 else 2, 1, 2, rng)
    x, y = rng.normal(size=(T, 1, batch)) * scale, rng.normal(size=(1 if batch == 2 else 2, batch))
    got = symbptt.gradients(params, x, y, cell="mingru")
    assert got.digits >= 60
    total = None
    with mpmath.workdps(1200):
        for b in range(batch):
            g = bptt(params, x[..., b], y[..., b], "tanh", "last", "mingru", kind="mp")[1]
            total = g if total is None else [{k: u[k] + v[k] for k in u} for u, v in zip(total, g, strict=True)]
        assert total is not None
        for layer, want in enumerate(total):
            for name, block in want.items():
                mine = np.asarray(got.exact[layer][name] if got.exact and name in got.exact[layer]
                                  else got.grads[layer][name], dtype=object).reshape(-1)
                for v, e in zip(mine, np.ravel(block), strict=True):
                    assert abs(mpmath.mpf(v) - e) <= 1e-10 * abs(e), (layer, name)


def test_a_forward_pass_that_leaves_float64_in_a_saturated_gated_stack_is_measured_exactly():
    """Trial 74 of `check --seed 5`: a three-layer minLSTM with inputs near ±60 whose float64 forward pass
    turns to inf and NaN in layer 2; the saturation measure read those values and crashed, and the Jacobian
    norms of layers 2 and 3 came back null. A forward pass that leaves float64 sends the whole report to
    the exact path; since f + i is computed as written this one stays in float64, and every gradient entry
    and norm agrees with the 40-digit reference within check's tolerances (3e-12 at worst: the report's
    conditioning estimate does not see it, see the session note)."""
    from symbptt.check import Exact, grad_json, jacobian_norms, random_trial

    rng = np.random.default_rng(5)
    for _ in range(74):
        trial = random_trial(rng, 6)
    report = grad_report(trial.config)
    # the minLSTM's f + i is computed as written now (it was 2 − σ(−a_f) − σ(−a_i), 0/0 here): float64 holds
    # this forward pass, and whichever path the report takes, its numbers must be the reference's
    assert report["precision"].startswith(("Arb", "float64"))
    exact = Exact(trial)
    assert max(grad_json(trial, exact, {"last report": report})) < 1e-11  # check's own tolerance
    # the norms of layers 2 and 3 come from the exact pass too (they were null: float64 had NaN there)
    assert max(jacobian_norms(trial, exact, {"last report": report})) < 1e-9


def test_a_saturated_min_lstm_gets_the_digits_its_gates_cancel():
    """Trial 693 of `check --seed 5`: a three-layer minLSTM whose gates sit at 10^-37 and 10^-42; the
    stable form of f + i (2 − σ(−a_f) − σ(−a_i)) cancels 37 digits, so the exact pass at 30 digits divided
    by zero. The digits a saturated gate needs now decide every exact pass, and the entries agree with the
    40-digit reference."""
    from symbptt.check import Exact, grad_json, random_trial

    rng = np.random.default_rng(5)
    for _ in range(693):
        trial = random_trial(rng, 6)
    report = grad_report(trial.config)  # float64 now that f + i is not rewritten (see the test above)
    assert max(grad_json(trial, Exact(trial), {"last report": report})) < 1e-13


def test_min_lstm_coefficients_do_not_cancel_where_one_gate_dominates():
    """∂h/∂a_f of the minLSTM at f ≈ 1, i ≈ 1e-12: as written, h/(f + i) − (f h + i ã)/(f + i)² cancels
    twelve digits; compiled, it is i (h − ã)/(f + i)² and keeps them (check --seed 7, trial 806).  And 1 − f
    is replaced only where it is written: f + i stays f + i (SymPy's subs made it 2 − σ(−a_f) − σ(−a_i))."""
    import mpmath

    from symbptt.activations import get_activation
    from symbptt.cells import get_cell, unit
    from symbptt.numeric.forward import compiled, stable_form

    cell = get_cell("minlstm", get_activation("tanh"))
    f, i = unit("f"), unit("i")
    assert stable_form(f + i, cell) == f + i and stable_form(1 - f, cell) != 1 - f
    cc = compiled(cell, "float")
    key = next(k for k in cc.keys if k == ("h", "a_f"))
    names = [str(a) for a in cc.args]
    a_f, a_i, a_h, prev_h = 27.0, -27.5, 0.3, -0.7
    with mpmath.workdps(50):
        F, I = 1 / (1 + mpmath.exp(-a_f)), 1 / (1 + mpmath.exp(-a_i))
        h = (F * prev_h + I * a_h) / (F + I)
        want = F * (1 - F) * I * (prev_h - a_h) / (F + I) ** 2
        point = {"f": F, "i": I, "h": h, "prev_h": prev_h, "a_f": a_f, "a_i": a_i, "a_h": a_h}
        row = [np.array([[float(point.get(name, 0.0))]]) for name in names]
    got = float(np.asarray(cc.coefficients[key](*row)).reshape(-1)[0])
    assert abs(got / float(want) - 1) < 1e-13, (got, float(want))


def test_a_saturated_truncated_report_reads_the_reports_own_exact_pass(exact_passes):
    """A saturated GRU (n = 3, T = 30, inputs × 40, truncate 5; 15 digits asked, more than its float64 pass
    keeps): the truncated gradient and its distance
    from the full one come from the exact pass the report made, the only one (it made two or three of its
    own: 60 digits, then more), and agree with reference.py's truncated BPTT at 160 digits."""
    from symbptt.reference import bptt as reference_bptt

    rng = np.random.default_rng(2)
    n, T = 3, 30
    layer = saturated_gru_layer(rng, n)
    x, y = rng.normal(size=(T, 1)) * 40, rng.normal(size=n)
    cfg = parse_config({"cell": "gru", **{k: v.tolist() for k, v in layer.items()}, "x": x.tolist(), "y": y.tolist(),
                        "truncate": 5})
    report = grad_report(cfg, digits=15)
    assert report["precision"].startswith("Arb") and len(exact_passes) == 1
    with mpmath.workdps(160):
        _, full = reference_bptt([layer], x, y, "tanh", "last", "gru", kind="mp")
        _, cut = reference_bptt([layer], x, y, "tanh", "last", "gru", kind="mp", truncate=5)
        a = [v for p in cfg.spec.params for v in np.ravel(cut[0][p])]
        b = [v for p in cfg.spec.params for v in np.ravel(full[0][p])]
        rel = mpmath.sqrt(sum((u - v) ** 2 for u, v in zip(a, b, strict=True))) / mpmath.sqrt(sum(v * v for v in b))
    assert report["truncated"]["relative_difference"] == pytest.approx(float(rel), rel=1e-12)
    assert_report_matches(report["truncated"]["grad"], report["truncated"]["grad_log10"], cut, cfg.spec.params)
