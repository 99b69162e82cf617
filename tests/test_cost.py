"""What an exact pass will cost (numeric/cost.py), estimated before it starts: Arb's pass priced as Arb's
where Arb will try the model, mpmath's priced in turn where Arb gives up, and a refusal before any work."""

from __future__ import annotations

import math
import re
from pathlib import Path

import mpmath
import numpy as np
import pytest
from test_arbforward import _model

from symbptt import budget, plots
from symbptt.errors import SymbpttError
from symbptt.numeric import arbbackward, arbforward, cost, exact, split


def _estimates(model, dps: int) -> tuple[float, float]:
    """(Arb's estimate, mpmath's) for ``model`` at ``dps`` digits."""
    n, m, B = model.params[0]["h0"].shape[0], model.x.shape[1], model.x.shape[2]
    return (cost.arb_seconds(model.cell, n, m, model.T, B, model.layers, dps),
            cost.mp_seconds(model.cell, n, m, model.T, B, model.layers, dps))


def test_arb_is_priced_as_arb_where_it_serves(monkeypatch):
    """A budget between Arb's estimate and mpmath's: Arb's pass runs where it serves; with SYMBPTT_ARB=0 the
    same pass is refused in one line, before any work, naming mpmath's pass."""
    model = _model("lstm", "tanh", 8, 1, 200, 3)
    arb, mp = _estimates(model, 40)
    assert arb < mp / 5  # Arb's pass is priced well below mpmath's
    monkeypatch.setattr(budget, "MAX_SECONDS", (arb * mp) ** 0.5)
    assert arbforward.made_with_arb(exact.exact_forward(model, 40))
    monkeypatch.setenv("SYMBPTT_ARB", "0")
    started: list[int] = []
    monkeypatch.setattr(exact, "forward", lambda *a: started.append(1))
    with pytest.raises(SymbpttError, match=rf"^the exact pass \({40 + exact.CHECK} digits\) of a lstm with n = 8, "
                                           r"T = 200, batch 1 would take about .*, more than the .* limit; shorten x"):
        exact.exact_forward(model, 40)
    assert started == []


def test_beyond_arbs_estimate_nothing_starts(monkeypatch):
    """A budget below Arb's estimate: refused in one line naming Arb's pass, and Arb's pass never starts."""
    model = _model("gru", "tanh", 4, 2, 50, 5)
    monkeypatch.setattr(budget, "MAX_SECONDS", _estimates(model, 30)[0] / 2)
    started: list[int] = []
    monkeypatch.setattr(arbforward, "forward", lambda *a: started.append(1))
    with pytest.raises(SymbpttError, match=rf"^the exact pass \({30 + exact.CHECK} digits, with Arb's balls\) of a gru "
                                           r"with n = 4, T = 50, batch 1 would take about"):
        exact.exact_forward(model, 30)
    with pytest.raises(SymbpttError, match="with Arb's balls"):
        exact.exact_gradients_at(model, 30)
    assert started == []


def test_where_arb_gives_up_mpmath_is_priced_before_it_starts(monkeypatch):
    """Arb's forward pass giving up (planted), or its rest: mpmath's pass, or rest, is priced in turn and
    refused where the budget allows Arb's estimate but not mpmath's."""
    model = _model("rnn", "tanh", 6, 1, 300, 2)
    arb, mp = _estimates(model, 30)
    monkeypatch.setattr(budget, "MAX_SECONDS", (arb * mp) ** 0.5)
    traj = exact.exact_forward(model, 30)  # Arb's: within the budget
    with mpmath.workdps(30):
        assert split.exact_pass(model, traj)[3] == "Arb"
        monkeypatch.setattr(arbbackward, "gradients", lambda *a: None)  # the rest given up
        with pytest.raises(SymbpttError, match=r"^the exact pass \(30 digits\) of a rnn"):
            split.exact_pass(model, traj)
    monkeypatch.setattr(arbforward, "forward", lambda *a: None)  # the forward pass given up: the first made,
    with pytest.raises(SymbpttError, match=rf"^the exact pass \({30 + exact.CHECK} digits\) of a rnn"):  # CHECK more
        exact.exact_forward(model, 30)


