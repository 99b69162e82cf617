"""Hostile values for the command line: every option of every command (and of each `plot` kind) given,
one at a time, values a user could type by mistake, in a small valid invocation.  Each call must exit 0
(1 for `verify`, `check` and `train`'s diverged runs, which say so), or 2 with one line "Error: …" and
no output file, within --limit seconds; anything else (a traceback, two lines, a partial file, a slow
call) is printed with what it was given, and the script exits 1.

The values: for a number option, NaN, ±∞, 0, −1, huge and subnormal numbers, numbers beyond float64,
±1.7e308 and 5e307 (near float64's largest), and spellings Python reads but people do not mean (0x10,
1_000, ½); for a text option, those and TeX and shell specials, paths, a 5,000-character string, a NUL,
expressions that overflow or do not parse.  The calls run in-process (click's own runner would hide
what main() does with errors), each in a fresh folder.

First run (2026-12-06, without the values near float64's largest): 1,988 calls, one
traceback (plot regimes --min -1e308: matplotlib's contour labels took NaN).  Seven values near float64's
largest and smallest given to every number option of the figures, `sweep`, `theory` and `train` (1,204
calls) then found twelve tracebacks in regimes, surface, gates, spectrum and gradmap (NaN labels, ticks
of no length, an SVD of ∞·W); and a figure whose range was narrower than about 1e-289 was drawn on an
axis matplotlib chose itself (±0.055), one of 10^−13 of its ends with rounded tick labels.
plots.common.check_range now refuses all of them in one line.  After the fix, with these values among
the rest: seeds 1, 2 and 3, 2,628 calls each, none wrong.

    python benchmarks/cli_fuzz.py                       # every command, 6 values an option (about 5 minutes)
    python benchmarks/cli_fuzz.py --only plot --values 3
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import click  # noqa: E402

from symbptt.cli import main  # noqa: E402

NUMBERS = ["nan", "inf", "-inf", "-1", "0", "1e308", "-1e308", "1.7e308", "-1.7e308", "5e307", "1e-320", "1e400",
           "99999999999999999999", "0x10", "1_000", "½", "٣", "+5", "-0", "2147483648"]
TEXTS = ["$\\", "{", "}", "%", "\\input{x}", "a;b", "../../x", "a" * 5000, "é", "\x00x", "-h", "1,,2", ",",
         "__import__('os')", "a**a**a**a", "1/0", "exp(exp(exp(a)))", "all", "h0", "lambda", "sin(a", "  ",
         "zero(a)", "()", "10**10**10", "exp(1000*a)", "/dev/null", "/nonexistent/dir/f.png",
         "2*tanh(a)", "a*sigmoid(a)"]
KINDS = ["regimes", "curves", "contributions", "spectrum", "surface", "unrolled", "gates", "training", "horizon",
         "gradmap", "isometry", "meanfield"]
BASES = {
    "derive": ["derive", "-T", "2"],
    "latex": ["latex", "-T", "2", "-o", "OUT.tex"],
    "grad": ["grad", "--params", "example", "-o", "OUT.json"],
    "sweep": ["sweep", "-T", "5", "--points", "5", "-o", "OUT.csv"],
    "theory": ["theory"],
    "train": ["train", "--iterations", "2", "--length", "5", "--batch", "2", "-o", "OUT.csv"],
    "verify": ["verify", r"\frac{\partial L}{\partial w} = (h_T - y)(1-h_T^2) h_{T-1}", "-T", "1"],
    "check": ["check", "--trials", "1"],
} | {f"plot {kind}": ["plot", kind, "-o", "OUT.png", "--points", "4", "-T", "5"] for kind in KINDS}
EXIT_ONE = {"verify", "check", "train"}  # a wrong formula, a failed check, a diverged run: said, exit 1
RUN_LONG = {("train", "--iterations"), ("check", "--trials")}  # may run past --limit by design: training
# shows its progress and keeps what it trained on Ctrl-C (its time is not refused), and 1_000 is 1000 trials
# of check (146 s), within the budget


class TooLong(BaseException):
    """The call ran past the limit (a BaseException: the CLI's own handlers do not take it)."""


def _alarm(*_: Any) -> None:
    raise TooLong


def run(args: list[str], limit: float) -> tuple[Any, str, float]:
    """``symbptt args`` in this process: its exit code (or 'traceback: …', 'still running'), stderr, seconds."""
    err = io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            main.main(args=args, prog_name="symbptt")
        code: Any = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except TooLong:
        code = "still running"
    except Exception as exc:  # noqa: BLE001 - what the fuzz looks for
        code = f"traceback: {type(exc).__name__}: {str(exc)[:160]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return code, err.getvalue(), time.perf_counter() - start


def verdict(command: str, args: list[str], limit: float, long_ok: bool = False) -> str | None:
    """None where ``symbptt args`` (``command`` names its entry in BASES) behaves, else what went wrong; run in
    a fresh folder, which must hold no OUT file after a refusal; ``long_ok``: still running at ``limit`` is
    no finding (RUN_LONG)."""
    folder = tempfile.mkdtemp(prefix="cli_fuzz_")
    here = os.getcwd()
    os.chdir(folder)
    try:
        code, err, seconds = run(args, limit)
        lines = [line for line in err.splitlines() if line.strip()]
        if not isinstance(code, int):
            return None if long_ok and code == "still running" else code
        if code not in {0, 2} | ({1} if command.split()[0] in EXIT_ONE else set()):
            return f"exit {code}: {err[-200:]}"
        if "Traceback" in err:
            return "a traceback on stderr"
        if code == 2 and (len(lines) != 1 or not lines[0].startswith("Error: ")):
            return f"an error of {len(lines)} lines: {err[:200]!r}"
        if code == 2 and any(name.startswith("OUT") for name in os.listdir(folder)):
            return "an output file after a refusal"
        return None if seconds <= limit or long_ok else f"{seconds:.0f} s"
    finally:
        os.chdir(here)
        shutil.rmtree(folder, ignore_errors=True)


def options(command: str) -> list[click.Option]:
    """The options of ``command`` that take a value other than a choice (those click checks itself)."""
    cmd = main.get_command(click.Context(main), command.split()[0])
    assert cmd is not None
    return [p for p in cmd.params if isinstance(p, click.Option) and not p.is_flag
            and not isinstance(p.type, click.Choice)]


def cases(seed: int, per_option: int, only: str = "") -> Iterator[tuple[str, list[str], bool]]:
    """(command, arguments, whether it may run long): each command's base invocation with one option set to
    a hostile value."""
    rng = random.Random(seed)
    for command, base in BASES.items():
        if only and not command.startswith(only):
            continue
        for option in options(command):
            number = isinstance(option.type, (click.types.IntParamType, click.types.FloatParamType)) \
                or type(option.type).__name__ == "Finite"
            pool = NUMBERS if number else TEXTS + NUMBERS
            flag = max(option.opts, key=len)
            for value in rng.sample(pool, min(per_option, len(pool))):
                args = list(base)
                if flag in args:
                    args[args.index(flag) + 1] = value
                else:
                    args += [flag, value]
                yield command, args, (command.split()[0], flag) in RUN_LONG


def main_fuzz(seed: int, per_option: int, limit: float, only: str) -> int:
    return judged(cases(seed, per_option, only), limit)


def judged(calls: Iterable[tuple[str, list[str], bool]], limit: float) -> int:
    """Each call's verdict, what went wrong printed with what it was given; 1 when any did, else 0."""
    wrong = total = 0
    for command, args, long_ok in calls:
        total += 1
        found = verdict(command, args, limit, long_ok)
        if found is not None:
            wrong += 1
            print(f"{command}: {' '.join(a[:60] for a in args[1:])}\n    {found}", flush=True)
    print(f"{total} calls, {wrong} wrong")
    return 1 if wrong else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--values", type=int, default=6, help="hostile values tried per option")
    parser.add_argument("--limit", type=float, default=60.0, help="seconds a call may take")
    parser.add_argument("--only", default="", help="commands whose name starts with this (e.g. 'plot')")
    opts = parser.parse_args()
    sys.exit(main_fuzz(opts.seed, opts.values, opts.limit, opts.only))
