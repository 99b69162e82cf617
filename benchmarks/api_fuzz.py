"""Hostile values for the Python API: every public function must answer a value it cannot take with a
SymbpttError of one line, and no call may run for minutes before it answers.

Three parts, each a table of calls with good arguments in which one argument at a time is replaced:

    names      each argument that takes a name (cell, activation, loss, wrt, init, task, …) given a list,
               an array, a dict, a number, None, bytes, an object
    plots      each argument of each figure function given a number far out of range (±10^300, 1.7·10^308,
               −5·10^307, 10^−300, 10^9, 2^62, the smallest subnormal)
    gradients  one entry of one parameter (or of x) of a random network of each cell set to such a number,
               then symbptt.gradients (with and without digits=12) or grad_report

A call that raises anything but a SymbpttError, or takes longer than --limit seconds, is printed with
what it was given; the script exits 1 if there was one.  First run (this script's cases, 2026-12-06):
71 tracebacks in 'names' (an unhashable list reaching a cached lookup, an array compared with a name),
two calls of minutes in 'plots' (plot gates with inputs × 10^9: 26 s in mp_tanh's long integer; plot
gradmap at ν = 10^9: mpmath reducing exp(10^434,294,481)) and a NumPy error (--points 2^62), and in
'gradients' an LSTM with U_i = −10^300 whose exact pass ran to 5,000 digits and was refused after 50 s.
After the fixes: 532 calls in 'names', 840 in 'plots' and 60 in 'gradients' (seed 1), none wrong or slow.

    python benchmarks/api_fuzz.py                 # all three parts (about 10 minutes)
    python benchmarks/api_fuzz.py --part names    # one part
"""

from __future__ import annotations

import argparse
import inspect
import random
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import symbptt  # noqa: E402
from symbptt import SymbpttError  # noqa: E402

NOT_NAMES = [None, 3, 2.5, True, [1], (), {}, {"a": 1}, np.array(["a", "b"]), np.array([1, 2]), np.array(3),
             b"rnn", 3 + 1j, object()]
FAR = [1e300, -1e300, 1e-300, 1e9, -1e9, 2**62, 5e-324, 1.7e308, -5e307]


class TooLong(Exception):
    """The call ran past the limit."""


def _alarm(*_: Any) -> None:
    raise TooLong


def attempt(call: Callable[[], Any], limit: float) -> str | None:
    """None where ``call`` returns or raises a one-line SymbpttError within ``limit`` seconds, else what
    went wrong."""
    before = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    start = time.perf_counter()
    try:
        call()
    except SymbpttError as error:
        if "\n" in str(error):
            return f"a message of several lines: {str(error)[:80]!r}"
    except TooLong:
        return f"still running after {limit:g} s"
    except Exception as error:  # noqa: BLE001 - what the script looks for
        return f"{type(error).__name__}: {str(error)[:100]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)
        import matplotlib.pyplot as plt

        plt.close("all")
    seconds = time.perf_counter() - start
    return None if seconds < limit else f"{seconds:.1f} s"


def name_cases() -> Iterator[tuple[str, Callable[[], Any]]]:
    """Every argument that takes a name, of every public function that has one, given what is not one."""
    params = {"W": np.eye(2) * 0.5, "U": np.ones((2, 1)), "b": np.zeros(2), "h0": np.zeros(2)}
    plots, small = symbptt.plots, {"T": 3, "n": 2, "batch": 2, "steps": 1}
    table: list[tuple[str, Callable[..., Any], list[str]]] = [
        ("RNN", lambda **k: symbptt.RNN(**({"T": 2} | k)), ["activation", "loss", "cell"]),
        ("derive", lambda **k: symbptt.derive(symbptt.RNN(T=2), **k), ["form", "wrt"]),
        ("gradients", lambda **k: symbptt.gradients(params, np.zeros((3, 1, 1)), np.zeros((2, 1)), **k),
         ["cell", "loss", "activation"]),
        ("standalone", lambda **k: symbptt.standalone(symbptt.RNN(T=2), **k), ["wrt", "code_form"]),
        ("sweep_scalar", lambda **k: symbptt.sweep_scalar(np.array([0.5]), 3, **({"activation": "tanh"} | k)),
         ["activation"]),
        ("sweep_grad", lambda **k: symbptt.sweep_grad(np.array([0.5]), 3, **({"activation": "tanh"} | k)),
         ["activation", "loss", "wrt"]),
        ("sweep_gain", lambda **k: symbptt.sweep_gain(np.array([0.5]), 3, **({"activation": "tanh", "n": 2} | k)),
         ["activation", "init"]),
        ("theory", lambda **k: symbptt.theory(**k), ["activation"]),
        ("TrainSettings", lambda **k: symbptt.TrainSettings(**(small | k)).validate(),
         ["cell", "activation", "task", "optimizer", "init"]),
        ("parse_config", lambda **k: symbptt.parse_config({"W": 1, "x": [1], "y": 0} | k),
         ["cell", "activation", "loss"]),
        ("verify", lambda **k: symbptt.verify(r"\frac{\partial h_T}{\partial h_0} = 1", T=1, points=1, **k), ["model"]),
        ("plots.regimes", lambda **k: plots.regimes(**({"points": 3, "T_max": 3} | k)),
         ["activation", "quantity", "beside"]),
        ("plots.curves", lambda **k: plots.curves(**({"T_max": 3} | k)), ["activation", "beside"]),
        ("plots.spectrum", lambda **k: plots.spectrum(**({"n": 2, "points": 2, "T": 3} | k)), ["activation", "init"]),
        ("plots.draw", lambda **k: plots.draw(**({"kind": "regimes", "T": 3, "points": 3} | k)),
         ["kind", "activation"]),
        ("plots.unrolled", lambda **k: plots.unrolled(**({"T": 2} | k)), ["cell"]),
    ]
    for function, call, names in table:
        for name in names:
            for value in NOT_NAMES:
                yield f"{function}({name}={value!r:.30})", lambda c=call, n=name, v=value: c(**{n: v})
    for value in NOT_NAMES:
        yield f"run_checks(cells=({value!r:.30},))", lambda v=value: symbptt.run_checks(trials=1, cells=(v,))
        yield f"standalone(forms=({value!r:.30},))", lambda v=value: symbptt.standalone(symbptt.RNN(T=2), forms=(v,))


