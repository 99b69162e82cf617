"""Training: exact gradients of a training step, reproducible runs, tasks, optimizers, clipping,
truncation, the command line (bad input, NaN, Ctrl-C) and the figures."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from conftest import examples, run_in_process
from hypothesis import given, settings
from hypothesis import strategies as st

from symbptt import SymbpttError
from symbptt.activations import get_activation
from symbptt.cells import get_cell
from symbptt.learn import TrainSettings, clip_by_norm, make_batch, make_optimizer, train
from symbptt.learn.tasks import baseline_loss
from symbptt.learn.train import batch_gradients, initial_params
from symbptt.numeric.factors import ArrayFactors, NumericModel
from symbptt.reference import bptt, finite_differences


def _step(cell: str, n: int, T: int, B: int, seed: int, layers: int = 1, task: str = "remember"):
    s = TrainSettings(cell=cell, n=n, T=T, batch=B, seed=seed, layers=layers, task=task)
    spec = get_cell(cell, get_activation("tanh"))
    params = initial_params(spec, s, 1 if task == "remember" else 2)
    batch = make_batch(task, T, B, np.random.default_rng(seed))
    y = np.broadcast_to(batch.target, (n, B)).copy()
    model = NumericModel(spec, params, batch.x, y, "last")
    loss, grads, share = batch_gradients(ArrayFactors(model), model, spec, max(1, T // 2), None)
    return spec, params, batch, loss, grads, share


def _reference_layers(spec, params):
    return [{k: (v.reshape(-1) if spec.kind(k) in ("bias", "initial", "unit") else v) for k, v in p.items()}
            for p in params]


@pytest.mark.parametrize("cell,layers", [("rnn", 1), ("rnn", 2), ("lstm", 1), ("gru", 1), ("indrnn", 2), ("lru", 2),
                                         ("mingru", 1)])
def test_a_training_step_is_the_reference_gradient_averaged_over_the_batch(cell, layers):
    """Each sequence of the batch through the plain NumPy reference BPTT (and central differences),
    averaged: equal to the batched gradient the optimizer receives."""
    n, T, B = 3, 6, 4
    spec, params, batch, loss, grads, _ = _step(cell, n, T, B, seed=3, layers=layers)
    layers_ref = _reference_layers(spec, params)
    total_loss, total = 0.0, None
    fd_total = None
    for j in range(B):
        y = np.full(n, batch.target[j])
        x = batch.x[:, :, j]
        value, g = bptt(layers_ref, x, y, cell=cell)
        fd = finite_differences(layers_ref, x, y, cell=cell)
        total_loss += float(value) / B
        total = g if total is None else [{k: a[k] + b[k] for k in a} for a, b in zip(total, g, strict=True)]
        fd_total = fd if fd_total is None else [{k: a[k] + b[k] for k in a} for a, b in zip(fd_total, fd, strict=True)]
    assert loss == pytest.approx(total_loss, rel=1e-12)
    for ours, ref, fd in zip(grads, total, fd_total, strict=True):
        for name, g in ours.items():
            want = np.reshape(ref[name], g.shape) / B
            assert np.allclose(g, want, rtol=1e-10, atol=1e-13), name
            assert np.allclose(g, np.reshape(fd[name], g.shape) / B, rtol=1e-5, atol=1e-8), name


def test_the_same_seed_gives_the_same_run_bit_for_bit():
    s = TrainSettings(n=4, T=8, steps=15, batch=8, eval_every=5)
    a, b = train(s), train(s)
    assert [r["loss"] for r in a.rows] == [r["loss"] for r in b.rows]
    assert a.summary == b.summary
    c = train(replace(s, seed=1))
    assert [r["loss"] for r in c.rows] != [r["loss"] for r in a.rows]


def test_tasks_hold_what_they_promise():
    rng = np.random.default_rng(0)
    b = make_batch("remember", 7, 50, rng)
    assert b.x.shape == (7, 1, 50) and np.all(np.abs(b.x[0, 0]) == 1) and np.all(np.abs(b.x[1:]) <= 0.5)
    assert np.array_equal(b.target, b.x[0, 0] / 2)
    a = make_batch("adding", 10, 50, rng)
    markers = a.x[:, 1, :]
    assert np.all(markers.sum(axis=0) == 2) and np.all(markers[:5].sum(axis=0) == 1)
    picked = (a.x[:, 0, :] * markers).sum(axis=0) / 2
    assert np.allclose(a.target, picked)
    assert baseline_loss("remember", 7, 3) == pytest.approx(0.5 * 3 * 0.25)
    big = make_batch("adding", 10, 200_000, np.random.default_rng(1))
    assert np.var(big.target) == pytest.approx(1 / 24, rel=0.02)  # the baseline's variance
    for name, T in (("nope", 5), ("adding", 3), ("remember", 1)):
        with pytest.raises(SymbpttError):
            make_batch(name, T, 2, rng)


@settings(max_examples=examples(30), deadline=None)
@given(st.floats(0.01, 10), st.integers(1, 5), st.integers(0, 1000))
def test_clipping_keeps_the_direction_and_caps_the_length(limit, n, seed):
    rng = np.random.default_rng(seed)
    grads = [{"W": rng.normal(size=(n, n)) * 10, "b": rng.normal(size=(n, 1))}]
    clipped, fired, norm = clip_by_norm(grads, limit)
    flat = np.concatenate([g.ravel() for g in grads[0].values()])
    new = np.concatenate([g.ravel() for g in clipped[0].values()])
    assert norm == pytest.approx(np.linalg.norm(flat))
    assert fired == (norm > limit)
    assert np.linalg.norm(new) == pytest.approx(min(norm, limit))
    assert np.allclose(new / np.linalg.norm(new), flat / norm)


def test_optimizer_rules_by_hand():
    g = [{"w": np.array([[2.0]])}]
    for name, after_two in (("sgd", 1.0 - 0.1 * 2 - 0.1 * 2), ("momentum", 1.0 - 0.1 * 2 - 0.1 * (0.9 * 2 + 2)),
                            ("adam", 1.0 - 0.1 - 0.1)):  # Adam's first steps move by lr·sign(g)
        p = [{"w": np.array([[1.0]])}]
        opt = make_optimizer(name, 0.1)
        opt.step(p, g)
        opt.step(p, g)
        assert p[0]["w"][0, 0] == pytest.approx(after_two, rel=1e-6), name
    with pytest.raises(SymbpttError):
        make_optimizer("sgd", 0.0)


def test_truncation_keeps_only_the_recent_steps_and_far_share_measures_the_rest():
    """With loss on h_T, truncated BPTT at k is the full gradient minus the terms entering more than k
    steps back; far_share of those terms is between 0 and 1."""
    s = TrainSettings(n=3, T=8, batch=4, steps=1, truncate=3, far=3, seed=2)
    spec = get_cell("rnn", get_activation("tanh"))
    params = initial_params(spec, s, 1)
    batch = make_batch("remember", 8, 4, np.random.default_rng(5))
    model = NumericModel(spec, params, batch.x, np.broadcast_to(batch.target, (3, 4)).copy(), "last")
    values = ArrayFactors(model)
    _, full, share = batch_gradients(values, model, spec, 5, None)
    _, cut, _ = batch_gradients(values, model, spec, 3, 3)
    _, _, share_all = batch_gradients(values, model, spec, 8, None)
    assert 0.0 < share < 1.0 and share_all == 0.0
    from symbptt.paths import evaluate_deltas, evaluate_recursive

    deltas = evaluate_deltas(model.structure(), values)
    recent = evaluate_recursive(model.structure(), "W", 1, values, deltas, range(6, 9))
    assert np.allclose(cut[0]["W"], recent / 4)
    assert not np.allclose(cut[0]["W"], full[0]["W"])


def test_a_small_rnn_learns_to_remember_a_few_steps_back():
    result = train(TrainSettings(n=8, T=5, steps=200, batch=32, lr=0.01))
    assert result.summary["solved"] and result.summary["final_over_baseline"] < 0.1


def run(*args: str):
    return run_in_process("train", *args)


def test_command_line_writes_rows_and_summary(tmp_path):
    out = tmp_path / "run.json"
    proc = run("-T", "6", "--steps", "30", "-n", "4", "--eval-every", "10", "--format", "json", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "remember, T = 6, rnn" in proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80  # the sentence wraps for a terminal
    assert "of the mean predictor's)" in " ".join(proc.stdout.split())
    data = json.loads(out.read_text())
    assert len(data["rows"]) == 30
    assert {"loss", "grad_norm", "far_share", "clipped", "eval_loss"} <= set(data["rows"][0])
    assert [r["eval_loss"] is not None for r in data["rows"]].count(True) == 3
    csv = run("-T", "6", "--steps", "5", "-n", "4").stdout.splitlines()
    assert csv[0].startswith("iteration,loss,grad_norm,far_share,clipped,eval_loss") and len(csv) > 6


@pytest.mark.parametrize("args,needle", [
    (["--task", "nope"], "--task"), (["--task", "adding", "-T", "3"], "T >= 4"), (["--lr", "0"], "--lr"),
    (["--lr", "-1"], "--lr"), (["--batch", "0"], "--batch"), (["--clip", "0"], "--clip"),
    (["--truncate", "0"], "--truncate"), (["-T", "5", "--truncate", "6"], "--truncate"),
    (["--cell", "missing.toml"], "missing.toml"), (["--steps", "0"], "--steps"), (["--scale", "nan"], "finite"),
    (["--cell", "lstm", "-a", "relu"], "-a sets"),
    (["-T", "10000000", "-n", "1", "--batch", "1", "--steps", "1"], "GiB"),
    (["-n", "256", "-T", "5000", "--batch", "1", "--steps", "1"], "GiB"),
    (["--cell", "lstm", "-n", "256", "-T", "59604", "--steps", "1"], "GiB"),
    (["--eval-every", "0"], "eval-every"),
])
def test_bad_training_input_is_one_line_exit_2_and_no_file(tmp_path, args, needle):
    out = tmp_path / "run.csv"
    proc = run(*args, "-o", str(out))
    assert proc.returncode == 2 and needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_a_run_that_blows_up_stops_naming_the_iteration_and_keeps_its_rows(tmp_path):
    out = tmp_path / "run.csv"
    proc = run("-a", "linear", "--scale", "3", "-T", "30", "--steps", "50", "--optimizer", "sgd", "--lr", "1",
               "-o", str(out))
    assert proc.returncode == 1 and "stopped being finite at iteration" in proc.stderr
    assert "Traceback" not in proc.stderr
    text = out.read_text()
    assert "# stopped: the loss or its gradient stopped being finite" in text


def test_ctrl_c_writes_what_was_trained(tmp_path):
    """The run's stderr is a terminal, so train draws its progress line (after 2 s of training); the test
    waits for that line, an event, not for a fixed time, then presses Ctrl-C."""
    import os
    import pty
    import select

    out = tmp_path / "run.csv"
    screen, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "symbptt", "train", "-T", "20", "--steps", "100000", "-n", "8",
                             "-o", str(out)], stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    seen = b""
    while b"train " not in seen:  # the progress line: rows have been trained
        ready, _, _ = select.select([screen], [], [], 60)
        assert ready, "no progress line within 60 s"
        seen += os.read(screen, 1024)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    while select.select([screen], [], [], 0.5)[0]:
        try:
            chunk = os.read(screen, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        seen += chunk
    os.close(screen)
    stderr = seen.decode(errors="replace")
    assert proc.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr
    rows = [line for line in out.read_text().splitlines() if line and not line.startswith(("#", "iteration"))]
    assert 0 < len(rows) < 100000
    assert "# stopped: interrupted" in out.read_text()


def test_training_figures_hold_the_runs(tmp_path):
    from symbptt import plots

    base = TrainSettings(n=4, T=6, steps=20, batch=8, eval_every=5)
    fig, data = plots.training([replace(base, clip=None), replace(base, clip=0.5)], "clip")
    first = train(base)
    assert np.array_equal(data.values["runs"][0]["grad_norm"], [r["grad_norm"] for r in first.rows])
    clipped = data.values["runs"][1]
    assert clipped["clipped"] > 0
    # the applied step: the raw norm, cut to the threshold where the run clipped (and only there)
    cut = clipped["grad_norm"] > 0.5
    assert np.all(clipped["applied_norm"][cut] == 0.5) and cut.sum() == clipped["clipped"]
    assert np.array_equal(clipped["applied_norm"][~cut], clipped["grad_norm"][~cut])
    words = " ".join(t.get_text() for t in fig.texts)
    assert f"clipped {clipped['clipped']} of 20 updates" in words and "applied" in words
    fig, data = plots.training([replace(base, T=4), replace(base, T=6)], "T")  # no clipping: far_share drawn
    run = data.values["runs"][1]
    assert np.array_equal(run["far_share"], [r["far_share"] for r in train(replace(base, T=6)).rows])
    right = fig.axes[1]
    assert right.get_ylim() == (0.0, 1.0) and "far_share" in right.get_ylabel()
    words = " ".join(t.get_text() for t in fig.texts)
    assert f"T = 6: {float(np.median(run['far_share'][-100:])):.2g}" in words and "K = 2, 3: half of T" in words
    fig, data = plots.horizon(replace(base, steps=10), ["rnn", "gru"], [3, 6], seeds=1)
    assert set(data.values["solved"]) == {"rnn", "gru"} and len(data.values["solved"]["rnn"]) == 2
    plots.save(fig, tmp_path / "h.png")
    with pytest.raises(SymbpttError):
        plots.horizon(base, ["rnn"] * 10, [3] * 7, seeds=1)


def test_the_far_share_median_runs_over_the_last_iterations():
    from symbptt.plots.training import far_sentence, running_median

    assert running_median(np.array([1.0, 5, 2, 8, 3]), 3).tolist() == [1.0, 3.0, 2.0, 5.0, 3.0]
    runs = [{"label": "T = 5", "far_share": np.array([0.9, 0.1, 0.3, 0.2])}]
    assert far_sentence(runs, last=2) == " Median far_share over the last 2 iterations: T = 5: 0.25."
    runs[0]["far_share"] = np.array([0.9, 0.1, 0.5, 0.7])
    assert far_sentence(runs, last=2).endswith("T = 5: 0.6.")
    # a run shorter than ``last``: the median of all its iterations, and the sentence says so
    assert far_sentence(runs) == " Median far_share over all 4 iterations: T = 5: 0.6."
    assert far_sentence([{"label": "T = 5", "far_share": np.array([0.3])}]) == (
        " Median far_share over its one iteration: T = 5: 0.3.")
    runs.append({"label": "T = 9", "far_share": np.array([0.2, 0.4])})
    assert far_sentence(runs, last=3) == (" Median far_share over each run's last iterations: T = 5: 0.5 (last 3), "
                                          "T = 9: 0.3 (last 2).")


def test_a_short_training_figure_says_over_how_many_iterations_it_took_its_medians():
    """Three iterations: the caption's medians are over all 3, its running median over up to 15 (it said
    "the last 100 iterations" and "running median of 15" whatever the run's length)."""
    from symbptt import plots

    fig, _ = plots.training([TrainSettings(n=2, T=4, steps=3, batch=4, eval_every=1)], "T")
    words = " ".join(fig.texts[-1].get_text().split())
    assert "over all 3 iterations" in words and "running median of up to 15" in words, words
    assert "last 100" not in words


