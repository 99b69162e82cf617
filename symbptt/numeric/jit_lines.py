"""One sequence's routes and products, written out in the step of a generated kernel.

The compiled kernels (jit_source: the plain pass; jit_nudge: the nudged reruns, which carry each value's
rounding size beside it) call a shared helper for every route and product of a step where they run a
batch: there the call's cost is spread over the sequences.  For one sequence each call pays Numba's
reference counts on the arrays it is handed, more than the route's own work at small n (the rnn's δ
recursion at n = 1, T = 1000, timed alone: about 60 µs through calls, 16–21 written out).  These lines are
the helpers' loops for one sequence, the same operations in the same order, so every value is the same to
the bit as the helper's; a batch still calls the helper (the ``else``).

``sized``: the nudged variant, with each value's size (Σ|terms|) carried beside it — a name S for δ_t's
sizes, A for |M|.  Names the lines use inside a kernel: ``n``, ``B``, ``t``, ``shift`` and the loop
variables ``i``, ``j``, ``bb``, ``v``, ``b``, ``w``, ``a``.
"""

from __future__ import annotations


def column_lines(MT: str, s_j: str, Q: str, at: str = "i, 0", width: str = "n",
                 sized: tuple[str, str] | None = None) -> list[str]:
    """One sequence's product Q[at] = M · s (MT: Mᵀ row-major; s_j: s's entry in row j; ``at``: Q's entry i
    of the sequence; ``width``: the rows of MT): each entry's terms added in the order of j from 0, as a loop
    over a row adds them, but column by column — the additions of one column are independent, so the
    compiler runs them side by side (2.8× faster at n = 64 than a row's chain of additions, each waiting for
    the last), and every sum is the same to the bit.  ``sized`` (AT, Z): Z[at] = |M|·|s| beside it (AT:
    |Mᵀ|), as the nudged reruns' _columns adds it."""
    AT, Z = sized or ("", "")
    return ["for i in range(n):", f"    {Q}[{at}] = 0.0", *([f"    {Z}[{at}] = 0.0"] if sized else []),
            f"for j in range({width}):", f"    w = {s_j}", *(["    a = abs(w)"] if sized else []),
            "    for i in range(n):", f"        {Q}[{at}] += {MT}[j, i] * w",
            *([f"        {Z}[{at}] += {AT}[j, i] * a"] if sized else [])]


def zero_lines(D: str, S: str | None = None) -> list[str]:
    """δ_t = 0 before its routes are added (and its size S, nudged), every sequence."""
    return ["for i in range(n):", "    for bb in range(B):", f"        {D}[t, i, bb] = 0.0",
            *([f"        {S}[i, bb] = 0.0"] if S else [])]


def _added(D: str, S: str | None, shift: str) -> list[str]:
    """v (and its size b) times 2^shift, where the route's δ has another exponent than δ_t (never for
    shift "0"), added to δ_t's entry i (and to its size)."""
    moved = ([] if shift == "0" else [f"if {shift} != 0:", f"    v = math.ldexp(v, {shift})",
                                       *([f"    b = math.ldexp(b, {shift})"] if S else [])])
    return [*moved, f"{D}[t, i, 0] = {D}[t, i, 0] + v", *([f"{S}[i, 0] = {S}[i, 0] + b"] if S else [])]


def diagonal_lines(D: str, K: str, L: str, s: str, shift: str, S: str | None = None) -> list[str]:
    """δ_t += (c_s ⊙ δ'_s)·2^shift: a route whose factor is diagonal, one sequence written out, a batch by
    _diagonal (nudged, with S: its size += |c_s ⊙ δ'_s|·2^shift, a batch by _diagonal_n)."""
    call = f"_diagonal_n({D}, {S}, t, " if S else f"_diagonal({D}, t, "
    return ["if B == 1:", "    for i in range(n):", f"        v = {K}[{s}, i, 0] * {L}[{s}, i, 0]",
            *(["        b = abs(v)"] if S else []), *["        " + line for line in _added(D, S, shift)],
            "else:", f"    {call}{K}, {L}, {s}, {shift})"]


def through_lines(D: str, MT: str, M: str, K: str, L: str, s: str, shift: str,
                  sized: tuple[str, str] | None = None) -> list[str]:
    """δ_t += Mᵀ(c_s ⊙ δ'_s)·2^shift: a route through a weight (MT: Mᵀ, M: M, both row-major), one
    sequence's product column by column (each c_s ⊙ δ'_s entry computed as it is read), a batch by _through.
    ``sized`` (S, A): nudged, its size += |Mᵀ||c_s ⊙ δ'_s|·2^shift (A = |M|, row-major, as _through_n reads
    it), a batch by _through_n."""
    S, A = sized or (None, "")
    scaled = f"{K}[{s}, j, 0] * {L}[{s}, j, 0]"
    product = (column_lines(M, scaled, "pv", "0, i", sized=(A, "pb")) if sized
               else column_lines(M, scaled, "pq"))
    read = ["v = pv[0, i]", "b = pb[0, i]"] if sized else ["v = pq[i, 0]"]
    call = (f"_through_n({D}, {S}, t, {M}, {A}, {K}, {L}, {s}, {shift}, sc, pv, pb)" if sized
            else f"_through({D}, t, {MT}, {K}, {L}, {s}, {shift}, sc, pq, blas)")
    return ["if B == 1:", *["    " + line for line in product], "    for i in range(n):",
            *["        " + line for line in read + _added(D, S, shift)], "else:", f"    {call}"]


def nudged_row_lines(D: str, S: str, G: str) -> list[str]:
    """δ_t moved by _nudge with its size and its signs, every sequence (_nudged_row)."""
    return ["for i in range(n):", "    for bb in range(B):",
            f"        {D}[t, i, bb] = _nudge({D}[t, i, bb], {S}[i, bb], {G}[t, i, bb])"]


__all__ = ["column_lines", "diagonal_lines", "nudged_row_lines", "through_lines", "zero_lines"]
