"""The contributions figure (plot contributions): each step's term of a gradient's sum as a bar, against the
explicit form and the exact pass where float64 cannot hold a term, and the words under it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import SMALL_RNN, run_in_process

from symbptt import plots as plot
from symbptt import primitives as P
from symbptt.config import parse_config
from symbptt.model import RNN
from symbptt.paths import contribution, evaluate_term, explicit_terms
from symbptt.symbolic.shown import SymbolicFactors


def test_contribution_bars_equal_the_explicit_form_terms():
    cfg = parse_config(SMALL_RNN)
    _, data = plot.contributions(cfg)
    rnn = RNN(T=6)
    from symbptt.model import nested_states

    values, subs = SymbolicFactors(rnn), {k: P.plain(v) for k, v in nested_states(rnn).items()}
    point = {rnn.symbols.W(1)[0, 0]: 1.3, rnn.symbols.U(1)[0, 0]: 0.7, rnn.symbols.b(1)[0, 0]: 0.1,
             rnn.symbols.h(1, 0)[0, 0]: 0.2, rnn.symbols.y(6)[0, 0]: 0.25}
    point.update({rnn.symbols.x(t)[0, 0]: v for t, v in enumerate(SMALL_RNN["x"], start=1)})
    for term in explicit_terms(rnn, "W", 1):
        exact = contribution(evaluate_term(term, values), "W", 1, term.entry, values)[0, 0]
        value = float(P.plain(exact.xreplace(subs)).xreplace(point))
        assert data.values["terms"][term.entry - 1] == pytest.approx(value, rel=1e-12)


def test_contributions_bars_stand_on_a_floor_and_report_the_truncated_share():
    fig, data = plot.contributions()  # the shipped example: T = 12, truncate 2
    bars = [p for p in fig.axes[0].patches if p.get_height() > 0 and p.get_width() == pytest.approx(0.8)]
    logs = data.values["log10"]
    assert [b.get_y() for b in bars] == [data.values["floor"]] * len(bars)
    assert [b.get_y() + b.get_height() for b in bars] == pytest.approx(list(logs))
    terms = data.values["terms"]
    assert data.values["cut"] == 10
    assert data.values["share_dropped"] == pytest.approx(terms[:10].sum() / terms.sum())


def _chaotic_terms(gain: float = 4.0, n: int = 16, T: int = 80) -> tuple[dict, dict]:
    """A tanh network whose rounding is amplified by about 10^10 over T = 80 (W = gain·N(0, 1/n), x = 0.1):
    its config and parameters."""
    rng = np.random.default_rng(0)
    params = {"W": gain * rng.normal(size=(n, n)) / np.sqrt(n), "U": rng.normal(size=(n, 1)), "b": np.zeros(n),
              "h0": np.full(n, 0.3)}
    return {"activation": "tanh", "x": [[0.1]] * T, "y": [0.0] * n} | {k: v.tolist() for k, v in params.items()}, params


def test_the_contributions_of_a_saturated_gru_are_measured_before_an_exact_pass_is_made(monkeypatch):
    """A GRU of 16 units over 100 steps with inputs × 10, whose saturation bound (81 digits) sent its
    contributions to an exact pass before anything was measured: the reruns now measure its float64 terms
    first, as any pass's, and they are drawn from float64 — within 1e-9 of the exact pass's terms (6
    digits are asked for), which the reruns planted to find nothing kept make."""
    from symbptt.numeric.examples import example_config
    from symbptt.plots.contributions import held_terms

    example = example_config("gru", 100, 16, drive=10.0)
    cfg = parse_config({"cell": "gru", **{k: np.asarray(v).tolist() for k, v in example.layers[0].items()},
                        "x": np.asarray(example.x).tolist(), "y": np.ravel(example.y).tolist()})
    measured = held_terms(cfg, "W_z", 10)
    monkeypatch.setattr("symbptt.numeric.reruns.kept_by_reruns", lambda *args: (-math.inf, -math.inf))
    exact = held_terms(cfg, "W_z", 10)
    assert measured.digits == 0 and measured.why == "" and exact.digits > 30
    assert np.all(np.abs(measured.terms - exact.terms) <= 1e-9 * np.abs(exact.terms))


def test_a_saturated_gru_whose_float64_pass_leaves_its_range_says_so_in_its_caption():
    """A GRU of 4 units over 60 steps with inputs × 300: its float64 pass raises floating-point events, which
    send its contributions to the exact pass; the caption names that (its numbers left its range), not the
    saturated differences, which the reruns measure where the pass keeps its range (× 100 here: float64)."""
    from symbptt.numeric.examples import example_config
    from symbptt.numeric.factors import ArrayFactors, FloatWatch, NumericModel
    from symbptt.plots.contributions import held_terms

    whys = {}
    for drive in (100.0, 300.0):
        example = example_config("gru", 60, 4, drive=drive)
        cfg = parse_config({"cell": "gru", **{k: np.asarray(v).tolist() for k, v in example.layers[0].items()},
                            "x": np.asarray(example.x).tolist(), "y": np.ravel(example.y).tolist()})
        watch = FloatWatch()
        with watch.watch(None):
            ArrayFactors(NumericModel.of(cfg), watch=watch)
        terms = held_terms(cfg, "W_z", 10)
        whys[drive] = (bool(watch.events), terms.digits > 30, terms.why)
    assert whys == {100.0: (False, False, ""), 300.0: (True, True, "its numbers left its range")}


@pytest.mark.parametrize("planted", [False, True])
def test_contributions_float64_cannot_hold_come_from_an_exact_pass_that_reference_py_agrees_with(planted, monkeypatch):
    """A chaotic network's terms lose 10 of float64's digits: the figure draws them from an exact pass and
    says so, and its share and terms agree with reference.py's mpmath BPTT (the terms at k ≤ cut are the
    full gradient less the one truncated to the last T − cut steps) to 12 digits.  Planted: the reruns
    that measure what float64 kept report all 16 digits, the float64 terms are drawn, and the share is off."""
    import mpmath

    from symbptt.reference import bptt

    if planted:
        monkeypatch.setattr("symbptt.numeric.reruns.kept_by_reruns", lambda *args: (16.0, 16.0))
    data, params = _chaotic_terms()
    fig, drawn = plot.contributions(parse_config(data), "W")
    got, T = drawn.values, 80
    cut = got["cut"]
    x, y = np.full((T, 1), 0.1), np.zeros(16)
    with mpmath.workdps(60):
        full = bptt([params], x, y, "tanh", "last", "rnn", kind="mp")[1][0]["W"][0, 0]
        recent = bptt([params], x, y, "tanh", "last", "rnn", kind="mp", truncate=T - cut)[1][0]["W"][0, 0]
        share = float((full - recent) / full)
    caption = " ".join(fig.texts[-1].get_text().split())
    held = abs(got["share_dropped"] - share) <= 1e-12 * abs(share) and \
        abs(math.fsum(got["terms"]) - float(full)) <= 1e-12 * abs(float(full))
    if planted:
        assert got["digits"] == 0 and "exact pass" not in caption and not held
        return
    assert held, (got["share_dropped"], share)
    assert got["digits"] > 30
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # the longer caption (six lines) stands below the axis label, not across it
    canvas.draw()
    renderer = canvas.get_renderer()
    assert fig.texts[-1].get_window_extent(renderer).y1 < fig.axes[0].xaxis.label.get_window_extent(renderer).y0
    assert ("float64 could not hold these terms or their share (rounding cost the worst of them" in caption
            and f"they come from an exact pass carrying {got['digits']} significant digits, checked" in caption), \
        caption


def test_contributions_below_float64s_range_come_from_the_exact_pass_with_their_signs():
    """tanh(3h + 6) saturates: the terms of ∂L/∂w fall to 10^-400 over T = 60, below float64's range.
    float64 underflowed them to 0 (no bar, coloured as negative); the figure draws them from the exact pass,
    each log10 and sign as reference.py's mpmath BPTT gives them (term k is the gradient truncated to the
    last T − k + 1 steps less the one truncated to T − k)."""
    import mpmath

    from symbptt.reference import bptt

    T, rng = 60, np.random.default_rng(0)
    x = rng.uniform(-1, 1, T)
    data = {"activation": "tanh", "W": 3.0, "U": 1.0, "b": 6.0, "h0": 0.0, "x": x.tolist(), "y": 0.0}
    fig, drawn = plot.contributions(parse_config(data))
    got = drawn.values
    assert got["digits"] >= 30 and "(its numbers left its range)" in " ".join(fig.texts[-1].get_text().split())
    assert np.all(np.isfinite(got["log10"][1:])) and got["log10"][0] == -np.inf  # h_0 = 0: term 1 is 0
    layers = [{"W": np.array([[3.0]]), "U": np.array([[1.0]]), "b": np.array([6.0]), "h0": np.array([0.0])}]
    assert got["log10"][1] < -320  # beyond float64's range
    with mpmath.workdps(460):  # a difference of two gradients of about 10^-7 that is about 10^-400
        for k in (2, 20, 50):
            upto = [bptt(layers, x.reshape(T, 1), np.zeros(1), "tanh", "last", kind="mp", truncate=T - j)[1][0]
                    for j in (k - 1, k)]
            want = upto[0]["W"][0, 0] - upto[1]["W"][0, 0]
            assert abs(got["log10"][k - 1] - float(mpmath.log10(abs(want)))) < 1e-10
            colour = fig.axes[0].patches[k - 1].get_facecolor()
            assert (colour[0] > colour[2]) == (want > 0)  # red above 0, blue below


def test_contributions_with_a_loss_at_every_step_do_not_shade_what_truncation_does_not_drop():
    """Loss 'sum', truncate 3: truncation keeps for the loss at each t the steps after t − 3, part of many
    bars, so nothing is shaded as dropped; the text gives the older half's share, and the terms add up to
    reference.py's gradient.  With loss 'last' the same truncation shades the bars k ≤ T − 3."""
    from symbptt.reference import bptt

    data = json.loads(json.dumps(SMALL_RNN)) | {"loss": "sum", "truncate": 3}
    T = len(data["x"])
    data["y"] = [0.1] * T
    fig, drawn = plot.contributions(parse_config(data), "W")
    got, words = drawn.values, " ".join(fig.texts[-1].get_text().split())
    shaded = [p for p in fig.axes[0].patches if p.get_width() > 1]  # axvspan: wider than a bar
    assert not shaded and got["cut"] == T // 2 and "truncate = 3 is not shaded" in words
    assert "from k to each later step t, times the error there," in words
    assert got["share_dropped"] == pytest.approx(got["terms"][:T // 2].sum() / got["terms"].sum(), rel=1e-12)
    layers = [{k: np.atleast_2d(np.asarray(data[k], dtype=float)) if k in ("W", "U") else
               np.atleast_1d(np.asarray(data[k], dtype=float)) for k in ("W", "U", "b", "h0")}]
    x, y = np.asarray(data["x"], dtype=float).reshape(T, 1), np.asarray(data["y"], dtype=float).reshape(T, 1)
    assert math.fsum(got["terms"]) == pytest.approx(float(bptt(layers, x, y, "tanh", "sum")[1][0]["W"][0, 0]),
                                                    rel=1e-12)
    last = json.loads(json.dumps(SMALL_RNN)) | {"truncate": 3}
    fig, drawn = plot.contributions(parse_config(last), "W")
    assert drawn.values["cut"] == len(last["x"]) - 3
    assert [p for p in fig.axes[0].patches if p.get_width() > 1]


def test_contributions_whose_terms_sum_to_zero_say_so_without_climbing_to_the_most_digits():
    """A linear unit with w = 1, x = (1, −1), y = −1: ∂L/∂u's terms are 1 and −1, and they sum to exactly 0.
    No share exists; the text says the terms sum to 0 to the digits carried, after one pass with more digits
    (not a climb to the 5000 the exact path allows)."""
    data = {"activation": "linear", "W": 1.0, "U": 1.0, "b": 0.0, "h0": 0.0, "x": [1.0, -1.0], "y": -1.0}
    fig, drawn = plot.contributions(parse_config(data), "U")
    got = drawn.values
    assert list(got["terms"]) == [1.0, -1.0] and math.isnan(got["share_dropped"])
    assert 30 < got["digits"] < 100
    assert fig.axes[0].texts[0].get_text() == ("terms k ≤ 1 carry 50.0% of the sum of |terms|;\nthe terms sum to 0 "
                                              f"to the {got['digits']} digits carried (∂L/∂U = 0)")


def test_contributions_of_a_scalar_cell_file_default_to_its_first_parameter_on_whole_steps(tmp_path):
    """A cell file whose parameters are all scalars has no recurrent weight: the figure takes its first
    parameter, as derive does (it ended in StopIteration), and its steps are ticked as whole numbers."""
    from pathlib import Path

    from symbptt.cells.userfile import load_cell_file
    from symbptt.check.trials import draw_layers

    cell_file = Path(__file__).resolve().parent.parent / "docs" / "cells" / "mgu.toml"
    layer = draw_layers(load_cell_file(cell_file), 1, 1, 1, np.random.default_rng(0), 0.8)[0]
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"cell": str(cell_file), "x": [0.1, 0.2, 0.3], "y": 0.0}
                                 | {k: np.asarray(v).tolist() for k, v in layer.items()}))
    out = tmp_path / "c.png"
    ran = run_in_process("plot", "contributions", "--params", str(params), "-o", str(out))
    assert ran.returncode == 0 and out.exists(), ran.stderr
    fig, drawn = plot.contributions(parse_config(json.loads(params.read_text()), base=tmp_path))
    assert "∂L/∂w_f is a sum" in fig.texts[-1].get_text()
    assert all(float(t).is_integer() for t in fig.axes[0].get_xticks())


def test_contributions_a_saturated_gate_beyond_the_exact_path_is_refused_in_one_line(tmp_path):
    """A GRU whose gates saturate at |a| ≈ 10^5: no exact pass carries what their differences cancel, and
    the figure is refused as `grad` refuses the report (exit 1, one line, no file), not drawn from NaN."""
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.check.trials import draw_layers

    rng = np.random.default_rng(0)
    layer = draw_layers(get_cell("gru", get_activation("tanh")), 3, 1, 1, rng, 1e3)[0]
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"cell": "gru", "x": (100 * rng.normal(size=(20, 1))).tolist(), "y": [0, 0, 0]}
                                 | {k: np.asarray(v).tolist() for k, v in layer.items()}))
    out = tmp_path / "c.png"
    for args in (["plot", "contributions", "--params", str(params), "-o", str(out)], ["grad", "--params", str(params)]):
        ran = run_in_process(*args)
        assert ran.returncode == 1 and "Traceback" not in ran.stderr, ran.stderr
        assert ran.stderr.strip().count("\n") == 0 and "digits the exact path carries" in ran.stderr
    assert not out.exists()
