"""Activation table: one row per activation with σ, σ', σ' written in h = σ(a), γ = sup|σ'|, NumPy code.

Each row is the whole chain-rule fact the engine needs about that nonlinearity; the engine never
special-cases an activation by name.  ``log10_dsigma`` is computed stably from a (no 1 − h² cancellation),
so saturated units give a finite, very negative log instead of log(0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from .errors import SymbpttError
from .safeexpr import A, parse_activation

H = sp.Symbol("h", real=True)
LN10 = np.log(10.0)
Array = np.ndarray


@dataclass(frozen=True)
class Activation:
    """σ and what BPTT needs of it.  ``dsigma_h`` is σ'(a) rewritten in h = σ(a), when it exists."""

    name: str
    sigma: sp.Expr
    dsigma: sp.Expr
    dsigma_h: sp.Expr | None
    gamma: sp.Expr
    gamma_exact: bool
    np_sigma: Callable[[Array], Array]
    np_dsigma: Callable[[Array], Array]
    np_log10_dsigma: Callable[[Array], Array]

    def dsigma_at(self, a: sp.Expr, h: sp.Expr) -> sp.Expr:
        """σ'(a_t), written in h_t where the activation allows it (tanh: 1 − h_t², sigmoid: h_t(1 − h_t))."""
        if self.dsigma_h is not None:
            return swap_symbol(self.dsigma_h, H, h)
        return swap_symbol(self.dsigma, A, a)


def swap_symbol(expr: sp.Basic, old: sp.Symbol, new: sp.Basic) -> sp.Basic:
    """``expr`` with ``old`` replaced by the atom ``new``, rebuilt without re-simplifying.

    The template is already in canonical form and only one symbol changes, so nothing would simplify;
    skipping SymPy's evaluation makes this ~10× faster than xreplace (it runs once per time step).
    """
    if expr is old:  # H and A are module constants, so the template holds these very objects
        return new
    if not expr.args:
        return expr
    args = tuple(swap_symbol(arg, old, new) for arg in expr.args)
    if isinstance(expr, (sp.Add, sp.Mul)):
        return type(expr)._from_args(args)
    return expr.func(*args, evaluate=False)


def _log10_sech2(a: Array) -> Array:
    """log10 sech²(a) = log10 4 − 2|a|/ln10 − 2 log10(1 + e^{−2|a|}), exact for any |a|."""
    x = np.abs(a)
    return (np.log(4.0) - 2.0 * x - 2.0 * np.log1p(np.exp(-2.0 * x))) / LN10


def _sech2(a: Array) -> Array:
    """sech²(a) = 4 e^{−2|a|} / (1 + e^{−2|a|})², without overflow."""
    e = np.exp(-2.0 * np.abs(a))
    return 4.0 * e / (1.0 + e) ** 2


def _np_sigmoid(a: Array) -> Array:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(a, dtype=float)))


def _relu_log10(a: Array) -> Array:
    return np.where(np.asarray(a) > 0, 0.0, -np.inf)


_SIG = 1 / (1 + sp.exp(-A))
#                 name       σ(a)          σ'(a)                      σ' in h          γ
BUILTIN = {
    "tanh": ("tanh", sp.tanh(A), 1 - sp.tanh(A) ** 2, 1 - H**2, sp.Integer(1),
             np.tanh, _sech2, _log10_sech2),
    "sigmoid": ("sigmoid", _SIG, _SIG * (1 - _SIG), H * (1 - H), sp.Rational(1, 4),
                _np_sigmoid, lambda a: 0.25 * _sech2(0.5 * a),
                lambda a: np.log10(0.25) + _log10_sech2(0.5 * a)),
    "relu": ("relu", sp.Max(0, A), sp.Heaviside(A, 0), sp.Heaviside(H, 0), sp.Integer(1),
             lambda a: np.maximum(a, 0.0), lambda a: (np.asarray(a) > 0).astype(float), _relu_log10),
    "linear": ("linear", A, sp.Integer(1), sp.Integer(1), sp.Integer(1),
               lambda a: np.asarray(a, dtype=float), lambda a: np.ones_like(a, dtype=float),
               lambda a: np.zeros_like(a, dtype=float)),
}
NAMES = tuple(BUILTIN)
GAMMA_GRID = np.linspace(-30.0, 30.0, 120001)


def _builtin(name: str) -> Activation:
    nm, sigma, dsigma, dsigma_h, gamma, f, df, ldf = BUILTIN[name]
    return Activation(nm, sigma, dsigma, dsigma_h, gamma, True, f, df, ldf)


def _custom(text: str) -> Activation:
    """A user expression in a: σ' by sympy.diff, γ estimated on a dense grid over [−30, 30]."""
    sigma = parse_activation(text)
    dsigma = sp.diff(sigma, A)
    f = sp.lambdify(A, sigma, "numpy")
    df = sp.lambdify(A, dsigma, "numpy")

    def np_dsigma(a: Array) -> Array:
        return np.broadcast_to(np.asarray(df(np.asarray(a, dtype=float)), dtype=float), np.shape(a)).copy()

    def np_sigma(a: Array) -> Array:
        return np.broadcast_to(np.asarray(f(np.asarray(a, dtype=float)), dtype=float), np.shape(a)).copy()

    def np_log10(a: Array) -> Array:
        with np.errstate(divide="ignore"):
            return np.log10(np.abs(np_dsigma(a)))

    with np.errstate(all="ignore"):
        values = np.abs(np_dsigma(GAMMA_GRID))
    if not np.all(np.isfinite(values)):
        raise SymbpttError(f"custom activation {text!r} has a derivative that is not finite on [-30, 30]")
    gamma = sp.Float(float(values.max()), 6)
    return Activation(text, sigma, dsigma, None, gamma, False, np_sigma, np_dsigma, np_log10)


@lru_cache(maxsize=64)
def get_activation(name: str) -> Activation:
    """Look up a built-in activation by name, or parse a custom expression in ``a``."""
    if name in BUILTIN:
        return _builtin(name)
    if not name.isidentifier() or name == "a":
        return _custom(name)
    raise SymbpttError(
        f"unknown activation {name!r}; choose one of {', '.join(NAMES)} or give an expression in a, "
        "for example 'a/(1+abs(a))'"
    )
