"""Valid values at random: each command given a random combination of values it takes (every cell, a cell
file, built-in and written activations among them unbounded ones, sizes, lengths, gains, losses, forms,
formats, figures).  Each call must behave as cli_fuzz.py asks (exit 0, 1 where a command says why, or 2
with one line "Error: …" and no output file, within --limit seconds); what cli_fuzz.py gives one option
at a time, this gives as users combine them.

Draws `verify` too: the closed form of ∂L/∂w in σ', right or with a σ' left out, for any activation.
First runs (2026-12-07), seed 1, 120 calls: `derive --format pretty` of a form with a Σ raised
KeyError('sum') where sys.stdout is not a UTF-8 stream (this runs the commands in-process with stdout a
StringIO; SymPy chose its ASCII tables from that).  The same day, `-a` given written activations in every
command found `verify -a 2*tanh(a)` (KeyError: the reference had three activations written out) and
`plot spectrum -a 'log(1 + exp(a))'` (LinAlgError: overflowed gains' NaN in the other gains' SVD).

    python benchmarks/valid_fuzz.py --seed 1 --calls 200
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_fuzz import KINDS, judged  # noqa: E402  (benchmarks/cli_fuzz.py)

ROOT = Path(__file__).resolve().parent.parent
FILES = [str(ROOT / "docs" / "cells" / name) for name in ("mgu.toml", "vindrnn.toml")] + \
    [str(ROOT / "tests" / "cells" / name) for name in ("vgru.toml", "sinshift.toml", "diagpair.toml")]
CELLS = ["rnn", "lstm", "gru", "indrnn", "mingru", "minlstm", "lru", *FILES]
ACTIVATIONS = ["tanh", "sigmoid", "relu", "linear", "log(1 + exp(a))", "a + sin(a)", "abs(a)", "a*sigmoid(a)",
               "erf(a)"]
TAKES_ACTIVATION = ("rnn", "indrnn")
PLOTS_WITH_ACTIVATION = ("regimes", "curves", "surface", "spectrum", "meanfield", "isometry")
PLOTS_WITH_CELL = ("curves", "unrolled", "gradmap", "units", "gates", "isometry")
CLOSED_FORM = (r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} (h_T - y) \Bigl(\prod_{j=k+1}^{T} w\,"
               r"\sigma^\prime(a_j)\Bigr) \sigma^\prime(a_k)\, h_{k-1}")


def _one(rng: random.Random, *values: object) -> str:
    return str(rng.choice(values))


def _figure(rng: random.Random, cell: str, activation: list[str]) -> list[str]:
    kind = rng.choice(KINDS)
    sizes = {"regimes": ["-T", "20", "--points", "7"], "curves": ["-T", "30"],
             "surface": ["-T", "10", "--points", "9"],
             "spectrum": ["-n", _one(rng, 2, 8), "-T", "30", "--points", "5", "--min", _one(rng, 0.1, 1),
                          "--max", _one(rng, 2, 8)],
             "unrolled": ["-T", _one(rng, 1, 3, 8)], "gradmap": ["-T", "30", "-n", _one(rng, 1, 2, 4)],
             "units": ["-T", "30", "-n", _one(rng, 2, 4)], "isometry": ["-n", _one(rng, 2, 8), "--lengths", "1,5,20"],
             "meanfield": ["-n", _one(rng, 2, 8), "-T", "20"], "training": ["--iterations", "5"]}.get(kind, [])
    output = "OUT." + _one(rng, "png", "svg", "pdf")
    return ["plot", kind, *(["--cell", cell] if kind in PLOTS_WITH_CELL else []),
            *(activation if kind in PLOTS_WITH_ACTIVATION else []), *sizes, "-o", output]


def command(rng: random.Random) -> list[str]:
    """One command line, its values drawn from those each option takes."""
    cell = rng.choice(CELLS)
    activation = ["-a", rng.choice(ACTIVATIONS)] if cell in TAKES_ACTIVATION and rng.random() < 0.6 else []
    kind = rng.choice(["derive", "latex", "sweep", "theory", "train", "plot", "verify"])
    if kind == "verify":  # the closed form of ∂L/∂w, right or with σ'(a_k) left out (exit 1, said)
        formula = CLOSED_FORM if rng.random() < 0.7 else CLOSED_FORM.replace(r" \sigma^\prime(a_k)", "")
        return ["verify", *(["-a", rng.choice(ACTIVATIONS)] if rng.random() < 0.8 else []),
                "-T", _one(rng, 1, 2, 4), "--points", _one(rng, 1, 2), "--loss", "last", formula]
    if kind in ("derive", "latex"):
        args = [kind, "--cell", cell, *activation, "-T", _one(rng, 1, 2, 3, 5), "-n", _one(rng, 1, 1, 2, 3),
                "--layers", _one(rng, 1, 1, 2), "--loss", _one(rng, "last", "sum"),
                "--form", _one(rng, "unroll", "factors", "general", "explicit", "recursive")]
        if kind == "derive":
            return [*args, "--format", _one(rng, "pretty", "text", "latex", "numpy"), "--width", _one(rng, 40, 80, 120)]
        return [*args, *rng.choice([[], ["--standalone"], ["--standalone", "--diagram"]]), "-o", "OUT.tex"]
    if kind == "sweep":
        return ["sweep", "--cell", cell, *activation, "-T", _one(rng, 1, 5, 50, 300), "--points", _one(rng, 2, 5, 9),
                "-n", _one(rng, 1, 2, 8), "--gain", _one(rng, 0.1, 1, 3, 10), "--seed", _one(rng, 0, 7),
                "--quantity", _one(rng, "jacobian", "grad"), "--loss", _one(rng, "last", "sum"),
                "--init", _one(rng, "gaussian", "orthogonal", "identity"), "-o", "OUT.csv"]
    if kind == "theory":
        beside = ["--beside", "-n", _one(rng, 2, 8, 32), "-T", _one(rng, 5, 50, 200), "--seeds", _one(rng, 1, 3)]
        return ["theory", *(["-a", rng.choice(ACTIVATIONS)] if rng.random() < 0.7 else []),
                "--sigma-w", _one(rng, 0.1, 0.9, 1.5, 3, 10), "--sigma-b", _one(rng, 0, 0.3, 2),
                *(beside if rng.random() < 0.5 else [])]
    if kind == "train":
        return ["train", "--cell", cell, *activation, "-n", _one(rng, 1, 2, 8), "--layers", _one(rng, 1, 2),
                "--task", _one(rng, "remember", "adding"), "-T", _one(rng, 2, 5, 20), "--batch", _one(rng, 1, 4),
                "--iterations", _one(rng, 2, 20), "--lr", _one(rng, 0.001, 0.1, 10),
                "--optimizer", _one(rng, "sgd", "momentum", "adam"), "--scale", _one(rng, 0.1, 1, 3),
                "--init", _one(rng, "gaussian", "orthogonal", "identity"), "-o", "OUT.csv"]
    return _figure(rng, cell, activation)


def main(seed: int, calls: int, limit: float) -> int:
    rng = random.Random(seed)
    drawn = (command(rng) for _ in range(calls))
    return judged(((args[0] if args[0] != "plot" else " ".join(args[:2]), args, False) for args in drawn), limit)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--limit", type=float, default=120.0, help="seconds a call may take")
    opts = parser.parse_args()
    sys.exit(main(opts.seed, opts.calls, opts.limit))