PLOTS = {  # each figure function with small sizes; every other argument at its default
    "cell_curves": {"n": 2, "T_max": 5}, "curves": {"T_max": 5}, "gates": {"points": 3, "T_max": 5},
    "gradient_map": {"points": 3, "T_max": 5}, "isometry": {"n": 4, "steps": (1, 2)},
    "meanfield_gap": {"sizes": (4, 8), "T": 5, "seeds": 1}, "regimes": {"points": 3, "T_max": 5},
    "spectrum": {"n": 4, "points": 2, "T": 5}, "surface": {"points": 3, "T": 3}, "units": {"n": 2, "T": 5},
    "unrolled": {"T": 2}, "draw": {"kind": "regimes", "T": 5, "points": 3},
}


def plot_cases() -> Iterator[tuple[str, Callable[[], Any]]]:
    """Every argument of every figure function given a number far out of range."""
    for name, base in PLOTS.items():
        function = getattr(symbptt.plots, name)
        for argument in inspect.signature(function).parameters:
            for value in FAR:
                yield (f"plots.{name}({argument}={value!r})",
                       lambda f=function, b=base, a=argument, v=value: f(**(b | {a: v})))


def gradient_cases(seed: int, count: int) -> Iterator[tuple[str, Callable[[], Any]]]:
    """Random networks of every cell with one entry set to a number far out of range."""
    from symbptt.numeric.examples import example_config

    draw = random.Random(seed)
    cells = ["rnn", "lstm", "gru", "indrnn", "mingru", "minlstm", "lru"]
    for trial in range(count):
        cell, T, n = draw.choice(cells), draw.choice([3, 20, 200]), draw.choice([1, 2, 4])
        cfg = example_config(cell, T, n=n, seed=trial)
        layer = {k: np.array(v, dtype=float) for k, v in cfg.layers[0].items()}
        name, value = draw.choice(sorted(layer)), draw.choice(FAR)
        layer[name].flat[draw.randrange(layer[name].size)] = value
        x = np.array(cfg.x, dtype=float).reshape(T, -1)
        if draw.random() < 0.3:
            x.flat[draw.randrange(x.size)] = draw.choice(FAR)
        what, digits = draw.choice(["gradients", "report"]), draw.choice([None, 12])
        label = f"{what} {cell} n = {n} T = {T}, {name} entry {value!r} (trial {trial})"
        if what == "gradients":
            yield label, lambda c=cell, p=layer, xs=x, m=n, d=digits: symbptt.gradients(
                p, xs[:, :, None], np.zeros((m, 1)), cell=c, digits=d)
        else:
            data = {"cell": cell, **{k: v.tolist() for k, v in layer.items()}, "x": x.tolist(), "y": [0.0] * n}
            yield label, lambda d=data: symbptt.grad_report(symbptt.parse_config(d))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["names", "plots", "gradients"], action="append")
    parser.add_argument("--seed", type=int, default=1, help="the gradients part's draws")
    parser.add_argument("--cases", type=int, default=150, help="the gradients part's networks")
    parser.add_argument("--limit", type=float, default=60.0, help="seconds a call may take")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import matplotlib

    matplotlib.use("Agg")
    parts = {"names": name_cases, "plots": plot_cases, "gradients": lambda: gradient_cases(args.seed, args.cases)}
    failed = 0
    for part in args.part or list(parts):
        tried = 0
        for label, call in parts[part]():
            tried += 1
            wrong = attempt(call, args.limit)
            if wrong is not None:
                failed += 1
                print(f"{part}: {label}: {wrong}", flush=True)
        print(f"{part}: {tried} calls", flush=True)
    print(f"{failed} call(s) answered wrongly or too slowly")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
