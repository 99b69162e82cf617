"""Memory at the edge of each estimate: for a command and one size option, the largest value the budget
lets through (found by bisection on the refusal, which comes at once), then that run's peak resident
memory, read by /usr/bin/time (a run past --limit seconds is stopped and its peak so far read).  A run
that peaks above budget.MAX_BYTES plus ALLOWANCE (the interpreter, NumPy, matplotlib and Numba's
kernels) is a finding; the script prints every case and exits 1 if there was one.

First run (2026-12-06): `sweep -n 64 --points 19540 -T 5` peaked at 2.04 GiB and `plot curves -T 6.6e6`
above 2.3 GiB, `train --batch 390625` at 3.2 GiB, and `plot gradmap --cell lstm -n 64 --points 2000
-T 2443` at 23 GiB, when the kernel stopped it: the gain sweeps had not counted W = g·W0, curves and
training had counted half of what they hold, and gradmap had counted no memory.  After the fixes, the
largest run each case lets through peaks at 0.41 to 2.30 GiB (gradmap's gru and lstm the highest, with
what is loaded before any array), none above MAX_BYTES and the allowance.

    python benchmarks/memory_audit.py                 # every case (about 20 minutes)
    python benchmarks/memory_audit.py --only gradmap
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symbptt.budget import MAX_BYTES  # noqa: E402

ALLOWANCE = 0.5 * 2**30  # bytes beyond MAX_BYTES a run may peak at: what is loaded before any array
CASES = [  # (command with {} for the size, smallest size, a size the budget refuses)
    ("sweep -n 64 -T 5 -o o.csv --points {}", 10, 10**6),
    ("sweep -T 1000 -o o.csv --points {}", 10, 10**7),
    ("sweep -n 2 --cell lstm -T 5 -o o.csv --points {}", 10, 10**6),
    ("plot curves -o o.png -T {}", 10, 10**9),
    ("plot curves -o o.png --cell rnn,lstm,gru -n 64 -T {}", 10, 10**8),
    ("plot surface -o o.png -T 30 --points {}", 10, 10**5),
    ("plot spectrum -o o.png -n 256 -T 200 --points {}", 2, 10**5),
    ("plot gradmap -o o.png --cell lstm -n 64 --points 2000 -T {}", 2, 10**6),
    ("plot gradmap -o o.png --cell gru -n 64 -T 200 --points {}", 2, 2000),
    ("plot horizon -o o.png --lengths {}", 2, 10000),
    ("train --iterations 1 --length 20 -n 8 --batch {} -o o.csv", 1, 10**7),
    ("train --cell lstm --iterations 1 --length 20 -n 8 --batch {} -o o.csv", 1, 10**7),
    ("train --iterations 1 --batch 1 -n 64 --length {} -o o.csv", 2, 10**6),
]


def run(command: str, limit: float) -> tuple[int, float]:
    """``symbptt command`` in a fresh folder: its exit code and peak resident memory in bytes."""
    with tempfile.TemporaryDirectory(prefix="memory_audit_") as folder:
        done = subprocess.run(["/usr/bin/time", "-f", "PEAK %M", "timeout", str(limit), "symbptt", *command.split()],
                              capture_output=True, text=True, cwd=folder)
    found = re.search(r"PEAK (\d+)", done.stderr)
    return done.returncode, (int(found.group(1)) * 1024.0 if found else float("nan"))


def largest_let_through(let_through: Callable[[int], bool], low: int, high: int) -> int:
    """The largest size in [low, high) that ``let_through`` accepts, ``low`` accepted and ``high`` refused
    (bisection to 5 %: the estimates grow with the size)."""
    while high - low > max(1, low // 20):
        middle = (low + high) // 2
        if let_through(middle):
            low = middle
        else:
            high = middle
    return low


def audit(template: str, low: int, high: int, limit: float,
          runner: Callable[[str, float], tuple[int, float]] = run) -> tuple[int, float, bool]:
    """(the largest size let through, its run's peak in bytes, whether that is within the budget)."""
    if runner(template.format(high), 30.0)[0] != 2:
        raise SystemExit(f"{template}: {high} is not refused; give a larger size")
    size = largest_let_through(lambda s: runner(template.format(s), 8.0)[0] != 2, low, high)  # refused: exit 2
    code, peak = runner(template.format(size), limit)
    return size, peak, peak <= MAX_BYTES + ALLOWANCE


def main(only: str, limit: float) -> int:
    over = 0
    for template, low, high in CASES:
        if only and only not in template:
            continue
        size, peak, within = audit(template, low, high, limit)
        over += not within
        print(f"{template.format(size)}: peak {peak / 2**30:.2f} GiB{'' if within else '  OVER THE BUDGET'}",
              flush=True)
    return 1 if over else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="the cases whose command contains this")
    parser.add_argument("--limit", type=float, default=150.0, help="seconds before a run is stopped")
    opts = parser.parse_args()
    sys.exit(main(opts.only, opts.limit))
