"""What the exact passes take against what the budget priced them at before they started.

An exact pass is refused in one line when its estimate (budget.mp_pass_seconds for mpmath's pass and rest,
budget.arb_pass_seconds for Arb's) is beyond the limit, so an estimate below what a pass takes lets a run
past the limit.  Each row times one pass and rest (`exact.mp_gradients`, or Arb's forward pass and
split.exact_pass) on a cell drawn as `check` draws it, its T chosen so that the estimate is about
--seconds, and prints took, estimated and their ratio, which is meant to be at least 1.  CPU time, one run
each after an untimed one at 30 digits (the cell's functions compiled), the kept exponentials forgotten
before each.

Cells: rnn with tanh, sin(a) and log(1 + exp(a)) (a logarithm and an exponential forward, an exponential
back), LSTM, GRU, the MGU of docs/cells/mgu.toml (nodes only, no linear map), and a cell file of thirty
sines over five intermediates (368 operations a step, where ten a node priced 60); 30 to 5000 digits.

First run (2026-12-06, 2 cores), before the functions' term: mpmath's estimate 0.41–0.95 of what the
passes took where their exponentials and logarithms dominate (rnn log(1 + exp(a)) from 1000 digits, sin(a)
at 5000, the MGU at 5000), and the MGU at 30 digits 0.56; cell_fuzz.py's seed 3 found a pass priced at 21 s
that took 128 s.  After it (same machine): mpmath's estimates 1.47–5.56× what the passes took, Arb's
1.39–3.90× (in a run beside the test suite, Arb's GRU at 5000 digits 0.93×, before each group's functions
were counted apart: Arb does not share a node's exponential with its slope, as mpmath's pass does).  The
cell file of thirty sines was then priced at 0.84× at 30 digits (ten operations a node), and Arb's pass
raised on every cell of nodes only (no linear map), which went to mpmath; counting the operations
(numeric/cost.operations) in both prices, and with Arb serving those cells: mpmath's 1.57–6.05×, Arb's
1.30–3.86×.

    python benchmarks/estimates.py                 # --smoke: 30 and 300 digits, small passes
    python benchmarks/estimates.py --digits 1000 5000 --seconds 1
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

import mpmath
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symbptt.activations import get_activation  # noqa: E402
from symbptt.cells import get_cell  # noqa: E402
from symbptt.cells.userfile import load_cell_file  # noqa: E402
from symbptt.check.trials import draw_layers  # noqa: E402
from symbptt.numeric import arbforward, exact, split  # noqa: E402
from symbptt.numeric.cost import arb_seconds, mp_seconds  # noqa: E402
from symbptt.numeric.factors import NumericModel  # noqa: E402
from symbptt.primitives import forget_mp_values  # noqa: E402

CELLS = [("rnn", "tanh", 1), ("rnn", "tanh", 4), ("rnn", "sin(a)", 2), ("rnn", "log(1 + exp(a))", 2),
         ("lstm", "tanh", 2), ("gru", "tanh", 2), (str(ROOT / "docs" / "cells" / "mgu.toml"), "tanh", 1),
         ("sines", "tanh", 1)]
SINES = ('name = "sines"\nstates = ["h"]\nparams = ["w", "u", "b"]\n[intermediates]\n'  # thirty sines, 368 operations
         + "".join(f'{name} = "{" + ".join(f"sin({k + 6 * i}*h+x)" for k in range(1, 7))}"\n'
                   for i, name in enumerate(("pa", "pb", "pc", "pd", "pe")))
         + '[update]\nh = "tanh(w*h + u*x + b) + 0.001*(pa + pb + pc + pd + pe)"\n')


def model(cell: str, activation: str, n: int, T: int) -> NumericModel:
    """``cell`` with n units over T steps, drawn as `check` draws it (seed 0), x ~ U(−1, 1), target 0
    ("sines": the cell file SINES)."""
    if cell == "sines":
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "sines.toml"
            path.write_text(SINES)
            spec = load_cell_file(path)
    else:
        spec = load_cell_file(cell) if cell.endswith(".toml") else get_cell(cell, get_activation(activation))
    rng = np.random.default_rng(0)
    params = [{k: (v if np.ndim(v) == 2 else np.reshape(v, (-1, 1))) for k, v in p.items()}
              for p in draw_layers(spec, n, 1, 1, rng, 1.0)]
    return NumericModel(spec, params, rng.uniform(-1, 1, size=(T, 1, 1)), np.zeros((n, 1)))


def priced(m: NumericModel, n: int, digits: int, arb: bool) -> float:
    """The budget's estimate of ``m``'s exact pass and rest at ``digits`` (Arb's with ``arb``)."""
    return (arb_seconds if arb else mp_seconds)(m.cell, n, 1, m.T, 1, 1, digits)


def run(m: NumericModel, digits: int, arb: bool) -> float | None:
    """CPU seconds of ``m``'s exact pass and rest at ``digits`` (Arb's with ``arb``; None where Arb gives
    up on a value, as it does on the MGU's, and mpmath's pass would run)."""
    forget_mp_values()
    gc.collect()
    start = time.process_time()
    if arb:
        traj = arbforward.forward(m, digits)
        if traj is None:
            return None
        with mpmath.workdps(digits):
            split.exact_pass(m, traj)
    else:
        exact.mp_gradients(m, digits)
    return time.process_time() - start


def rows(digits_list: list[int], seconds: float, arb: bool) -> list[tuple[str, float, float]]:
    """(case, took, estimated) for every cell at every number of digits."""
    out = []
    for cell, activation, n in CELLS:
        warm = model(cell, activation, n, 3)
        if run(warm, 30, arb) is None:  # the cell's functions compiled, untimed
            continue
        for digits in digits_list:
            per_step = priced(warm, n, digits, arb) / 3
            T = int(min(2000, max(2, seconds / per_step)))
            m = model(cell, activation, n, T)
            took = run(m, digits, arb)
            if took is not None:
                out.append((f"{m.cell.name} ({activation}) n = {n}, T = {T}, {digits} digits", took,
                            priced(m, n, digits, arb)))
    return out


def table(found: list[tuple[str, float, float]], title: str) -> str:
    lines = [f"\n| {title} | took | estimated | estimate / took |", "|---|---|---|---|"]
    lines += [f"| {case} | {took:.3f} s | {guess:.3f} s | {guess / took:.2f} |" for case, took, guess in found]
    low = min(guess / took for _, took, guess in found)
    lines.append(f"\nThe estimates are {low:.2f}–{max(g / t for _, t, g in found):.2f}× what the passes took"
                 + ("." if low >= 1 else f": {sum(g < t for _, t, g in found)} below it."))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--digits", type=int, nargs="+", default=[30, 300, 1000, 3000, 5000])
    parser.add_argument("--seconds", type=float, default=0.5, help="estimated seconds of each pass")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    digits, seconds = ([30, 300], 0.05) if args.smoke else (args.digits, args.seconds)
    found = rows(digits, seconds, False)
    print(table(found, "mpmath's pass and rest"))
    arb = rows(digits, seconds, True)
    print(table(arb, "Arb's pass and rest"))
    return 0 if all(g >= t for _, t, g in found + arb) else 1


if __name__ == "__main__":
    sys.exit(main())
