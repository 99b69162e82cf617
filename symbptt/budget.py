"""What a command will cost, estimated from its sizes before any work starts; refused when it could not
finish in a few minutes or fit in a few GB, with the numbers in the message.

Printed forms are measured in factor atoms: the number of factors the form writes times the size of
one factor (a custom activation's derivative can be a large tree).  Numeric work is measured in
floating-point cells (memory) and multiply-adds (time), with rates measured on a 2-core machine.
"""

from __future__ import annotations

import math

import sympy as sp

from .errors import RunFailed, SymbpttError
from .validate import steps_text

MAX_ATOMS = 6_000_000  # printed SymPy nodes of one form (about 1–2 GB at the very most)
MAX_CELLS = 20_000_000  # float64 cells held at once by a sweep or a plot (160 MB per array)
MAX_FLOPS = 2e11  # multiply-adds of one numeric command (about a minute with NumPy on 2 cores)
EXPANDED_MAX_T = {  # (cell is the vanilla rnn, n, layers) → largest T of the expanded form
    (True, 1, 1): 6, (True, 1, 2): 3, (True, 1, 3): 2, (True, 2, 1): 2, (True, 2, 2): 1,
    (True, 3, 1): 1, (True, 4, 1): 1, (False, 1, 1): 2, (False, 1, 2): 1,
}


def _factor_size(rnn) -> int:
    """Nodes of the largest printed coefficient of one step (5 for tanh's 1 − h²)."""
    from .step import shown_coefficients

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
        key = (rnn.spec.elman, rnn.n, rnn.layers)
        limit = EXPANDED_MAX_T.get(key, 0) if rnn.m <= 2 or rnn.n == 1 else 0
        if rnn.T > limit:
            allowed = f"is limited to T <= {limit}" if limit else "has no T within its size limit"
            raise SymbpttError(
                f"the expanded form {allowed} for this cell, n={rnn.n}, m={rnn.m}, layers={rnn.layers} (its "
                "printed size grows exponentially); use --form explicit, recursive or general")


def _refuse(form: str, T: int, atoms: float, unit: str, instead: str) -> None:
    if atoms > MAX_ATOMS:
        raise SymbpttError(f"the {form} form for {steps_text(T)} would print about {atoms:.3g} {unit}, more than the "
                           f"limit of {MAX_ATOMS:,}; use {instead}")


def check_sweep(T: int, points: int, n: int, floats: float = 0.0) -> None:
    """A sweep holds T × points cells; the matrix sweep also multiplies n×n matrices T × points times, and
    holds ``floats`` float64 values at once (numeric.sweeps.gain_sweep_floats: an n × n matrix per gain)."""
    if T * points > MAX_CELLS:
        raise SymbpttError(f"a sweep of T={T} × {points} points holds {T * points:,} values, more than "
                           f"{MAX_CELLS:,} (about {8 * T * points / 2**30:.1f} GiB per array); lower -T or --points")
    if n > 1:
        estimate(f"the gain sweep with n = {n}, T = {T:,}, {points} gain{'s' if points != 1 else ''}",
                 "lower -n, -T or --points", floats=floats,
                 seconds=T * (GAIN_STEP + GAIN_POINT * points))  # its loop over t, in Python
        flops = T * points * 2.0 * n**3
        if flops > MAX_FLOPS:
            seconds = flops / 2e9
            raise SymbpttError(f"the gain sweep with n={n}, T={T}, {points} gains needs about {flops:.2g} "
                               f"multiply-adds (~{seconds:.0f} s); lower -n, -T or --points")


def check_grid(name: str, points: int, T: int, arrays: int = 4) -> None:
    """A plot over a grid of ``points`` × ``T`` (or points²) keeps ``arrays`` float arrays of that size."""
    cells = points * T
    if cells * arrays > MAX_CELLS:
        raise SymbpttError(f"{name}: a grid of {points:,} × {T:,} holds {cells:,} values per array, more than "
                           f"{MAX_CELLS // arrays:,}; lower --points or -T")


# ---------------------------------------------------------------- time and memory of numeric commands
#
# Estimates made before any work starts.  A numeric command costs Python time per cell step (the step
# kernel is a Python loop over t), multiply-adds (NumPy) and memory for the arrays it holds.  The
# constants were measured on the development machine (2 cores, 2026-12) and are rounded up.

