"""The exact forward pass and rest with Arb's balls against mpmath's, and what they buy `symbptt.gradients`.

Four tables, CPU time: medians of interleaved runs, each paying for its own exponentials (the ones mpmath
kept from the run before are forgotten first, as a first call finds them), and one run each for the
estimates:

- the forward pass alone (numeric/arbforward.py against numeric/forward.py's mpmath pass) on cells drawn
  as `check` draws them, weights × 2, one sequence of x ~ N(0, 1), at the digits given; beside it,
  mpmath's pass repeated with the exponentials of the run before kept (primitives._KEPT), which is what
  a benchmark that does not forget them times;
- the rest from one Arb forward pass of the same cases — step coefficients, loss, δ recursion, sums —
  with Arb (arbforward.coefficients, numeric/arbbackward.py) against mpmath (the trajectory converted to
  mpf, step_coefficients, factors.gradient_blocks), and how far apart the gradients are relative to each
  gradient's largest entry;
- Arb's pass and rest against the budget's estimate of them (budget.arb_pass_seconds), which is meant to
  be at or above what they take;
- `symbptt.gradients(..., digits=12)` on the chaotic tanh network of docs/performance.md §10b (n = 16,
  W = 4·N(0, 1/n), x = 0.1): one sequence (T = 300), its exact forward pass read in float64
  (numeric/split.py); a batch of two, which the split does not read, every number computed again with
  Arb's pass and rest; and one sequence at T = 1000, whose float64 rest falls short, its rest computed
  exactly at the digits the reruns ask for (numeric/reruns.py); each against mpmath throughout
  (SYMBPTT_ARB=0, the split turned off), with the path each took.

On the 2-core machine of the notes (two runs): Arb's forward pass 6.0–6.4× (rnn n = 16), 8.0–8.2× (LSTM
n = 8) and 6.4–6.6× (GRU n = 8) faster than mpmath's at T = 300 and 60 digits, 7.9–8.1× for the rnn at
T = 1000 and 130 digits (3.3–5.6× against mpmath's pass repeated with its exponentials kept); Arb's rest
7.5–9.3× faster than mpmath's, its gradients within 3e-58 of mpmath's at 60 digits; the estimates
1.2–2.7× what the passes took (1.17–2.51× since they count exponentials, operations and the Python
around each array of a step, 2026-12-06); the report made exact 7.1–19.1× the float64 report with Arb, 39–81× with
mpmath (the LSTM of 128 units refused with mpmath), and since Arb's pass is checked without a second
one (numeric/tangent.py) 6.2–15.9× with Arb, 81–117× with mpmath (whose float64 report had become
faster, two runs, 2026-12-06); the gradients call 28–34 ms against 300–328 (9.6–10.7×)
for one sequence and 133–169 ms against 602–650 (3.6–4.5×) for the batch; at T = 1000, 176 ms (Arb's pass
at 130 digits, its rest at 35) against 4.05 s (mpmath at 368 digits, 23×), where it had settled two Arb
passes, at 130 and 260 digits, in 355 ms (the call alone: 130–140 ms).

    python benchmarks/exact_passes.py            # --smoke: small sizes, one run each
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import mpmath
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import interleaved, median_time  # noqa: E402  (benchmarks/timing.py)

import symbptt  # noqa: E402
from symbptt.activations import get_activation  # noqa: E402
from symbptt.cells import get_cell  # noqa: E402
from symbptt.check.trials import draw_layers  # noqa: E402
from symbptt.errors import SymbpttError  # noqa: E402
from symbptt.numeric import arbbackward, arbforward, split  # noqa: E402
from symbptt.numeric import gradients as gradients_module  # noqa: E402
from symbptt.numeric.cost import arb_seconds  # noqa: E402
from symbptt.numeric.exact import CHECK  # noqa: E402
from symbptt.numeric.factors import NumericModel, gradient_blocks  # noqa: E402
from symbptt.numeric.forward import Trajectory, compiled, forward  # noqa: E402
from symbptt.primitives import forget_mp_values  # noqa: E402


def _median_pair(first: Callable[[], object], second: Callable[[], object], repeats: int) -> tuple[float, float]:
    """CPU-time medians of two functions run alternately (timing.interleaved), after one untimed call
    of each."""
    first(), second()
    return interleaved(first, second, repeats)


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


def rest_rows(smoke: bool) -> list[str]:
    """The rest of an exact report from one Arb forward pass — step coefficients, loss, δ recursion and
    sums — with Arb's balls (arbforward.coefficients, numeric/arbbackward.py) against mpmath's
    (split.exact_values with the Arb rest turned off, then factors.gradient_blocks), and how far apart
    their gradients are, relative to each gradient's largest entry."""
    cases = [("rnn", 4, 20, 30)] if smoke else [("rnn", 16, 300, 60), ("lstm", 8, 300, 60), ("gru", 8, 300, 60),
                                               ("rnn", 16, 1000, 130)]
    rows = []
    for cell, n, T, dps in cases:
        model = drawn(cell, n, T)
        traj = arbforward.forward(model, dps)
        if traj is None:
            raise SystemExit(f"Arb's pass refused {cell} n = {n}, T = {T}")
        results: dict[str, tuple] = {}

        def arb(model: NumericModel = model, traj: Trajectory = traj, dps: int = dps, results: dict = results) -> None:
            with mpmath.workdps(dps):
                balls = arbforward.coefficients(model, traj)
                done = None if balls is None else arbbackward.gradients(model, traj, balls)
            if done is None:
                raise SystemExit("Arb's rest refused a case of the benchmark")
            results["Arb"] = done

        def mp(model: NumericModel = model, traj: Trajectory = traj, dps: int = dps, results: dict = results) -> None:
            forget_mp_values()  # the run pays for its own exponentials, as a first call does
            with mpmath.workdps(dps):
                values = split.exact_values(model, arbforward.as_mpf(traj, model.as_mp()))  # mpf: mpmath's
                results["mpmath"] = gradient_blocks(values, values.model)

        a, b = _median_pair(arb, mp, 1 if smoke else 5)
        apart = max(max(abs(u - v) for u, v in zip(g.flat, np.asarray(results["mpmath"][1][0][k]).flat, strict=True))
                    / max(abs(v) for v in np.asarray(results["mpmath"][1][0][k]).flat)
                    for k, g in results["Arb"][1][0].items())
        rows.append(f"| {cell} n = {n}, T = {T}, {dps} digits | {a * 1e3:.1f} ms | {b * 1e3:.1f} ms | {b / a:.1f}× "
                    f"| {mpmath.nstr(apart, 2)} |")
    return rows


