"""Figures of what happens inside cells and along the loss: the LSTM's gates, each IndRNN unit against its
bound, the units rounding decides, and the loss surface's cliffs, each against the data drawn."""

from __future__ import annotations

import numpy as np
import pytest

from symbptt import SymbpttError
from symbptt import plots as plot


def test_gates_heat_maps_hold_the_lstm_blocks_and_the_forget_product():
    from symbptt.numeric.examples import example_config, with_param
    from symbptt.numeric.sweeps import sweep_param

    _, data = plot.gates(-1.0, 3.0, points=5, T_max=15, seed=2)
    swept = sweep_param(example_config("lstm", 15, 1, seed=2), "b_f", np.linspace(-1, 3, 5))
    assert np.array_equal(data.values["c"], swept["c"]) and np.array_equal(data.values["h"], swept["h"])
    cfg = with_param(example_config("lstm", 15, 1, seed=2), "b_f", 3.0)
    h, c, logs = 0.0, 0.0, 0.0
    p = {k: float(v.flat[0]) for k, v in cfg.layers[0].items()}
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for t in range(15):  # the forget gates by hand
        x = cfg.x[t, 0]
        i, f = sig(p["W_i"] * h + p["U_i"] * x + p["b_i"]), sig(p["W_f"] * h + p["U_f"] * x + p["b_f"])
        g, o = np.tanh(p["W_g"] * h + p["U_g"] * x + p["b_g"]), sig(p["W_o"] * h + p["U_o"] * x + p["b_o"])
        c = f * c + i * g
        h = o * np.tanh(c)
        logs += np.log10(f)
        assert data.values["carousel"][t, 4] == pytest.approx(logs, abs=1e-12)


def test_the_gates_colour_scale_is_fitted_to_where_the_carousel_holds():
    """Where Π f ≥ 10^-2 the two norms part (c near 10^0, h near 10^-10): the one colour limit both panels
    share comes from there, not from the −65 decades where the carousel is gone; the sentence says how
    many values saturate, and moving the data moves the words."""
    from symbptt.plots.gates import contrast_sentence, fitted_scale

    carousel = np.array([[-60.0, -1.0], [-65.0, -0.5]])
    c = np.array([[-60.0, 0.3], [-65.0, 0.37]])
    h = np.array([[-61.0, -9.0], [-66.0, -9.7]])
    limit, note = fitted_scale(c, h, carousel)
    assert limit == pytest.approx(9.7) and "2 of 8 values" not in note and "4 of 8 values lie beyond" in note
    limit2, _ = fitted_scale(c, h - 1.0, carousel)
    assert limit2 == pytest.approx(10.7)
    assert fitted_scale(c, h, np.full((2, 2), -50.0)) == (pytest.approx(66.0), "")  # nothing holds: all of it
    grid = np.array([0.0, 6.0])
    assert contrast_sentence(grid, c[-1], h[-1], 100) == (" At b_f = 6, T = 100: ‖∂c_T/∂c_0‖ = 10^0.37 while "
                                                           "‖∂h_T/∂h_0‖ = 10^-9.7.")


def test_the_surface_outlines_its_cliffs_from_the_loss_it_drew():
    """A step in L between two neighbouring grid points is a cliff; a deep but smooth valley of log L is
    not; the sentence counts what the outline holds and moves with the data."""
    from symbptt.plots.surface import cliff_mask, cliff_sentence

    loss = np.full((4, 4), 0.1)
    loss[:, 2:] = 1.0  # a step between columns 1 and 2
    loss[0, 0] = 1e-6  # a valley: tiny in L, deep in log L
    cliff, threshold = cliff_mask(loss)
    assert threshold == pytest.approx(0.25 * (1.0 - 1e-6))
    assert cliff[:, 1].all() and not cliff[:, 0].any() and not cliff[:, 2:].any()
    w, b = np.meshgrid(np.arange(4.0), np.arange(4.0))
    said = cliff_sentence(w, b, loss, np.log10(loss))
    assert "4 of 16 points, jumps up to 0.9" in said
    assert "no cliff" in cliff_sentence(w, b, np.full((4, 4), 0.1) + w * 0.01, np.zeros((4, 4)))