def test_the_estimate_grows_with_every_size():
    """Arb's estimate grows with T, the batch, n, the layers and the digits (a sanity check of the model;
    benchmarks/exact_passes.py holds it to measured times)."""
    base = dict(cell=_model("lstm", "tanh", 2, 1, 3, 0).cell, n=16, m=2, T=100, batch=1, layers=1, digits=30,
                coefficients=9, functions=5.0, operations=24)
    first = budget.arb_pass_seconds(**base)
    for key, more in (("T", 200), ("batch", 2), ("n", 32), ("layers", 2), ("digits", 300), ("functions", 6.0),
                      ("operations", 48)):
        assert budget.arb_pass_seconds(**(base | {key: more})) > first, key
    assert np.isfinite(first) and first > 0


def test_an_error_function_and_an_arctangent_are_priced():
    """erf and atan, which a custom activation may use, are counted where they were free: erf(a) forward
    as 5 exponentials (mpmath's costs 2.5–7.2 from 50 to 1000 digits) and its slope 2e^(−a²)/√π back as
    1; atan(a) as 1, its slope 1/(1 + a²) as none."""
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell

    for text, count in (("erf(a)", 6.0), ("atan(a)", 1.0)):
        spec = get_cell("rnn", get_activation(text))
        assert cost.transcendentals(spec, kept=False) == cost.transcendentals(spec, kept=True) == count, text


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "mingru", "mgu"])
def test_the_exponentials_priced_are_those_an_exact_pass_computes(cell):
    """cost.transcendentals counts what mpmath's pass evaluates per unit and step: for cells made of the
    built-in primitives, whose value and slope share one exponential per argument (primitives._KEPT), the
    count times n·T is the number of exponentials a pass and its rest keep, measured; and each one
    counted is priced, growing as the square of the digits (budget.function_seconds)."""
    from symbptt import primitives as P

    if cell == "mgu":  # a cell file of nodes only: σ and tanh written out, no linear map; a scalar cell
        from symbptt.cells.userfile import load_cell_file

        n = 1
        model = _model(load_cell_file(Path(__file__).resolve().parent.parent / "docs" / "cells" / "mgu.toml"),
                       "tanh", n, 1, 4, 0)
    else:
        model, n = _model(cell, "tanh", 2, 1, 4, 0), 2
    P.forget_mp_values()
    exact.mp_gradients(model, 40)
    assert len(P._KEPT) == cost.transcendentals(model.cell, kept=True) * n * 4 > 0
    args = (model.cell, 2, 2, 4, 1, 1, 5000)
    more = (budget.mp_pass_seconds(*args, functions=1.0, operations=0)
            - budget.mp_pass_seconds(*args, functions=0.0, operations=0))
    assert more == pytest.approx(2 * 4 * budget.function_seconds(5000))
    assert budget.function_seconds(4000) > 3.5 * budget.function_seconds(2000)  # the square of the digits


def test_a_cell_file_is_priced_for_every_operation_it_writes(tmp_path):
    """cost.operations counts what a cell file's nodes and coefficients compute: intermediates of 6, 12
    and 18 sines price more and more (ten per node had priced them all alike), while the built-in cells,
    whose nodes take fewer than ten each, keep the price they had."""
    from symbptt.cells.userfile import load_cell_file

    counts = []
    for width in (1, 2, 3):
        sines = {name: " + ".join(f"sin({k + width * i}*h + x)" for k in range(1, width + 1))
                 for i, name in enumerate(("pa", "pb", "pc", "pd", "pe", "pf"))}
        path = tmp_path / f"sines{width}.toml"
        path.write_text('name = "sines"\nstates = ["h"]\nparams = ["w", "u", "b"]\n[intermediates]\n'
                        + "".join(f'{k} = "{v}"\n' for k, v in sines.items())
                        + '[update]\nh = "tanh(w*h + u*x + b) + 0.001*(pa + pb + pc + pd + pe + pf)"\n')
        counts.append(cost.operations(load_cell_file(path)))
    assert counts[0] < counts[1] < counts[2] and counts[2] - counts[1] >= 6 * 3  # a sine and a sum each, at least
    for cell in ("rnn", "lstm", "gru"):
        spec = _model(cell, "tanh", 2, 1, 3, 0).cell
        assert cost.operations(spec) <= 10 * len(spec.nodes)
        args = (spec, 2, 2, 10, 1, 1, 30)
        assert (budget.mp_pass_seconds(*args, functions=1.0, operations=cost.operations(spec))
                == budget.mp_pass_seconds(*args, functions=1.0, operations=0))