def test_a_short_training_figures_axes_tick_whole_iterations_over_the_same_span():
    """Three iterations with the loss evaluated at the last only: both panels span iterations 1 to 3 and tick
    whole iterations (they ticked 1.25, 2.75 and, left, 2.84 to 3.16 around the one point)."""
    from symbptt import plots

    fig, _ = plots.training([TrainSettings(n=2, T=4, steps=3, batch=4, eval_every=3)], "T")
    fig.canvas.draw()
    left, right = fig.axes[:2]
    assert left.get_xlim() == right.get_xlim() and right.get_xlim()[0] <= 1 and right.get_xlim()[1] >= 3
    for ax in (left, right):
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks


def test_the_horizon_sentence_follows_the_shares():
    from symbptt.plots.training import horizon_sentence

    said = horizon_sentence([5, 10, 20], {"rnn": [1.0, 0.5, 0.0], "lstm": [1.0, 1.0, 1.0]})
    assert said == ("rnn: every seed solved it at T = 5; some seeds at T = 10; no seed at T = 20. "
                    "lstm: every seed solved it at T = 5, 10, 20.")
    assert "no seed at T = 10, 20" in horizon_sentence([5, 10, 20], {"rnn": [1.0, 0.0, 0.0]})


@pytest.mark.parametrize("command", [["train", "--steps", "5", "-T", "5", "-n", "2"],
                                     ["plot", "horizon", "--iterations", "5", "--lengths", "5"]])