MAX_BYTES = 2 * 2**30  # arrays one command may hold at once
MAX_SECONDS = 600.0  # estimated running time above which a command is refused
RATE = 1e9  # multiply-adds per second NumPy reaches on the small matrices of one step
TRAIN_STEP = 4e-4  # seconds of Python per time step of one training iteration (forward + backward)
NORM_STEP = 6e-4  # seconds of Python per time step of a state-Jacobian norm sweep (one configuration)
GRAD_SWEEP_STEP, GRAD_SWEEP_CELL = 1.6e-4, 1.3e-7  # a ∂L/∂θ sweep: seconds per step, and per weight and step
# seconds of Python per step of the loops over t below, and per grid point (or unit) and step (measured
# 2026-12, rounded up): a gain sweep (260 µs at n = 8 and one gain, 480 µs at 30), plot spectrum (300 µs at
# n = 64 and 2 gains, 720 µs at 30), plot gradmap (150 µs at 5 points, 210 µs at 60); plot isometry, per
# step and per n³ (three products of its two networks, n³ each: 30 µs at n = 8, 100 µs at 64, 2.2 ms at 256)
GAIN_STEP, GAIN_POINT = 3e-4, 1e-5
SPECTRUM_STEP, SPECTRUM_POINT = 3.5e-4, 2e-5
GRADMAP_STEP, GRADMAP_POINT = 2e-4, 1.5e-6
ISOMETRY_STEP, ISOMETRY_CUBE = 1e-4, 2.5e-10


def estimate(what: str, advice: str, *, seconds: float = 0.0, flops: float = 0.0, floats: float = 0.0) -> float:
    """The estimated running time of ``what``, after refusing it (one line, with the numbers) if it would
    hold more than MAX_BYTES or run longer than MAX_SECONDS."""
    total = seconds + flops / RATE
    if 8 * floats > MAX_BYTES:
        raise SymbpttError(f"{what} would hold about {_above(8 * floats / 2**30, MAX_BYTES / 2**30)} GiB of arrays, "
                           f"more than the {MAX_BYTES / 2**30:.0f} GiB limit; {advice}")
    if total > MAX_SECONDS:
        said = human(total) if human(total) != human(MAX_SECONDS) else f"{_above(total, MAX_SECONDS)} s"
        raise SymbpttError(f"{what} would take about {said}, more than the {human(MAX_SECONDS)} limit; {advice}")
    return total


def _above(value: float, limit: float) -> str:
    """``value`` (> ``limit``) to three significant figures, or as many more as it takes not to read as the
    limit itself ("about 2 GiB, more than the 2 GiB limit")."""
    for figures in range(3, 17):
        text = f"{value:.{figures}g}"
        if float(text) > limit:
            return text
    return repr(value)


MAX_MP_DIGITS = 5000  # the most digits an exact (mpmath) recomputation carries
MP_OPERATION = 7e-6  # seconds of one mpmath operation of a step at 300 digits or fewer (2 cores, measured)


def saturation_digits_needed(largest: float, base: int) -> int:
    """Digits an exact pass needs where a saturated gate's difference (1 − σ(a) rewritten, the GRU's
    h − n) cancels about 2|a|/ln 10 of them: ``base`` more than that, for pre-activations up to
    ``largest`` in size; refused in one line (RunFailed) beyond MAX_MP_DIGITS."""
    if not math.isfinite(largest):
        raise RunFailed("a saturated gate here has pre-activations beyond float64's range, so its differences "
                        f"can cancel more than the {MAX_MP_DIGITS} digits the exact path carries; shrink the "
                        "weights or the inputs")
    cancelled = 2 * largest / math.log(10)
    if cancelled > MAX_MP_DIGITS - base:
        count = f"{math.ceil(cancelled)}" if cancelled < 1e6 else f"{cancelled:.3g}"  # never 150 figures
        raise RunFailed(f"a saturated gate here can cancel up to about {count} digits (pre-activations up "
                        f"to |a| = {largest:.3g}), beyond the {MAX_MP_DIGITS} digits the exact path carries; "
                        "shrink the weights or the inputs")
    return base + math.ceil(cancelled)


def function_seconds(digits: int) -> float:
    """Seconds of one exponential, sine or cosine in mpmath at ``digits`` digits beyond the operations
    MP_OPERATION prices: 5 µs + 4.5e-10·digits² (measured 3.6 µs at 30 digits, 36 µs at 300, 0.42 ms at
    1000, 1.5 ms at 2000, 9.7–10.4 ms at 5000: their cost grows as the square of the digits, a product's
    as the 1.6th power, so a cell made of exponentials outran MP_OPERATION's price 6-fold at 5000)."""
    return 5e-6 + 4.5e-10 * digits * digits