def _chaotic(T: int, loss: str = "last", truncate: int = 3) -> dict:
    """A tanh network of 8 units whose rounding is amplified beyond float64's digits, truncated."""
    n = 8
    rng = np.random.default_rng(0)
    return {"activation": "tanh", "W": (4.0 * rng.normal(size=(n, n)) / np.sqrt(n)).tolist(),
            "U": rng.normal(size=(n, 1)).tolist(), "b": [0.0] * n, "h0": [0.3] * n, "x": [[0.1]] * T,
            "y": [[0.0] * n] * T if loss == "sum" else [0.0] * n, "loss": loss, "truncate": truncate}


def test_a_truncated_report_prices_its_walk_over_the_reports_own_pass(monkeypatch):
    """A truncated report whose float64 pass kept fewer digits than asked: the truncated gradients walk the
    report's own exact pass, priced as that walk (k steps) — under a budget that one mpmath pass at its
    digits would exceed, the report runs (it was refused, the walk priced as a whole mpmath pass)."""
    from symbptt.config import parse_config
    from symbptt.numeric.factors import NumericModel
    from symbptt.numeric.grad_report import grad_report

    data = _chaotic(300)
    report = grad_report(parse_config(data))
    dps = int(report["precision"].split()[2])
    assert report["precision"].startswith(f"Arb at {dps} digits (float64 kept only")
    model = NumericModel.of(parse_config(data))
    arb, mp = _estimates(model, dps)
    norms = budget.norm_sweep_cost(model.cell, 8, 300, 2)  # the report's own estimate, priced first
    limit = 0.8 * mp  # below one mpmath pass, above the report's norms and Arb's pass
    assert norms["seconds"] + norms["flops"] / budget.RATE < limit and arb < limit
    monkeypatch.setattr(budget, "MAX_SECONDS", limit)
    assert grad_report(parse_config(data))["truncated"] == report["truncated"]


def test_a_truncated_walk_beyond_the_budget_is_refused_before_the_exact_pass(monkeypatch):
    """Loss 'sum' truncated at k = T − 1: the walk is T·k steps of mpmath, priced before the report's exact
    pass starts — refused in one line naming it, and Arb's pass never runs.  At k = T there is no walk (the
    truncated gradients are the full ones): the same budget lets the report through."""
    from symbptt.config import parse_config
    from symbptt.numeric.factors import NumericModel
    from symbptt.numeric.grad_report import grad_report

    data = _chaotic(300, "sum", 299)
    model = NumericModel.of(parse_config(data))
    walk = budget.mp_pass_seconds(model.cell, 8, 1, 300 * 299, 1, 1, 30, functions=0.0, operations=0)
    monkeypatch.setattr(budget, "MAX_SECONDS", walk / 4)
    assert _estimates(model, 30)[0] < walk / 4  # Arb's pass alone would be within it
    started: list[int] = []
    monkeypatch.setattr(arbforward, "forward", lambda *a: started.append(1))
    with pytest.raises(SymbpttError, match=r"^the exact truncated gradients \(30 digits, 299 steps back\) of a rnn"):
        grad_report(parse_config(data))
    assert started == []
    whole = _chaotic(300, "sum", 300)
    monkeypatch.undo()
    monkeypatch.setattr(budget, "MAX_SECONDS", walk / 4)
    report = grad_report(parse_config(whole))
    assert report["truncated"]["relative_difference"] == 0.0 and report["truncated"]["grad"] == report["grad"]