def estimate_rows(smoke: bool) -> list[str]:
    """Arb's forward pass and rest (numeric/split.exact_pass), one run each, against the budget's estimate
    of them (budget.arb_pass_seconds, which numeric/cost.py refuses beyond the limit): the estimate is meant
    to be at or above what the pass takes."""
    cases = [("rnn", 4, 1, 1, 20, 30)] if smoke else [
        ("rnn", 64, 1, 1, 200, 130), ("lstm", 32, 1, 2, 200, 30), ("gru", 32, 4, 1, 200, 130),
        ("lstm", 64, 1, 1, 100, 600), ("lstm", 128, 1, 1, 100, 30)]
    rows = []
    for cell, n, batch, layers, T, dps in cases:
        spec = get_cell(cell, get_activation("tanh"))
        rng = np.random.default_rng(0)
        params = [{k: (v if np.ndim(v) == 2 else np.reshape(v, (-1, 1))) for k, v in p.items()}
                  for p in draw_layers(spec, n, 1, layers, rng, 2.0)]
        model = NumericModel(spec, params, rng.normal(size=(T, 1, batch)), np.zeros((n, batch)))
        guess = arb_seconds(spec, n, 1, T, batch, layers, dps)
        start = time.process_time()
        traj = arbforward.forward(model, dps)
        with mpmath.workdps(dps):
            engine = None if traj is None else split.exact_pass(model, traj)[3]
        took = time.process_time() - start
        if engine != "Arb":
            raise SystemExit(f"Arb did not serve {cell} n = {n}")
        rows.append(f"| {cell} n = {n}, batch {batch}, {layers} layer(s), T = {T}, {dps} digits | {took:.2f} s "
                    f"| {guess:.2f} s | {guess / took:.2f} |")
    return rows


def report_rows(smoke: bool) -> list[str]:
    """`grad`'s report made exact (digits=15: no float64 pass keeps that many) against the same report in
    float64 (digits=1), with Arb and with mpmath (SYMBPTT_ARB=0): what `grad --help` quotes for --digits.
    Wall-clock medians of 3 (1 in a smoke run), each report after one untimed call of its own."""
    from symbptt.numeric.examples import example_config
    from symbptt.numeric.grad_report import grad_report

    cases = [("rnn", 4, 50)] if smoke else [("rnn", 64, 1000), ("gru", 64, 300), ("lstm", 16, 300), ("lstm", 128, 1000)]
    repeats = 1 if smoke else 3
    rows = []
    for cell, n, T in cases:
        cfg = example_config(cell, T, n, seed=0, **({"forget_bias": 1.0} if cell == "lstm" else {}))
        times = {}
        for engine in ("1", "0"):
            os.environ["SYMBPTT_ARB"] = engine
            for digits in (1, 15):
                try:
                    report = grad_report(cfg, digits=digits)
                except SymbpttError:  # refused by the budget before it starts (mpmath's pass: about 11 min)
                    break
                times[(engine, digits)] = median_time(lambda c=cfg, d=digits: grad_report(c, digits=d), repeats)
                if digits == 15:
                    times[(engine, "words")] = report["precision"].split(" (")[0]
        os.environ.pop("SYMBPTT_ARB")
        plain = times[("1", 1)]
        arb = times[("1", 15)]
        mp = times.get(("0", 15))
        rows.append(f"| {cell} n = {n}, T = {T} | {plain:.2f} s | {arb:.2f} s ({arb / plain:.1f}×, "
                    f"{times[('1', 'words')]}) | " + (f"{mp:.2f} s ({mp / plain:.1f}×, {times[('0', 'words')]})"
                                                    if mp is not None else "refused by the budget") + " |")
    return rows


