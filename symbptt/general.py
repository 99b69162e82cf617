"""The general-T form: a formula valid for every T, built from the same per-step factors.

One scalar vanilla layer: Sum/Product over indexed states, ∂L/∂w = (h_T − y) Σ_k (Π_{j=k+1}^{T} w σ'(a_j))
σ'(a_k) h_{k-1}.  Matrices, stacked layers and other cells: the backward recursion for symbolic T with the
products written in time order, and for gated cells the path that carries the gradient unchanged (the
LSTM's cell state: ∂c_T/∂c_k along the c-path = Π_{j=k+1}^{T} f_j).
"""

from __future__ import annotations

import sympy as sp

from .derive import Derivation, Display, Equation, grad_label, label
from .model import RNN
from .paths import targets


def general_form(rnn: RNN, wrt: str) -> Derivation:
    if rnn.spec.name == "rnn" and rnn.scalar and rnn.layers == 1:
        return general_scalar(rnn, wrt)
    return general_ordered(rnn, wrt)


T_SYM, K, J_IDX, S_IDX = sp.symbols("T k j t", integer=True, positive=True)


def general_scalar(rnn: RNN, wrt: str) -> Derivation:
    """∂L/∂θ = Σ_t (h_t − y_t) Σ_{k≤t} (Π_{j=k+1}^{t} w σ'_j) σ'_k z_k over indexed h_j, symbolic T."""
    from .activations import H
    from .safeexpr import A

    act, s = rnn.act, rnn.symbols
    dsigma_a = act.dsigma_plain
    h, a, x, y = (sp.IndexedBase(name, real=True) for name in ("h", "a", "x", "y"))
    w = s.W(1)[0, 0]

    def sigma_prime(i: sp.Expr) -> sp.Expr:
        return act.dsigma_h.subs(H, h[i]) if act.dsigma_h is not None else dsigma_a.subs(A, a[i])

    def jac(lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
        return sp.Product(w * sigma_prime(J_IDX), (J_IDX, lo, hi))

    z = {"W": h[K - 1], "U": x[K], "b": sp.Integer(1)}
    t_end = S_IDX if rnn.loss == "sum" else T_SYM
    err = h[t_end] - (y[t_end] if rnn.loss == "sum" else sp.Symbol("y", real=True))
    eqs = [Equation(label("∂h_T/∂h_k", r"\frac{\partial h_T}{\partial h_k}"), jac(K + 1, T_SYM))]
    if rnn.act.name == "linear":
        eqs.append(Equation(label("∂h_T/∂h_k ", r"\frac{\partial h_T}{\partial h_k}"), jac(K + 1, T_SYM).doit()))
    for param, layer in targets(rnn, wrt):
        entry = s.param(param, layer)[0, 0]
        if param == "h0":
            inner = jac(1, t_end)
        else:
            inner = sp.Sum(jac(K + 1, t_end) * sigma_prime(K) * z[param], (K, 1, t_end))
        rhs = sp.Sum(err * inner, (S_IDX, 1, T_SYM)) if rnn.loss == "sum" else err * inner
        eqs.append(Equation(grad_label(entry), rhs))
        if rnn.act.name == "linear":
            eqs.append(Equation(grad_label(entry), rhs.replace(sp.Product, lambda *args: sp.Product(*args).doit())))
    notes = [f"σ'(a_j) = {sp.sstr(sigma_prime(J_IDX))}; valid for every T ≥ 1"]
    return Derivation("general-T BPTT gradient", eqs, notes)


def general_ordered(rnn: RNN, wrt: str) -> Derivation:
    """Matrices or stacked layers: the recursion and sums for symbolic T, products written in time order."""
    sup, n, top = rnn.symbols.sup, sp.Symbol("n", integer=True, positive=True), rnn.layers

    def vec(name: str) -> sp.MatrixSymbol:
        return sp.MatrixSymbol(name, n, 1)

    def mat(name: str) -> sp.MatrixSymbol:
        return sp.MatrixSymbol(name, n, n)

    eqs = [Equation(mat(f"J{sup(1)}_t"), sp.MatMul(mat(f"D{sup(1)}_t"), mat(f"W{sup(1)}")))]
    chain = [mat("J_T"), mat("J_{T-1}"), mat("⋯"), mat("J_{k+1}")]
    eqs.append(Equation(label("∂h_T/∂h_k", r"\frac{\partial h_T}{\partial h_k}"), sp.MatMul(*chain)))
    y_last = "y_T" if rnn.loss == "sum" else "y"
    eqs.append(Equation(vec(f"delta{sup(top)}_T"), sp.MatAdd(vec("h_T"), -vec(y_last), evaluate=False)))
    for layer in range(top, 0, -1):
        parts = [sp.MatMul(sp.Transpose(mat(f"J{sup(layer)}_t")), vec(f"delta{sup(layer)}_t"))]
        if layer < top:
            factor = sp.Transpose(mat(f"V{sup(layer + 1)}_{{t-1}}"))
            parts.append(sp.MatMul(factor, vec(f"delta{sup(layer + 1)}_{{t-1}}")))
        if layer == top and rnn.loss == "sum":
            parts.extend([vec("h_{t-1}"), -vec("y_{t-1}")])
        eqs.append(Equation(vec(f"delta{sup(layer)}_{{t-1}}"), sp.MatAdd(*parts, evaluate=False)))
    t = S_IDX
    for param, layer in targets(rnn, wrt):
        lhs = grad_label(Display(rnn).param(param, layer))
        if param == "h0":
            eqs.append(Equation(lhs, vec(f"delta{sup(layer)}_0")))
            continue
        body = [mat(f"D{sup(layer)}_t"), vec(f"delta{sup(layer)}_t")]
        if param == "W":
            body.append(sp.Transpose(vec(f"h{sup(layer)}_{{t-1}}")))
        elif param == "U":
            below = vec(f"h{sup(layer - 1)}_t") if layer > 1 else sp.MatrixSymbol("x_t", sp.Symbol("m"), 1)
            body.append(sp.Transpose(below))
        eqs.append(Equation(lhs, sp.Sum(sp.MatMul(*body), (t, 1, T_SYM))))
    notes = ["products are ordered: the latest step stands on the left (J_T ⋯ J_{k+1})",
             "D_t = diag(σ'(a_t)); valid for every T ≥ 1"]
    return Derivation("general-T BPTT gradient (ordered matrix products)", eqs, notes)


