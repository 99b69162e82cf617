"""Freed memory kept for the next pass (glibc's malloc only).

A float64 pass stores its trajectory, step coefficients and δ as (T + 1, n, B) arrays — a few MiB each
at n = 64, batch 32.  glibc's malloc serves a block that large with a fresh mmap (or, once its dynamic
threshold has risen, from the heap, whose top it hands back to the system when more than twice that
threshold is free), so the next pass writes to new pages and pays one page fault per 4 KiB it touches.
At n = 64, batch 32, T = 100 that was 45% of a gradient (12.5 ms against 6.5 ms with the memory kept);
the hand-written floor, which allocates one small array per step, never pays it.

``keep_freed_memory`` raises the two thresholds once per process, at the first float64 pass: blocks
below MMAP_THRESHOLD come from the heap, and the heap keeps up to TRIM_THRESHOLD of freed memory for the
next pass instead of returning it.  The cost is that much resident memory held after a large run.  It is
a setting of the whole process (malloc is shared), so it is made only where glibc's mallopt exists and
not at all with SYMBPTT_KEEP_MEMORY=0.
"""

from __future__ import annotations

import ctypes
import os
from functools import cache

MMAP_THRESHOLD = 32 << 20  # bytes: blocks below this come from the heap (mallopt(3)'s upper limit on 64-bit)
TRIM_THRESHOLD = 256 << 20  # bytes of freed memory the heap keeps for later passes
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)


@cache  # one attempt per process: its outcome is kept
def keep_freed_memory() -> bool:
    """Asks glibc's malloc, once per process, to keep freed blocks for the next pass (see above).

    Returns:
        True when the thresholds are set (now or by an earlier call); False without glibc, when mallopt
        refused, or with SYMBPTT_KEEP_MEMORY=0.
    """
    if os.environ.get("SYMBPTT_KEEP_MEMORY", "1").strip() == "0" or not _glibc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # the mmap threshold first: setting either fixes both (glibc stops adjusting them on its own)
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")  # type: ignore[union-attr]
    except (ValueError, OSError, AttributeError):
        return False
