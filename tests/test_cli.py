"""The command line: output, one-line errors with exit code 2, no partial files, determinism."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from symbptt import __version__
from symbptt.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    """Run the real console entry point in a subprocess (so exit codes and stderr are the user's)."""
    return subprocess.run([sys.executable, "-m", "symbptt", *args], capture_output=True, text=True, timeout=600)


def test_version_and_help_with_examples():
    assert run("--version").stdout.strip().endswith(__version__)
    help_text = run("derive", "--help").stdout
    assert "Examples:" in help_text and "symbptt derive -T 3" in help_text


def test_derive_T3_prints_the_explicit_sum_in_time_order():
    out = run("derive", "-T", "3", "--format", "text").stdout
    assert "∂L/∂w = (h_3 - y)*w*(1 - h_3**2)*w*(1 - h_2**2)*(1 - h_1**2)*h_0" in out
    pretty = run("derive", "-T", "3").stdout
    assert "∂L/∂w = (h₃ - y)⋅w⋅" in pretty


@pytest.mark.parametrize("args,needle", [
    (["derive", "-T", "0"], "T (steps)"),
    (["derive", "-T", "x"], "-T"),
    (["derive", "-n", "7"], "hidden size"),
    (["derive", "--layers", "5"], "layers"),
    (["derive", "-a", "softplus"], "tanh, sigmoid, relu, linear"),
    (["derive", "-a", "a.__class__"], "not allowed"),
    (["derive", "-a", "open(a)"], "not allowed"),
    (["derive", "-T", "5000", "--form", "explicit"], "recursive"),
    (["derive", "-T", "40", "--form", "expanded"], "expanded"),
    (["derive", "--form", "nope"], "--form"),
    (["sweep", "--min", "2", "--max", "1"], "reversed"),
    (["sweep", "--points", "0"], "points"),
    (["check", "--trials", "0"], "trials"),
    (["grad", "--params", "/does/not/exist.json"], "cannot read"),
])
def test_bad_input_is_one_line_exit_2_no_traceback(args, needle):
    proc = run(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and needle in lines[0]
    assert "Traceback" not in proc.stderr


def test_grad_json_and_no_partial_file_on_error(tmp_path):
    good = tmp_path / "p.json"
    good.write_text(json.dumps({"activation": "tanh", "W": 0.9, "U": 1, "b": 0, "h0": 0.1, "x": [1, 0.5, -0.2],
                                "y": 0.3, "truncate": 2}))
    data = json.loads(run("grad", "--params", str(good)).stdout)
    assert set(data["grad"]) == {"W", "U", "b", "h0"} and len(data["log10_jacobian_norms"]) == 4
    assert data["truncated"]["k"] == 2 and data["regime"]["label"] == "vanishing guaranteed"
    bad = tmp_path / "bad.json"
    bad.write_text('{"W": 1, "U": 1, "b": 0, "h0": 0, "x": [1], "y": NaN}')
    out = tmp_path / "out.json"
    proc = run("grad", "--params", str(bad), "-o", str(out))
    assert proc.returncode == 2 and "NaN" in proc.stderr and not out.exists()
    assert sorted(tmp_path.iterdir()) == sorted([good, bad])  # no output file, no temporary left behind


def test_sweep_csv_and_json_are_deterministic(tmp_path):
    runner = CliRunner()
    a = runner.invoke(main, ["sweep", "-T", "5", "--points", "4"]).output
    b = runner.invoke(main, ["sweep", "-T", "5", "--points", "4"]).output
    assert a == b and a.splitlines()[0].startswith("T,w=")
    assert len(a.splitlines()) == 6
    js = json.loads(runner.invoke(main, ["sweep", "-T", "3", "--points", "3", "--format", "json"]).output)
    assert len(js["log10_dh_T_dh_0"]) == 3 and js["axis"] == "w"


def test_check_prints_table_and_exits_0_when_all_agree():
    proc = run("check", "--trials", "8", "--seed", "1")
    assert proc.returncode == 0, proc.stdout
    assert "reference BPTT" in proc.stdout and "finite differences" in proc.stdout
