"""The benchmark script keeps working (smoke sizes); benchmarks are not timed tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from conftest import benchmark_script

import symbptt


@pytest.mark.slow  # 8–14 s of child processes; the exhaustive run (`pytest -m slow`) keeps the benchmarks working
def test_benchmark_smoke_run_prints_every_case():
    proc = subprocess.run([sys.executable, "benchmarks/run.py", "--smoke"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    headings = [line for line in proc.stdout.splitlines() if line.startswith("## ")]
    for heading in ("Start-up", "Derivation", "Printing", "lambdify", "Compiling", "Sweep", "Gain sweep",
                    "forward-mode", "Gated cells", "Precision that follows", "hand-written formula", "PyTorch",
                    "Memory", "Theory beside"):
        assert any(heading in h for h in headings), heading
    tables = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    assert all(line.count("|") == tables[0].count("|") or line.count("|") > 2 for line in tables)


def test_the_gradients_benchmark_runs_and_its_floors_agree_with_symbptt():
    """benchmarks/gradients.py at smoke sizes (every suite): each hand-written floor computes the gradients
    symbptt computes, so the ratios compare like with like."""
    sys.path.insert(0, "benchmarks")
    try:
        import gradients as numbers
    finally:
        sys.path.remove("benchmarks")
    rows = numbers.grid(True)
    assert {row[0].split()[0] for row in rows} == {"rnn", "lstm", "gru"}
    assert all(float(row[7]) < 1e-12 for row in rows), rows  # worst, beside the path that ran
    fallback = numbers.fallback(True)
    # the last row: a case that needs the digits, or the words that no seed tried does, beside its path
    needs = fallback[-1][1].startswith("mpmath")
    assert len(fallback) == 8 and needs != ("needs mpmath" in fallback[-1][0]), fallback
    underflows = numbers.coefficients_underflow(7, 100.0, True)
    note = numbers.fallback_note(fallback, underflows)  # its sentence follows the data: change them, it changes
    assert ("first seed from 7 whose pass still needs mpmath" in note) == needs
    assert ("stays in float64" in note) == fallback[-2][1].startswith("float64")
    assert ("raises underflow in a few step coefficients" in note) == underflows
    flipped = [row[:] for row in fallback]
    flipped[-2][1], flipped[-1][1] = "mpmath 100 digits", ("float64" if needs else "mpmath 178 digits")
    other = numbers.fallback_note(flipped, not underflows)
    assert "took mpmath 100 digits" in other and ("first seed" in other) != needs
    assert ("raises no underflow" in other) == underflows
    dying = [i for i, row in enumerate(fallback) if row[0].split()[0] in ("indrnn", "mingru")]
    assert len(dying) == 2 and all(f"took {fallback[i][1]}" in note for i in dying)
    flipped[dying[0]][1] = "mpmath 30 digits"
    assert "the indrnn n = 64 took mpmath 30 digits" in numbers.fallback_note(flipped, underflows)


def test_the_measured_digits_table_runs_and_its_sentence_follows_its_rows():
    """Section 12's measured-digits rows at smoke size (digits=12 against the plain call, with the digits
    float64 kept), and the sentence under them from their ratios: changing a ratio changes the words."""
    sys.path.insert(0, "benchmarks")
    try:
        import gradients as numbers
    finally:
        sys.path.remove("benchmarks")
    (row,) = numbers.measured(True)
    assert row[0] == "rnn n = 4, T = 10, batch 2" and row[5] == "float64" and float(row[4].split()[0]) >= 12
    assert row[6] == "NumPy"  # a batch: the reruns run on the NumPy kernel
    rows = [["a", "9 ms", "12.0×", "7.4×", "13.6", "float64", "NumPy"],
            ["b", "50 ms", "34.6×", "5.3×", "13.0", "float64", "NumPy"]]
    assert "5.3–7.4× the plain call on the NumPy kernel and up to 35×" in numbers.measured_note(rows)
    rows[1][3] = "9.9×"
    assert "7.4–9.9×" in numbers.measured_note(rows)
    assert "compiled kernel's plain call is the faster one" in numbers.measured_note(rows)  # 34.6× against 9.9×
    rows[0][2], rows[1][2] = "7.4×", "9.9×"  # the plain calls ran on the NumPy kernel: no word about the compiled one
    assert "compiled" not in numbers.measured_note(rows)
    rows[1][6] = "compiled"  # one sequence: its reruns ran compiled (numeric/jit_nudge.py)
    note = numbers.measured_note(rows)
    assert "reruns ran compiled for b and on the NumPy kernel for the others" in note
    rows[0][6] = "compiled"
    assert "reruns ran compiled," in numbers.measured_note(rows)


@pytest.mark.slow  # 4 s: four cells' units computed exactly, twice each; the sentence below runs in every suite
def test_the_unit_fallback_table_runs():
    """benchmarks/unit_fallback.py at smoke size (digits=14: some units short, the whole model exact with the
    unit path planted away)."""
    script = benchmark_script("unit_fallback")
    made = script.rows(True)
    assert [row[0].split()[0] for row in made] == list(script.CELLS)
    taken = [row for row in made if row[2] != "none"]
    assert taken and all(int(row[2].split()[0]) < int(row[2].split()[-1]) for row in taken)
    assert all(float(row[6].split(", then ")[1]) >= 14 for row in taken)  # the claims counted again hold 14


def test_the_sentence_under_the_unit_fallback_table_follows_its_rows():
    script = benchmark_script("unit_fallback")
    rows = [["a n = 1", "10 ms", "1 of 4", "40 ms", "0.25×", "3×", "11.8, then 12.9", "met"],
            ["b n = 1", "20 ms", "none", "20 ms", "1.00×", "9×", "11.9, then 11.9", "NOT met"]]
    assert "4.0–4.0× less time" in script.note(rows) and "within the 5× target" in script.note(rows)
    assert "The whole model went exactly for b (9× the plain call)" in script.note(rows)
    rows[1][7] = "float64 held"
    assert "went exactly" not in script.note(rows)
    rows[1][7] = "NOT met"
    rows[1][2] = "2 of 4"
    rows[1][4] = "0.50×"
    assert "2.0–4.0× less time" in script.note(rows) and "over the 5× target for b" in script.note(rows)
    rows[0][2] = rows[1][2] = "none"
    assert "No case took the unit path" in script.note(rows)


def test_the_sentence_under_the_report_table_follows_its_rows():
    """Section 12's sentences about the report say whether the norms alone are over the 2× target, and
    whether the eigensolves power iterations leave are by themselves, from the measured rows: changing the
    ratios changes the words."""
    numbers = benchmark_script("report_cases")

    def rows(rnn: float, lstm: float, solved: float = 3.4, measured: tuple[float, float] = (5.6, 2.4)
             ) -> list[list[str]]:
        return [[f"{cell} n = 64, T = 100", "33 ms", "1.2 ms", "26.5×", f"16 ms ({ratio}×)",
                 f"70 of 101: 4.1 ms ({solved}×)", "7 ms (5.7×)", f"8.6 ms (report {against}×)", "NOT met"]
                for cell, ratio, against in (("rnn", rnn, measured[0]), ("lstm", lstm, measured[1]))]

    both = numbers.report_note(rows(13.1, 11.6))
    assert "rnn 13.1×, lstm 11.6×" in both and "for every cell" in both
    assert "rnn 70 of 101 (3.4×), lstm 70 of 101 (3.4×)" in both
    one = numbers.report_note(rows(1.4, 11.6))
    assert "themselves for lstm:" in one and "themselves for every cell" not in one
    assert "lstm 70 of 101 (3.4×) the" in one
    cheap = numbers.report_note(rows(13.1, 11.6, solved=1.5))
    assert "for every cell" in cheap and "eigensolves" not in cheap
    three = rows(13.1, 11.6) + [[row[0].replace("lstm", "gru")] + row[1:4] + ["16 ms (1.8×)"] + row[5:]
                                for row in rows(1, 1)[1:]]
    assert "themselves for rnn and lstm:" in numbers.report_note(three)  # in the table's order, as a list reads
    diagonal = rows(13.1, 11.6) + [[row[0].replace("lstm", "lru")] + row[1:4] + ["2 ms (2.5×)", numbers.UNIT_BY_UNIT]
                                   + row[6:] for row in rows(1, 1)[1:]]
    unit_note = numbers.report_note(diagonal)  # a cell multiplied unit by unit is named, and solves nothing
    assert "(lru, whose steps are diagonal in every block, multiplies unit by unit, n·S³ a step, and solves " \
        "nothing)" in unit_note
    assert "for every cell" in unit_note and "lru 70 of 101" not in unit_note
    neither = numbers.report_note(rows(1.4, 1.9))
    assert "within the 2× target" in neither
    # the rest of the report besides the norms: 26.5× less the norms' ratio, the reruns' 5.7× among it
    assert "rest of the report costs rnn 13.4×, lstm 14.9× the gradients" in both and "over the 2× target by " \
        "itself for every cell: norms at no cost" in both and "rnn 5.7×, lstm 5.7×" in both
    light = [row[:3] + ["3.0×", "16 ms (1.5×)"] + row[5:6] + ["1 ms (0.4×)"] + row[7:] for row in rows(1, 1)]
    assert "rest of the report costs rnn 1.5×, lstm 1.5× the gradients" in numbers.report_note(light)
    assert "within the target" in numbers.report_note(light) and "no cost" not in numbers.report_note(light)
    # against the gradients with their digits measured (digits=12): which cells are within 2× of them
    assert "the report costs rnn 5.6×, lstm 2.4×: over 2× of them for every cell." in both
    one_within = numbers.report_note(rows(1, 1, measured=(1.8, 2.4)))
    assert "rnn 1.8×, lstm 2.4×: within 2× of them for rnn only." in one_within
    assert "within 2× of them for every cell." in numbers.report_note(rows(13.1, 11.6, measured=(1.8, 2.0)))
    # the reruns counted for each cell: the LRU's fourth (outward) rerun is named, not hidden in "three"
    assert "the three reruns" in both and "four for" not in both
    assert "the three (four for lru) reruns" in unit_note


def test_the_sentences_under_the_grid_follow_its_rows_and_step_costs():
    """Section 12's words under the grid name the rows that miss a target and, for a row over the floor,
    say from its re-timed costs whether its steps or the call around them are over: changing the costs
    changes the words."""
    sys.path.insert(0, "benchmarks")
    try:
        import gradients as numbers
    finally:
        sys.path.remove("benchmarks")

    met = ["rnn n = 1, T = 10, batch 1", "0.12 ms", "0.62×", "2.05×", "0.26×", "2.5×", "float64 (compiled)", "2e-16",
           "met"]
    slow = ["rnn n = 16, T = 10, batch 32", "0.47 ms", "1.90×", "2.01×", "0.42×", "1.5×", "float64 (numpy)", "4e-16",
            "NOT met (floor)"]
    jax = ["rnn n = 1, T = 1000, batch 1", "0.47 ms", "0.02×", "0.90×", "0.01×", "5.3×", "float64 (compiled)",
           "1e-16", "NOT met (JAX)"]
    assert numbers.grid_note([met], {}) == "Every row is within both targets.\n"
    fixed = numbers.grid_note([met, slow], {slow[0]: (320e-6, 162e-6, 190e-6, 25e-6)})
    assert "rnn n = 16, T = 10, batch 32, timed again: 0.32 ms against the floor's 0.16 ms" in fixed
    assert "each further step costs 14.4 µs against 15.2 µs" in fixed and "fixed cost is what is over" in fixed
    steps = numbers.grid_note([slow, jax], {slow[0]: (600e-6, 162e-6, 60e-6, 25e-6)})
    assert "its steps alone cost 3.9× the floor's" in steps and "fixed cost" not in steps
    assert "Over the JAX target: rnn n = 1, T = 1000, batch 1 (5.3× JAX)." in steps
    again = numbers.grid_note([slow], {slow[0]: (230e-6, 162e-6, 150e-6, 25e-6)})
    assert "within the target this time (1.42×): the row's miss did not repeat" in again and "over" not in again.split(
        "Over the floor target")[1]


def test_the_api_fuzz_finds_a_planted_traceback_and_a_call_that_runs_too_long():
    """benchmarks/api_fuzz.py keeps working: its verdict on one call is None for a one-line SymbpttError,
    and says what went wrong for a TypeError (an unhashable list reaching a cached lookup, as
    RNN(activation=[1]) did) or a call past the limit; each part yields calls it can make."""
    from conftest import benchmark_script

    from symbptt import SymbpttError

    fuzz = benchmark_script("api_fuzz")

    def refused() -> None:
        raise SymbpttError("activation must be a name")

    def slow() -> None:
        deadline = time.perf_counter() + 5.0
        while time.perf_counter() < deadline:
            pass

    assert fuzz.attempt(refused, 5.0) is None
    assert fuzz.attempt(lambda: {}[[1]], 5.0).startswith("TypeError: unhashable type")
    assert fuzz.attempt(slow, 0.2).startswith("still running")
    assert fuzz.attempt(lambda: symbptt.RNN(T=2, activation=[1]), 5.0) is None  # refused in one line now
    labels = [label for label, _ in fuzz.gradient_cases(seed=3, count=2)]
    assert len(labels) == 2 and all("trial" in label for label in labels)
    assert sum(1 for _ in fuzz.name_cases()) > 300 and any(True for _ in fuzz.plot_cases())


def test_the_activation_fuzz_holds_a_drawn_tree_and_catches_a_wrong_number(tmp_path):
    """benchmarks/activation_fuzz.py keeps working: what it draws the tool reads; tanh(a)/E (the traceback
    it found) answers as it must; planted: the reference of another activation under the same text, and
    the fuzz names the gradient that is off."""
    import mpmath
    import numpy as np
    from conftest import benchmark_script, run_in_process

    from symbptt.activations import parse_activation

    fuzz = benchmark_script("activation_fuzz")

    def run(args: list[str]) -> tuple[int, str, str]:
        ran = run_in_process(*args)
        return ran.returncode, ran.stdout, ran.stderr

    texts = {fuzz.draw(np.random.default_rng(seed)).text for seed in range(30)}
    assert len(texts) > 15 and all(parse_activation(text) is not None for text in texts)
    right = fuzz.Tree("tanh(a)/E", lambda a: mpmath.tanh(a) / mpmath.e, lambda a: mpmath.sech(a) ** 2 / mpmath.e)
    assert fuzz.check(right, np.random.default_rng(0), tmp_path, run, steps=6) is None
    other = fuzz.Tree("tanh(a)/E", lambda a: mpmath.tanh(a) / 2, lambda a: mpmath.sech(a) ** 2 / 2)
    assert fuzz.check(other, np.random.default_rng(0), tmp_path, run, steps=6).startswith("grad: ")


def test_the_cli_fuzz_catches_a_planted_traceback_and_passes_a_refusal(monkeypatch):
    """benchmarks/cli_fuzz.py keeps working: a refusal in one line is no finding; with the figure range's
    check planted away, `plot regimes --min -5e307` reaches matplotlib's NaN contour labels and the fuzz
    names the traceback; every command yields cases."""
    import importlib

    from conftest import benchmark_script

    fuzz = benchmark_script("cli_fuzz")
    regimes = importlib.import_module("symbptt.plots.regimes")  # the module (symbptt.plots.regimes is its function)
    args = ["plot", "regimes", "-o", "OUT.png", "--points", "4", "-T", "5", "--min", "-5e307"]
    assert fuzz.verdict("plot regimes", args, 30.0) is None
    assert fuzz.verdict("derive", ["derive", "-T", "0"], 30.0) is None
    monkeypatch.setattr(regimes, "check_range", lambda *a: None)
    assert fuzz.verdict("plot regimes", args, 30.0).startswith("traceback: ValueError")
    commands = {command for command, _, _ in fuzz.cases(seed=1, per_option=1)}
    assert commands == set(fuzz.BASES)


def test_the_valid_fuzz_draws_every_command_and_names_a_planted_traceback(monkeypatch, capsys):
    """benchmarks/valid_fuzz.py keeps working: a seed draws the same command lines, every command among them;
    planted: SymPy's ASCII tables chosen for a pretty form with a Σ (what it found), and its verdict names
    the traceback."""
    import contextlib
    import random

    from conftest import benchmark_script
    from sympy.printing.pretty.pretty_symbology import pretty_use_unicode

    from symbptt import render

    fuzz = benchmark_script("valid_fuzz")
    rng = random.Random(5)
    drawn = [fuzz.command(rng) for _ in range(120)]
    again = random.Random(5)
    assert drawn == [fuzz.command(again) for _ in range(120)]
    assert {args[0] for args in drawn} == {"derive", "latex", "sweep", "theory", "train", "plot", "verify"}
    args = ["derive", "-T", "3", "--form", "general", "--format", "pretty"]
    previous = pretty_use_unicode(False)  # as under an ASCII stdout
    try:
        assert fuzz.judged([("derive", args, False)], 60.0) == 0
        monkeypatch.setattr(render, "unicode_tables", contextlib.nullcontext)
        assert fuzz.judged([("derive", args, False)], 60.0) == 1
        assert "traceback: KeyError" in capsys.readouterr().out
    finally:
        pretty_use_unicode(previous)


def test_the_cell_fuzz_mutates_deterministically_and_names_a_planted_traceback(monkeypatch, tmp_path):
    """benchmarks/cell_fuzz.py keeps working: the same seed makes the same files, three commands on them
    find nothing, and with the figure's default parameter planted away (StopIteration, as a cell file of
    scalars once met) `plot contributions` is named a traceback."""
    import importlib
    import random

    from conftest import benchmark_script

    fuzz = benchmark_script("cell_fuzz")
    first, again = fuzz.mutated(random.Random(5)), fuzz.mutated(random.Random(5))
    assert first == again and first not in fuzz.BASES
    assert fuzz.commands(1, 3, 60.0, str(tmp_path)) == (3, 0)
    params = tmp_path / "p.json"
    cell = fuzz.ROOT / "docs" / "cells" / "mgu.toml"
    params.write_text(json.dumps({"cell": str(cell), "x": [0.1, 0.2], "y": 0.0, "w_f": 0.5, "u_f": 1.0, "b_f": 0.0,
                                  "w_n": 0.9, "u_n": 1.0, "b_n": 0.0, "h0": 0.1}))
    args = ["plot", "contributions", "--params", str(params), "-o", "OUT.png"]
    assert fuzz.cli_fuzz.verdict("plot contributions", args, 60.0) is None
    figure = importlib.import_module("symbptt.plots.contributions")
    monkeypatch.setattr(figure, "default_wrt", lambda rnn: next(iter(())))
    assert fuzz.cli_fuzz.verdict("plot contributions", args, 60.0).startswith("traceback: StopIteration")


def test_the_contributions_sweep_holds_a_case_and_flags_a_planted_share(monkeypatch):
    """benchmarks/contributions_sweep.py keeps working: drawn cases sit within their allowance, and with the
    figure's share planted 10^-5 off (ten times what HELD allows) the same cases of loss 'last' are flagged."""
    import numpy as np
    from conftest import benchmark_script

    sweep = benchmark_script("contributions_sweep")
    found = [sweep.case(np.random.default_rng(seed)) for seed in (0, 2)]  # a loss 'last' and a loss 'sum'
    found = [f for f in found if f is not None]
    assert found and all(ratio <= 1 for _, ratio, _ in found)
    held = sweep.FIGURE.held_terms

    def planted(*args):
        terms = held(*args)
        return terms._replace(share=None if terms.share is None else terms.share * (1 + 1e-5))

    monkeypatch.setattr(sweep.FIGURE, "held_terms", planted)
    again = [sweep.case(np.random.default_rng(seed)) for seed in (0, 2)]
    assert any(" last " in what and ratio > 1 for what, ratio, _ in (f for f in again if f is not None))