def test_a_huge_learning_rate_stops_naming_the_iteration(tmp_path, command):
    """--lr 1e308 throws the weights to infinity on the first updates: exit 1 naming the iteration, no
    traceback (it used to be a LinAlgError in the bound's SVD); train keeps the rows up to it."""
    out = tmp_path / ("run.csv" if command[0] == "train" else "h.png")
    proc = run_in_process(*command, "--lr", "1e308", "-o", str(out))
    assert "Traceback" not in proc.stderr and proc.returncode == 1, proc.stderr
    assert re.search(r"stopped being finite after the update of iteration \d+", proc.stderr)
    if command[0] == "train":
        assert "# stopped: the parameters stopped being finite" in out.read_text()


@pytest.mark.parametrize("change,needle", [
    ({"eval_every": 0}, "eval_every"), ({"forget_bias": float("nan")}, "forget_bias"), ({"n": "8"}, "n (-n)"),
    ({"T": 2.5}, "T (-T)"), ({"lr": float("inf")}, "lr"), ({"batch": True}, "batch"), ({"seed": -1}, "seed"),
])
def test_train_settings_from_python_name_the_bad_argument(change, needle):
    """The API refuses what the command line refuses, with a SymbpttError naming the argument (it used to be
    a ZeroDivisionError for eval_every=0 and a silent NaN for forget_bias)."""
    from symbptt import SymbpttError

    with pytest.raises(SymbpttError, match=re.escape(needle)):
        TrainSettings(**change).validate()


