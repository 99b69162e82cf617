"""`symbptt verify` for the Jacobians of the state: ∂h_T/∂h_k (a formula in k, usually in T too) and the
one-step factor ∂h_t/∂h_{t-1} = J_t (and the same of the LSTM's cell state c), checked entry by entry
against the independent reference's Jacobians (reference.jacobians: the step backward functions applied
to every unit vector, 40 digits).

The formula's right-hand side is read by the same reader as a gradient's, once for every k = 0..T−1 (or
t = 1..T) with that number written in place of the letter; rows that define what it uses (J_t = …) stay
generic.  With a memory state (the LSTM) ∂h_T/∂h_k is the h → h block, c_k held fixed, and ∂c_T/∂c_k
the c → c block, h_k held fixed.

A wrong ∂s_T/∂s_k that is the product of the state's direct factors alone (the LSTM's carousel ∏ f_j, the
GRU's ∏ z_j: the paths that skip every weight matrix) is named as such (``direct_only``); those factors
come from the engine's step (a diagnosis, not the verdict, which rests on the reference).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import mpmath
import numpy as np

from . import partials
from .mistakes import VerifyError

PATH = re.compile(r"^\\frac\{\\partial ([a-z])_\{?T\}?\}\{\\partial \1_\{?(k|\d{1,2})\}?\}$")
STEP = re.compile(r"^(?:\\frac\{\\partial ([a-z])_\{?t\}?\}\{\\partial \1_\{t ?- ?1\}\}|J_\{?t\}?)$")
GRADIENT_LHS = r"\frac{\partial L}{\partial w}"  # how the reader is asked for the value of one row


def _spaced(lhs: str) -> str:
    return re.sub(r"\s+", " ", lhs.strip()).replace("{ ", "{").replace(" }", "}")


def kind(lhs: str) -> str | None:
    """'path' for ∂s_T/∂s_k, 'step' for ∂s_t/∂s_{t-1} or J_t (s a state: h, or the LSTM's c), None for
    anything else."""
    if PATH.match(_spaced(lhs)):
        return "path"
    if STEP.match(_spaced(lhs)):
        return "step"
    return None


def state(lhs: str) -> str:
    """The state the Jacobian is of (h for J_t)."""
    m = PATH.match(_spaced(lhs)) or STEP.match(_spaced(lhs))
    return (m.group(1) if m else None) or "h"


def fixed_k(lhs: str) -> int | None:
    """The k of ∂s_T/∂s_k written with a number (∂h_T/∂h_0), None for the letter k or a one-step Jacobian."""
    m = PATH.match(_spaced(lhs))
    return int(m.group(2)) if m and m.group(2) != "k" else None


def quantity(lhs: str) -> str:
    """The quantity in the words of a sentence."""
    s, k = state(lhs), fixed_k(lhs)
    return f"∂{s}_T/∂{s}_{'k' if k is None else k}" if kind(lhs) == "path" else f"∂{s}_t/∂{s}_(t-1)"


def _at(text: str, letter: str, value: int) -> str:
    """``text`` with the index ``letter`` (a lone k or t, not part of a name or command) set to ``value``."""
    return re.sub(rf"(?<![A-Za-z\\]){letter}(?![A-Za-z])", f"({value})" if value < 0 else str(value), text)


def evaluate(rows: list[tuple[str, str]], g: int, trial, exact_only: bool = False) -> tuple[list, list]:
    """(formula's values, exact values) of the Jacobian row ``g`` names, entry by entry, every k (or t);
    ``exact_only``: the formula is not read (zeros in its place), for where it has no value."""
    from ..reference import jacobians
    from . import Resolver, reference_activation
    from .evaluation import Reader

    if trial.layers != 1:
        raise VerifyError("verify checks ∂h_T/∂h_k and J_t of one layer; give --layers 1")
    lhs, rhs = rows[g]
    which, s = kind(lhs), state(lhs)
    if s not in trial.config.spec.states:
        raise VerifyError(f"the {trial.cell} cell has no state {s}; its states: {', '.join(trial.config.spec.states)}")
    letter = "k" if which == "path" else "t"
    if re.search(rf"\\(?:sum|prod)_\{{\s*{letter}\s*=", rhs):
        raise VerifyError(f"the formula uses {letter} both as the step of {quantity(lhs)} and as the index of a "
                          f"sum or product on its right-hand side; give that index another letter")
    others = [(a, partials.rewrite(b)) for i, (a, b) in enumerate(rows) if i != g]
    rhs = partials.rewrite(rhs)
    cfg = trial.config
    act = reference_activation(trial.activation or "tanh", "mp")
    got: list = []
    want: list = []
    with mpmath.workdps(40):
        resolver = Resolver(trial, {})
        reader = Reader(partials.resolving(resolver.of_name, trial), trial.T)
        whole = jacobians(trial.cell, cfg.layers, cfg.x, act, dps=40) if which == "path" else None
        fixed = fixed_k(lhs)  # verify's trials all have T above it (verify._steps)
        steps = range(trial.T) if fixed is None else range(fixed, fixed + 1)
        for index in (steps if which == "path" else range(1, trial.T + 1)):
            ordered = [*others, (GRADIENT_LHS, _at("0" if exact_only else rhs, letter, index))]
            found = reader.read("\\begin{align*}\n" + " \\\\\n".join(f"{a} &= {b}" for a, b in ordered)
                                + "\n\\end{align*}")
            (_, value), = found.items()
            if exact_only:
                value = 0
            if whole is not None:
                exact = whole[index][(s, s)]
            else:  # the one-step Jacobian at step t: the network run to t, back one step
                exact = jacobians(trial.cell, cfg.layers, cfg.x[:index], act, dps=40)[index - 1][(s, s)]
            exact = np.asarray(exact, dtype=object)
            value = np.full(exact.shape, value, dtype=object) if exact_only else np.asarray(value, dtype=object)
            if value.size != exact.size:
                raise ValueError("sizes do not fit")
            got.extend(mpmath.mpf(v) for v in np.ravel(value.reshape(exact.shape)))
            want.extend(mpmath.mpf(v) for v in np.ravel(exact))
    return got, want


def direct_only(rows: list[tuple[str, str]], g: int, trial, got: list) -> str | None:
    """The diagnosis of a ∂s_T/∂s_k whose values are ∏_{j=k+1}^{T} F^{ss}_j, the direct factors alone."""
    from ..numeric.factors import ArrayFactors, NumericModel
    from ..paths import Step
    from ..step import step_graph

    lhs = rows[g][0]
    s = state(lhs)
    if kind(lhs) != "path" or got is None:
        return None
    spec = trial.config.spec
    routes = step_graph(spec).routes
    if not any(r.kind == "F" and r.target == r.source == s for r in routes):
        return None
    with mpmath.workdps(40):
        values = ArrayFactors(NumericModel.of(trial.config).as_mp(), "mp")
        if not _products_equal(got, lambda j: values.factor(Step("F", 1, j, s, s)), range(trial.T, 0, -1), trial):
            return None
    through = (["the weight matrices"] if any(r.kind == "J" for r in routes) else []) + \
        (["the other states"] if any(r.kind == "F" and r.target != r.source for r in routes) else [])
    return (f"the formula is the direct path alone: the product of the factors of {s}_(j-1) in {s}_j that skip "
            f"every weight matrix; ∂{s}_T/∂{s}_k also has the paths through " + " and ".join(through))


def blocks_only(rows: list[tuple[str, str]], g: int, trial, got: list) -> str | None:
    """The diagnosis of a ∂s_T/∂s_k whose values are the product of the one-step blocks ∂s_j/∂s_(j-1), each
    with the cell's other state held fixed (the LSTM's h with c fixed): the paths that leave s for the other
    state and come back at a later step are left out."""
    from ..reference import jacobians
    from . import reference_activation

    lhs = rows[g][0]
    s = state(lhs)
    states = trial.config.spec.states
    if kind(lhs) != "path" or got is None or len(states) < 2:
        return None
    cfg = trial.config
    act = reference_activation(trial.activation or "tanh", "mp")
    with mpmath.workdps(40):
        blocks = {j: np.asarray(jacobians(trial.cell, cfg.layers, cfg.x[:j], act, dps=40)[j - 1][(s, s)],
                                dtype=object) for j in range(1, trial.T + 1)}
        orders = [("", range(trial.T, 0, -1))] + (  # for one unit the other order is the same product
            [(" (multiplied in the reverse order, step k+1 first)", range(1, trial.T + 1))] if trial.n > 1 else [])
        found = next((said for said, order in orders if _products_equal(got, blocks.__getitem__, order, trial)),
                     None)
        if found is None:
            return None
    other = " and ".join(o for o in states if o != s)
    return (f"the formula multiplies the one-step blocks ∂{s}_j/∂{s}_(j-1){found}, each with {other} held fixed; "
            f"∂{s}_T/∂{s}_k also has the paths that go from {s} into {other} and come back at a later step: "
            f"it is the {s} → {s} block of the product of the whole state's one-step Jacobians")


def _products_equal(got: list, factor: Callable[[int], np.ndarray], order: range, trial) -> bool:
    """Whether ``got`` holds, for k = 0..T−1, the entries of the product of factor(j) over the steps j > k
    taken in ``order`` (to 1e-20 of the largest entry, at 40 digits)."""
    product: list = []
    for k in range(trial.T):
        p = np.eye(trial.n, dtype=object) * mpmath.mpf(1)
        for j in (j for j in order if j > k):
            p = p @ factor(j)
        product.extend(mpmath.mpf(v) for v in np.ravel(p))
    scale = max([abs(v) for v in product] + [mpmath.mpf(10) ** -30])
    return len(product) == len(got) and all(abs(a - b) <= mpmath.mpf(10) ** -20 * scale
                                            for a, b in zip(got, product, strict=True))