def test_the_surface_hatches_where_rounding_decides_a_T_and_names_its_steepest_point_outside():
    """sin(a), T = 80: where the map a_t = w sin(a_{t−1}) + b stretches an error made at some step k ≥ 1
    by more than 10^13 by step T (|∂a_T/∂a_k| = Π_{t>k} |w cos(a_{t−1})|, worked out here by hand), float64
    holds under 3 digits of a_T: those points are hatched and counted, and the steepest gradient the caption
    names lies outside them (the one it named before lay inside).  tanh at T = 30 has none: no hatching."""
    w_grid, b_grid = np.meshgrid(np.linspace(-3, 3, 41), np.linspace(-3, 3, 41))
    fig, data = plot.surface("sin(a)", points=41, T=80)
    text = " ".join(fig.texts[-1].get_text().split())
    a, logs = np.full(w_grid.shape, 0.5), []
    with np.errstate(divide="ignore"):
        for _ in range(80):
            logs.append(np.log10(np.abs(w_grid * np.cos(a))))
            a = w_grid * np.sin(a) + b_grid
    v = np.cumsum(logs, axis=0)  # v_t, t = 1..80; an error made at step k ≥ 1 grows by 10^(v_T − v_k)
    with np.errstate(invalid="ignore"):  # w = 0: −∞ − (−∞), no growth
        decided = (v[-1] - v.min(axis=0)) > 13
    assert 0 < decided.sum() < decided.size
    assert f"Hatched ({int(decided.sum())} of {decided.size} points)" in text
    held = np.where(decided, -np.inf, data.values["log10_grad_norm"])
    assert f"outside the hatching is 10^{held.max():.2f}" in text
    assert data.values["log10_grad_norm"][decided].max() > held.max()  # the old sentence's point was hatched
    calm, _ = plot.surface("tanh", points=41, T=30)
    assert "Hatched" not in calm.texts[-1].get_text() and "outside the hatching" not in calm.texts[-1].get_text()


def test_units_leave_out_and_name_the_units_rounding_decides():
    """IndRNN, sin(a), gain 3 (w_i up to 3), T = 300: units 5 and 6 are chaotic — their products grow by more
    than 13 decades from some step k ≥ 1 to T (worked out here from the lines drawn), so float64 holds under
    3 digits of them.  The caption names each with the T it starts at and compares the others only (it
    named unit 5's 10^30 as the largest product); tanh units are all held and the caption says nothing."""
    from symbptt.plots.units import units

    fig, data = units("sin(a)", 8, 300, 3.0, 1.0, 0)
    logs = data.values["log10_products"]
    with np.errstate(invalid="ignore"):
        decided = (logs - np.fmin.accumulate(logs, axis=0)) > 13
    lost = np.flatnonzero(decided[-1])
    assert lost.size == 2
    text = " ".join(fig.texts[-1].get_text().split())
    each = [f"unit {k + 1} from T = {int(np.argmax(decided[:, k])) + 1}" for k in lost]
    assert f"Rounding, not the model, decides {each[0]} and {each[1]} on" in text
    held = np.where(decided[-1], -np.inf, logs[-1])
    assert f"largest product of the 6 units float64 holds is unit {int(np.argmax(held)) + 1}'s" in text
    assert int(np.argmax(logs[-1])) in lost  # what the sentence used to name
    calm, _ = units("tanh", 8, 100)
    assert "Rounding" not in calm.texts[-1].get_text()


def test_units_draws_each_indrnn_unit_against_its_own_bound():
    """Each unit's product of factors w_i σ'(a_t,i), checked by hand from the forward pass, never above
    its bound (|w_i| γ)^T; the sentence follows the lines, and names units whose product is exactly 0."""
    from symbptt.plots.units import units, units_sentence

    drawn = units("tanh", n=3, T=12, gain=1.5, seed=2)
    d = drawn.data.values
    w = d["w"]
    from symbptt.numeric.examples import example_config

    cfg = example_config("indrnn", 12, 3, gain=1.5, seed=2, activation="tanh")
    h = cfg.layers[0]["h0"].copy()
    logs = np.zeros(3)
    for t in range(12):  # the forward pass and each unit's factor by hand: a = w h + U x + b, h = tanh(a)
        a = w * h + cfg.layers[0]["U"] @ cfg.x[t] + cfg.layers[0]["b"]
        h = np.tanh(a)
        logs += np.log10(np.abs(w * (1 - h**2)))
        assert np.allclose(d["log10_products"][t], logs)
    assert np.all(d["log10_products"] <= np.arange(1, 13)[:, None] * np.log10(np.abs(w) * d["gamma"]) + 1e-9)
    words = units_sentence(d["log10_products"], w, d["gamma"], 12)
    assert f"10^{d['log10_products'][-1].max():.3g}" in words
    dead = units_sentence(np.array([[-1.0, -np.inf], [-2.0, -np.inf]]), np.array([0.5, 0.9]), 1.0, 2)
    assert "1 of 2 units' products reaches exactly 0 at T = 1 " in dead and "0 of 2 units have" in dead
    later = units_sentence(np.array([[-1.0, -np.inf, -1.0], [-2.0, -np.inf, -np.inf]]), np.array([0.5, 0.9, 0.2]),
                           1.0, 2)
    assert "2 of 3 units' products reach exactly 0 between T = 1 and T = 2 " in later
    one = units_sentence(np.array([[0.1, -1.0], [0.2, -2.0]]), np.array([1.5, 0.5]), 1.0, 2)
    assert "1 of 2 units has |w_i|·γ > 1" in one  # the verb follows the count
    with pytest.raises(SymbpttError, match="n \\(-n\\) must be from 1 to 32"):
        units(n=40)