def test_a_scalar_user_cell_trains_at_n_1_and_its_file_name_is_drawn_as_text(tmp_path):
    """A user cell is scalar: -n 8 is refused in one line (it was a NumPy broadcast error mid-run); a
    file name with mathtext in it ($) is a plain legend label."""
    cell = tmp_path / "my$cell.toml"
    cell.write_text('states = ["h"]\nparams = ["w"]\n[update]\nh = "tanh(w*h + x)"\n')
    with pytest.raises(SymbpttError, match="scalar: n"):
        TrainSettings(cell=str(cell), n=8).validate()
    proc = run_in_process("plot", "training", "--cell", str(cell), "-n", "1", "--lengths", "5", "--iterations", "5",
                          "-o", str(tmp_path / "t.png"))
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("cell,truncate", [("rnn", None), ("lstm", 3), ("indrnn", 2), ("gru", None)])
def test_the_stacked_gradient_sums_equal_the_step_by_step_recursion(cell, truncate):
    """Training sums D_tᵀ δ_t z_tᵀ over all steps at once; the generic recursion adds them one step at a
    time (paths.evaluate_recursive): the two agree to rounding, both parts of the far/recent split."""
    from symbptt.paths import evaluate_deltas, evaluate_recursive

    n, T, B, far = 3, 7, 5, 4
    s = TrainSettings(cell=cell, n=n, T=T, batch=B, seed=5, layers=2, truncate=truncate)
    spec = get_cell(cell, get_activation("tanh"))
    params = initial_params(spec, s, 1)
    batch = make_batch("remember", T, B, np.random.default_rng(5))
    model = NumericModel(spec, params, batch.x, np.broadcast_to(batch.target, (n, B)).copy(), "last")
    values = ArrayFactors(model)
    _, grads, _ = batch_gradients(values, model, spec, far, truncate)
    rnn = model.structure()
    first = 1 if truncate is None else T - truncate + 1
    deltas = evaluate_deltas(rnn, values, None if truncate is None else (T, first - 1))
    for layer in (1, 2):
        for name, g in grads[layer - 1].items():
            want = evaluate_recursive(rnn, name, layer, values, deltas, range(first, T + 1))
            want = want.sum(axis=1, keepdims=True) if want.shape != g.shape else want
            assert np.allclose(g, want / B, rtol=1e-12, atol=1e-15), (name, layer)


