"""Partial derivatives written inside a formula `symbptt verify` checks: ∂s_A/∂s_B of a state s (the
one-step Jacobian ∂h_j/∂h_{j−1}, or a whole ∂h_T/∂h_k) stands for the network's own Jacobian, and
∂L/∂h_T for the loss's derivative where that has one reading.

Each is rewritten, before the reader sees the row, as a symbol no formula is written with
(s^{partial}_{A,B}, L^{partial}_{T}); ``resolving`` gives those symbols their values beside the other
symbols of the trial.  The values come from the independent reference (reference.jacobians: the step
backward functions applied to every unit vector, 40 digits), which is what the Jacobian rows of verify
are checked against.  With a memory state (the LSTM) ∂h_A/∂h_B is the h → h block with c_B held fixed,
as in the left-hand side ∂h_T/∂h_k.

What has two readings is refused with the reason: ∂L/∂h_t below T or under the loss 'sum' (the part of
L that reads h_t itself, or everything h_t moves), and ∂L/∂h_T of more than one unit (a row in one
layout, a column in the other).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np

from .mistakes import VerifyError
from .reader import Name, ReadError

TAG = "partial"  # the superscript of the rewritten symbols: h^{partial}_{j,j-1}
_SUB = r"(?:\{\s*([^{}]*?)\s*\}|([A-Za-z0-9]))"
# \frac{\partial h_j}{\partial h_{j-1}}, or inline \partial h_j / \partial h_{j-1}
JACOBIAN = re.compile(r"\\frac\s*\{\s*\\partial\s*([A-Za-z])_" + _SUB + r"\s*\}\s*\{\s*\\partial\s*([A-Za-z])_"
                      + _SUB + r"\s*\}|\\partial\s*([A-Za-z])_" + _SUB + r"\s*/\s*\\partial\s*([A-Za-z])_" + _SUB)
LOSS = re.compile(r"\\frac\s*\{\s*\\partial\s*L\s*\}\s*\{\s*\\partial\s*h_" + _SUB + r"\s*\}"
                  r"|\\partial\s*L\s*/\s*\\partial\s*h_" + _SUB)


def rewrite(rhs: str) -> str:
    """A right-hand side with each ∂s_A/∂s_B and ∂L/∂h_X written as the symbols ``resolving`` knows."""
    def jacobian(m: re.Match) -> str:
        g = m.groups()[6:] if m.group(1) is None else m.groups()[:6]  # the inline form's groups follow
        top, bottom = g[0], g[3]
        a, b = (g[1] if g[1] is not None else g[2]) or "", (g[4] if g[4] is not None else g[5]) or ""
        if top != bottom:
            raise VerifyError(f"verify reads ∂s_A/∂s_B of one state (∂h_j/∂h_(j-1), ∂h_T/∂h_k), not "
                              f"∂{top}/∂{bottom}")
        if not a.strip() or not b.strip() or "," in a + b:
            raise VerifyError(f"verify reads ∂{top}_A/∂{top}_B with one step in each subscript (the whole "
                              f"Jacobian, not one unit's entry), got ∂{top}_({a})/∂{top}_({b})")
        return f"{top}^{{{TAG}}}_{{{a},{b}}}"

    def loss(m: re.Match) -> str:
        step = next((g for g in m.groups() if g is not None), "").strip()
        if not step or "," in step:
            raise VerifyError(f"verify reads ∂L/∂h_T with one step in the subscript, got ∂L/∂h_({step})")
        return f"L^{{{TAG}}}_{{{step}}}"

    text = LOSS.sub(loss, rhs)
    return JACOBIAN.sub(jacobian, text)


def restore(text: str) -> str:
    """``text`` (a message quoting a rewritten row) with each rewritten symbol written back as a fraction."""
    text = re.sub(rf"L\^\{{{TAG}\}}_\{{([^{{}}]*)\}}", r"\\frac{\\partial L}{\\partial h_{\1}}", text)
    return re.sub(rf"([A-Za-z])\^\{{{TAG}\}}_\{{([^{{}},]*),([^{{}}]*)\}}",
                  r"\\frac{\\partial \1_{\2}}{\\partial \1_{\3}}", text)


def resolving(of_name: Callable[[Name, tuple], Any], trial: Any) -> Callable[[Name, tuple], Any]:
    """``of_name`` with the rewritten symbols given their values for ``trial``."""
    from ..reference import jacobians
    from . import reference_activation

    cfg = trial.config
    runs: dict[int, list] = {}  # A → the reference's ∂s_A/∂s_k for k = 0..A (computed once per A)

    def resolve(name: Name, sub: tuple) -> Any:
        if name.tag != TAG:
            return of_name(name, sub)
        if name.base == "L":
            return _loss(of_name, trial, sub)
        if name.base not in cfg.spec.states:
            raise VerifyError(f"verify reads ∂s_A/∂s_B of a state of the {trial.cell} cell "
                              f"({', '.join(cfg.spec.states)}); {name.base} is not one")
        if trial.layers != 1:
            raise VerifyError("verify reads ∂h_A/∂h_B in a formula of one layer; give --layers 1")
        sub = tuple(int(s) if isinstance(s, str) and re.fullmatch(r"-?\d+", s.strip()) else s for s in sub)
        if len(sub) != 2 or not all(isinstance(s, int) for s in sub):
            shown = [str(s) for s in sub]
            raise VerifyError(f"the formula uses ∂{name.base}_({shown[0]})/∂{name.base}_({shown[-1]}), whose steps "
                              "must be numbers, T, or letters a sum or product binds")
        a, b = sub
        outside = next((s for s in (a, b) if not 0 <= s <= trial.T), None)
        if outside is not None:  # read as the reader reads h_{T+1}: a step the network does not have
            raise ReadError(f"no value for the symbol {Name(name.base, '', None, ())} (subscript ({outside},))")
        if a <= b:  # s_A is computed before s_B: it does not depend on it (A = B: the identity)
            eye = np.full((trial.n, trial.n), mpmath.mpf(0), dtype=object)
            if a == b:
                np.fill_diagonal(eye, mpmath.mpf(1))
            return _shaped(eye, trial.n)
        if a not in runs:
            act = reference_activation(trial.activation or "tanh", "mp")
            runs[a] = jacobians(trial.cell, cfg.layers, cfg.x[:a], act, dps=40)
        return _shaped(np.asarray(runs[a][b][(name.base, name.base)], dtype=object), trial.n)

    return resolve


def _loss(of_name: Callable[[Name, tuple], Any], trial: Any, sub: tuple) -> Any:
    """∂L/∂h_T = h_T − y of the loss 'last' and one unit: the one reading everyone shares."""
    if trial.config.loss != "last" or sub != (trial.T,):
        raise VerifyError("∂L/∂h_t has two readings here (the part of L that reads h_t itself, or all that h_t "
                          "moves through the later steps): write it out, or define δ_t on a row of its own")
    if trial.n != 1:
        raise VerifyError("∂L/∂h_T of more than one unit is a row in one layout and a column in the other: "
                          "write (h_T - y) or (h_T - y)^\\top")
    return of_name(Name("h", "", None, (str(trial.T),)), (trial.T,)) - of_name(Name("y", "", None, ()), ())


def _shaped(value: np.ndarray, n: int) -> Any:
    """An n×n block, or its one entry when n = 1 (as the reader's other scalars)."""
    return value.reshape(-1)[0] if n == 1 else value
