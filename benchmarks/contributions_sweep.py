"""Random cells at random scales through `plot contributions`' numbers (plots.contributions.held_terms),
each against reference.py's mpmath BPTT at 400 digits: whether the share the figure prints holds the
HELD digits it claims.

Each case draws a cell (rnn, indrnn with tanh or sigmoid, gru, lstm, mingru, minlstm, lru), 1–4 units,
1–2 layers, T = 3..59, loss 'last' or 'sum', weights at scale 0.3, 0.8, 1.5, 3 or 5, inputs × 0.1, 1, 5 or
20, and one of the first three parameters that are not initial states.  For loss 'last' the share of the
terms at k ≤ T/2 is (∂L/∂θ − the gradient truncated to the last T − T/2 steps) / ∂L/∂θ, entry (1, 1),
which must be within 10^−HELD of it relative to itself (or, below float64's range, of its smallest
normal number: the share is a float64); for loss 'sum' (whose terms no truncation
separates) the terms must add up to ∂L/∂θ within 10^−HELD of Σ|terms|.  Cases the figure refuses (its
budget, a run beyond the exact path) are skipped.

First runs (2026-12-06): before loss 'sum' stopped being shaded as truncated, every case outside its
allowance was one with a loss at every step (the reference's truncation keeps each loss term's last
steps, not whole bars: the figure said the wrong thing, 0cf586b).  After it, seeds 1 and 2 (300 s each,
side by side): 2,621 and 2,544 cases, 561 and 518 of them from the exact pass, none outside, the largest
error 4.9e-5 and 1.5e-5 of the allowance.

    python benchmarks/contributions_sweep.py --seed 1 --seconds 300
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import warnings
from pathlib import Path

import mpmath
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symbptt.activations import get_activation  # noqa: E402
from symbptt.cells import get_cell  # noqa: E402
from symbptt.check.trials import draw_layers  # noqa: E402
from symbptt.config import parse_config  # noqa: E402
from symbptt.errors import SymbpttError  # noqa: E402
from symbptt.reference import bptt  # noqa: E402

FIGURE = importlib.import_module("symbptt.plots.contributions")  # the module (plots.contributions is its function)
CELLS = ("gru", "lstm", "rnn", "mingru", "minlstm", "indrnn", "lru")
DIGITS = 400
SMALLEST = 2.2250738585072014e-308  # float64's smallest normal number: a share below it is held as 0


def case(rng: np.random.Generator) -> tuple[str, float, bool] | None:
    """One drawn case: (what it was, its error over its allowance, whether the exact pass drew it), or None
    where the figure refuses it or the gradient entry is exactly 0."""
    cell = CELLS[rng.integers(len(CELLS))]
    act = str(rng.choice(["tanh", "sigmoid"])) if cell in ("rnn", "indrnn") else "tanh"
    n, layers, T = int(rng.integers(1, 5)), int(rng.integers(1, 3)), int(rng.integers(3, 60))
    loss = str(rng.choice(["last", "sum"]))
    weights, inputs = float(rng.choice([0.3, 0.8, 1.5, 3.0, 5.0])), float(rng.choice([0.1, 1.0, 5.0, 20.0]))
    spec = get_cell(cell, get_activation(act))
    draw = np.random.default_rng(int(rng.integers(1 << 30)))
    params = draw_layers(spec, n, 1, layers, draw, weights)
    x = draw.normal(size=(T, 1)) * inputs
    y = draw.normal(size=n) if loss == "last" else draw.normal(size=(T, n))
    choices = [p for p in spec.params if spec.kind(p) != "initial"]
    wrt = choices[int(rng.integers(0, min(3, len(choices))))]
    data = {"cell": cell, "loss": loss, "x": x.tolist(), "y": y.tolist()}
    data |= {"activation": act} if cell in ("rnn", "indrnn") else {}
    listed = [{k: np.asarray(v).tolist() for k, v in p.items()} for p in params]
    data |= listed[0] if layers == 1 else {"layers": listed}
    what = f"{cell} {act} n={n} layers={layers} T={T} {loss} weights×{weights:g} x×{inputs:g} wrt={wrt}"
    cut = T // 2
    try:
        held = FIGURE.held_terms(parse_config(data), wrt, cut)
    except SymbpttError:
        return None
    allowed = 10.0 ** -FIGURE.HELD
    with mpmath.workdps(DIGITS):
        full = np.ravel(bptt(params, x, y, act, loss, cell, kind="mp")[1][-1][wrt])[0]
        if full == 0:
            return None
        # each term from its sign and log10, which hold it where float64 rounds it to 0 (10^-412)
        terms = [sign * mpmath.power(10, mpmath.mpf(log)) if sign else mpmath.mpf(0)
                 for sign, log in zip(held.sign.tolist(), held.log10.tolist(), strict=True)]
        if loss == "sum":
            error = abs(mpmath.fsum(terms) - full) / mpmath.fsum(abs(t) for t in terms)
        else:
            recent = np.ravel(bptt(params, x, y, act, loss, cell, kind="mp", truncate=T - cut)[1][-1][wrt])[0]
            share = (full - recent) / full
            if held.share is None:
                return f"{what}: no share drawn, the reference's is {mpmath.nstr(share, 5)}", np.inf, held.digits > 0
            # relative to itself, where float64 can hold it (a share of 10^-400 is drawn as 0.0 %)
            error = abs(mpmath.mpf(held.share) - share) / max(abs(share), mpmath.mpf(SMALLEST))
    return f"{what}, digits {held.digits}", float(error) / allowed, held.digits > 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=300.0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(args.seed)
    start, cases, exact, outside, worst = time.perf_counter(), 0, 0, 0, 0.0
    try:
        while time.perf_counter() - start < args.seconds:
            found = case(rng)
            if found is None:
                continue
            what, ratio, from_exact = found
            cases, exact, worst = cases + 1, exact + from_exact, max(worst, ratio)
            if ratio > 1:
                outside += 1
                print(f"outside its allowance ({ratio:.3g}×): {what}", flush=True)
    except KeyboardInterrupt:
        pass
    print(f"{cases} cases, {exact} from the exact pass, {outside} outside, the largest error {worst:.3g} of "
          "the allowance")
    return 1 if outside else 0


if __name__ == "__main__":
    sys.exit(main())
