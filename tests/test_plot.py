"""Figures: assertions on the data drawn, valid files, byte-identical reruns, bad input (the contributions
figure: test_contributions.py; the gates, units and surface figures: test_plot_cells.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.dom.minidom

import numpy as np
import pytest
from conftest import SMALL_RNN, run_in_process

from symbptt import SymbpttError
from symbptt import plots as plot
from symbptt.config import parse_config
from symbptt.numeric.sweeps import random_recurrent_matrix, sweep_scalar


def test_heat_map_array_is_the_sweep_and_boundary_is_one_over_gamma():
    for act, gamma in (("tanh", 1.0), ("sigmoid", 0.25)):
        fig, data = plot.regimes(act, -5, 5, points=21, T_max=30, seed=4)
        x = np.random.default_rng(4).uniform(-1, 1, 30)
        assert np.array_equal(data.values["values"], sweep_scalar(np.linspace(-5, 5, 21), 30, act, x=x))
        assert np.array_equal(data.values["panels"]["linear"], sweep_scalar(np.linspace(-5, 5, 21), 30, "linear", x=x))
        assert data.values["boundary"] == pytest.approx(1 / gamma)
        drawn = {round(ln.get_xdata()[0], 9) for ln in fig.axes[1].get_lines()}  # axes: linear, act, colour bars
        assert drawn == {v for v in (-1 / gamma, 1 / gamma) if abs(v) < 5}


def test_regime_colours_are_centred_at_one_and_scaled_to_the_data():
    """The colour scale is symmetric about 10^0 and reaches the largest |log10| drawn, so red appears
    wherever the product grows (the linear panel beyond |w| = 1)."""
    fig, data = plot.regimes("tanh", -3, 3, points=31, T_max=40, seed=0)
    for ax, act in ((fig.axes[0], "linear"), (fig.axes[1], "tanh")):
        norm = ax.collections[0].norm
        values = data.values["panels"][act]
        peak = np.max(np.abs(values[np.isfinite(values)]))
        assert norm.vmin == pytest.approx(-peak) and norm.vmax == pytest.approx(peak) and norm.vcenter == 0.0


def test_counted_sentences_agree_in_number_with_their_counts():
    """The grey cells of plot gates and the blank cells of plot gradmap: 'is'/'holds' for one, 'are'/'hold'
    for more, from the same data."""
    from symbptt.plots.gates import zero_note
    from symbptt.plots.gradmap import _sentence

    assert "1 of 4 values is exactly 0" in zero_note(np.array([[0.0, -np.inf], [1.0, 2.0]]))
    assert "2 of 4 values are exactly 0" in zero_note(np.array([[-np.inf, -np.inf], [1.0, 2.0]]))
    grid = np.array([0.5, 1.0, 1.5])
    one = _sentence(np.array([[-1.0, -2.0, -np.inf]]), grid, [10], "nu")
    two = _sentence(np.array([[-1.0, -np.inf, -np.inf]]), grid, [10], "nu")
    assert "1 of 3 cells holds a gradient that is 0 in float64 (left blank)." in one
    assert "2 of 3 cells hold a gradient that is 0 in float64 (left blank)." in two
    both = _sentence(np.array([[-1.0, np.nan, -np.inf], [np.inf, -np.inf, 1.0]]), grid, [5, 10], "nu")
    assert "2 of 6 cells hold a gradient that is 0 in float64, and 2 of 6 cells hold one beyond float64's " \
           "range (all left blank)." in both
    beyond = _sentence(np.array([[-1.0, np.nan, 2.0]]), grid, [10], "nu")
    assert "1 of 3 cells holds one beyond float64's range (left blank)." in beyond and "0 in float64" not in beyond
    fig, data = plot.gradient_map("rnn", "b", -2000.0, 2000.0, 5, 5)  # σ'(±2000) is 0 in float64, not exactly
    zeros = int(np.sum(np.isneginf(data.values["log10_grad"])))
    assert zeros and f"{zeros} of 25 cells hold a gradient that is 0 in float64" in fig.texts[-1].get_text()
    ends = _sentence(np.array([[-1.0, -2.0, -1.5]]), grid, [10], "nu")
    assert "and at ν = 1.5 it is 10^-1.5." in ends and "‖∂L/∂ν‖ is largest" in ends  # not "ν = 1.5 10^-1.5"


def test_gradmap_of_an_lru_whose_factor_is_beyond_exact_reach_draws_no_top_axis():
    """The top axis gives λ = exp(−exp(ν)) at 50 digits; at ν = 10^9 its mpmath exp had an argument of
    10^434,294,481, whose reduction ran for minutes: now refused there (BeyondReach) and the figure drawn
    without that axis, its caption saying nothing of it; at ν up to 8 the axis is there."""
    fig, _ = plot.gradient_map("lru", "nu", -2.0, 1e9, 3, 5)
    assert "Top axis" not in fig.texts[-1].get_text()
    fig, _ = plot.gradient_map("lru", "nu", -2.0, 8.0, 3, 5)
    assert "Top axis" in fig.texts[-1].get_text()


def test_regime_labels_stay_inside_their_axes_and_cover_no_other_label():
    """sin(a) interleaves exploding and vanishing columns beyond |w| = 1: the labels of the two regions
    stood at one height and overlapped, and one ran past the left edge."""
    fig, _ = plot.regimes("sin(a)", -3, 3, points=81, T_max=40, seed=0)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    words = ("vanishing", "exploding", "exactly 0")
    for ax in fig.axes[:2]:  # the two panels (their colour bars come after them)
        frame = ax.get_window_extent(renderer)
        boxes = [t.get_bbox_patch().get_window_extent(renderer) for t in ax.texts
                 if t.get_text().startswith(words) and t.get_bbox_patch() is not None]
        assert boxes
        assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 for b in boxes)
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_regime_labels_appear_only_where_the_data_agree():
    """Linear: explodes beyond |w| = 1. Tanh with drive 1: nothing explodes at T = 60, so no 'exploding'
    label, and the saturation label instead."""
    _, data = plot.regimes("tanh", -3, 3, points=61, T_max=60, seed=0)
    labels = data.values["labels"]
    assert ("linear", "exploding (observed)") in labels
    assert ("tanh", "exploding (observed)") not in labels
    assert ("tanh", "vanishing anyway: units saturate") in labels
    assert np.all(data.values["panels"]["tanh"][-1] < 0)


def test_clipping_is_stated_only_beyond_float64():
    from symbptt.plots.common import diverging

    norm, note = diverging(np.array([[-10.0, 400.0], [-np.inf, 3.0]]))
    assert norm.vmax == 308.0 and "float64" in note
    norm, note = diverging(np.array([[-10.0, 40.0]]))
    assert norm.vmax == 40.0 and note == ""


def test_gradient_heat_map_matches_direct_float_gradient():
    _, data = plot.regimes("tanh", 0.5, 1.5, points=3, T_max=12, quantity="grad", seed=1, beside="none")
    x = np.random.default_rng(1).uniform(-1, 1, 12)
    for i, w in enumerate(np.linspace(0.5, 1.5, 3)):
        for T in (1, 5, 12):
            cfg = parse_config({"activation": "tanh", "W": w, "U": 1.0, "b": 0.0, "h0": 0.0, "x": list(x[:T]),
                                "y": 0.5})
            from symbptt.numeric.factors import gradients

            g = gradients(cfg)[1][0]["W"][0, 0]
            with np.errstate(divide="ignore"):
                want = np.log10(abs(g))
            assert data.values["values"][T - 1, i] == pytest.approx(want, abs=1e-9)


def test_the_gradient_regimes_hatch_where_rounding_decides_and_say_only_what_their_data_show():
    """plot regimes --quantity grad hatches and counts the cells rounding decides, read off the sweep's own
    forward pass (grad_rounding_decides), as the Jacobian figure does; its caption speaks of ∂L/∂w's
    colours, not of a product's red and blue, counts the cells that are exactly 0 (∂L/∂w = 0 at T = 1 with
    h_0 = 0, whatever w; not 'w = 0', where it is not 0), and leaves out the |w|^T rate of a product."""
    from symbptt.numeric.sweeps import grad_rounding_decides

    fig, data = plot.regimes("sin(a)", -3, 3, points=61, T_max=100, quantity="grad", seed=0)
    text = " ".join(fig.texts[-1].get_text().split())
    x = np.random.default_rng(0).uniform(-1.0, 1.0, 100)
    mask = grad_rounding_decides(np.linspace(-3, 3, 61), 100, "sin(a)", x=x)
    first = int(np.argmax(mask.any(axis=1))) + 1
    assert mask.any() and f"Hatched ({int(mask.sum())} cells, from T = {first})" in text
    zeros = sum(int(np.isneginf(v).sum()) for v in data.values["panels"].values())
    assert zeros and f"grey: exactly 0 ({zeros} cells of the two panels)" in text
    assert "Red:" not in text and "|w|^T" not in text and "vanishing is guaranteed" not in text
    calm, _ = plot.regimes("tanh", -1, 1, points=21, T_max=40, quantity="grad", seed=0, beside="none")
    assert "Hatched" not in calm.texts[-1].get_text()


def test_curves_bounds_rates_and_saturation_shares():
    _, data = plot.curves("sigmoid", (0.5, 6.0), T_max=40)
    assert np.allclose(data.values["bounds"][:, 1], np.arange(1, 41) * np.log10(0.25 * 6.0))
    assert np.all(data.values["values"] <= data.values["bounds"] + 1e-9)
    assert np.allclose(data.values["rates"], data.values["values"][-1] * np.log(10) / 40)
    x = np.random.default_rng(0).uniform(-1, 1, 40)
    h, count = 0.0, 0
    for t in range(40):  # w = 6, by hand: saturated where σ'(a) < 1% of σ'(0) = 1/4
        a = 6.0 * h + x[t]
        s = 1 / (1 + np.exp(-a))
        count += s * (1 - s) < 0.01 * 0.25
        h = s
    assert data.values["saturated"][1] == pytest.approx(count / 40)


def test_a_legend_slope_is_the_data_s_and_stays_short_for_a_huge_weight():
    """The legend's slope is read back from the figure and equals the drawn line's last value over T; at
    w = 10^300 (a tanh slope of about −8.5·10^299 decades per step) it was a 300-digit number."""
    import re

    fig, data = plot.curves("tanh", (0.5, 1e300), T_max=50)
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    values = data.values["panels"]["tanh"]["values"][-1] / 50
    for label, value in zip(labels, values, strict=True):
        shown = re.search(r"slope (\S+) decades/step", label)
        assert shown and len(label) < 80, label
        assert float(shown.group(1)) == pytest.approx(value, rel=1e-3, abs=1e-3)
    assert "e+299" in labels[1]


def test_a_legend_without_a_slope_says_why_and_a_tie_is_not_a_winner():
    """relu lines that reach an exact 0 had "slope -inf decades/step", lines past float64 "slope +nan"; and
    when every weight saturated in the same share of steps the caption named the first as the one that
    "saturates most often".  Now each line without a slope says from which T it is 0 or beyond float64
    (read from its data), and a tie is said as one."""
    import re

    fig, data = plot.curves("relu", (-1.0, 0.5, 2.0), T_max=20, beside="none")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    for label, line in zip(labels, data.values["values"].T, strict=True):
        assert "inf" not in label and "nan" not in label, label
        if np.isneginf(line[-1]):
            first = int(re.search(r"exactly 0 from T = (\d+)", label).group(1))
            assert np.isneginf(line[first - 1]) and np.isfinite(line[:first - 1]).all()
    fig, data = plot.curves("tanh", (1000.0, 2000.0), T_max=20, beside="none")  # saturated from step 2 on
    shares = data.values["saturated"]
    words = " ".join(t.get_text() for t in fig.texts)
    assert shares[0] == shares[1] > 0
    assert f"every weight drawn saturates in {shares[0]:.0%} of steps" in words and "most often" not in words
    fig, data = plot.curves("tanh", (3.0, 1.5), T_max=20, beside="none")
    assert data.values["saturated"][0] > data.values["saturated"][1]
    assert "w = 3 saturates most often" in " ".join(t.get_text() for t in fig.texts)


def test_default_curves_show_growth_decay_and_the_edge():
    _, data = plot.curves()
    linear = data.values["panels"]["linear"]["values"][-1]
    assert linear[0] < -10 and abs(linear[1]) < 1e-9 and linear[2] > 10


def test_cell_curves_are_the_norms_of_each_cells_products():
    from symbptt.numeric.examples import example_config
    from symbptt.numeric.factors import ArrayFactors, NumericModel
    from symbptt.numeric.logspace import log10_jacobian_norms

    _, data = plot.cell_curves(("rnn", "lstm", "gru"), n=3, T_max=12, forget_bias=2.0, seed=5)
    for cell in ("rnn", "lstm", "gru"):
        for T in (1, 7, 12):
            cfg = example_config(cell, 12, 3, forget_bias=2.0, seed=5)
            cfg.x = cfg.x[:T]
            exact = log10_jacobian_norms(ArrayFactors(NumericModel.of(cfg)), ks=[0])
            for block, values in data.values["norms"][cell].items():
                assert values[T - 1] == pytest.approx(exact[block][0], abs=1e-9)


def test_spectrum_marks_where_gamma_sigma_max_is_one():
    fig, data = plot.spectrum("tanh", n=16, g_min=0.2, g_max=2.0, points=5, T=50, seed=3)
    W0 = random_recurrent_matrix(16, 3)
    assert data.values["g_sigma"] * np.linalg.norm(W0, 2) == pytest.approx(1.0)
    assert data.values["g_rho"] * np.max(np.abs(np.linalg.eigvals(W0))) == pytest.approx(1.0)
    drawn = [ln.get_xdata()[0] for ln in fig.axes[0].get_lines()[2:]]
    assert drawn == pytest.approx([data.values["g_sigma"], data.values["g_rho"]])


def test_a_spectrum_whose_state_overflows_at_some_gains_draws_the_others_and_says_where():
    """softplus, log(1 + e^a), is unbounded: beyond a gain the state overflows.  Those gains' NaN reached the
    other gains' SVD and `plot spectrum` stopped with LinAlgError's traceback.  Now they are left out of
    the iteration, the others keep the values they have alone, the axis spans every gain asked for, and
    the caption counts the gains without a rate from the data."""
    from symbptt.numeric.final_gain import final_gain_rates

    gains = np.linspace(0.5, 2.5, 9)
    values, _, left = final_gain_rates(gains, 60, "log(1 + exp(a))", 8)
    assert left.any() and not left.all() and np.isnan(values[left]).all() and np.isfinite(values[~left]).all()
    alone, _, _ = final_gain_rates(gains[~left], 60, "log(1 + exp(a))", 8)
    assert np.allclose(alone, values[~left], rtol=1e-12, atol=0)
    fig, data = plot.spectrum("log(1 + exp(a))", n=8, g_min=0.5, g_max=2.5, points=9, T=60)
    words = " ".join(fig.texts[-1].get_text().split())
    missing = gains[np.isnan(data.values["rates"])]
    assert missing.size == int(left.sum())
    assert (f"No rate at {missing.size} of 9 gains (g from {missing[0]:.3g} to {missing[-1]:.3g}): the state "
            "left float64's range") in words
    low, high = fig.axes[0].get_xlim()
    assert low < 0.5 and high > 2.5
    calm = " ".join(plot.spectrum("log(1 + exp(a))", n=8, g_min=0.1, g_max=0.5, points=3, T=60)[0]
                    .texts[-1].get_text().split())
    assert "No rate" not in calm


def test_unrolled_counts_its_arrows_and_keeps_every_node_the_same_size():
    from matplotlib.patches import Circle, Rectangle

    _, data = plot.unrolled(T=3, layers=2, backward=True)
    # forward: 2 layers × 3 steps of (up + along); backward: J per layer and step, V up top, ∂L/∂h_T
    assert (data.values["forward"], data.values["J"], data.values["V"], data.values["backward"]) == (12, 6, 3, 10)
    for T in (3, 40):
        fig, _ = plot.unrolled(T=T, cell="lstm", backward=True)
        sizes = {round(p.get_radius(), 9) for p in fig.axes[0].patches if isinstance(p, Circle)}
        sizes |= {round(p.get_width() / 2, 9) for p in fig.axes[0].patches if isinstance(p, Rectangle)}
        assert sizes == {0.27}
    _, lstm = plot.unrolled(T=2, cell="lstm", backward=True)
    assert lstm.values["rows"] == 2 and lstm.values["J"] == 4 * 2  # cc, ch, hc, hh at steps 1 and 2


def test_shipped_example_file_is_the_built_in_example():
    from pathlib import Path

    from symbptt.shipped import EXAMPLE_LSTM_PARAMS, EXAMPLE_PARAMS

    assert json.loads((Path(__file__).parent.parent / "docs" / "example.json").read_text()) == EXAMPLE_PARAMS
    assert json.loads((Path(__file__).parent.parent / "docs" / "example-lstm.json").read_text()) == EXAMPLE_LSTM_PARAMS


FORMATS = [(".png", b"\x89PNG\r\n\x1a\n"), (".svg", b"<?xml"), (".pdf", b"%PDF")]


@pytest.mark.parametrize("kind,formats", [(kind, FORMATS if kind == "curves" else FORMATS[:1]) for kind in plot.KINDS]
                         + [pytest.param(kind, FORMATS, marks=pytest.mark.slow) for kind in plot.KINDS
                            if kind != "curves"])
def test_every_kind_every_format_is_valid_and_byte_identical(tmp_path, kind, formats):
    """Each kind drawn twice from the same input and saved in each format: valid files, the same bytes
    (PNG in every suite, SVG and PDF for one kind; every kind in every format with `-m slow`)."""
    params = tmp_path / "p.json"
    params.write_text(json.dumps(SMALL_RNN))
    options = {"contributions": {"params_file": str(params)}, "spectrum": {"n": 8, "T": 20, "points": 9},
               "unrolled": {"T": 5, "backward": True}, "curves": {"T": 20},
               "training": {"n": 3, "lengths": "3,5", "iterations": 8, "batch": 4},
               "horizon": {"n": 3, "lengths": "3,5", "iterations": 5, "batch": 4, "seeds": 1},
               "isometry": {"n": 8, "lengths": "1,5"}, "meanfield": {"sizes": "4,8", "T": 10, "seeds": 2}}.get(
        kind, {"T": 20, "points": 9})
    outs: dict[str, list[bytes]] = {suffix: [] for suffix, _ in formats}
    for i in range(2):
        figure = plot.draw(kind, **options)
        for suffix, _ in formats:
            out = tmp_path / f"fig{i}{suffix}"
            plot.save(figure, out)
            outs[suffix].append(out.read_bytes())
    for suffix, magic in formats:
        assert outs[suffix][0].startswith(magic), suffix
        assert outs[suffix][0] == outs[suffix][1], suffix
    if ".svg" in outs:
        xml.dom.minidom.parseString(outs[".svg"][0])
    import matplotlib.image

    assert matplotlib.image.imread(tmp_path / "fig0.png").ndim == 3


def test_the_command_line_draws_a_figure(tmp_path):
    out = tmp_path / "r.png"
    proc = subprocess.run([sys.executable, "-m", "symbptt", "plot", "regimes", "-o", str(out), "-T", "10",
                           "--points", "5"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("args,needle", [
    (["nope", "-o", "x.png"], "unknown plot kind"),
    (["regimes", "-o", "x.gif"], "suffix"),
    (["regimes", "-o", "missing/x.png"], "does not exist"),
    (["regimes", "-o", "x.png", "--min", "2", "--max", "1"], "reversed"),
    (["spectrum", "-o", "x.png", "--min", "1", "--max", "1"], "reversed"),
    (["curves", "-o", "x.png", "--weights", "a,b"], "weights"),
    (["curves", "-o", "x.png", "-T", "0"], "-T"), (["curves", "-o", "x.png", "--weights", "1e400"], "finite"),
    (["curves", "-o", "x.png", "-u", "nan"], "finite"), (["spectrum", "-o", "x.png", "-T", "0"], "-T"),
    (["surface", "-o", "x.png", "-T", "0"], "-T"), (["surface", "-o", "x.png", "--target", "nan"], "finite"),
    (["unrolled", "-o", "x.png", "-T", "0"], "-T"), (["regimes", "-o", "x.png", "-n", "8"], "does not use -n"),
    (["surface", "-o", "x.png", "--points", "2000"], "values"), (["regimes", "-o", "x.png", "--seed", "-1"], "--seed"),
    (["surface", "-o", "x.png", "-u", "2"], "plot surface does not use -u"),
    (["surface", "-o", "x.png", "--seed", "2"], "plot surface does not use --seed"),
    (["curves", "-o", "x.png", "--gain", "2"], "only with --cell"),
    (["curves", "-o", "x.png", "--cell", "rnn,lstm", "--weights", "1,2"], "does not use --weights"),
    (["curves", "-o", "x.png", "--cell", "rnn,tree"], "unknown cell"),
    (["gates", "-o", "x.png", "--min", "3", "--max", "1"], "reversed"),
    (["gates", "-o", "x.png", "-a", "relu"], "plot gates does not use -a"),
    (["unrolled", "-o", "x.png", "--cell", "tree"], "unknown cell"),
    (["contributions", "-o", "x.png", "--wrt", "h0"], "contributions of 'h0'"),
    (["regimes", "-o", "x.png", "--backward"], "does not use --backward"),
    (["spectrum", "-o", "x.png", "--seed", "-1"], "--seed"), (["regimes", "-o", ""], "empty"),
    (["regimes", "-o", "x.png", "--min", "-1e308", "--max", "1e308"], "reaches beyond ±1e+300"),
    (["regimes", "-o", "x.png", "--min", "-5e307"], "reaches beyond ±1e+300"),  # matplotlib's contour labels: NaN
    (["surface", "-o", "x.png", "--b-min", "-1e308", "--b-max", "1e308"], "reaches beyond ±1e+300"),
    (["surface", "-o", "x.png", "--max", "1.7e308"], "reaches beyond ±1e+300"),  # matplotlib's ticks: no length
    (["gates", "-o", "x.png", "--min", "-1e308", "--max", "1e308"], "reaches beyond ±1e+300"),
    (["spectrum", "-o", "x.png", "--max", "1.7e308"], "reaches beyond ±1e+300"),  # the SVD of ∞·W
    (["gradmap", "-o", "x.png", "--min", "-1.7e308"], "reaches beyond ±1e+300"),
    (["regimes", "-o", "x.png", "--min", "0", "--max", "5e-324"], "too narrow to draw"),
    (["gates", "-o", "x.png", "--min", "1", "--max", "1.0000000000000002"], "too narrow to draw"),
    (["gates", "-o", "x.png", "-n", "256", "--points", "100", "-T", "1000"], "would take about"),
    (["curves", "-o", "x.png", "-T", "100000000"], "GiB of arrays"),
    (["curves", "-o", "x.png", "--cell", "rnn,lstm,gru", "-n", "256", "-T", "20000"], "GiB of arrays"),
    (["horizon", "-o", "x.png", "--lengths", "5000,10000"], "would take about"),
    (["training", "-o", "x.png", "--lengths", "10000", "--iterations", "100000"], "would take about"),
])
def test_bad_plot_input_exit_2_and_no_file(tmp_path, args, needle):
    proc = run_in_process("plot", *args, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_api_refuses_empty_ranges():
    with pytest.raises(SymbpttError):
        plot.surface(w_min=1, w_max=1)
    with pytest.raises(SymbpttError):
        plot.gates(b_min=2, b_max=2)


@pytest.mark.parametrize("low, high, allowed", [
    (-1e300, 1e300, True), (-1.0000000000000002e300, 0.0, False),  # the ends: AXIS_LIMIT
    (0.0, 1e-280, True), (0.0, 0.99e-280, False),  # the width: AXIS_WIDTH
    (1.0, 1.000000000001, True), (1.0, 1.0000000000009, False),  # the width for its ends: RELATIVE_WIDTH
])
def test_a_figure_range_is_drawn_on_the_axis_asked_or_refused(low, high, allowed):
    """A range matplotlib can lay out is drawn on that axis (not one of matplotlib's own, as a range of
    1e-299 was, ±0.055; nor NaN, as an end at 5e307 made its contour labels); one beyond the limits is
    refused in one line before anything is drawn."""
    if not allowed:
        with pytest.raises(SymbpttError, match="reaches beyond|too narrow") as caught:
            plot.regimes(w_min=low, w_max=high, points=3, T_max=3, beside="none")
        assert "\n" not in str(caught.value)
        return
    fig = plot.regimes(w_min=low, w_max=high, points=3, T_max=3, beside="none").figure
    fig.canvas.draw()
    left, right = fig.axes[0].get_xlim()
    assert left <= low and right >= high and right - left <= 2 * (high - low)  # half a cell each side


def test_slope_words_are_measured_from_the_activation():
    """σ' decides the sentence: tanh and sigmoid saturate beyond thresholds computed from σ' (2.99 and 5.99
    for 1% of the peak, not a fixed 3); relu and leaky relu keep their full slope on a > 0."""
    from symbptt.plots.curves import slope_sentence
    from symbptt.plots.regimes import slope_profile

    assert slope_profile("tanh")["threshold"] == pytest.approx(np.arccosh(10.0), abs=2e-3)
    assert slope_profile("sigmoid")["threshold"] == pytest.approx(5.99, abs=2e-2)
    assert slope_profile("relu")["threshold"] is None
    shares, w = np.array([0.1, 0.3]), np.array([1.0, 2.0])
    assert "|a_t| > 5.99" in slope_sentence("sigmoid", shares, w)
    assert "|a_t| > 2.99" in slope_sentence("tanh", shares, w)
    relu = slope_sentence("relu", shares, w)
    assert "keeps its full slope γ = 1 on a > 0" in relu and "slope is 0." in relu
    assert "slope is 0.1" in slope_sentence("max(a, 0.1*a)", shares, w)


def test_cell_and_carousel_words_follow_the_curves_drawn():
    from symbptt.plots.curves import ordering_sentence
    from symbptt.plots.gates import carousel_sentence

    norms = {"rnn": {"h": np.array([-1.0, -9.0])}, "gru": {"h": np.array([-1.0, -2.0])},
             "lstm": {"h": np.array([-1.0, -5.0]), "c": np.array([0.0, -3.0])}}
    text = ordering_sentence(norms, 2)
    assert "largest for gru (10^-2), then lstm (10^-5), then rnn (10^-9)" in text and "ends at 10^-3" in text
    norms["rnn"]["h"][-1] = 0.5
    assert "largest for rnn (10^0.5)" in ordering_sentence(norms, 2)
    biases = np.array([-2.0, 0.0, 2.0, 4.0])
    assert "above 10^-1 for b_f ≥ 4" in carousel_sentence(biases, np.array([-30.0, -12.0, -4.0, -0.5]), 100)
    assert "above 10^-1 for b_f ≥ 2" in carousel_sentence(biases, np.array([-30.0, -12.0, -0.9, -0.5]), 100)


@pytest.mark.parametrize("kind,call", [("plot gates", lambda: plot.gates(points=3, T_max=10)),
                                       ("plot curves", lambda: plot.cell_curves(("rnn", "gru"), n=2, T_max=10))])
def test_long_plots_draw_a_progress_line_and_clear_it(monkeypatch, kind, call):
    import io

    from symbptt.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen, original = Terminal(), Progress.__init__

    def at_once(self, total, label, after=2.0, stream=None):  # draw from the first update on
        original(self, total, label, 0.0, screen)

    monkeypatch.setattr(Progress, "__init__", at_once)
    call()
    drawn = [part.strip() for part in screen.getvalue().split("\r") if part.strip()]
    assert drawn and all(line.startswith(f"{kind} ") for line in drawn)
    assert screen.getvalue().endswith("\r" + " " * 79 + "\r")  # cleared at the end


def test_the_cells_caption_is_read_off_the_cells_drawn():
    """Each clause of the cell-curves caption comes from the cell's own step: the GRU is described only
    when drawn, minGRU's path is 1 - z_t, the vanilla cell's goes through a weight matrix."""
    from symbptt.plots.curves import path_clause

    assert path_clause("mingru") == "minGRU carries h_t unit by unit by 1 - z_t"
    assert path_clause("lstm") == "LSTM carries c_t unit by unit by f_t, its other paths through weight matrices"
    assert "weight matrix at every step" in path_clause("rnn")
    from symbptt import plots

    fig, _ = plots.cell_curves(("rnn", "minlstm"), n=2, T_max=5)
    words = " ".join(t.get_text() for t in fig.texts)
    assert "minLSTM carries h_t unit by unit by f_t/(f_t + i_t)" in words and "GRU" not in words


def test_the_spectrum_shows_the_mean_field_rate_beside_the_observed_one():
    """--theory: ½ ln χ(g) of an infinitely wide network beside one network's rate; the sentence states
    where each crosses 0 and their largest gap, computed from the two curves."""
    from symbptt import plots
    from symbptt.plots.spectrum import crossing, theory_sentence

    fig, drawn = plots.spectrum(n=48, T=60, points=8, g_min=0.5, g_max=2.5, theory=True)
    data = drawn.values
    assert np.all(np.abs(data["rates"] - data["mean_field"]) < 0.2)  # close at n = 48 on these gains
    words = " ".join(t.get_text() for t in fig.texts)
    assert "mean-field rate" in words and "crosses 0 at g =" in words
    gains = np.array([1.0, 2.0, 3.0])
    said = theory_sentence(gains, np.array([-1.0, -0.5, 0.5]), np.array([-1.0, -0.4, 0.4]), 1.8, 8)
    assert "crosses 0 at g = 2.5" in said and "edge of chaos at g = 1.8" in said and "0.1 per step" in said
    assert crossing(gains, np.array([-1.0, -0.5, -0.1])) is None
    assert "does not cross 0" in theory_sentence(gains, np.array([-1.0, -0.5, -0.1]), np.zeros(3), None, 8)


def test_the_spectrum_title_names_the_init_it_drew():
    """The title says how W0 was drawn, from the data the figure was drawn with; --theory with the identity
    (not a random matrix) is refused."""
    import matplotlib.pyplot as plt

    from symbptt import SymbpttError
    from symbptt.plots import spectrum

    for init, words in (("gaussian", "W0 ~ N(0, 1/n)"), ("orthogonal", "W0 orthogonal (Haar)"), ("identity", "W0 = I")):
        fig, _ = spectrum(n=4, points=3, T=5, init=init)
        assert words in fig.axes[0].get_title()
        said = " ".join(t.get_text() for t in fig.texts)
        assert ("ρ equals σ_max" in said) == (init != "gaussian")  # the caption follows W0
        plt.close(fig)
    with pytest.raises(SymbpttError, match="the identity is not one"):
        spectrum(n=4, points=3, T=5, init="identity", theory=True)


def test_curves_give_a_slope_rounding_decides_only_the_decimals_it_keeps():
    """sin(a), w = 3, T = 300 is chaotic: from some T the trajectory amplifies rounding past 10^13, and the
    same pass with every x_t one ulp larger ends elsewhere; the legend gives that line's mean slope only to
    the decimals the measured shift leaves standing (the last one at least 4× the shift; it gave +0.214
    where the shift is 0.01), the caption says from which T and by how much, and w = 1 — not decided —
    keeps three decimals.  The tanh figure says nothing of rounding; nor do the cells' curves at their
    defaults, while a chaotic rnn among them (gain 4, T = 600) gets the same treatment."""
    from symbptt.numeric.sweeps import rounding_decides

    fig, data = plot.curves("sin(a)", (1.0, 3.0), 300)
    values = data.values["values"]
    decided = rounding_decides(values, "sin(a)")
    assert decided[:, 1].any() and not decided[:, 0].any()
    x = np.random.default_rng(0).uniform(-1.0, 1.0, 300)
    moved = sweep_scalar(np.array([1.0, 3.0]), 300, "sin(a)", x=np.nextafter(x, np.inf))
    shift = abs(moved[-1, 1] - values[-1, 1]) / 300
    places = int(np.clip(np.floor(-np.log10(4 * shift)), 0, 3))
    assert places < 3 and 4 * shift <= 10.0**-places
    labels = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert labels[1].startswith(f"w = 3: slope {values[-1, 1] / 300:+.{places}f} decades/step")
    assert labels[0].startswith(f"w = 1: slope {values[-1, 0] / 300:+.3f} decades/step")
    text = " ".join(fig.texts[-1].get_text().split())
    first = int(np.argmax(decided[:, 1])) + 1
    assert (f"decides the line of w = 3 from T = {first} (every x_t one ulp larger moves its mean slope by "
            f"{shift:.2g} decades/step, so the legend gives it to {places} decimal") in text
    calm, _ = plot.curves("tanh", (0.5, 1.5), 100)
    assert "Rounding, not the model" not in calm.texts[-1].get_text()
    cells, data = plot.cell_curves(("rnn", "gru"), 8, 600, 4.0)
    norms = data.values["norms"]["rnn"]
    assert rounding_decides(norms["state"][:, None], "tanh")[-1, 0]
    text = " ".join(cells.texts[-1].get_text().split())
    assert "Rounding, not the model, decides rnn's from T = " in text and "gru's" not in text
    labels = [t.get_text() for t in cells.axes[0].get_legend().get_texts()]
    assert re.search(r"rnn ∂h_T/∂h_0: slope [+-]\d+(\.\d{1,2})? decades/step", labels[0])
    assert re.search(r"gru ∂h_T/∂h_0: slope [+-]\d\.\d{3} decades/step", labels[1])
    assert "Rounding" not in plot.cell_curves().figure.texts[-1].get_text()


def test_curves_report_progress_inside_each_cell(monkeypatch):
    """A long cell counts its steps on the progress line (one cell can take minutes at n = 256)."""
    import importlib

    curves = importlib.import_module("symbptt.plots.curves")

    seen: list[tuple[int, int]] = []

    from symbptt.progress import Progress

    class Recorded(Progress):
        def update(self, done, note=""):
            seen.append((done, self.total))

    monkeypatch.setattr(curves, "Progress", Recorded)
    plot.cell_curves(("rnn", "lstm"), n=2, T_max=6)
    assert [d for d, _ in seen] == list(range(1, 13)) and {t for _, t in seen} == {12}


def test_legend_slopes_are_in_the_unit_of_the_axis():
    """The legends give each line's mean slope in decades per step, as the log10 axis draws it (they gave the
    natural-log rate, 2.3 times steeper than the line looked)."""
    import re

    fig, data = plot.curves(weights=(0.5, 1.5), T_max=30)
    labels = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    for label, v in zip(labels, data.values["values"][-1], strict=True):
        slope = float(re.search(r"slope ([-+]\d+\.\d+) decades/step", label).group(1))
        assert slope == pytest.approx(v / 30, abs=5e-4)
    fig, data = plot.cell_curves(("rnn", "lstm"), n=3, T_max=20)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    norms = data.values["norms"]
    ends = [norms["rnn"]["h"][-1], norms["lstm"]["h"][-1], norms["lstm"]["c"][-1]]
    for label, end in zip(labels, ends, strict=True):
        slope = float(re.search(r"slope ([-+]\d+\.\d+) decades/step", label).group(1))
        assert slope == pytest.approx(end / 20, abs=5e-4)


def test_cell_curves_refuse_a_cell_they_cannot_draw_at_random(tmp_path):
    """A scalar cell file (at most one unit, parameters w, u, b without a random law) was drawn at n = 8
    with every parameter 0: a curve at −∞ and a caption saying 10^-inf."""
    path = tmp_path / "plain.toml"
    path.write_text('name = "plain"\nstates = ["h"]\nparams = ["w", "u", "b"]\n[update]\nh = "tanh(w*h + u*x + b)"\n')
    with pytest.raises(SymbpttError, match="plain has at most 1 unit"):
        plot.cell_curves(("rnn", str(path)), n=8, T_max=10)
    with pytest.raises(SymbpttError, match="parameters w, u, b are single numbers with no random law"):
        plot.cell_curves(("rnn", str(path)), n=1, T_max=10)
