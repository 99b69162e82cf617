"""Hostile input, generated: every command with bad values for its options, each run in-process and
checked for what a user must see — exit code 2, one line `Error: …` on stderr naming the option or the
value, no traceback, no file left behind — within a few seconds.

The table is the product of each command's options with values that option can never take (wrong type,
out of range, non-finite, empty, injection text), plus whole-command cases (unknown names, files that
are not what they claim)."""

from __future__ import annotations

import time

import pytest
from conftest import run_in_process

NOT_A_NUMBER = ["abc", "nan", "inf", "-inf", "1e400", "0x10", "1_0_0_0e", "١٢"]
NOT_A_COUNT = ["0", "-1", "2.5", "abc", "1e3", "99999999999999999999999"]
INJECTION = ["__import__('os')", "a.__class__", "exec('1')", "lambda: a", "a;a", "$(touch x)", "\\input{x}", "a" * 5000]

OPTIONS = {  # command → option → values it refuses
    "derive": {"-T": NOT_A_COUNT, "-n": ["0", "7", "x"], "-m": ["0", "x"], "--layers": ["0", "5", "x"],
               "-a": ["softplus", "abs(a, a)", "exp(exp(exp(a)))", *INJECTION], "--form": ["nope", "Explicit"],
               "--wrt": ["q", "W_x"], "--width": ["20", "wide"], "--cell": ["transformer", "missing.toml"],
               "--loss": ["avg"], "--format": ["html"], "--factors": ["some"]},
    "latex": {"-T": NOT_A_COUNT[:3], "-o": [".", "/", "x" * 300 + ".tex", "missing/x.tex", "/proc/self/x"],
              "--form": ["nope"], "-a": INJECTION[:4]},
    "grad": {"--params": ["missing.json", "/dev/zero", ".", "/etc"]},
    "sweep": {"--min": NOT_A_NUMBER[:5], "--max": NOT_A_NUMBER[1:4], "--points": ["0", "-1", "x", "100000000"],
              "-T": ["0", "x", "1000000000"], "--seed": ["-1", "x"], "-n": ["0", "257"], "--quantity": ["hessian"],
              "--wrt": ["q"], "--format": ["xml"], "--param": ["q"], "--cell": ["tree"], "--gain": ["nan"],
              "-u": ["inf"], "-a": INJECTION[:3], "-b": ["nan"], "--h0": ["inf"], "--forget-bias": ["nan"],
              "-y": ["nan"], "--loss": ["avg"]},
    "check": {"--trials": ["0", "-1", "x", "2.5"], "--seed": ["-1", "x", "99999999999999999999999"],
              "-T": ["0", "x"]},
    "train": {"--lr": ["0", "-1", "nan", "x"], "--batch": ["0", "x"], "--steps": ["0", "-5"], "--clip": ["0", "-1"],
              "--truncate": ["0"], "--task": ["nope"], "--optimizer": ["lbfgs"], "--scale": ["0", "nan"],
              "--far": ["0", "1000"], "-n": ["0", "300"], "--eval-every": ["0"], "--layers": ["4"],
              "--cell": ["tree"], "-T": ["0", "x"], "--forget-bias": ["nan"], "-a": INJECTION[:3],
              "--format": ["xml"], "--seed": ["-1"]},
    "plot regimes": {"-T": ["0", "x"], "--points": ["0", "x", "100000000"], "--min": ["nan", "x"],
                     "--seed": ["-1"], "-n": ["8"], "--quantity": ["x"], "--beside": ["x"]},
    "plot curves": {"--weights": ["a,b", "1e400", ",", ""], "-T": ["0", "100000000"], "--cell": ["rnn,tree"],
                    "-u": ["nan"]},
    "plot spectrum": {"-n": ["0", "1", "300"], "--min": ["4", "nan"], "--max": ["0.05"], "--points": ["0"],
                      "-T": ["0"], "--seed": ["-1"]},
    "plot surface": {"--points": ["0", "5000"], "--target": ["nan"], "--b-min": ["x"], "-u": ["2"]},
    "plot gates": {"--points": ["0", "x"], "--min": ["7", "nan"], "--max": ["-3"], "-a": ["relu"], "-n": ["0"],
                   "-T": ["0"], "--gain": ["inf"]},
    "plot unrolled": {"-T": ["0", "x"], "--cell": ["tree", ",", "rnn,"], "--layers": ["9", "0"]},
    "plot contributions": {"--params": ["missing.json", "/dev/zero"], "--wrt": ["h0"]},
    "plot training": {"--lengths": ["0", "a", "5,", "100000"], "--clip": ["0", "x"], "--iterations": ["0"],
                      "--lr": ["0"], "--batch": ["0"], "--optimizer": ["x"]},
    "plot horizon": {"--seeds": ["0", "99"], "--lengths": ["0"], "--cell": ["tree"]},
    "plot isometry": {"-n": ["1", "300"], "--gain": ["0", "-1", "nan"], "--lengths": ["0", "2.5", "1,2,3,4,5,6,7"],
                      "-u": ["-1", "inf"], "--cell": ["lstm"], "-a": ["softplus"]},
    "plot meanfield": {"--sizes": ["1", "300", "a", "4,", "2.5", "1,2,3,4,5,6,7,8,9,10,11"], "--seeds": ["0", "50"],
                       "-T": ["0"], "-a": ["softplus"], "-n": ["8"]},
    "plot gradmap": {"--wrt": ["U", "h0", "q", "W_x"], "--cell": ["rnn,lstm", "tree", ","], "--points": ["1", "5000"],
                     "-T": ["0", "100000000"], "--min": ["nan", "3"], "-n": ["0", "99"], "-a": ["relu"],
                     "--gain": ["2"]},
    "theory": {"--sigma-w": [*NOT_A_NUMBER[:5], "-1", "1e7"], "--sigma-b": ["nan", "-2"], "--sigma-u": ["inf"],
               "--input-var": ["-1", "x"], "-a": INJECTION[:4], "--format": ["xml"]},
}
OUTPUT = {"latex": ".tex", "grad": ".json", "sweep": ".csv", "train": ".csv"}  # commands that take -o
WHOLE = [
    ["nope"], ["plot", "nope", "-o", "x.png"], ["plot", "regimes", "-o", "x.gif"], ["derive", "--no-such-option"],
    ["derive", "-T"], ["grad"], ["plot", "regimes"], ["derive", "-T", "3", "extra"],
    ["derive", "--format", "numpy", "--form", "general"], ["derive", "--format", "numpy", "-T", "5000"],
    ["verify"], ["verify", "x = y", "--file", "a.tex"], ["verify", "--file", "missing.tex"],
    ["verify", "--file", "/dev/zero"], ["verify", "--file", "."],
    ["verify", r"\frac{\partial L}{\partial w} = w", "-n", "9"],
    ["verify", r"\frac{\partial L}{\partial w} = w", "--cell", "tree"], ["verify", "x" * 5000],
    ["verify", r"\frac{\partial L}{\partial w} = w", "--points", "0"],
    # a NUL byte in a path (the Python API and click's runner can pass one; os.stat raises ValueError)
    ["latex", "-T", "2", "-o", "a\x00.tex"], ["grad", "--params", "example", "-o", "a\x00.json"],
    ["sweep", "-o", "a\x00.csv"], ["train", "-o", "x.csv", "--torch-out", "a\x00.pt"],
    ["plot", "regimes", "-o", "a\x00.png"], ["grad", "--params", "a\x00.json"], ["derive", "--cell", "a\x00.toml"],
    ["verify", "--file", "a\x00.tex"], ["grad", "--torch", "a\x00.pt", "--input", "x.pt", "--target", "y.pt"],
]


