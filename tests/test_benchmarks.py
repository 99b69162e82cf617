"""The benchmark script keeps working (smoke sizes); benchmarks are not timed tests."""

from __future__ import annotations

import subprocess
import sys


def test_benchmark_smoke_run_prints_every_case():
    proc = subprocess.run([sys.executable, "benchmarks/run.py", "--smoke"], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    for heading in ("## 1. Derivation", "## Targets", "## 2. lambdify", "## 3. Sweep", "## 4. PyTorch", "## Memory"):
        assert heading in proc.stdout
