"""One sequence's nudged routes and products, written out where the nudged kernels need them.

The nudged reruns (numeric/jit_nudge.py) carry each value's rounding size beside it and call a helper of
NUDGE_SOURCE for every route and product of a step.  For a batch that call's cost is spread over the
sequences; for one sequence each call pays Numba's reference counts on the arrays it is handed, more than
the route's own work at small n (the plain kernels write theirs out for the same reason: jit_source).
These lines are the helpers' loops for one sequence, with the same operations in the same order, so every
nudged value is the same to the bit as the helper's; a batch still calls the helpers (the ``else``).

Names the lines use inside a generated kernel: ``n``, ``B``, ``t``, ``shift`` and the loop variables ``i``,
``j``, ``bb``, ``v``, ``b``, ``w``, ``a``.
"""

from __future__ import annotations


def _shifted() -> list[str]:
    """v and b times 2^shift (a route whose δ has another exponent than δ_t)."""
    return ["if shift != 0:", "    v = math.ldexp(v, shift)", "    b = math.ldexp(b, shift)"]


def zero_lines(D: str, S: str) -> list[str]:
    """δ_t = 0 and its size 0, every sequence (_zero_n)."""
    return ["for i in range(n):", "    for bb in range(B):", f"        {D}[t, i, bb] = 0.0",
            f"        {S}[i, bb] = 0.0"]


def diagonal_lines(D: str, S: str, K: str, L: str, s: str, shift: str) -> list[str]:
    """δ_t += (c_s ⊙ δ'_s)·2^shift and its size += |c_s ⊙ δ'_s|·2^shift: one sequence written out,
    a batch by _diagonal_n."""
    moved = [] if shift == "0" else ["        " + line for line in _shifted()]
    return ["if B == 1:", "    for i in range(n):", f"        v = {K}[{s}, i, 0] * {L}[{s}, i, 0]",
            "        b = abs(v)", *moved, f"        {D}[t, i, 0] = {D}[t, i, 0] + v",
            f"        {S}[i, 0] = {S}[i, 0] + b",
            "else:", f"    _diagonal_n({D}, {S}, t, {K}, {L}, {s}, {shift})"]


def columns_lines(MT: str, AT: str, s_j: str, V: str, Q: str, width: str = "n") -> list[str]:
    """One sequence's V[0] = M·s and Q[0] = |M|·|s| (MT, AT: Mᵀ and |Mᵀ| row-major; s_j: s's entry in row
    j; ``width``: the rows of MT), each entry's terms added in the order of j from 0, column by column, as
    _columns adds them."""
    return ["for i in range(n):", f"    {V}[0, i] = 0.0", f"    {Q}[0, i] = 0.0",
            f"for j in range({width}):", f"    w = {s_j}", "    a = abs(w)", "    for i in range(n):",
            f"        {V}[0, i] += {MT}[j, i] * w", f"        {Q}[0, i] += {AT}[j, i] * a"]


def through_lines(D: str, S: str, M: str, A: str, K: str, L: str, s: str, shift: str) -> list[str]:
    """δ_t += Mᵀ(c_s ⊙ δ'_s)·2^shift and its size += |Mᵀ||c_s ⊙ δ'_s|·2^shift (M and A = |M| row-major,
    read as _through_n reads them): one sequence written out, a batch by _through_n."""
    moved = [] if shift == "0" else ["        " + line for line in _shifted()]
    product = columns_lines(M, A, f"{K}[{s}, j, 0] * {L}[{s}, j, 0]", "pv", "pb")
    return ["if B == 1:", *["    " + line for line in product],
            "    for i in range(n):", "        v = pv[0, i]", "        b = pb[0, i]", *moved,
            f"        {D}[t, i, 0] = {D}[t, i, 0] + v", f"        {S}[i, 0] = {S}[i, 0] + b",
            "else:", f"    _through_n({D}, {S}, t, {M}, {A}, {K}, {L}, {s}, {shift}, sc, pv, pb)"]


def nudged_row_lines(D: str, S: str, G: str) -> list[str]:
    """δ_t moved by _nudge with its size and its signs, every sequence (_nudged_row)."""
    return ["for i in range(n):", "    for bb in range(B):",
            f"        {D}[t, i, bb] = _nudge({D}[t, i, bb], {S}[i, bb], {G}[t, i, bb])"]


__all__ = ["columns_lines", "diagonal_lines", "nudged_row_lines", "through_lines", "zero_lines"]