def _cases() -> list[list[str]]:
    cases = []
    for command, options in OPTIONS.items():
        words = command.split()
        for option, values in options.items():
            for value in values:
                args = [*words, option, value]
                if words[0] == "plot" and option != "-o":
                    args += ["-o", "out.png"]
                elif words[0] in OUTPUT and option != "-o":
                    args += ["-o", "out" + OUTPUT[words[0]]]
                cases.append(args)
    return cases + WHOLE


CASES = _cases()


def test_the_table_is_large():
    assert len(CASES) >= 200


@pytest.mark.parametrize("args", CASES, ids=[" ".join(a)[:50] for a in CASES])
def test_bad_input_is_one_line_exit_2_no_traceback_no_file(tmp_path, args):
    start = time.monotonic()
    proc = run_in_process(*args, cwd=tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (args, proc.stdout[:200], proc.stderr[:300])
    assert len(lines) == 1 and lines[0].startswith("Error:") and "Traceback" not in proc.stderr, proc.stderr[:300]
    assert "\x00" not in proc.stderr  # what the user typed is shown escaped, not written raw to the terminal
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == [], "a file was left behind"
    assert time.monotonic() - start < 20


def test_mpmath_runs_on_its_python_backend_after_import_symbptt():
    """mpmath's GMP backend (taken when gmpy2 is installed) aborts the process on an integer overflow
    (exp(exp(exp(a))) at a = 10^12) instead of raising; importing symbptt first selects the pure-Python
    backend, whose errors the tool reports in one line.  A user's own MPMATH_NOGMPY is left as set."""
    import os
    import subprocess
    import sys

    code = "import symbptt, mpmath.libmp as m, os; print(m.BACKEND, os.environ['MPMATH_NOGMPY'])"
    env = {k: v for k, v in os.environ.items() if k != "MPMATH_NOGMPY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.split() == ["python", "1"], out.stderr
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=env | {"MPMATH_NOGMPY": "yes"})
    assert out.stdout.split() == ["python", "yes"], out.stderr


@pytest.mark.parametrize("form", ["explicit", "recursive"])
def test_a_huge_T_is_refused_by_its_size_not_its_300_figures(tmp_path, form):
    """`derive -T` with 300 nines: refused in one line that names T by its size (about 10^300), and what to
    use instead, never the 300 figures back."""
    import re

    proc = run_in_process("derive", "-T", "9" * 300, "--form", form, cwd=tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "T of about 10^300" in proc.stderr and not re.search(r"\d{13}", proc.stderr) and "--form" in proc.stderr


@pytest.mark.parametrize("value,words", [(7, "got 7"), (10**13, "got about 10^13"), (-(10**5000), "got about -10^5000"),
                                         (123_456_789_012, "got 123456789012")],
                         ids=["7", "1e13", "-1e5000", "123456789012"])
def test_a_whole_number_out_of_range_is_named_in_a_few_figures(value, words):
    """validate.integer, as the Python functions use it: a number beyond 10^12 is named by its size, and one
    beyond the 4300 figures Python writes is refused by that size too (not by Python's ValueError)."""
    from symbptt.errors import SymbpttError
    from symbptt.validate import integer

    with pytest.raises(SymbpttError) as caught:
        integer("T", value, 1, 6)
    assert str(caught.value) == f"T must be from 1 to 6, {words}"


def test_a_model_refuses_a_huge_size_by_its_size():
    """RNN(n=10^5000): one line naming n by its size, not Python's refusal to write 5000 figures."""
    import symbptt
    from symbptt.errors import SymbpttError

    with pytest.raises(SymbpttError, match=r"^hidden size n must be from 1 to \d+, got about 10\^5000$"):
        symbptt.RNN(T=3, n=10**5000)
