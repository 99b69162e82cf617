"""The Python API refuses misuse as the command line does: a SymbpttError (a ValueError) whose one-line
message names the argument, before any work or allocation."""

from __future__ import annotations

import numpy as np
import pytest

from symbptt import (
    RNN,
    SymbpttError,
    derive,
    grad_report,
    load_config,
    render_text,
    run_checks,
    snippet,
    standalone,
    theory,
    tikz_diagram,
    train,
    verify,
)
from symbptt import plots as plot
from symbptt.learn import TrainSettings
from symbptt.numeric.sweeps import sweep_gain, sweep_grad, sweep_param, sweep_scalar

MISUSE = [
    ("derive('rnn')", lambda: derive("rnn"), "derive takes an RNN"),
    ("derive wrt=''", lambda: derive(RNN(T=2), wrt=""), "wrt"),
    ("derive form=3", lambda: derive(RNN(T=2), form=3), "form"),
    ("RNN T='3'", lambda: RNN(T="3"), "T"),
    ("RNN n=2.5", lambda: RNN(T=3, n=2.5), "hidden size n"),
    ("RNN activation=3", lambda: RNN(T=3, activation=3), "activation"),
    ("sweep_scalar T=0", lambda: sweep_scalar(np.linspace(-1, 1, 3), 0, "tanh"), "T_max"),
    ("sweep_scalar huge", lambda: sweep_scalar(np.linspace(-1, 1, 100_000), 100_000, "tanh"), "values"),
    ("sweep_scalar nan", lambda: sweep_scalar(np.array([np.nan]), 3, "tanh"), "finite"),
    ("regimes huge", lambda: plot.regimes(T_max=100_000, points=100_000), "grid"),
    ("regimes points str", lambda: plot.regimes(points="5"), "points"),
    ("surface points=1", lambda: plot.surface(points=1), "points"),
    ("curves weights str", lambda: plot.curves(weights="0.5,1"), "weights"),
    ("curves weights nan", lambda: plot.curves(weights=(0.5, float("nan"))), "weights"),
    ("cell_curves cells str", lambda: plot.cell_curves(cells="rnn,lstm"), "cells"),
    ("cell_curves huge", lambda: plot.cell_curves(n=256, T_max=20_000), "GiB"),
    ("gates points=0", lambda: plot.gates(points=0), "points"),
    ("gates huge", lambda: plot.gates(n=256, points=100, T_max=1000), "would take"),
    ("TrainSettings eval_every=0", lambda: TrainSettings(eval_every=0).validate(), "eval_every"),
    ("TrainSettings forget_bias=nan", lambda: TrainSettings(forget_bias=float("nan")).validate(), "forget_bias"),
    ("TrainSettings n='8'", lambda: TrainSettings(n="8").validate(), "n (-n)"),
    ("TrainSettings clip str", lambda: TrainSettings(clip="x").validate(), "clip (--clip)"),
    ("TrainSettings far str", lambda: TrainSettings(far="x").validate(), "far (--far)"),
    ("sweep_gain n=0", lambda: sweep_gain(np.array([1.0]), 3, "tanh", 0), "n must be"),
    ("sweep_gain huge", lambda: sweep_gain(np.linspace(0, 1, 1000), 100_000, "tanh", 256), "values"),
    ("sweep_grad T=0", lambda: sweep_grad(np.array([1.0]), 0, "tanh"), "T_max"),
    ("sweep_grad wrt", lambda: sweep_grad(np.array([1.0]), 3, "tanh", wrt="q"), "wrt"),
    ("spectrum points=0", lambda: plot.spectrum(points=0), "points (--points) must be at least 1"),
    ("unrolled T='3'", lambda: plot.unrolled(T="3"), "T (-T)"),
    ("contributions cfg str", lambda: plot.contributions("x"), "Config"),
    ("sweep_gain grid str", lambda: sweep_gain("abc", 3, "tanh", 4), "the grid must be an array of numbers"),
    ("sweep_gain W0 shape", lambda: sweep_gain(np.array([1.0]), 3, "tanh", 4, W0=np.ones((3, 3))), "W0 must be"),
    ("sweep_gain W0 nan", lambda: sweep_gain(np.array([1.0]), 3, "tanh", 4, W0=np.full((4, 4), np.nan)), "W0 holds"),
    ("sweep_gain seed str", lambda: sweep_gain(np.array([1.0]), 3, "tanh", 4, seed="x"), "seed"),
    ("sweep_gain input_scale", lambda: sweep_gain(np.array([1.0]), 3, "tanh", 4, input_scale="x"), "input_scale"),
    ("sweep_scalar u str", lambda: sweep_scalar(np.ones(2), 3, "tanh", u="a"), "u must be a number"),
    ("sweep_scalar h0 inf", lambda: sweep_scalar(np.ones(2), 3, "tanh", h0=float("inf")), "h0 must be finite"),
    ("sweep_scalar x short", lambda: sweep_scalar(np.ones(2), 5, "tanh", x=np.ones(2)), "at least T_max = 5"),
    ("sweep_scalar x str", lambda: sweep_scalar(np.ones(2), 5, "tanh", x="abc"), "x must be an array"),
    ("sweep_scalar seed -1", lambda: sweep_scalar(np.ones(2), 5, "tanh", seed=-1), "seed must be from 0"),
    ("sweep_grad y str", lambda: sweep_grad(np.array([0.5]), 3, "tanh", y="q"), "y must be a number"),
    ("sweep_grad loss", lambda: sweep_grad(np.array([0.5]), 3, "tanh", loss="mean"), "loss must be"),
    ("sweep_param cfg str", lambda: sweep_param("x", "W", np.ones(2)), "sweep_param takes a Config"),
    ("sweep_param grid str", lambda: sweep_param(load_config("example"), "W", "ab"), "the grid"),
    ("grad_report cfg str", lambda: grad_report("example"), "grad_report takes a Config"),
    ("train settings str", lambda: train("x"), "train takes TrainSettings"),
    ("snippet None", lambda: snippet(None), "snippet takes a Derivation"),
    ("render_text str", lambda: render_text("x"), "render_text takes a Derivation"),
    ("render_text width str", lambda: render_text(derive(RNN(T=2)), width="80"), "width must be a whole number"),
    ("render_text width 0", lambda: render_text(derive(RNN(T=2)), width=0), "width must be at least 40, got 0"),
    ("render_text pretty str", lambda: render_text(derive(RNN(T=2)), pretty="no"), "pretty must be True or False"),
    ("derive named str", lambda: derive(RNN(T=2), named="yes"), "named must be True, False or None"),
    ("standalone forms str", lambda: standalone(RNN(T=2), forms="explicit"), "forms must be a tuple of form names"),
    ("standalone code int", lambda: standalone(RNN(T=2), code=3), "code must be a str"),
    ("standalone code_form", lambda: standalone(RNN(T=2), code="", code_form="unroll"), "code_form must be one of"),
    ("standalone diagram str", lambda: standalone(RNN(T=2), diagram="no"), "diagram must be True or False"),
    ("theory edge str", lambda: theory(edge="no"), "edge must be True or False"),
    ("theory sigma_w True", lambda: theory(sigma_w=True), "sigma_w must be a number"),
    ("verify diagnose str", lambda: verify("J_t = w", diagnose="no"), "diagnose must be True or False"),
    ("standalone str", lambda: standalone("x"), "standalone takes an RNN"),
    ("tikz_diagram str", lambda: tikz_diagram("x"), "tikz_diagram takes an RNN"),
    ("run_checks trials=0", lambda: run_checks(trials=0), "trials"),
    ("run_checks methods", lambda: run_checks(trials=1, methods=("zz",)), "methods must be"),
    ("run_checks T_max=13", lambda: run_checks(trials=1, T_max=13), "T_max"),
    ("verify points=0", lambda: verify("J_t = w", points=0), "points must be"),
    ("cell_curves gain str", lambda: plot.cell_curves(gain="x"), "gain (--gain)"),
    ("cell_curves cells ints", lambda: plot.cell_curves(cells=(1, 2)), "cells must be"),
    ("curves seed -1", lambda: plot.curves(seed=-1), "seed (--seed) must be from 0"),
    ("gates drive nan", lambda: plot.gates(drive=float("nan")), "drive (-u) must be finite"),
    ("gradmap param int", lambda: plot.gradient_map(param=3), "param must be"),
    ("isometry steps str", lambda: plot.isometry(steps="1,10"), "one to six values of T"),
    ("isometry n str", lambda: plot.isometry(n="8"), "hidden size n (-n)"),
    ("meanfield sizes float", lambda: plot.meanfield_gap(sizes=(4.5, 8)), "a size n (--sizes)"),
    ("meanfield seeds=0", lambda: plot.meanfield_gap(seeds=0), "seeds (--seeds)"),
    ("spectrum g_min str", lambda: plot.spectrum(g_min="x"), "g_min (--min)"),
    ("spectrum seed 2**40", lambda: plot.spectrum(seed=2**40), "seed (--seed)"),
    ("surface target nan", lambda: plot.surface(target=float("nan")), "target (--target) must be finite"),
    ("units seed str", lambda: plot.units(seed="x"), "seed (--seed)"),
    ("unrolled layers str", lambda: plot.unrolled(layers="2"), "layers (--layers)"),
    ("contributions wrt int", lambda: plot.contributions(wrt=3), "wrt must be"),
    ("regimes seed nan", lambda: plot.regimes(seed=float("nan")), "seed (--seed)"),
]


@pytest.mark.parametrize("call,needle", [(c, n) for _, c, n in MISUSE], ids=[i for i, _, _ in MISUSE])
def test_api_misuse_is_a_symbptt_error_naming_the_argument(call, needle):
    with pytest.raises(SymbpttError) as info:
        call()
    message = str(info.value)
    assert needle in message and "\n" not in message
