"""The benchmark script keeps working (smoke sizes); benchmarks are not timed tests."""

from __future__ import annotations

import subprocess
import sys

import pytest


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
    assert len(numbers.fallback(True)) == 4
