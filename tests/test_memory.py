"""numeric/memory.py: freed memory kept for the next float64 pass, so a pass reuses pages instead of
faulting new ones in (counted by the kernel: minor page faults)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# a pass's pattern: arrays of a few MiB allocated, written and freed, again and again; prints the minor
# page faults per round before and after keep_freed_memory, and what it returned
SCRIPT = """
import resource, sys
import numpy as np
from symbptt.numeric import memory

def round():
    arrays = [np.ones(500_000) for _ in range(6)]  # 4 MB each, every page written
    del arrays

def faults():
    round()  # the heap grows to the pass's size once
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        round()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20

plain = faults()
kept = memory.keep_freed_memory()
print(plain, faults(), kept)
"""


def _run(keep: str) -> tuple[float, float, bool]:
    env = dict(os.environ, SYMBPTT_KEEP_MEMORY=keep)
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=True)
    plain, after, kept = out.stdout.split()
    return float(plain), float(after), kept == "True"


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (ValueError, OSError, AttributeError):
        return False


@pytest.mark.skipif(not _glibc(), reason="mallopt is glibc's")
def test_kept_memory_stops_the_page_faults_a_pass_pays_and_can_be_turned_off():
    plain, after, kept = _run("1")
    assert kept
    assert plain > 1000  # 6 × 4 MB written per round: ~5,900 pages, each faulted in anew by default
    assert after < plain / 100  # kept by the heap: reused, not faulted
    plain, after, kept = _run("0")
    assert not kept and after > plain / 2  # turned off: nothing changes


def test_a_float64_pass_asks_for_kept_memory_once():
    script = ("import numpy as np, symbptt\nfrom symbptt.numeric import memory\n"
              "before = memory.keep_freed_memory.cache_info().currsize\n"
              "p = {'W': np.eye(2), 'U': np.ones((2, 1)), 'b': np.zeros(2), 'h0': np.zeros(2)}\n"
              "for _ in range(2):\n    symbptt.gradients(p, np.ones((3, 1, 2)), np.ones((2, 2)))\n"
              "info = memory.keep_freed_memory.cache_info()\n"
              "print(before, info.currsize, info.misses, memory.keep_freed_memory())\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out[:3] == ["0", "1", "1"]  # not asked at import; asked by the first pass, once
    assert out[3] == str(_glibc() and os.environ.get("SYMBPTT_KEEP_MEMORY", "1") != "0")