def test_units_computes_exactly_the_factors_float64_holds_as_0_and_says_which_products_are_0():
    """tanh units driven by U ~ N(0, 2000²): factors w_i·tanh'(a) of 10^-400 and below, 0 in float64, are
    computed exactly (by hand here in mpmath from a = w h + U x + b), so every line goes on and the caption
    names no unit 0; relu units: σ'(a) = 0 for a < 0, the products are 0 from the step named, and said so."""
    import mpmath

    from symbptt.numeric.examples import example_config
    from symbptt.plots.units import units

    drawn = units("tanh", n=3, T=6, drive=2000.0, seed=0)
    d = drawn.data.values
    cfg = example_config("indrnn", 6, 3, drive=2000.0, seed=0, activation="tanh")
    h, logs = cfg.layers[0]["h0"].copy(), np.zeros(3)
    for t in range(6):
        a = d["w"] * h + cfg.layers[0]["U"] @ cfg.x[t] + cfg.layers[0]["b"]
        h = np.tanh(a)
        logs += [float(mpmath.log10(abs(wi * 4 / (mpmath.exp(ai) + mpmath.exp(-ai)) ** 2)))
                 for wi, ai in zip(d["w"], a, strict=True)]
        assert np.allclose(d["log10_products"][t], logs, rtol=1e-12)
    assert d["log10_products"][-1].min() < -1000 and np.isfinite(d["log10_products"]).all()
    assert "exactly 0" not in drawn.figure.texts[-1].get_text()

    relu = units("relu", n=4, T=10, seed=0)
    r = relu.data.values
    zero = r["log10_products"][-1] == -np.inf
    cfg = example_config("indrnn", 10, 4, seed=0, activation="relu")
    h, starts = cfg.layers[0]["h0"].copy(), {}
    for t in range(10):  # where a ≤ 0 first, by hand: relu' = 0 there
        a = r["w"] * h + cfg.layers[0]["U"] @ cfg.x[t] + cfg.layers[0]["b"]
        h = np.maximum(a, 0)
        for i in np.flatnonzero(a <= 0):
            starts.setdefault(int(i), t + 1)
    assert zero.any() and set(np.flatnonzero(zero)) == set(starts)
    words = " ".join(relu.figure.texts[-1].get_text().split())
    first, last = min(starts.values()), max(starts.values())
    when = f"at T = {first}" if first == last else f"between T = {first} and T = {last}"
    assert f"{int(zero.sum())} of 4 units' products reach" in words and f"exactly 0 {when} " in words, words


def test_the_gates_figure_hatches_where_rounding_decides():
    """An LSTM of 8 units with W ~ N(0, 20²/n) amplifies rounding past 10^13 for some forget biases: those
    cells are hatched in both panels and counted in the caption, as the sweep of the same networks' whole
    state marks them; the calm default draws no hatching and says nothing of it."""
    from symbptt.numeric.examples import example_config
    from symbptt.numeric.sweeps import rounding_decides, sweep_param

    fig, _ = plot.gates(points=5, T_max=100, n=8, gain=20.0)
    swept = sweep_param(example_config("lstm", 100, 8, gain=20.0, seed=0), "b_f", np.linspace(-2, 6, 5))
    decided = rounding_decides(swept["state"], "tanh")
    first = int(np.argmax(decided.any(axis=1))) + 1
    words = " ".join(fig.texts[-1].get_text().split())
    assert decided.any() and f"Hatched ({int(decided.sum())} of 500 cells, " in words and f"from T = {first})" in words
    assert sum(getattr(c, "hatches", None) == ["////"] for ax in fig.axes for c in ax.collections) == 2
    fig, _ = plot.gates(points=5, T_max=100, n=8)
    assert "Hatched" not in fig.texts[-1].get_text()
    assert not any(getattr(c, "hatches", None) == ["////"] for ax in fig.axes for c in ax.collections)


def test_grey_cells_of_the_gates_figure_are_counted_in_its_caption():
    """A forget bias of −1e300 makes σ(b_f) exactly 0 in float64: those norms have no log10 and were
    left grey without a word; the caption counts them from the data, and says nothing when there are none."""
    fig, data = plot.gates(-1e300, 1e300, points=11, T_max=10)
    zeros = int(np.isneginf(data.values["c"]).sum() + np.isneginf(data.values["h"]).sum())
    words = " ".join(fig.texts[-1].get_text().split())
    assert zeros > 0 and f"Grey: {zeros} of 220 values are exactly 0 in float64" in words
    fig, data = plot.gates(points=11, T_max=10)
    assert "Grey" not in fig.texts[-1].get_text() and not np.isneginf(data.values["c"]).any()
