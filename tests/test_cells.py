"""The cells added after the LSTM: IndRNN (a weight per unit) and the real diagonal linear recurrent
unit (λ = exp(−exp(ν))), each against facts that follow from its equations alone."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
import sympy as sp

from symbptt import RNN, derive
from symbptt.activations import get_activation
from symbptt.cells import BUILTIN, MAKERS, TAKES_ACTIVATION, prev, unit
from symbptt.check import run_checks
from symbptt.config import Config
from symbptt.errors import SymbpttError
from symbptt.numeric.grad_report import grad_report


def _lru_config(rng: np.random.Generator, n: int, T: int) -> Config:
    nu = rng.uniform(-6.0, 1.0, n)
    return Config("lru", None, [{"nu": nu, "U": rng.normal(0, 1, (n, 2)), "h0": rng.uniform(-1, 1, n)}],
                  rng.uniform(-1, 1, (T, 2)), rng.uniform(-1, 1, n), "last", scalar=n == 1)


@pytest.mark.parametrize("seed", range(6))
def test_the_lru_gradient_back_through_time_is_lambda_to_the_power(seed):
    """∂h_T/∂h_k = diag(λ^{T−k}) exactly: the reported log10 norms are (T − k)·log10 max λ, ∂L/∂h_0 is
    λ^T ⊙ (h_T − y), and the bound says so with the largest λ."""
    rng = np.random.default_rng(seed)
    n, T = int(rng.integers(1, 5)), int(rng.integers(2, 40))
    cfg = _lru_config(rng, n, T)
    lam = np.exp(-np.exp(cfg.layers[0]["nu"]))
    report = grad_report(cfg)
    for row in report["log10_jacobian_norms"]:
        assert row["log10"] == pytest.approx((T - row["k"]) * math.log10(lam.max()), abs=1e-12)
    h = cfg.layers[0]["h0"].copy()
    for t in range(T):
        h = lam * h + cfg.layers[0]["U"] @ cfg.x[t]
    want = lam ** T * (h - cfg.y)
    assert np.allclose(np.reshape(report["grad"]["h0"], -1), want, rtol=1e-12, atol=1e-300)
    assert report["regime"]["max_factor"] == pytest.approx(lam.max(), rel=1e-15)
    assert f"{lam.max():.6f}"[:6] in report["regime"]["label"] and "vanishing guaranteed" in report["summary"]


def test_indrnn_bound_is_gamma_times_the_largest_own_weight():
    """F_t = diag(w ⊙ σ'(·)) so ‖F_t‖ ≤ γ·max|w_i|: the report's σ_max is max|w_i|, and its label follows
    the data (one weight above 1 turns 'vanishing guaranteed' into 'exploding possible')."""
    rng = np.random.default_rng(3)
    layer = {"w": np.array([0.5, -0.8, 0.3]), "U": rng.normal(0, 1, (3, 1)), "b": np.zeros(3), "h0": np.zeros(3)}
    cfg = Config("indrnn", "tanh", [layer], rng.uniform(-1, 1, (8, 1)), np.zeros(3), "last")
    regime = grad_report(cfg)["regime"]
    assert regime["sigma_max"] == pytest.approx(0.8) and regime["label"] == "vanishing guaranteed"
    layer = dict(layer, w=np.array([0.5, -1.2, 0.3]))
    cfg = Config("indrnn", "tanh", [layer], cfg.x, cfg.y, "last")
    regime = grad_report(cfg)["regime"]
    assert regime["sigma_max"] == pytest.approx(1.2) and regime["label"] == "exploding possible"


def test_the_cells_that_take_an_activation_are_the_ones_that_say_so():
    tanh = get_activation("tanh")
    assert TAKES_ACTIVATION == tuple(name for name in BUILTIN if MAKERS[name](tanh).uses_activation)


@pytest.mark.parametrize("cell", [name for name in BUILTIN if MAKERS[name](get_activation("tanh")).bounded])
def test_a_bounded_cell_s_state_grows_at_most_linearly_whatever_its_weights(cell):
    """Cell.bounded (what the sweeps' rounding marks rely on) is a claim about the equations: with weights
    50 times their drawn scale and inputs 5 times theirs, no state entry grows faster than linearly in t
    (the largest |s_t| over t ≤ 400 stays within 4 times its largest over t ≤ 100, plus 1), while the relu
    rnn, which makes no such claim, grows beyond any such bound."""
    from symbptt.numeric.examples import example_config
    from symbptt.numeric.factors import ArrayFactors, NumericModel

    def sizes(name: str, activation: str = "tanh") -> np.ndarray:
        cfg = example_config(name, 400, 4, gain=50.0, drive=5.0, seed=1, activation=activation)
        values = ArrayFactors(NumericModel.of(cfg)).traj.values[0]
        return np.max([np.abs(np.asarray(values[s], dtype=float)).reshape(401, -1).max(axis=1)
                       for s in cfg.spec.states], axis=0)

    with np.errstate(all="ignore"):
        grown = sizes(cell)
        assert np.all(np.isfinite(grown)) and grown.max() <= 4 * grown[:101].max() + 1
        assert not MAKERS["rnn"](get_activation("relu")).bounded and not sizes("rnn", "relu")[-1] < 1e6


@pytest.mark.parametrize("cell", ["indrnn", "lru"])
def test_the_per_unit_parameter_prints_as_a_vector_and_enters_unit_by_unit(cell):
    """n = 2: the gradient of the per-unit parameter is a column (one entry per unit), each unit's step
    reads its own entry (w[1] in unit 1's equation, w[2] in unit 2's)."""
    param = {"indrnn": "w", "lru": "nu"}[cell]
    rnn = RNN(T=1, n=2, cell=cell)
    column = rnn.symbols.param(param, 1)
    assert column.shape == (2, 1)
    unrolled = derive(rnn, "unroll", None)
    first = unrolled.equations[0].rhs
    assert column[0] in first[0].free_symbols and column[1] not in first[0].free_symbols
    assert column[1] in first[1].free_symbols


def test_a_wrong_parameterisation_planted_in_the_engine_is_caught(monkeypatch):
    """The engine's LRU with λ = exp(−ν) instead of exp(−exp(ν)): the check, whose reference keeps its own
    step, fails on the gradients (and passes without the plant)."""
    assert run_checks(trials=2, seed=1, T_max=3, cells=("lru",), methods=("grad JSON",)).ok
    right = MAKERS["lru"]
    wrong = dataclasses.replace(right(get_activation("tanh")),
                                nodes=(("h", sp.exp(-unit("nu")) * prev("h") + unit("a")),))
    monkeypatch.setitem(MAKERS, "lru", lambda _: wrong)
    report = run_checks(trials=2, seed=1, T_max=3, cells=("lru",), methods=("grad JSON",))
    assert not report.ok and report.worst["grad JSON"] > 1e-3


def test_the_cells_figure_says_where_per_unit_parameters_start(monkeypatch):
    """The title of `plot curves` names each drawn cell's per-unit initialisation, read off the cell: a
    changed interval changes the title; a figure without such cells does not mention one."""
    from symbptt import plots

    fig, _ = plots.cell_curves(("rnn", "lru"), n=2, T_max=5)
    assert "lru ν ~ U(-5, -2)" in fig.axes[0].get_title()
    right = MAKERS["lru"]
    monkeypatch.setitem(MAKERS, "lru", lambda act: dataclasses.replace(right(act), init=(("nu", -7.0, -3.0),)))
    fig, _ = plots.cell_curves(("rnn", "lru"), n=2, T_max=5)
    assert "lru ν ~ U(-7, -3)" in fig.axes[0].get_title()
    fig, _ = plots.cell_curves(("rnn", "gru"), n=2, T_max=5)
    assert "~ U(" not in fig.axes[0].get_title().split("inputs U(-1, 1)")[1]


def test_the_cells_title_describes_only_what_is_drawn():
    """No forget bias in the title of a figure without an LSTM, no W without a recurrent weight matrix."""
    from symbptt import plots

    title = plots.cell_curves(("indrnn", "lru"), n=2, T_max=5).figure.axes[0].get_title()
    assert "forget bias" not in title and "W ~" not in title
    title = plots.cell_curves(("lstm", "lru"), n=2, T_max=5).figure.axes[0].get_title()
    assert "forget bias b_f = 1" in title and "W ~ N(0, 1²/n)" in title


def test_verify_names_a_greek_parameter_as_a_letter():
    """A hand-written ∂L/∂ν for the LRU is checked, and the verdict names ν, not \\nu."""
    from symbptt import verify

    verdict = verify(r"\frac{\partial L}{\partial \nu} = (h_1 - y) \cdot (-h_0) e^{\nu} e^{-e^{\nu}}",
                     RNN(T=1, cell="lru"))
    assert verdict.equal and "∂L/∂ν" in verdict.text() and "\\nu" not in verdict.text().splitlines()[0]


# ---------------------------------------------------------------- cell files with shapes

VGRU = "tests/cells/vgru.toml"
VINDRNN = "docs/cells/vindrnn.toml"
VRNN = """name = "vrnn"
states = ["h"]
params = ["W", "U", "b"]
[shapes]
W = ["n", "n"]
U = ["n", "m"]
b = ["n"]
[update]
h = "tanh(W @ h + U @ x + b)"
"""


@pytest.mark.parametrize("builtin,file", [("rnn", "vrnn"), ("gru", VGRU), ("indrnn", VINDRNN)])
def test_a_cell_file_with_shapes_is_the_built_in_cell_it_writes(tmp_path, builtin, file):
    """The vanilla cell, the GRU and IndRNN written as files with [shapes] and @: the same parameters,
    the same gradients as the built-in cell on random networks (n up to 4, up to 3 layers, both losses,
    truncation), and for the GRU the same printed recursive form at n = 2."""
    from symbptt.check import random_trial
    from symbptt.numeric.factors import gradients
    from symbptt.render import render_text

    if file == "vrnn":
        file = str(tmp_path / "vrnn.toml")
        (tmp_path / "vrnn.toml").write_text(VRNN)
    rng = np.random.default_rng(11)
    for _ in range(4):
        cfg = random_trial(rng, 6, (builtin,)).config
        cfg = Config(builtin, "tanh" if builtin in TAKES_ACTIVATION else None, cfg.layers, cfg.x, cfg.y, cfg.loss,
                     cfg.truncate, cfg.scalar)
        mine = Config(file, None, cfg.layers, cfg.x, cfg.y, cfg.loss, cfg.truncate, cfg.scalar)
        assert mine.spec.params == cfg.spec.params
        _, want = gradients(cfg)
        _, got = gradients(mine)
        for a, b in zip(want, got, strict=True):
            for name in a:
                assert np.allclose(np.asarray(b[name]), np.asarray(a[name]), rtol=1e-12, atol=1e-14), name
    if builtin == "gru":
        text = [render_text(derive(RNN(T=2, n=2, cell=c), "recursive", "all")) for c in ("gru", file)]
        assert text[0] == text[1]


@pytest.mark.parametrize("change,message", [
    (("W = [\"n\", \"n\"]", "W = [\"n\", \"q\"]"), "the shape of 'W' must be"),
    (("b = [\"n\"]\n", ""), "gives no shape for parameter 'b'"),
    (("W @ h", "W * h"), "the matrix 'W' is used without @"),
    (("U @ x", "U @ x + x"), "x enters a cell with shapes through a matrix"),
    (("W @ h", "b @ h"), "the left of @ must be a weight matrix"),
    (("W @ h", "U @ h"), "'U' is n × m: it multiplies x"),
    (("W @ h", "W @ (h + h)"), "the right of @ must be a state or x"),
    (("params = [\"W\", \"U\", \"b\"]", "params = [\"W\", \"U\", \"b\", \"V\"]"), "not an allowed parameter name"),
    (("tanh(W @ h + U @ x + b)", "tanh(W @ h + U @ x + b) + W @ h"), "appears in more than one sum"),
    (("[update]", "q = [\"n\"]\n[update]"), "[shapes] names 'q', which is not in params"),
])
def test_a_shaped_cell_file_with_a_mistake_gets_one_line_naming_it(tmp_path, change, message):
    from symbptt import SymbpttError
    from symbptt.cells import get_cell

    path = tmp_path / "bad.toml"
    path.write_text(VRNN.replace(*change))
    with pytest.raises(SymbpttError, match=re.escape(message)) as info:
        get_cell(str(path), get_activation("tanh"))
    assert "\n" not in str(info.value)


def test_the_gradient_map_holds_the_engine_s_gradient_and_says_what_it_shows():
    """plot gradmap: a grid point at one T is grad's ∂L/∂ν for that network (same inputs, y = 0, the loss
    at T); the caption's largest value and where it lies are read off the drawn array."""
    from symbptt import plots
    from symbptt.numeric.examples import example_config

    fig, data = plots.gradient_map("lru", "nu", -8.0, 0.0, 9, 30, 2, 1.0, 3)
    grid, Ts, out = data.values["grid"], data.values["T"], data.values["log10_grad"]
    i, j = list(Ts).index(30), 4
    cfg = example_config("lru", 30, 2, seed=3)
    layer = dict(cfg.layers[0], nu=np.full(2, grid[j]))
    report = grad_report(Config("lru", None, [layer], cfg.x[:30], np.zeros(2), "last"))
    assert out[i, j] == pytest.approx(math.log10(np.linalg.norm(report["grad"]["nu"])), abs=1e-10)
    best = int(np.nanargmax(out[-1]))
    text = fig.texts[-1].get_text()
    assert f"largest at ν = {grid[best]:.3g} (10^{out[-1, best]:.3g})" in text
    assert "Top axis: the constant factor" in text
    fig, data = plots.gradient_map("lstm", "b_f", -3.0, 3.0, 5, 12, 2, 1.0, 0)
    assert "Top axis" not in fig.texts[-1].get_text()


def test_the_isometry_figure_reads_its_sentence_off_the_singular_values():
    """With no input, h stays at 0 and ∂h_T/∂h_0 = W^T: an orthogonal W (gain 1) keeps every singular value
    at 1 (0.00 decades, nothing below 10^−3), a Gaussian W spreads them; the sentence says so from the
    arrays, and the arrays are the singular values of W^T computed directly."""
    from symbptt import plots
    from symbptt.numeric.sweeps import orthogonal_matrix, random_recurrent_matrix

    fig, data = plots.isometry("tanh", 12, 1.0, (1, 6), 2, 0.0)
    text = " ".join(fig.texts[-1].get_text().split())  # the caption is wrapped
    assert "to 10^0.00 (0.00 decades) with the orthogonal W0; 0 of 12 directions shrink below 10^-3." in text
    W = random_recurrent_matrix(12, 2)
    want = np.log10(np.linalg.svd(np.linalg.matrix_power(W, 6), compute_uv=False))
    got = data.values["Gaussian W0 ~ N(0, 1/n)"][1]
    finite = np.isfinite(got)
    assert np.allclose(got[finite], want[finite], atol=1e-9)
    Q = orthogonal_matrix(12, 2)
    assert np.allclose(Q @ Q.T, np.eye(12), atol=1e-12)
    low, high = np.nanmin(got), np.nanmax(got)
    spread = f"from 10^{low:.2f} to 10^{high:.2f} ({high - low:.2f} decades) with the Gaussian W0"
    assert spread in text


def test_the_isometry_figure_counts_the_directions_switched_off_units_make_exactly_0():
    """relu: where only r units are on at some step, ∂h_T/∂h_0 has rank ≤ r, so its singular values after
    the r-th are exactly 0 — drawn as −∞ and counted as such, not as lost to float64's resolution.  The
    count comes from the trajectory, recomputed here by hand; tanh never switches a unit off."""
    from symbptt import plots
    from symbptt.numeric.sweeps import random_recurrent_matrix

    n, T, gain, seed, drive = 16, 8, 1.4, 3, 0.1
    fig, data = plots.isometry("relu", n, gain, (2, T), seed, drive)
    W = gain * random_recurrent_matrix(n, seed)
    x = drive * np.random.default_rng(seed).normal(0.0, 1.0, (T, n))
    h, fewest = np.zeros(n), n
    for t in range(T):
        a = W @ h + x[t]
        h, fewest = np.maximum(a, 0.0), min(fewest, int(np.sum(a > 0)))
    got = data.values["Gaussian W0 ~ N(0, 1/n)"][1]
    assert 0 < fewest < n and np.all(got[fewest:] == -np.inf) and not np.any(got[:fewest] == -np.inf)
    text = " ".join(fig.texts[-1].get_text().split())
    assert f"run from 10^{np.nanmin(got[np.isfinite(got)]):.2f} to" in text and "with the Gaussian W0; " in text
    assert f"{n - fewest} are exactly 0 (at one step only {fewest} unit{'' if fewest == 1 else 's'} had σ' ≠ 0" in text
    fig, data = plots.isometry("tanh", n, gain, (2, T), seed, drive)
    assert "exactly 0" not in fig.texts[-1].get_text()
    assert not any(np.any(v == -np.inf) for v in data.values["Gaussian W0 ~ N(0, 1/n)"])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_an_isometry_product_that_every_unit_switches_off_is_exactly_0_not_an_error(seed):
    """relu with n = 2: at some step neither unit is on, so ∂h_T/∂h_0 is exactly 0 from there on — every
    singular value −∞ and the caption says so.  Before, the zero product read as "left float64" and the
    command stopped.  The step is found here by hand, for each W0; a T before it keeps its values."""
    from symbptt import plots
    from symbptt.numeric.sweeps import orthogonal_matrix, random_recurrent_matrix

    fig, data = plots.isometry("relu", 2, steps=(1, 50), seed=seed)
    x = 0.1 * np.random.default_rng(seed).normal(0.0, 1.0, (50, 2))
    words = " ".join(fig.texts[-1].get_text().split())
    for name, W0 in (("Gaussian W0 ~ N(0, 1/n)", random_recurrent_matrix(2, seed)),
                     ("orthogonal W0", orthogonal_matrix(2, seed))):
        h, off = np.zeros(2), None
        for t in range(1, 51):
            a = data.values["gain"] * W0 @ h + x[t - 1]
            if not np.any(a > 0):
                off = t
                break
            h = np.maximum(a, 0.0)
        rows = data.values[name]
        assert (off is not None) == np.all(rows[1] == -np.inf), name
        assert (off == 1) == np.all(rows[0] == -np.inf) and not np.any(np.isnan(rows)), name
        label = name.split(" W0")[0]
        assert (f"At T = 50, with the {label} W0, all 2 singular values of ∂h_T/∂h_0 are exactly 0" in words) == (
            off is not None)
        ax = next(ax for ax in fig.axes if ax.get_title() == name)
        legend = [text.get_text() for text in ax.get_legend().get_texts()]
        assert legend == [f"T = {T}" + (" (all exactly 0: not drawn)" if off is not None and T >= off else "")
                          for T in (1, 50)]
    assert "1 units" not in words


def test_a_slope_that_only_underflowed_is_not_called_exactly_0():
    """tanh' is never 0, but in float64 it underflows to 0 past |a| ≈ 370.  Such a unit does not lower the
    product's rank: what float64 lost through it is not held (NaN), never "exactly 0" (−∞); where every
    slope underflowed the whole product is not held.  relu's slope at a ≤ 0 is exactly 0 and stays −∞."""
    from symbptt import plots
    from symbptt.numeric.sweeps import jacobian_singular_values

    W = np.diag([1e300, 0.5])  # unit 1 saturates from step 2 on, unit 2 never does
    got = jacobian_singular_values(W, "tanh", [1, 5])
    assert np.isfinite(got[1]).all() and np.isfinite(got[5][0]) and np.isnan(got[5][1])
    relu = jacobian_singular_values(np.diag([-1.0, 0.5]), "relu", [5], input_scale=0.0)  # unit 1: a = 0
    assert np.isneginf(relu[5]).all()  # h0 = 0 and no input: both units off, the product exactly 0
    fig, data = plots.isometry("tanh", 8, 1e300, (1, 5))
    assert all(np.isnan(data.values[name][1]).all() for name in ("Gaussian W0 ~ N(0, 1/n)", "orthogonal W0"))
    words = " ".join(fig.texts[-1].get_text().split())
    assert words.count("none of the 8 singular values of ∂h_T/∂h_0 is held in float64") == 2
    assert "exactly 0" not in words
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["T = 1", "T = 5 (none held: not drawn)"]
    from symbptt.plots.isometry import _sentence

    mixed = _sentence({"Gaussian W0 ~ N(0, 1/n)": {3: np.array([np.nan, np.nan, -np.inf])}}, 3)
    assert mixed == ("At T = 3, with the Gaussian W0, no singular value of ∂h_T/∂h_0 is held in float64: 1 is exactly "
                     "0 and the other 2 are not held.")


def test_an_activation_whose_float64_value_overflows_is_named_with_its_step_in_one_line(tmp_path):
    """log(1 + e^a) written out overflows in float64 once a passes about 709, where the state itself is
    still small: the one-line refusal names σ or σ', the step and |a| — not the product of Jacobians."""
    from conftest import run_in_process

    from symbptt.numeric.sweeps import jacobian_singular_values, orthogonal_matrix

    W = 2.0 * orthogonal_matrix(8, 0)
    x, h = np.random.default_rng(0).normal(0.0, 1.0, (200, 8)), np.zeros(8)
    for t in range(1, 201):  # by hand: the first step whose e^a overflows
        a = W @ h + x[t - 1]
        if np.max(a) > math.log(np.finfo(float).max):
            break
        h = np.log1p(np.exp(a))
    with pytest.raises(SymbpttError, match=rf"^σ\(a\) or σ'\(a\) is not a finite float64 at step {t} \(\|a\| up to "
                                           rf"{float(np.max(np.abs(a))):.3g}\): lower the gain"):
        jacobian_singular_values(W, "log(1 + exp(a))", [200])
    out = tmp_path / "iso.png"
    ran = run_in_process("plot", "isometry", "-a", "log(1+exp(a))", "-n", "8", "--lengths", "200", "--gain", "2",
                         "-o", str(out))
    assert ran.returncode == 2 and ran.stderr.count("\n") == 1 and "is not a finite float64 at step" in ran.stderr
    assert not out.exists()


@pytest.mark.parametrize("n,seed,gain", [(8, 0, 2.5), (16, 2, 1.5), (16, 1, 1.0)])
def test_the_isometry_singular_values_kept_hold_the_two_decimals_the_caption_prints(n, seed, gain):
    """Each singular value of ∂h_60/∂h_0 that jacobian_singular_values keeps is within 0.005 decades (half
    the caption's last decimal) of the same product's at 40 digits (mpmath, from the same float64 W and
    σ'(a_t)).  The rule it replaced — keep what lies above 10^−15 of the largest — keeps one value more in
    each case, within a decade of 10^−15 of the largest: there the float64 product's rounding (about
    n·2⁻⁵³ of its largest entry, 10^−15 at n = 8) is a share of the value that moves its log10 by up to
    0.012 decades, more or less on each machine's BLAS (0.0026–0.012 in these cases, so which case shows
    it is not fixed: the value the old rule adds is asserted, not how far its rounding took it)."""
    import mpmath

    from symbptt.activations import get_activation
    from symbptt.numeric.sweeps import jacobian_singular_values, random_recurrent_matrix

    T, drive, act = 60, 0.1, get_activation("tanh")
    W = gain * random_recurrent_matrix(n, seed)
    got = jacobian_singular_values(W, "tanh", [T], seed, drive)[T]
    x = drive * np.random.default_rng(seed).normal(0.0, 1.0, (T, n))
    h, product, plain = np.zeros(n), mpmath.eye(n), np.eye(n)
    with mpmath.workdps(40):
        for t in range(T):
            a = W @ h + x[t]
            h, slopes = act.np_sigma(a), act.np_dsigma(a)
            product = mpmath.matrix([[mpmath.mpf(float(slopes[i])) * mpmath.mpf(float(W[i, j])) for j in range(n)]
                                     for i in range(n)]) * product
            plain = slopes[:, None] * (W @ plain)  # formed as the function forms it
            plain /= np.max(np.abs(plain))
        exact = sorted((float(mpmath.log10(v)) for v in mpmath.svd_r(product, compute_uv=False)), reverse=True)
    exact = np.array(exact)
    kept = np.isfinite(got)
    assert kept.sum() >= 3
    assert np.all(np.abs(got[kept] - exact[kept]) <= 0.005)
    values = np.linalg.svd(plain, compute_uv=False)
    shared = values >= 1e-15 * values[0]  # the old rule, on a product formed the same way
    assert shared.sum() > kept.sum() and exact[shared.sum() - 1] - exact[0] < -14


def test_the_spectrum_averages_networks_and_says_where_the_prediction_lies():
    """--seeds k: the drawn rate is the mean of k networks' rates (each one's own run), and the sentence
    counts the gains where the mean-field line lies inside their band, read off those arrays."""
    from symbptt import plots

    fig, data = plots.spectrum("tanh", 8, 0.5, 2.5, 5, 20, 0, True, 3)
    each, rates, predicted = data.values["rates_each_seed"], data.values["rates"], data.values["mean_field"]
    one, single = plots.spectrum("tanh", 8, 0.5, 2.5, 5, 20, 1, False, 1)
    assert np.allclose(each[1], single.values["rates"]) and np.allclose(rates, each.mean(axis=0))
    inside = int(np.sum((predicted >= each.min(axis=0)) & (predicted <= each.max(axis=0))))
    text = " ".join(fig.texts[-1].get_text().split())
    assert f"lies within the 3 networks' band at {inside} of 5 gains" in text and "the mean rate" in text


def test_the_meanfield_gap_figure_says_what_its_arrays_show():
    """plot meanfield: the gap is |mean over seeds of the observed rate − ½ ln χ(g)| and each clause of the
    caption (shrinks or not, within the seeds' spread or not) is read off those arrays."""
    from symbptt import plots
    from symbptt.plots.meanfield import _sentence

    fig, data = plots.meanfield_gap("tanh", (4, 16), 30, 3, 0)
    v = data.values
    assert np.allclose(v["gap"], np.abs(v["observed"].mean(axis=1) - v["predicted"][None, :]))
    text = " ".join(fig.texts[-1].get_text().split())
    spread = v["observed"].max(axis=1) - v["observed"].min(axis=1)
    assert text == _sentence((4, 16), v["gains"], v["gap"], spread, v["gains"][1])
    flipped = _sentence((4, 16), v["gains"], v["gap"][::-1], spread, v["gains"][1])
    assert ("does not shrink" in flipped) == ("shrinks from" in text)


def test_the_meanfield_gap_figure_says_which_networks_rounding_decides():
    """At T = 600 the chaotic networks (g = 1.5 × the edge) amplify rounding past 10^13: the caption counts
    them per gain — each network's own norms read as numeric.sweeps.rounding_decides reads a sweep — and
    says their rates are those of a trajectory rounding chose; at T = 30 none is, and nothing is said."""
    from symbptt import plots
    from symbptt.numeric.sweeps import random_recurrent_matrix, rounding_decides, sweep_gain

    fig, data = plots.meanfield_gap("tanh", (4, 16), 600, 2, 0)
    gains = data.values["gains"]
    decided = np.array([[rounding_decides(sweep_gain(gains, 600, "tanh", n, seed=s, W0=random_recurrent_matrix(n, s)),
                                          "tanh")[-1] for s in (0, 1)] for n in (4, 16)])
    assert np.array_equal(decided, data.values["rounding_decides"]) and decided.sum() >= 2
    text = " ".join(fig.texts[-1].get_text().split())
    at = ", ".join(f"{int(decided[:, :, k].sum())} at g = {g:.3g}" for k, g in enumerate(gains)
                   if decided[:, :, k].any())
    assert (f"By T = 600 rounding decides the trajectories of {int(decided.sum())} of the 12 networks ({at}; they "
            "amplify rounding past 10^13)") in text
    calm, _ = plots.meanfield_gap("tanh", (4, 16), 30, 2, 0)
    assert "rounding decides" not in calm.texts[-1].get_text()


def test_a_gain_scales_indrnn_s_own_weights_as_it_scales_w():
    """IndRNN's recurrent weight is its per-unit w: --gain multiplies it (example networks, sweeps and the
    cells figure's title say so), --scale in training too; the LRU's ν is not a weight and stays."""
    from symbptt import plots
    from symbptt.learn import TrainSettings
    from symbptt.learn.train import initial_params
    from symbptt.numeric.examples import example_config

    one, two = (example_config("indrnn", 5, 3, gain=g).layers[0]["w"] for g in (1.0, 2.5))
    assert np.allclose(two, 2.5 * one)
    nu = [example_config("lru", 5, 3, gain=g).layers[0]["nu"] for g in (1.0, 2.5)]
    assert np.array_equal(nu[0], nu[1])
    spec = MAKERS["indrnn"](get_activation("tanh"))
    w = [initial_params(spec, TrainSettings(cell="indrnn", n=3, scale=s), 1)[0]["w"] for s in (1.0, 3.0)]
    assert np.allclose(w[1], 3.0 * w[0])
    title = plots.cell_curves(("indrnn", "lru"), n=2, T_max=5, gain=1.5).figure.axes[0].get_title()
    assert "indrnn w ~ 1.5·U(0, 1)" in title and "lru ν ~ U(-5, -2)" in title


ACELL = (VRNN.replace('"vrnn"', '"acell"').replace('"b"]', '"q_g"]').replace('b = ["n"]', 'q_g = ["n"]')
         .replace("+ b)", "+ q_g)"))  # the vanilla cell with its bias named q_g
NODE_A = VRNN.replace('"vrnn"', '"nodea"').replace('[update]\nh = "tanh(W @ h + U @ x + b)"',
                                                   '[intermediates]\nq = "tanh(W @ h + U @ x + b)"\n[update]\nh = "q"')


def test_a_parameter_is_spelled_as_one_by_its_symbol_not_by_what_was_derived_before(tmp_path):
    """A user parameter q_g prints with its gate low and its entry as one index (A_{g,12}), read back as a
    parameter by the check's reader; a node named A in another cell keeps the node spelling (Aₜ,₁) whether
    or not the first cell was derived earlier in the same process (no table of parameter names is kept)."""
    from symbptt.latex import snippet
    from symbptt.notation import PARAM_BASES
    from symbptt.readback import latex_equations
    from symbptt.render import render_text

    (tmp_path / "acell.toml").write_text(ACELL)
    (tmp_path / "nodea.toml").write_text(NODE_A)
    node_model = RNN(T=2, n=2, layers=2, cell=str(tmp_path / "nodea.toml"))
    before = render_text(derive(node_model, "recursive", "all"), pretty=True)
    param_model = RNN(T=2, n=2, layers=2, cell=str(tmp_path / "acell.toml"))
    derivation = derive(param_model, "explicit", "q_g")
    tex = snippet(derivation)
    assert r"\partial q^{(2)}_{g}}" in tex and "∂L/∂q_g^(2) = " in render_text(derivation)
    read = latex_equations(tex, PARAM_BASES | {"q"})
    assert read[0][0] == "∂L/∂q_g^(2)"
    assert latex_equations(tex)[0][0] != "∂L/∂q_g^(2)"  # read without knowing q is a parameter
    assert render_text(derive(node_model, "recursive", "all"), pretty=True) == before
    assert "q" not in PARAM_BASES


def test_a_cell_s_kept_hash_agrees_with_equality_and_is_not_pickled():
    import pickle

    from symbptt.cells import get_cell

    lstm, again = get_cell("lstm", get_activation("tanh")), get_cell("lstm", get_activation("tanh"))
    other = dataclasses.replace(lstm, title=lstm.title + " (renamed)")
    assert hash(lstm) == hash(again) == hash(tuple(getattr(lstm, f.name) for f in dataclasses.fields(lstm)))
    assert lstm != other and hash(other) != hash(lstm)  # a changed field changes the hash, not the kept one
    copied = pickle.loads(pickle.dumps(lstm))
    assert copied == lstm and "_hash" not in copied.__dict__ and hash(copied) == hash(lstm)


LARGE_COEFFICIENTS = """states = ["h", "c"]
params = ["v_o0h", "v_o0c", "u_o0", "v_f1h", "v_f1c", "u_f1", "v_z2h", "v_z2c", "u_z2", "b_z2", "p_z2", "v_qhh",
          "u_qh", "v_qcc", "u_qc", "b_qc"]
[intermediates]
o = "atan(v_o0h*h + v_o0c*c + u_o0*x)"
f = "atan(o*(v_f1h*h + v_f1c*c + u_f1*x))"
z = "atan(p_z2*(v_z2h*h + v_z2c*c + u_z2*x + b_z2))"
[update]
h = "sigmoid(v_qhh*h + u_qh*x) + f/3 + f/(1 + abs(f)) + z/5"
c = "atan(v_qcc*c + u_qc*x + b_qc) + o/3 + o/(1 + abs(o))"
"""


@pytest.mark.timeout(60)
def test_a_cell_file_with_large_coefficients_reports_without_factoring_them(tmp_path):
    """Its ∂h_t/∂h_{t-1} has 69 operations: SymPy's factor of it over one denominator ran for minutes, and
    `grad` with it never finished; such a coefficient is kept as written (forward.GATHER_OPS) and the report
    agrees with reference_files.py."""
    import mpmath

    from symbptt.config import parse_config
    from symbptt.numeric.grad_report import grad_report
    from symbptt.reference_files import bptt

    path = tmp_path / "large.toml"
    path.write_text(LARGE_COEFFICIENTS)
    rng = np.random.default_rng(2)
    names = ["v_o0h", "v_o0c", "u_o0", "v_f1h", "v_f1c", "u_f1", "v_z2h", "v_z2c", "u_z2", "b_z2", "p_z2", "v_qhh",
             "u_qh", "v_qcc", "u_qc", "b_qc", "h0", "c0"]
    values = {name: float(rng.normal(0, 0.8)) for name in names}
    report = grad_report(parse_config({"cell": str(path), **values, "x": [0.5, -0.3, 0.8], "y": 0.2}))
    with mpmath.workdps(30):
        layers = [{k: np.array([v]) for k, v in values.items()}]
        _, want = bptt(LARGE_COEFFICIENTS, layers, np.array([[0.5], [-0.3], [0.8]]), np.array([0.2]))
    for name in names:
        assert abs(report["grad"][name] - float(want[0][name][0])) <= 1e-10 * max(1.0, abs(float(want[0][name][0])))


def test_where_the_branches_of_a_min_in_a_cell_file_tie_its_slope_is_one_branch_s(tmp_path):
    """A cell file's min(p, log(1 + e^p)) is p for every p, but float64 sees its branches tie from p ≈ 37:
    both steps of its slope were 0 there, so a state driven past it passed back nothing.  As for an
    activation (activations.slope_of), a tie now takes one branch's slope; the gradients agree with
    reference_files.py, which differentiates the file's text itself."""
    import mpmath
    from conftest import TIE_CELL as text

    import symbptt
    from symbptt.reference_files import bptt
    path = tmp_path / "tie.toml"
    path.write_text(text)
    x = np.random.default_rng(3).uniform(0, 1, (40, 1))  # w = 2: the state doubles each step, to 10^12
    params = {"w": np.array([2.0]), "u": np.array([1.0]), "h0": np.array([0.3])}
    got = symbptt.gradients(params, x.reshape(40, 1, 1), np.zeros((1, 1)), cell=str(path))
    with mpmath.workdps(60):
        _, want = bptt(text, [params], x, np.zeros(1))
    for name in ("w", "u", "h0"):
        assert float(np.ravel(got.grads[name])[0]) == pytest.approx(float(want[0][name][0]), rel=1e-12), name
    from symbptt import primitives as P
    from symbptt.cells.userfile import load_cell_file
    from symbptt.step import step_graph

    slope = step_graph(load_cell_file(str(path))).coefficient("h", "prev_h")  # its steps written H, as every step
    assert slope.has(P.H) and not slope.has(sp.Heaviside)