def test_a_second_try_with_more_bits_is_priced_before_it_starts(monkeypatch):
    """Planted: Arb working 64 bits short, so the first try gives up.  The second, with the precision's
    bits more, is priced first (as Arb's pass and rest at those bits): within the budget it runs and proves
    the pass; beyond it nothing more runs and the caller gets None (mpmath's pass, priced in turn)."""
    from mpmath.libmp import dps_to_prec, prec_to_dps

    model = _model("rnn", "tanh", 4, 1, 40, 1)
    monkeypatch.setattr(arbforward, "GUARD", -64)
    n, m, B = 4, model.x.shape[1], 1
    prec = dps_to_prec(45)

    def seconds(bits: int) -> float:
        return cost.arb_seconds(model.cell, n, m, model.T, B, 1, prec_to_dps(bits))

    second = seconds(2 * prec - 64)
    monkeypatch.setattr(budget, "MAX_SECONDS", 1.01 * second)
    assert arbforward.forward(model, 45) is not None
    tries: list[int] = []
    run = arbforward._run
    monkeypatch.setattr(arbforward, "_run", lambda flint, *a: tries.append(flint.ctx.prec) or run(flint, *a))
    monkeypatch.setattr(budget, "MAX_SECONDS", 0.99 * second)
    assert arbforward.forward(model, 45) is None and tries == [prec - 64]


@pytest.mark.parametrize("largest", [6.0e3, 3.53e5, 1.0e150, 3.53e300, math.inf, math.nan])
def test_a_saturation_refusal_states_its_count_in_a_few_figures(largest):
    """Refused beyond MAX_MP_DIGITS in one line whose count of digits follows the pre-activations (2|a|/ln 10,
    in at most six figures or as a power of ten: 3.53e150 printed 151 figures), and, for a pre-activation
    float64 does not hold, says that instead of "about inf digits"."""
    from symbptt.budget import saturation_digits_needed
    from symbptt.errors import RunFailed

    with pytest.raises(RunFailed) as caught:
        saturation_digits_needed(largest, 30)
    words = str(caught.value)
    assert "\n" not in words and not re.search(r"\d{7}", words) and "inf" not in words and "nan" not in words
    if math.isfinite(largest):
        count = words.split("up to about ")[1].split()[0]
        assert float(count) == pytest.approx(2 * largest / math.log(10), rel=5e-3)
    else:
        assert "beyond float64's range" in words


@pytest.mark.parametrize("which", ["sweep_gain", "final_gain_rates"])
def test_a_gain_sweeps_memory_is_estimated_from_what_it_holds(which, monkeypatch):
    """The gain sweeps hold W = g·W0 (n × n per gain) besides their products: the estimate counts it, within
    a factor of 1.6 either way of the peak tracemalloc measures on a small run (it had counted only the
    T × gains × n values: `sweep -n 256 --points 2000 -T 2` held 3.3 GB against a 2 GiB limit, `plot
    spectrum --points 100000` 5 GB), and a sweep beyond MAX_BYTES is refused before anything is made."""
    import tracemalloc

    from symbptt.numeric.final_gain import final_gain_cost, final_gain_rates
    from symbptt.numeric.sweeps import gain_sweep_floats, sweep_gain

    gains, n, T = np.linspace(0.5, 2.0, 60), 48, 4
    run = {"sweep_gain": lambda: sweep_gain(gains, T, "tanh", n),
           "final_gain_rates": lambda: final_gain_rates(gains, T, "tanh", n)}[which]
    floats = (gain_sweep_floats(gains.size, n) if which == "sweep_gain"
              else final_gain_cost(gains.size, T, n)["floats"])
    tracemalloc.start()
    try:
        run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 1 / 1.6 <= 8 * floats / peak <= 1.6, (8 * floats, peak)
    monkeypatch.setattr(budget, "MAX_BYTES", 0.9 * 8 * floats)
    with pytest.raises(SymbpttError, match="GiB of arrays"):  # the sweep checks itself; plot spectrum checks
        run() if which == "sweep_gain" else plots.spectrum(n=n, g_min=0.5, g_max=2.0, points=60, T=T)  # first


