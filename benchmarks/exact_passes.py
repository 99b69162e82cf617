"""The exact forward pass with Arb's balls against mpmath's, and what it buys `symbptt.gradients`.

Two tables, CPU-time medians of interleaved runs, each paying for its own exponentials (the ones mpmath
kept from the run before are forgotten first, as a first call finds them):

- the forward pass alone (numeric/arbforward.py against numeric/forward.py's mpmath pass) on cells drawn
  as `check` draws them, weights × 2, one sequence of x ~ N(0, 1), at the digits given; beside it,
  mpmath's pass repeated with the exponentials of the run before kept (primitives._KEPT), which is what
  a benchmark that does not forget them times;
- `symbptt.gradients(..., digits=12)` on the chaotic tanh network of docs/performance.md §10b (n = 16,
  W = 4·N(0, 1/n), x = 0.1): its exact forward pass read in float64 (numeric/split.py) against the
  mpmath passes it took before (the split turned off), with the digits each used and how far apart
  their gradients are, relative to each gradient's largest entry.

On the 2-core machine of the notes: Arb's forward pass 5.8× (rnn n = 16), 7.7× (LSTM n = 8) and 6.4× (GRU
n = 8) faster than mpmath's at T = 300 and 60 digits, 7.7× for the rnn at T = 1000 and 130 digits
(2.9–4.9× against mpmath's pass repeated with its exponentials kept); the gradients call 28 ms against
288 (10.5×), its gradients within 7e-14 of mpmath's.

    python benchmarks/exact_passes.py            # --smoke: small sizes, one run each
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import mpmath
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import _interleaved  # noqa: E402  (benchmarks/run.py)

import symbptt  # noqa: E402
from symbptt.activations import get_activation  # noqa: E402
from symbptt.cells import get_cell  # noqa: E402
from symbptt.check.trials import draw_layers  # noqa: E402
from symbptt.numeric import arbforward  # noqa: E402
from symbptt.numeric import gradients as gradients_module  # noqa: E402
from symbptt.numeric.factors import NumericModel  # noqa: E402
from symbptt.numeric.forward import compiled, forward  # noqa: E402
from symbptt.primitives import forget_mp_values  # noqa: E402


def _median_pair(first: Callable[[], object], second: Callable[[], object], repeats: int) -> tuple[float, float]:
    """CPU-time medians of two functions run alternately (run.py's _interleaved), after one untimed call
    of each."""
    first(), second()
    return _interleaved(first, second, repeats)


def drawn(cell: str, n: int, T: int, seed: int = 0) -> NumericModel:
    """One sequence through a cell whose parameters are drawn as `check` draws them, weights × 2."""
    spec = get_cell(cell, get_activation("tanh"))
    rng = np.random.default_rng(seed)
    params = [{k: (v if np.ndim(v) == 2 else np.reshape(v, (-1, 1))) for k, v in p.items()}
              for p in draw_layers(spec, n, 1, 1, rng, 2.0)]
    return NumericModel(spec, params, rng.normal(size=(T, 1, 1)), np.zeros((n, 1)))


def forward_rows(smoke: bool) -> list[str]:
    cases = [("rnn", 4, 20, 30)] if smoke else [("rnn", 16, 300, 60), ("lstm", 8, 300, 60), ("gru", 8, 300, 60),
                                               ("rnn", 16, 1000, 130)]
    rows = []
    for cell, n, T, dps in cases:
        model = drawn(cell, n, T)

        label = f"{cell} n = {n}, T = {T}, {dps} digits"

        def arb(model: NumericModel = model, dps: int = dps, label: str = label) -> None:
            if arbforward.forward(model, dps) is None:
                raise SystemExit(f"Arb's pass refused {label}")

        def mp(model: NumericModel = model, dps: int = dps, kept: bool = False) -> None:
            if not kept:
                forget_mp_values()  # the run pays for its own exponentials, as a first call does
            with mpmath.workdps(dps):
                mp_model = model.as_mp()
                forward(compiled(model.cell, "mp"), mp_model.params, mp_model.x)

        a, b = _median_pair(arb, mp, 1 if smoke else 5)
        c = _median_pair(arb, lambda mp=mp: mp(kept=True), 1 if smoke else 5)[1]  # the same run's again
        rows.append(f"| {label} | {a * 1e3:.1f} ms | {b * 1e3:.1f} ms | {b / a:.1f}× | {c * 1e3:.1f} ms "
                    f"| {c / a:.1f}× |")
    return rows


def gradients_row(smoke: bool) -> str:
    n, T = 16, (80 if smoke else 300)
    rng = np.random.default_rng(0)
    params = {"W": 4.0 * rng.normal(size=(n, n)) / np.sqrt(n), "U": rng.normal(size=(n, 1)), "b": np.zeros(n),
              "h0": np.full(n, 0.3)}
    x, y = np.full((T, 1), 0.1), np.zeros(n)
    split = gradients_module._split
    results = {}

    def call(which: str) -> None:
        forget_mp_values()  # each call pays for its own exponentials, as a first call does
        gradients_module._split = split if which == "split" else (lambda *args: None)
        try:
            results[which] = symbptt.gradients(params, x, y, digits=12)
        finally:
            gradients_module._split = split

    a, b = _median_pair(lambda: call("split"), lambda: call("mpmath"), 1 if smoke else 5)
    got, before = results["split"], results["mpmath"]
    apart = max(float(np.max(np.abs(got.grads[k] - before.grads[k])) / np.max(np.abs(before.grads[k])))
                for k in got.grads)
    how = "read in float64" if got.exact is None else "mpmath"
    return (f"| tanh n = {n}, W = 4·N(0, 1/n), T = {T} | {a * 1e3:.1f} ms ({how}, {got.digits} digits, kept "
            f"{got.kept}) | {b * 1e3:.1f} ms (mpmath, {before.digits} digits) | {b / a:.1f}× | {apart:.1g} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, one run each")
    args = parser.parse_args()
    print("| forward pass | Arb | mpmath | mpmath / Arb | mpmath, its exponentials kept from the run before | / Arb |\n"
          "|---|---|---|---|---|---|")
    print("\n".join(forward_rows(args.smoke)))
    print("\n| symbptt.gradients(digits=12) | exact forward pass, float64 rest | before: mpmath | ratio | apart |")
    print("|---|---|---|---|---|")
    print(gradients_row(args.smoke))
    return 0


if __name__ == "__main__":
    sys.exit(main())
