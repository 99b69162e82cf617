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
    gradients,
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
from symbptt.learn import TrainSettings, clip_by_norm, make_batch
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
    ("sweep_grad 10^7 steps", lambda: sweep_grad(np.array([0.5]), 10**7, "tanh"), "would take about 27 min"),
    ("sweep_gain 2e7 steps", lambda: sweep_gain(np.array([1.0]), 2 * 10**7, "tanh", 8), "1 gain would take about"),
    ("isometry 2e7 steps", lambda: plot.isometry(steps=(1, 2 * 10**7)), "would take about 55 min"),
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
    ("spectrum points 2**62", lambda: plot.spectrum(n=4, points=2**62, T=5), "lower --seeds, --points"),
    ("surface target nan", lambda: plot.surface(target=float("nan")), "target (--target) must be finite"),
    ("units seed str", lambda: plot.units(seed="x"), "seed (--seed)"),
    ("unrolled layers str", lambda: plot.unrolled(layers="2"), "layers (--layers)"),
    ("contributions wrt int", lambda: plot.contributions(wrt=3), "wrt must be"),
    ("regimes seed nan", lambda: plot.regimes(seed=float("nan")), "seed (--seed)"),
    ("spectrum theory str", lambda: plot.spectrum(theory="no"), "theory (--theory) must be True or False"),
    ("unrolled backward str", lambda: plot.unrolled(backward="no"), "backward (--backward) must be True or False"),
    ("save None", lambda: plot.save(None, "x.png"), "save takes a matplotlib Figure"),
    ("check_plot_path int", lambda: plot.check_plot_path(3), "the figure's path must be a str or a Path"),
    ("draw kind", lambda: plot.draw("nope"), "unknown kind 'nope'; choose one of regimes"),
    ("horizon base None", lambda: plot.horizon(None, ["rnn"], [5], 1), "horizon takes TrainSettings"),
    ("horizon cells str", lambda: plot.horizon(TrainSettings(), "rnn", [5], 1), "cells must be a non-empty list"),
    ("horizon seeds=0", lambda: plot.horizon(TrainSettings(), ["rnn"], [5], 0), "seeds (--seeds) must be at least 1"),
    ("training None", lambda: plot.training(None, "T"), "training takes a list of TrainSettings"),
    ("training varied", lambda: plot.training([TrainSettings()], "lr"), "varied must be one of T, clip"),
    ("make_batch rng", lambda: make_batch("remember", 5, 2, None), "rng must be a numpy.random.Generator"),
    ("make_batch batch", lambda: make_batch("remember", 5, 0, np.random.default_rng(0)), "batch must be at least 1"),
    ("clip_by_norm None", lambda: clip_by_norm(None, 1.0), "grads must be a list of dicts"),
    ("clip_by_norm limit", lambda: clip_by_norm([{"W": np.ones(2)}], -1.0), "limit must be positive"),
]


@pytest.mark.parametrize("call,needle", [(c, n) for _, c, n in MISUSE], ids=[i for i, _, _ in MISUSE])
def test_api_misuse_is_a_symbptt_error_naming_the_argument(call, needle):
    with pytest.raises(SymbpttError) as info:
        call()
    message = str(info.value)
    assert needle in message and "\n" not in message


