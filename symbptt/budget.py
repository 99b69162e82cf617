"""What a command will cost, estimated from its sizes before any work starts; refused when it could not
finish in a few minutes or fit in a few GB, with the numbers in the message.

Printed forms are measured in factor atoms: the number of factors the form writes times the size of
one factor (a custom activation's derivative can be a large tree).  Numeric work is measured in
floating-point cells (memory) and multiply-adds (time), with rates measured on a 2-core machine.
"""

from __future__ import annotations

import math

import sympy as sp

from .errors import SymbpttError

MAX_ATOMS = 6_000_000  # printed SymPy nodes of one form (about 1–2 GB at the very most)
MAX_CELLS = 20_000_000  # float64 cells held at once by a sweep or a plot (160 MB per array)
MAX_FLOPS = 2e11  # multiply-adds of one numeric command (about a minute with NumPy on 2 cores)
EXPANDED_MAX_T = {  # (cell is the vanilla rnn, n, layers) → largest T of the expanded form
    (True, 1, 1): 6, (True, 1, 2): 3, (True, 1, 3): 2, (True, 2, 1): 2, (True, 2, 2): 1,
    (True, 3, 1): 1, (True, 4, 1): 1, (False, 1, 1): 2, (False, 1, 2): 1,
}


def _factor_size(rnn) -> int:
    """Nodes of the largest printed coefficient of one step (5 for tanh's 1 − h²)."""
    from .forms import shown_coefficients

    sizes = [sp.count_ops(v, visual=False) + len(v.free_symbols) + 1 for v in shown_coefficients(rnn.graph).values()]
    return max(sizes, default=1)


def check_form_size(rnn, form: str, wrt: str) -> None:
    """Refuse a form whose printed size would pass MAX_ATOMS (explicit also has its own factor cap)."""
    from .paths import check_explicit_size, targets

    chosen = targets(rnn, wrt)
    size = _factor_size(rnn) * (rnn.n ** 2 if not rnn.scalar else 1)
    routes = len(rnn.graph.routes)
    if form == "explicit":
        check_explicit_size(rnn, chosen)
        from .paths import explicit_factor_count

        factors = sum(explicit_factor_count(rnn, layer, p) for p, layer in chosen)
        _refuse(form, rnn.T, factors * _factor_size(rnn), "factor atoms", "--form recursive or --form general")
    elif form == "recursive":
        per_step = rnn.layers * (len(rnn.states) * routes + len(chosen))
        _refuse(form, rnn.T, rnn.T * per_step * _factor_size(rnn), "factor atoms", "--form general")
    elif form == "factors":
        _refuse(form, rnn.T, rnn.T * rnn.layers * routes * size, "factor atoms", "--form general")
    elif form == "unroll":
        per_step = rnn.layers * len(rnn.spec.nodes) * rnn.n * (rnn.n + rnn.m + 2) * 4
        _refuse(form, rnn.T, rnn.T * per_step, "symbols", "--form general")
    elif form == "expanded":
        key = (rnn.spec.name == "rnn", rnn.n, rnn.layers)
        limit = EXPANDED_MAX_T.get(key, 0) if rnn.m <= 2 or rnn.n == 1 else 0
        if rnn.T > limit:
            allowed = f"T <= {limit}" if limit else "no T"
            raise SymbpttError(
                f"the expanded form is limited to {allowed} for this cell, n={rnn.n}, m={rnn.m}, "
                f"layers={rnn.layers} (its printed size grows exponentially); use --form explicit, recursive "
                "or general")


def _refuse(form: str, T: int, atoms: float, unit: str, instead: str) -> None:
    if atoms > MAX_ATOMS:
        raise SymbpttError(f"the {form} form for T={T} would print about {atoms:.3g} {unit}, more than the "
                           f"limit of {MAX_ATOMS:,}; use {instead}")


def check_sweep(T: int, points: int, n: int) -> None:
    """A sweep holds T × points cells; the matrix sweep also multiplies n×n matrices T × points times."""
    cells = T * points * max(1, n if n > 1 else 1)
    if T * points > MAX_CELLS:
        raise SymbpttError(f"a sweep of T={T} × {points} points holds {T * points:,} values, more than "
                           f"{MAX_CELLS:,} (about {8 * T * points / 2**30:.1f} GiB per array); lower -T or --points")
    if n > 1:
        flops = T * points * 2.0 * n**3
        if flops > MAX_FLOPS:
            seconds = flops / 2e9
            raise SymbpttError(f"the gain sweep with n={n}, T={T}, {points} gains needs about {flops:.2g} "
                               f"multiply-adds (~{seconds:.0f} s); lower -n, -T or --points")
    del cells


def check_grid(name: str, points: int, T: int, arrays: int = 4) -> None:
    """A plot over a grid of ``points`` × ``T`` (or points²) keeps ``arrays`` float arrays of that size."""
    cells = points * T
    if cells * arrays > MAX_CELLS:
        raise SymbpttError(f"{name}: a grid of {points:,} × {T:,} holds {cells:,} values per array, more than "
                           f"{MAX_CELLS // arrays:,}; lower --points or -T")


def human(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


__all__ = ["check_form_size", "check_grid", "check_sweep", "human", "math"]