def gradients_rows(smoke: bool) -> list[str]:
    """`symbptt.gradients(digits=12)` on the chaotic network: one sequence (its exact forward pass read in
    float64) and a batch of two (which the split does not read: every number computed again exactly),
    each against mpmath throughout (SYMBPTT_ARB=0, the split turned off), with the path each took."""
    n = 16
    rng = np.random.default_rng(0)
    params = {"W": 4.0 * rng.normal(size=(n, n)) / np.sqrt(n), "U": rng.normal(size=(n, 1)), "b": np.zeros(n),
              "h0": np.full(n, 0.3)}
    keep_split, keep_rest, keep_forward = gradients_module._split, arbbackward.gradients, arbforward.forward
    rows = []
    cases = [(80, "one sequence"), (80, "a batch of two")] if smoke else [
        (300, "one sequence"), (300, "a batch of two"), (1000, "one sequence")]
    for T, label in cases:
        x, y = (np.full((T, 1), 0.1), np.zeros(n)) if label == "one sequence" else (
            np.stack([np.full((T, 1), 0.1), np.full((T, 1), 0.2)], axis=2), np.zeros((n, 2)))
        results: dict[str, object] = {}
        served: list[bool] = []
        made: list[int] = []  # the digits of each exact forward pass Arb made

        def call(which: str, x: np.ndarray = x, y: np.ndarray = y, results: dict = results,
                 served: list = served, made: list = made) -> None:
            def rest(*args: object) -> object:  # arbbackward.gradients, noting whether it served
                out = keep_rest(*args)
                served.append(out is not None)
                return out

            def forward(model: NumericModel, dps: int) -> object:  # arbforward.forward, noting its digits
                made.append(dps)
                return keep_forward(model, dps)

            forget_mp_values()  # each call pays for its own exponentials, as a first call does
            old = os.environ.get("SYMBPTT_ARB")
            os.environ["SYMBPTT_ARB"] = "1" if which == "new" else "0"
            gradients_module._split = keep_split if which == "new" else (lambda *args: (None, None, 0, None))
            arbbackward.gradients, arbforward.forward = rest, forward
            try:
                results[which] = symbptt.gradients(params, x, y, digits=12)
            finally:
                gradients_module._split, arbbackward.gradients, arbforward.forward = keep_split, keep_rest, keep_forward
                if old is None:
                    del os.environ["SYMBPTT_ARB"]
                else:
                    os.environ["SYMBPTT_ARB"] = old

        a, b = _median_pair(lambda: call("new"), lambda: call("mpmath"), 1 if smoke else 5)
        got, before = results["new"], results["mpmath"]
        apart = max(float(np.max(np.abs(got.grads[k] - before.grads[k])) / np.max(np.abs(before.grads[k])))
                    for k in got.grads)
        # the digits the checked pass ran at: the last pass made less CHECK where its rounding was carried
        # along it (numeric/tangent.py), the last itself where a second pass with CHECK fewer checked it
        checked_by_pass = len(made) >= 2 and made[-2] == made[-1] + CHECK
        forward_digits = (made[-1] if checked_by_pass else made[-1] - CHECK) if made else got.digits
        how = (f"exact forward pass read in float64, {got.digits} digits" if got.exact is None
               else f"Arb's forward pass at {forward_digits} digits and rest at {got.digits}"
               if served and all(served) and forward_digits > got.digits
               else f"Arb's forward pass and rest, {got.digits} digits" if served and all(served) else "mpmath")
        rows.append(f"| tanh n = {n}, W = 4·N(0, 1/n), T = {T}, {label} | {a * 1e3:.1f} ms ({how}) "
                    f"| {b * 1e3:.1f} ms (mpmath, {before.digits} digits) | {b / a:.1f}× | {apart:.1g} |")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, one run each")
    args = parser.parse_args()
    print("| forward pass | Arb | mpmath | mpmath / Arb | mpmath, its exponentials kept from the run before | / Arb |\n"
          "|---|---|---|---|---|---|")
    print("\n".join(forward_rows(args.smoke)))
    print("\n| the rest from Arb's forward pass | Arb | mpmath | mpmath / Arb | apart |\n|---|---|---|---|---|")
    print("\n".join(rest_rows(args.smoke)))
    print("\n| Arb's pass and rest | took | estimated | estimate / took |\n|---|---|---|---|")
    print("\n".join(estimate_rows(args.smoke)))
    print("\n| grad report | float64 (digits=1) | exact (digits=15) with Arb | with mpmath |\n|---|---|---|---|")
    print("\n".join(report_rows(args.smoke)))
    print("\n| symbptt.gradients(digits=12) | now | before: mpmath throughout | ratio | apart |\n|---|---|---|---|---|")
    print("\n".join(gradients_rows(args.smoke)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
