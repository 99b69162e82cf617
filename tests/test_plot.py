"""Figures: assertions on the data drawn, valid files, byte-identical reruns, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.dom.minidom

import numpy as np
import pytest

from symbptt import SymbpttError, plot
from symbptt import primitives as P
from symbptt.config import parse_config
from symbptt.forms import SymbolicFactors
from symbptt.model import RNN
from symbptt.numeric.sweeps import random_recurrent_matrix, sweep_scalar
from symbptt.paths import contribution, evaluate_term, explicit_terms

CFG = {"activation": "tanh", "W": 1.3, "U": 0.7, "b": 0.1, "h0": 0.2, "x": [0.5, -0.3, 0.8, 0.1, -0.9, 0.4],
       "y": 0.25}


def test_heat_map_array_is_the_sweep_and_boundary_is_one_over_gamma():
    for act, gamma in (("tanh", 1.0), ("sigmoid", 0.25)):
        fig, data = plot.regimes(act, -5, 5, points=21, T_max=30, seed=4)
        x = np.random.default_rng(4).uniform(-1, 1, 30)
        assert np.array_equal(data.values["values"], sweep_scalar(np.linspace(-5, 5, 21), 30, act, x=x))
        assert data.values["boundary"] == pytest.approx(1 / gamma)
        lines = [ln.get_xdata()[0] for ln in fig.axes[0].get_lines()]
        assert pytest.approx(sorted(v for v in lines if abs(v) < 5)) == sorted({-1 / gamma, 1 / gamma} & {
            v for v in (-1 / gamma, 1 / gamma) if abs(v) < 5})


def test_gradient_heat_map_matches_direct_float_gradient():
    _, data = plot.regimes("tanh", 0.5, 1.5, points=3, T_max=12, quantity="grad", seed=1)
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


def test_curves_bounds_are_gamma_w_to_the_T():
    _, data = plot.curves("sigmoid", (0.5, 6.0), T_max=40)
    assert np.allclose(data.values["bounds"][:, 1], np.arange(1, 41) * np.log10(0.25 * 6.0))
    assert np.all(data.values["values"] <= data.values["bounds"] + 1e-9)


def test_contribution_bars_equal_the_explicit_form_terms():
    cfg = parse_config(CFG)
    _, data = plot.contributions(cfg)
    rnn = RNN(T=6)
    from symbptt.model import nested_states

    values, subs = SymbolicFactors(rnn), {k: P.plain(v) for k, v in nested_states(rnn).items()}
    point = {rnn.symbols.W(1)[0, 0]: 1.3, rnn.symbols.U(1)[0, 0]: 0.7, rnn.symbols.b(1)[0, 0]: 0.1,
             rnn.symbols.h(1, 0)[0, 0]: 0.2, rnn.symbols.y(6)[0, 0]: 0.25}
    point.update({rnn.symbols.x(t)[0, 0]: v for t, v in enumerate(CFG["x"], start=1)})
    for term in explicit_terms(rnn, "W", 1):
        exact = contribution(evaluate_term(term, values), "W", 1, term.entry, values)[0, 0]
        value = float(P.plain(exact.xreplace(subs)).xreplace(point))
        assert data.values["terms"][term.entry - 1] == pytest.approx(value, rel=1e-12)


def test_spectrum_marks_where_gamma_sigma_max_is_one():
    fig, data = plot.spectrum("tanh", n=16, g_min=0.2, g_max=2.0, points=5, T=50, seed=3)
    W0 = random_recurrent_matrix(16, 3)
    assert data.values["g_sigma"] * np.linalg.norm(W0, 2) == pytest.approx(1.0)
    assert data.values["g_rho"] * np.max(np.abs(np.linalg.eigvals(W0))) == pytest.approx(1.0)
    drawn = [ln.get_xdata()[0] for ln in fig.axes[0].get_lines()[2:]]
    assert drawn == pytest.approx([data.values["g_sigma"], data.values["g_rho"]])


def test_unrolled_draws_one_W_and_U_arrow_per_edge():
    _, data = plot.unrolled(T=3, layers=2)
    assert data.values["arrows"] == {"W": 6, "U": 6}


@pytest.mark.parametrize("suffix,magic", [(".png", b"\x89PNG\r\n\x1a\n"), (".svg", b"<?xml"), (".pdf", b"%PDF")])
@pytest.mark.parametrize("kind", plot.KINDS)
def test_every_kind_every_format_is_valid_and_byte_identical(tmp_path, kind, suffix, magic):
    params = tmp_path / "p.json"
    params.write_text(json.dumps(CFG))
    options = {"contributions": {"params_file": str(params)}, "spectrum": {"n": 8, "T": 20, "points": 9},
               "unrolled": {"T": 5}}.get(kind, {"T": 20, "points": 9})
    outs = []
    for i in range(2):
        out = tmp_path / f"fig{i}{suffix}"
        plot.save(plot.draw(kind, **options), out)
        outs.append(out.read_bytes())
    assert outs[0].startswith(magic)
    assert outs[0] == outs[1]
    if suffix == ".svg":
        xml.dom.minidom.parseString(outs[0])
    if suffix == ".png":
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
    (["spectrum", "-o", "x.png", "--seed", "-1"], "--seed"), (["regimes", "-o", ""], "empty"),
])
def test_bad_plot_input_exit_2_and_no_file(tmp_path, args, needle):
    proc = subprocess.run([sys.executable, "-m", "symbptt", "plot", *args], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert proc.returncode == 2 and needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_api_refuses_empty_ranges():
    with pytest.raises(SymbpttError):
        plot.surface(w_min=1, w_max=1)
