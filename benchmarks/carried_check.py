"""The check of an exact forward pass carried along it (numeric/tangent.py) against the second pass it
replaces, on cells drawn at random.

exact.exact_forward checks a pass at d digits: it used to make a second pass with CHECK digits more and
measure the digits the two share, d − shared being what rounding was amplified by.  Where Arb made the
pass, it now carries each stored value's rounding along the pass instead.  For each case drawn (a built-in
cell and activation or a cell file of docs/cells and tests/cells; n 1–5, 1–2 layers, T 5–200, batch 1–2,
weights ×0.5–6, 20–60 digits), this script prints:

- how many cases the carried check applies to, and, where the second pass shares at least MEASURED
  digits (so that d − shared is a measure, not the lower bound d), the carried amplification less the
  one mpmath's second pass measures (mpmath's: its passes round every stored value at d digits, as the
  carried check assumes; Arb's share GUARD bits more).  Nodes that mpmath rounds inside are counted
  apart — the cell files' sum shifted by 10^6 under sin, which no stored value holds, 1 + e^a in
  log(1 + e^a) for a ≪ 0, and tanh(a)·π before it is divided by e: Arb's pass proves the node and
  mpmath's does not, so there mpmath's pass loses more than Arb's;
- CPU time of the carried check against the second pass it saves (Arb's, at d + CHECK digits).

On the 2-core machine of the notes (2026-12-06, seeds 1 and 2, 150 cases each, with erf, atan and
π·tanh(a)/e among the activations): the check carried in 300 of the 300 Arb passes made; the carried
amplification 0.49 to 2.55 digits above mpmath's measure in the 225 comparable cases of the built-in cells
and the other files, and 4.20 below to 1.75 above it in the 66 where mpmath rounds inside a node; on these
small cases the carried checks took 0.39–0.44× the CPU of the second passes they save (the chaotic network
of docs/performance.md §10b at T = 1000: 11 ms against 63).

    python benchmarks/carried_check.py --seed 1 --cases 150
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import mpmath
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_arbforward import ACTIVATIONS, ROUNDED_INSIDE, _model  # noqa: E402  (tests/test_arbforward.py)

from symbptt.cells import BUILTIN  # noqa: E402
from symbptt.cells.userfile import load_cell_file  # noqa: E402
from symbptt.numeric import arbforward, tangent  # noqa: E402
from symbptt.numeric.exact import CHECK, _agreeing_digits  # noqa: E402
from symbptt.numeric.forward import compiled, forward  # noqa: E402

MEASURED = 5  # the fewest digits a second pass must share for d − shared to measure the amplification
INSIDE = ("shifted", "sinshift")  # tests/cells files whose nodes round a sum no stored value holds (as mpmath's
# log(1 + e^a) rounds 1 + e^a where a ≪ 0)


def _mp_pass(model: object, dps: int) -> object:
    with mpmath.workdps(dps):
        mp_model = model.as_mp()  # type: ignore[attr-defined]
        return forward(compiled(mp_model.cell, "mp"), mp_model.params, mp_model.x)


def cases(seed: int, count: int) -> list[tuple[str, object, int]]:
    """``count`` cases drawn from ``seed``: (label, model, digits)."""
    root = Path(__file__).resolve().parent.parent
    files = [load_cell_file(p) for p in sorted((root / "docs" / "cells").glob("*.toml"))
             + sorted((root / "tests" / "cells").glob("*.toml"))]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        if rng.random() < 0.3:
            cell: object = files[int(rng.integers(len(files)))]
            act = "tanh"
        else:
            cell, act = BUILTIN[int(rng.integers(len(BUILTIN)))], ACTIVATIONS[int(rng.integers(len(ACTIVATIONS)))]
        n, layers, T, batch = (int(rng.integers(1, 6)), int(rng.integers(1, 3)), int(rng.choice([5, 40, 200])),
                               int(rng.integers(1, 3)))
        scale, seed_ = float(rng.choice([0.5, 1.5, 3.0, 6.0])), int(rng.integers(2**31))
        dps = int(rng.choice([20, 40, 60]))
        model = _model(cell, act, n, layers, T, seed_, scale, batch=batch)
        name = getattr(cell, "name", cell)
        out.append((f"{name} {act if name in BUILTIN else ''} n={n} layers={layers} T={T} batch={batch} ×{scale} "
                    f"{dps} digits", model, dps))
    return out


def compare(seed: int, count: int) -> dict[str, list[float]]:
    """For each case: the carried amplification less mpmath's measure (comparable cases, by group), and the
    CPU seconds of the carried check and of the second pass it saves."""
    got: dict[str, list[float]] = {"others": [], "inside": [], "carried": [], "second": [], "applies": [], "all": []}
    for label, model, dps in cases(seed, count):
        checked = arbforward.forward(model, dps + CHECK)
        if checked is None:
            continue
        got["all"].append(1.0)
        start = time.process_time()
        carried = tangent.amplification(model, checked)
        got["carried"].append(time.process_time() - start)
        start = time.process_time()
        arbforward.forward(model, dps)
        got["second"].append(time.process_time() - start)
        if carried is None:
            continue
        got["applies"].append(1.0)
        shared = _agreeing_digits(model.cell.states, _mp_pass(model, dps), _mp_pass(model, dps + CHECK))
        if MEASURED <= shared < np.inf:
            inside = label.split()[0] in INSIDE or any(act in label for act in ROUNDED_INSIDE)
            got["inside" if inside else "others"].append(carried - (dps - shared))
    return got


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases", type=int, default=150)
    args = parser.parse_args()
    got = compare(args.seed, args.cases)
    print(f"{len(got['applies'])} of {len(got['all'])} Arb passes checked by carrying their rounding")
    for group, words in (("others", "built-in cells and the other cell files"),
                         ("inside", "nodes mpmath rounds inside (the shifted files, log(1 + e^a), π·tanh(a)/e)")):
        d = np.array(got[group])
        if d.size:
            print(f"{words}: carried − measured amplification {d.min():+.2f} to {d.max():+.2f} digits "
                  f"(median {np.median(d):+.2f}) in {d.size} comparable cases")
    carried, second = sum(got["carried"]), sum(got["second"])
    print(f"the carried checks took {carried:.2f} s of CPU, the second passes they save {second:.2f} s "
          f"({carried / second:.2f}×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