def test_iterations_is_the_name_and_steps_still_works():
    """train calls its iterations --iterations, as plot training does (--steps is T elsewhere); the old
    --steps still runs the same training; both at once is one line, exit 2."""
    a = run("-T", "5", "--iterations", "3", "-n", "2")
    b = run("-T", "5", "--steps", "3", "-n", "2")
    assert a.returncode == b.returncode == 0 and a.stdout == b.stdout
    both = run("-T", "5", "--iterations", "3", "--steps", "3", "-n", "2")
    assert both.returncode == 2 and "give --iterations once" in both.stderr and "Traceback" not in both.stderr
    from click.testing import CliRunner

    from symbptt.cli import main

    shown = CliRunner().invoke(main, ["train", "--help"]).output
    assert "--iterations" in shown and "--steps" not in shown


def test_an_integer_forget_bias_from_python_trains():
    """TrainSettings(forget_bias=2) from the API (an int): the biases are float arrays all the same (the
    optimizer's in-place update failed on an int64 b_f)."""
    from symbptt.learn.train import initial_params

    settings = TrainSettings(cell="lstm", forget_bias=2, T=5, n=3, steps=2)
    params = initial_params(get_cell("lstm", get_activation("tanh")), settings, 1)
    assert all(v.dtype == float for p in params for v in p.values()) and params[0]["b_f"][0, 0] == 2.0
    assert train(settings).summary