def mp_pass_seconds(cell, n: int, m: int, T: int, batch: int, layers: int, digits: int, *,
                    functions: float, operations: int) -> float:
    """The forward pass, δ recursion and sums of ``layers`` layers in mpmath at ``digits`` digits: per
    element and step, each linear map's n + m products and the nodes' and coefficients' ``operations``
    (numeric/cost.operations; at least 10 a node, which the δ recursion and sums also take), each costing
    more as the digits grow (about (1 + digits/300)^1.6, measured from 30 to 5000 digits), and
    ``functions`` exponentials or sines (numeric/cost.transcendentals: 0 for a walk over stored values),
    each function_seconds."""
    per_step = n * ((n + m + 10) * len(cell.linears) + max(10 * len(cell.nodes), operations))
    work = per_step * MP_OPERATION * (1.0 + digits / 300.0) ** 1.6
    return T * batch * layers * (work + n * functions * function_seconds(digits))


# seconds of Arb's exact passes (numeric/arbforward.py and arbbackward.py): per ball multiply-add, per value a
# step stores, checks or derives, and per gradient entry converted — fitted to the forward pass and the
# rest of rnn, LSTM and GRU (n 8–128, batch 1 and 4, 1–2 layers, 30 and 130 digits; 2026-12, 2 cores) with
# the digits' factor 1 + digits/150 (checked to 1500 digits), and rounded up past every point measured; and
# per step, layer and array of values (each map, node and coefficient), whatever the size, the Python
# around it (a tanh unit over 2000 steps at 30 digits: 21.5 µs a step, of which the other terms price
# 15.6; an LSTM of 2 units 166–225 µs, priced 165; benchmarks/estimates.py)
ARB_MAC, ARB_VALUE, ARB_ENTRY, ARB_ARRAY = 6e-9, 3.8e-6, 8e-6, 3e-6
# per operation a node or coefficient writes, per unit and step, growing as the values do: a cell file of
# thirty sines (368 operations) took 1.08–1.31 of its price without it
ARB_OPERATION = 2e-7


def arb_function_seconds(digits: int) -> float:
    """Seconds of one of Arb's exponentials, sines or logarithms at ``digits`` digits beyond ARB_VALUE's
    price: 1.5 µs·(1 + digits/220)^1.95 (measured 0.4–0.9 µs at 30 digits, 4–5 µs at 300, 23–29 µs at
    1000, 60–104 µs at 2000, 0.29–0.52 ms at 5000)."""
    return 1.5e-6 * (1.0 + digits / 220.0) ** 1.95


def arb_pass_seconds(cell, n: int, m: int, T: int, batch: int, layers: int, digits: int, coefficients: int, *,
                     functions: float, operations: int) -> float:
    """Arb's forward pass and the exact rest from it of ``layers`` layers at ``digits`` digits: per step and
    element, each linear map's n·(n + m + 1) ball multiply-adds and a Python call for every value stored,
    checked or derived (the maps, the nodes, and ``coefficients`` step coefficients per unit); per gradient
    entry, its conversion to mpf; ``operations`` per unit and step (numeric/cost.operations), each
    ARB_OPERATION; all growing as 1 + digits/150; ``functions`` exponentials or sines per unit and step
    (numeric/cost.transcendentals), each arb_function_seconds; and ARB_ARRAY per step, layer and array of
    values, whatever its size."""
    per_step, entries = 0.0, 0
    arrays = len(cell.linears) + len(cell.nodes) + coefficients
    for layer in range(layers):
        width = m if layer == 0 else n
        macs = len(cell.linears) * n * (n + width + 1)
        per_step += macs * ARB_MAC + arrays * n * ARB_VALUE + operations * n * ARB_OPERATION
        entries += macs
    growth = 1.0 + digits / 150.0
    return ((T * batch * per_step + entries * ARB_ENTRY) * growth
            + T * batch * layers * n * functions * arb_function_seconds(digits) + T * layers * arrays * ARB_ARRAY)


def state_size(cell, n: int) -> int:
    """Length of the whole state s_t (h, or h and c): the side of the step Jacobian ∂s_t/∂s_{t-1}."""
    return len(cell.states) * n


def norm_sweep_cost(cell, n: int, T: int, configs: int) -> dict[str, float]:
    """log10‖∂s_T/∂s_0‖ for T = 1..T over ``configs`` configurations: a forward pass and one product of
    step Jacobians (size S = |s|) per step."""
    size = state_size(cell, n)
    nodes = len(cell.nodes) + len(cell.linears)
    return {"seconds": configs * T * NORM_STEP, "flops": configs * T * (2.0 * size**3 + nodes * n * n),
            "floats": T * (nodes + len(cell.states)) * n * 4 + 2.0 * size * size * 64}


def human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.3g} h"


__all__ = ["MAX_BYTES", "MAX_MP_DIGITS", "MAX_SECONDS", "arb_function_seconds", "arb_pass_seconds",
           "check_form_size", "check_grid", "check_sweep", "estimate", "function_seconds", "human", "mp_pass_seconds",
           "norm_sweep_cost", "saturation_digits_needed", "state_size"]
