"""Exactness unit by unit (numeric/unitwise.py): where `digits=` finds float64 short in some units alone of
a cell whose units never meet, only those units are computed exactly, and the digits claimed of the
whole are held (against reference.py at 80 digits, with benchmarks/dying_sweep.py's draws and count)."""

from __future__ import annotations

import warnings

import mpmath
import numpy as np
import pytest
from conftest import benchmark_script

import symbptt
from symbptt.activations import get_activation
from symbptt.cells import get_cell
from symbptt.check.claims import shortfall
from symbptt.config import Config, parse_config
from symbptt.numeric import exact, unitwise
from symbptt.numeric.factors import NumericModel
from symbptt.numeric.grad_report import grad_report

SWEEP = benchmark_script("dying_sweep")
# seeds of dying_sweep.draw that digits=13 or 14 sends unit by unit: every cell, both losses, batch 1 and 2,
# one unit short and three, a worst entry that keeps no digit (the LRU of seed 7: a pass with twice the
# digits checks the exact one)
CASES = [(11, 13), (1, 13), (7, 13), (26, 14), (28, 14)]


def _measured(seed: int, asked: int) -> tuple[symbptt.Gradients, dict, dict]:
    cell, params, x, y, loss = SWEEP.draw(np.random.default_rng(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = symbptt.gradients(params, x, y, cell=cell, loss=loss, digits=asked)
    return got, SWEEP.reference(params, x, y, cell, loss), params


@pytest.mark.parametrize(("seed", "asked"), CASES)
def test_only_the_short_units_are_computed_exactly_and_the_digits_claimed_are_held(seed, asked):
    got, want, params = _measured(seed, asked)
    n = len(params["h0"])
    assert got.units is not None and 0 < len(got.units) < n, (seed, got.units)
    assert got.kept is not None and got.kept[0] >= asked and got.digits > 0
    block, entry = SWEEP.held(got, want)
    assert block >= got.kept[0] and entry >= got.kept[1], (seed, got.kept, block, entry)
    with mpmath.workdps(80):  # the exact rows: each entry one rounding from the reference's
        for name, reference in want.items():
            values = got.exact[name] if got.exact is not None and name in got.exact else got.grads[name]
            for unit in got.units:
                for value, e in zip(np.ravel(np.asarray(values)[unit]), np.ravel(np.asarray(reference)[unit]),
                                    strict=True):
                    assert abs(mpmath.mpf(value) - e) <= 2.0 ** -52 * abs(e), (seed, name, unit)


def test_a_sub_model_that_reads_the_wrong_targets_is_caught(monkeypatch):
    """Planted: the sub-model reads the next unit's targets; its rows are exact for the wrong question, the
    count of the spliced result cannot see it, and the reference comparison does."""
    def wrong_targets(model: NumericModel, units: np.ndarray) -> NumericModel:
        made = original(model, units)
        y = np.roll(model.y, -1, axis=0 if model.loss == "last" else 1)
        return NumericModel(made.cell, made.params, made.x, (y[units] if model.loss == "last" else y[:, units]),
                            made.loss)

    original = unitwise.sub_model
    monkeypatch.setattr(unitwise, "sub_model", wrong_targets)
    got, want, _ = _measured(*CASES[0])
    assert got.units is not None
    assert SWEEP.held(got, want)[0] < got.kept[0]


def test_where_the_units_meet_or_every_unit_is_short_the_whole_model_is_exact():
    rng = np.random.default_rng(3)
    spec = get_cell("rnn", get_activation("tanh"))
    params = {"W": rng.normal(size=(3, 3)), "U": rng.normal(size=(3, 1)), "b": rng.normal(size=(3, 1)),
              "h0": rng.normal(size=(3, 1))}
    model = NumericModel(spec, [params], rng.normal(size=(5, 1, 1)), rng.normal(size=(3, 1)), "last")
    assert not unitwise.separable(model)
    diagonal = get_cell("indrnn", get_activation("tanh"))
    one = {"w": rng.normal(size=(3, 1)), "U": rng.normal(size=(3, 1)), "b": rng.normal(size=(3, 1)),
           "h0": rng.normal(size=(3, 1))}
    assert unitwise.separable(NumericModel(diagonal, [one], model.x, model.y, "last"))
    assert not unitwise.separable(NumericModel(diagonal, [one, one], model.x, model.y, "last"))  # a stack
    # asked for more than float64 keeps anywhere (15 digits): every unit short, the whole model exact
    cell, params, x, y, loss = SWEEP.draw(np.random.default_rng(CASES[0][0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = symbptt.gradients(params, x, y, cell=cell, loss=loss, digits=15)
    assert got.units is None and got.digits >= exact.DPS and got.exact is not None


def test_the_count_follows_the_changes():
    """The short units are those whose changes pass 10^−digits of the block's largest entry; the count
    of the spliced result takes the other rows' changes and the exact rows' one rounding."""
    from symbptt.numeric.reruns import EntryChanges

    grads = [{"w": np.array([[1.0], [2.0], [4.0]])}]
    changes = EntryChanges()
    changes.widen(1.0, 1.0, grads, [{"w": grads[0]["w"] + np.array([[0.0], [1e-12], [1e-14]])}], 1.0)
    assert list(unitwise.short_units(1.0, changes, grads, 13)) == [1]  # 1e-12 > 10^−13 · 4
    assert list(unitwise.short_units(1.0, changes, grads, 15)) == [1, 2]  # 1e-14 > 10^−15 · 4
    assert unitwise.short_units(1e-14, changes, grads, 13) is not None  # the loss did not move
    changes.loss = 1e-12
    assert unitwise.short_units(1.0, changes, grads, 13) is None  # the loss itself short
    changes.loss = 0.0
    joined = unitwise.spliced(grads, [{"w": np.array([mpmath.mpf(2)], dtype=object).reshape(1, 1)}], np.array([1]))
    block, entry = unitwise.counted(1.0, changes, joined, np.array([1]))
    left = ((4.0 + 1e-14) - 4.0) / 4.0  # unit 2's change, relative to the block's largest entry and its own
    assert block == pytest.approx(-np.log10(left), abs=1e-9) and entry == pytest.approx(-np.log10(left), abs=1e-9)
    assert grads[0]["w"][1, 0] == 2.0  # copied, not changed in place


def _config(seed: int) -> tuple[Config, dict]:
    """dying_sweep's draw of ``seed`` (one sequence) as a `grad` parameters file reads it, and its reference."""
    cell, params, x, y, loss = SWEEP.draw(np.random.default_rng(seed))
    assert x.shape[2] == 1
    data = {"cell": cell, "loss": loss, "x": x[:, :, 0].tolist(), "y": y[..., 0].tolist()}
    data |= {k: (v.tolist() if cell_kind(cell, k) == "input" else np.ravel(v).tolist()) for k, v in params.items()}
    return parse_config(data), SWEEP.reference(params, x, y, cell, loss)


def cell_kind(cell: str, param: str) -> str:
    return get_cell(cell, get_activation("tanh")).kind(param)


def test_the_report_computes_the_short_units_alone_and_says_so():
    cfg, want = _config(11)  # an IndRNN of 2 units: float64 kept about 11 digits, short of 13 in unit 2 alone
    plain = grad_report(cfg, digits=11)
    assert plain["precision"].startswith("float64 (kept about 11 digits")
    report = grad_report(cfg, digits=13)
    assert report["precision"].startswith("float64, with unit 2 of 2 computed again by Arb at ")
    assert "fell short of the 13 asked in that unit alone; with it exact, the gradients kept about 14" in report[
        "precision"]
    claim = report["float64_digits"]
    assert claim["relative_to_largest"] >= 13 and claim["relative_to_largest"] > plain["float64_digits"][
        "relative_to_largest"]
    assert shortfall(report, [want], list(want)) == [0.0] * 2 * len(want)  # every claim held
    for name in want:  # the unit the report names is the one float64 left short: plain and exact rows differ
        assert report["grad"][name][0] == plain["grad"][name][0]
    assert any(report["grad"][name][1] != plain["grad"][name][1] for name in want)
    assert grad_report(cfg, digits=14)["precision"].count("of the 14 asked") == 1  # the words follow the ask


def test_units_are_named_from_one_and_counted_past_six():
    assert unitwise.unit_words(np.array([38]), 64) == "unit 39 of 64"
    assert unitwise.unit_words(np.array([3, 11, 20]), 64) == "units 4, 12 and 21 of 64"
    assert unitwise.unit_words(np.arange(7), 64) == "7 units of 64"


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_a_saturated_pass_short_in_a_few_units_computes_those_at_the_digits_its_differences_need(cell):
    """Driven × 10, 16 units over 100 steps, 14 digits asked: the saturated pass's reruns find a few units
    short; those are computed exactly at the digits the differences need as measured on their exact pass,
    checked by twice as many, and every entry keeps a digit (exact.ENTRY_DIGITS), against reference.py at
    200 digits."""
    from symbptt.numeric.examples import example_config
    from symbptt.reference import bptt

    cfg = example_config(cell, 100, 16, drive=10.0)
    params, x, y = cfg.layers[0], cfg.x, np.zeros(16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = symbptt.gradients(params, x, y, cell=cell, digits=14)
    assert got.units is not None and 0 < len(got.units) <= 4, got.units  # (one to three here)
    assert got.digits >= 2 * exact.DPS  # the digits the differences need, checked by a pass with twice as many
    assert got.kept is not None and got.kept[0] >= 14 and got.kept[1] >= exact.ENTRY_DIGITS
    with mpmath.workdps(200):
        want = bptt([params], x, y, "tanh", "last", cell, kind="mp")[1][0]
    block, entry = SWEEP.held(got, want)
    assert block >= got.kept[0] and entry >= got.kept[1], (block, entry, got.kept)


def test_a_plain_call_whose_saturated_pass_falls_short_in_one_unit_computes_that_unit_alone():
    """A call without digits measures a saturated minGRU's float64 pass (12 digits, a digit in every entry):
    short in a unit or two of four, those alone are computed exactly, at the digits the differences need
    as measured on their exact pass, and the claims hold against reference.py at 300 digits."""
    from symbptt.reference import bptt

    sweep = benchmark_script("claims_sweep")  # its draw of saturated cells: 4 units, 65 steps, inputs × 50
    cell, act, n, layers, _, T, loss, weights, inputs, seed = ("mingru", "tanh", 4, 1, 1, 65, "last", 5.0, 50.0,
                                                               875321667)
    draw = np.random.default_rng(seed)
    params = sweep.draw_layers(get_cell(cell, get_activation(act)), n, 1, layers, draw, weights)[0]
    x, y = draw.normal(size=(T, 1)) * inputs, draw.normal(size=n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = symbptt.gradients(params, x, y, cell=cell, loss=loss)
    assert got.units is not None and 0 < len(got.units) <= 2, got.units
    assert got.kept is not None and got.kept[0] >= 12 and got.kept[1] >= exact.ENTRY_DIGITS and got.digits >= exact.DPS
    with mpmath.workdps(300):
        want = bptt([params], x, y, "tanh", loss, cell, kind="mp")[1][0]
    block, entry = SWEEP.held(got, want)
    assert block >= got.kept[0] and entry >= got.kept[1], (block, entry, got.kept)


def test_a_cell_file_whose_units_never_meet_goes_unit_by_unit_against_its_own_reference():
    """tests/cells/diagpair.toml (two states, vectors and input matrices only): 13 digits asked, one unit
    short, against reference_files.py (a reader of the file that shares nothing with the engine)."""
    from pathlib import Path

    from symbptt.reference_files import bptt as file_bptt

    path = Path(__file__).parent / "cells" / "diagpair.toml"
    rng = np.random.default_rng(6)
    n, T = 4, int(rng.integers(100, 400))
    params = {"U_f": rng.normal(size=(n, 1)), "U_g": rng.normal(size=(n, 1)), "w_f": rng.normal(size=n),
              "w_h": rng.normal(size=n) * 0.5, "b_f": rng.normal(size=n), "b_g": rng.normal(size=n) * 0.1,
              "h0": rng.normal(size=n) * 0.3, "c0": rng.normal(size=n) * 0.3}
    x, y = rng.normal(size=(T, 1)), rng.normal(size=n)
    got = symbptt.gradients(params, x, y, cell=str(path), digits=13)
    assert got.units is not None and 0 < len(got.units) <= n // 2, got.units
    with mpmath.workdps(60):
        want = file_bptt(path.read_text(), [params], x, y)[1][0]
    shaped = {k: np.asarray(v, dtype=object).reshape(np.shape(params[k])) for k, v in want.items()}
    block, entry = SWEEP.held(got, shaped)
    assert block >= got.kept[0] >= 13 and entry >= got.kept[1], (block, entry, got.kept)