def test_the_memory_audit_flags_a_run_that_peaks_beyond_the_budget():
    """benchmarks/memory_audit.py keeps working: with a stand-in for the command (refused above 1000, its
    peak growing with the size) it finds the largest size let through to 5 %, and flags the run only
    where that peak is beyond MAX_BYTES and the allowance."""
    from conftest import benchmark_script

    audit = benchmark_script("memory_audit")
    calls: list[tuple[str, float]] = []

    def stand_in(per_unit: float):
        def runner(command: str, limit: float) -> tuple[int, float]:
            calls.append((command, limit))
            size = int(command.split()[-1])
            return (2 if size > 1000 else 0), size * per_unit
        return runner

    size, peak, within = audit.audit("x --size {}", 1, 10**6, 60.0, stand_in(2**20))
    assert 950 <= size <= 1000 and peak == size * 2**20 and within
    assert calls[-1] == (f"x --size {size}", 60.0)  # the last run at the audit's limit, the probes shorter
    size, peak, within = audit.audit("x --size {}", 1, 10**6, 60.0, stand_in(3 * 2**20))
    assert 950 <= size <= 1000 and not within


def test_the_estimates_benchmark_runs_and_its_sentence_follows_its_rows(monkeypatch):
    """benchmarks/estimates.py keeps working: one small cell times both passes against positive prices;
    the sentence under its table reads the range of the ratios from the rows, and names how many fall
    below 1 when some do."""
    from conftest import benchmark_script

    bench = benchmark_script("estimates")
    monkeypatch.setattr(bench, "CELLS", [("rnn", "tanh", 1)])
    monkeypatch.setattr(bench.gc, "collect", lambda: 0)  # a fair timing's full collection: seconds in a big heap
    for arb in (False, True):
        found = bench.rows([30], 0.01, arb)
        assert len(found) == 1 and found[0][1] > 0 and found[0][2] > 0 and "30 digits" in found[0][0]
    assert bench.table([("a", 1.0, 2.0), ("b", 2.0, 3.0)], "x").endswith("1.50–2.00× what the passes took.")
    low = bench.table([("a", 1.0, 2.0), ("b", 2.0, 1.0), ("c", 4.0, 1.0)], "x")
    assert low.endswith("0.25–2.00× what the passes took: 2 below it.")


def test_the_carried_check_benchmark_compares_its_cases_and_times_both_checks():
    """benchmarks/carried_check.py on a few drawn cases: every Arb pass made is counted, the check carries
    where it applies, each comparable case gives carried − measured within the docstring's bounds, and
    both checks are timed."""
    from conftest import benchmark_script

    bench = benchmark_script("carried_check")
    got = bench.compare(1, 6)
    assert len(got["all"]) == len(got["carried"]) == len(got["second"]) >= 4 and got["applies"]
    assert all(-4.5 < d < 3.0 for d in got["others"] + got["inside"]) and all(t >= 0 for t in got["second"])