_PARAMS = {"W": np.eye(2) * 0.5, "U": np.ones((2, 1)), "b": np.zeros(2), "h0": np.zeros(2)}
NAMED = [  # a public call with good arguments, and each of its arguments that takes a name (a str)
    ("RNN", lambda **k: RNN(**({"T": 2} | k)), ["activation", "loss", "cell"]),
    ("gradients", lambda **k: gradients(_PARAMS, np.zeros((3, 1, 1)), np.zeros((2, 1)), **k),
     ["cell", "loss", "activation"]),
    ("standalone", lambda **k: standalone(RNN(T=2), **k), ["wrt", "code_form"]),
    ("sweep_scalar", lambda **k: sweep_scalar(**({"weights": np.array([0.5]), "T_max": 3, "activation": "tanh"} | k)),
     ["activation"]),
    ("sweep_grad", lambda **k: sweep_grad(**({"weights": np.array([0.5]), "T_max": 3, "activation": "tanh"} | k)),
     ["activation", "loss", "wrt"]),
    ("sweep_gain", lambda **k: sweep_gain(**({"gains": np.array([0.5]), "T_max": 3, "activation": "tanh", "n": 2} | k)),
     ["activation", "init"]),
    ("theory", lambda **k: theory(**k), ["activation"]),
    ("TrainSettings", lambda **k: TrainSettings(**({"T": 3, "n": 2, "batch": 2, "steps": 1} | k)).validate(),
     ["cell", "activation", "task", "optimizer", "init"]),
    ("run_checks", lambda **k: run_checks(**({"trials": 1} | k)), ["methods", "cells"]),
    ("plot.regimes", lambda **k: plot.regimes(**({"points": 3, "T_max": 3} | k)), ["activation", "quantity", "beside"]),
    ("plot.spectrum", lambda **k: plot.spectrum(**({"n": 2, "points": 2, "T": 3} | k)), ["activation", "init"]),
    ("plot.draw", lambda **k: plot.draw(**({"kind": "regimes", "T": 3, "points": 3} | k)), ["kind"]),
]


@pytest.mark.parametrize("value", [[1], np.array(["a", "b"]), {"a": 1}], ids=["list", "array", "dict"])
@pytest.mark.parametrize("call,name", [(c, a) for _, c, names in NAMED for a in names],
                         ids=[f"{f} {a}" for f, _, names in NAMED for a in names])
def test_a_list_an_array_or_a_dict_where_a_name_belongs_is_refused_in_one_line(call, name, value):
    """Where a name belongs, a list, an array (whose comparison with a name is an array, true or false only
    entry by entry) or a dict (which no table of names can look up) gets the one-line error a wrong name
    gets, naming the argument, not a TypeError or ValueError from deep inside.  Planted: without the
    check before the cached lookup, RNN(T=2, activation=[1]) fails on an unhashable list."""
    with pytest.raises(SymbpttError) as info:
        call(**{name: value if name not in ("methods", "cells") else (value,)})
    message = str(info.value)
    assert "\n" not in message
    assert name.rstrip("s") in message.replace("-", "_") or (name == "kind" and "kind" in message)


def test_a_name_is_checked_before_the_lookup_that_caches_it(monkeypatch):
    """The check that refuses a name that is not a str runs before get_activation's cache: take it away
    and a list fails on the cache as a TypeError (the planted bug the test above catches)."""
    from symbptt import activations

    assert isinstance(activations.get_activation("tanh"), activations.Activation)
    with pytest.raises(TypeError):
        activations._activation([1])  # the cached lookup alone: what the check keeps users from


@pytest.mark.parametrize("n", [1, 2, 8])  # 4, 8 and 144 numbers: both of all_finite's ways of looking
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_a_parameter_holding_inf_or_nan_is_named_with_its_layer(n, bad):
    rng = np.random.default_rng(n)
    layer = {"W": rng.normal(size=(n, n)), "U": rng.normal(size=(n, 1)), "b": rng.normal(size=n), "h0": np.zeros(n)}
    x, y = rng.normal(size=(3, 1, 2)), rng.normal(size=(n, 2))
    broken = {**layer, "U": layer["U"].copy()}
    broken["U"][-1, 0] = bad
    with pytest.raises(SymbpttError, match=r"^U holds inf or NaN$"):
        gradients(broken, x, y)
    with pytest.raises(SymbpttError, match=r"^params\[1\]\.U holds inf or NaN$"):
        gradients([layer, {**broken, "U": np.full((n, n), bad)}], x, y)
    assert np.isfinite(gradients(layer, x, y).loss)  # the same layer without it runs
