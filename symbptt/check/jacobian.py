"""`symbptt verify` for the Jacobians of the state: ∂h_T/∂h_k (a formula in k, usually in T too) and the
one-step factor ∂h_t/∂h_{t-1} = J_t, checked entry by entry against the independent reference's
Jacobians (reference.jacobians: the step backward functions applied to every unit vector, 40 digits).

The formula's right-hand side is read by the same reader as a gradient's, once for every k = 0..T−1 (or
t = 1..T) with that number written in place of the letter; rows that define what it uses (J_t = …) stay
generic.  With a memory state (the LSTM) ∂h_T/∂h_k is the h → h block, c_k held fixed.
"""

from __future__ import annotations

import re

import mpmath
import numpy as np

from .mistakes import VerifyError

PATH = re.compile(r"^\\frac\{\\partial h_\{?T\}?\}\{\\partial h_\{?k\}?\}$")
STEP = re.compile(r"^(?:\\frac\{\\partial h_\{?t\}?\}\{\\partial h_\{t ?- ?1\}\}|J_\{?t\}?)$")
GRADIENT_LHS = r"\frac{\partial L}{\partial w}"  # how the reader is asked for the value of one row


def kind(lhs: str) -> str | None:
    """'path' for ∂h_T/∂h_k, 'step' for ∂h_t/∂h_{t-1} or J_t, None for anything else."""
    text = re.sub(r"\s+", " ", lhs.strip()).replace("{ ", "{").replace(" }", "}")
    if PATH.match(text):
        return "path"
    if STEP.match(text):
        return "step"
    return None


def quantity(lhs: str) -> str:
    """The quantity in the words of a sentence."""
    return "∂h_T/∂h_k" if kind(lhs) == "path" else "∂h_t/∂h_(t-1)"


def _at(text: str, letter: str, value: int) -> str:
    """``text`` with the index ``letter`` (a lone k or t, not part of a name or command) set to ``value``."""
    return re.sub(rf"(?<![A-Za-z\\]){letter}(?![A-Za-z])", f"({value})" if value < 0 else str(value), text)


def evaluate(rows: list[tuple[str, str]], g: int, trial) -> tuple[list, list]:
    """(formula's values, exact values) of the Jacobian row ``g`` names, entry by entry, every k (or t)."""
    from ..reference import jacobians
    from . import Resolver, reference_activation
    from .reader import Reader

    if trial.layers != 1:
        raise VerifyError("verify checks ∂h_T/∂h_k and J_t of one layer; give --layers 1")
    lhs, rhs = rows[g]
    which = kind(lhs)
    letter = "k" if which == "path" else "t"
    others = [row for i, row in enumerate(rows) if i != g]
    cfg = trial.config
    act = reference_activation(trial.activation or "tanh", "mp")
    got: list = []
    want: list = []
    with mpmath.workdps(40):
        resolver = Resolver(trial, {})
        reader = Reader(resolver.of_name, trial.T)
        whole = jacobians(trial.cell, cfg.layers, cfg.x, act, dps=40) if which == "path" else None
        for index in (range(trial.T) if which == "path" else range(1, trial.T + 1)):
            ordered = [*others, (GRADIENT_LHS, _at(rhs, letter, index))]
            found = reader.read("\\begin{align*}\n" + " \\\\\n".join(f"{a} &= {b}" for a, b in ordered)
                                + "\n\\end{align*}")
            (_, value), = found.items()
            if whole is not None:
                exact = whole[index][("h", "h")]
            else:  # the one-step Jacobian at step t: the network run to t, back one step
                exact = jacobians(trial.cell, cfg.layers, cfg.x[:index], act, dps=40)[index - 1][("h", "h")]
            exact = np.asarray(exact, dtype=object)
            value = np.asarray(value, dtype=object)
            if value.size != exact.size:
                raise ValueError("sizes do not fit")
            got.extend(mpmath.mpf(v) for v in np.ravel(value.reshape(exact.shape)))
            want.extend(mpmath.mpf(v) for v in np.ravel(exact))
    return got, want