@pytest.mark.slow  # tracemalloc makes the figure 5× slower: 2–5 s
def test_plot_curves_memory_is_estimated_from_what_it_holds(monkeypatch):
    """plot curves counts about 12 floats per step for each curve of each panel (its sweep's arrays and the
    line matplotlib draws): within 1.6× of tracemalloc's peak for a figure drawn and saved (it had counted
    8 per weight, half of it: T = 6.6·10^6 passed the 2 GiB limit and held more), and refused beyond."""
    import io
    import tracemalloc

    import matplotlib.pyplot as plt

    T = 30000
    tracemalloc.start()
    try:
        drawn = plots.curves(T_max=T)
        drawn.figure.savefig(io.BytesIO(), format="png")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        plt.close("all")
    floats = 12.0 * 3 * 2 * T  # three weights, beside the linear unit
    assert 1 / 1.6 <= 8 * floats / peak <= 1.6, (8 * floats, peak)
    monkeypatch.setattr(budget, "MAX_BYTES", 0.9 * 8 * floats)
    with pytest.raises(SymbpttError, match="GiB of arrays"):
        plots.curves(T_max=T)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "indrnn", "mingru", "minlstm", "lru"])
def test_a_training_runs_memory_is_estimated_from_what_it_holds(cell):
    """TrainSettings.cost counts each node, map and step coefficient, two per state and two more, per step,
    unit and sequence: within 1.3× below and 1.6× above tracemalloc's peak for one iteration (two per node
    and map had counted half of what IndRNN and LRU hold, and two thirds of the rnn's)."""
    import tracemalloc

    from symbptt import TrainSettings, train
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell

    settings = TrainSettings(cell=cell, n=8, T=20, batch=3000, steps=1)
    train(settings)  # the compiled kernels made (or read from disk) before the peak is measured
    tracemalloc.start()
    try:
        train(settings)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    held = 8 * settings.cost(get_cell(cell, get_activation("tanh")))["floats"]
    assert 1 / 1.3 <= held / peak <= 1.6, (held, peak)


@pytest.mark.parametrize("cell", ["lstm", "lru"])
def test_plot_gradmaps_memory_is_estimated_from_what_it_holds(cell, monkeypatch):
    """plot gradmap runs its longest pass with every grid value a sequence of the batch, and its walk back
    holds about 1.5 × held_per_step a step, unit and value: the estimate is within 1.3× below and 2.5×
    above tracemalloc's peak (it counted no memory: an LSTM of 64 units at 2000 values and T = 2443 was
    let through and took 23 GiB), and a map beyond MAX_BYTES is refused before anything is made."""
    import tracemalloc

    import matplotlib.pyplot as plt

    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.numeric.cost import held_per_step

    n, points, T = 16, 200, 80
    tracemalloc.start()
    try:
        plots.gradient_map(cell=cell, n=n, points=points, T_max=T)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        plt.close("all")
    held = 8 * 1.5 * held_per_step(get_cell(cell, get_activation("tanh"))) * T * points * n
    assert 1 / 1.3 <= held / peak <= 2.5, (held, peak)
    monkeypatch.setattr(budget, "MAX_BYTES", 0.9 * held)
    with pytest.raises(SymbpttError, match="GiB of arrays"):
        plots.gradient_map(cell=cell, n=n, points=points, T_max=T)


@pytest.mark.parametrize("over", [1.0001, 1.004, 1.04, 1.5, 12.0])
def test_a_refusal_never_states_the_limit_as_its_estimate(over):
    """Just past a limit the estimate is written with the figures it takes to read as more than the limit
    ("about 10 min, more than the 10 min limit" and "about 2 GiB … more than the 2 GiB limit" were said)."""
    for kw, unit in ((dict(seconds=budget.MAX_SECONDS * over), None),
                     (dict(floats=budget.MAX_BYTES / 8 * over), "GiB")):
        with pytest.raises(SymbpttError) as refused:
            budget.estimate("x", "y", **kw)
        said = str(refused.value)
        estimate, limit = said.split("about ")[1].split(", more than the ")
        limit = limit.split(" limit")[0]
        assert estimate.split(" of arrays")[0] != limit, said
        if unit:
            assert float(estimate.split(" GiB")[0]) > budget.MAX_BYTES / 2**30, said