def test_the_training_title_says_which_cell_and_how_its_weights_start():
    """The title follows the runs: the cell unless it is what varies, W's law only for a cell that has a
    recurrent matrix (as --init draws it), a per-unit parameter on its interval times --scale."""
    from symbptt.plots.training import _common_settings

    base = TrainSettings(n=2, T=3, steps=2)
    said = _common_settings([base, replace(base, T=5)], "T")
    assert said.startswith("rnn, n = 2") and "W ~ N(0, 1²/n)" in said
    said = _common_settings([replace(base, init="orthogonal", scale=1.5)], "T")
    assert "W = 1.5·W0, W0 orthogonal (Haar)" in said and "N(0" not in said
    said = _common_settings([replace(base, cell="mingru"), replace(base, cell="indrnn", scale=2.0)], "cell")
    assert "W" not in said and "indrnn w ~ U(0, 1)" in said and not said.startswith("mingru")
    said = _common_settings([replace(base, cell="lstm", forget_bias=3.0)], "T")
    assert said.startswith("lstm (b_f = 3)") and "W ~ N(0" in said


def test_a_cell_file_path_never_reaches_a_figure(tmp_path):
    """Legends, titles and the horizon caption call a cell file by its own name: the path (here with
    mathtext and a glyph no font has) is not a label."""
    import shutil
    import warnings
    from pathlib import Path

    from symbptt import plots

    path = tmp_path / "m\U0001f4a5$x$_%.toml"
    shutil.copy(Path(__file__).parent.parent / "docs" / "cells" / "mgu.toml", path)
    base = TrainSettings(n=1, T=3, steps=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig, data = plots.horizon(base, ["rnn", str(path)], [3], seeds=1)
        plots.save(fig, tmp_path / "h.png")
        words = " ".join(t.get_text() for t in fig.texts + fig.axes[0].get_legend().get_texts())
        assert set(data.values["solved"]) == {"rnn", "mgu"} and "$" not in words and "toml" not in words
        fig, _ = plots.training([replace(base, cell=str(path))], "T")
        plots.save(fig, tmp_path / "t.png")
        assert "mgu, n = 1" in fig._suptitle.get_text()


def test_the_training_figure_says_which_runs_took_a_truncated_gradient():
    """The caption's last sentence follows the runs: a run with --truncate k is named with its k (it said
    "every gradient is the exact BPTT gradient" of runs that truncate); without one, every gradient is the
    full one; neither is called exact (float64)."""
    from symbptt.plots import training

    runs = [TrainSettings(T=10, n=4, steps=20, truncate=3), TrainSettings(T=12, n=4, steps=20)]
    cut = " ".join(training(runs, "T").figure.texts[-1].get_text().split())
    assert "Truncated BPTT: “T = 10” through its last 3 steps; the others take the full gradient" in cut
    full = " ".join(training(runs[1:], "T").figure.texts[-1].get_text().split())
    assert "Every gradient is the full BPTT gradient (every path back), in float64." in full
    assert "exact" not in cut + full
