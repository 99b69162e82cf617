"""The symbolic forms against plain sympy.diff of the unrolled loss, and their structure."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy as sp
from conftest import ACTIVATIONS, normwise_error, random_point

from symbptt import RNN, SymbpttError, derive
from symbptt.derive import SymbolicFactors
from symbptt.model import nested_states, unrolled_loss
from symbptt.paths import EXPLICIT_MAX_FACTORS, Step, evaluate_explicit, evaluate_recursive, targets
from symbptt.safeexpr import A

GRID = [
    (T, act, n, layers, loss)
    for T, act, n, layers, loss in itertools.product(range(1, 7), ACTIVATIONS, (1, 2), (1, 2), ("last", "sum"))
    # n = 2 with two layers at T = 5, 6: sympy.diff of the nested loss takes minutes per case, so these
    # two lengths run for tanh only (the other activations share every code path but the table row)
    # (the custom activation, whose derivative carries sign(a), already from T = 3)
    if not (n == 2 and layers == 2 and act != "tanh" and (T >= 5 or (T >= 3 and "abs" in act)))
]


def loss_as_function_of(rnn: RNN, theta: sp.Symbol, point: dict) -> sp.Expr:
    """The unrolled loss with every symbol but ``theta`` set to its 30-digit value: the same nested
    expression plain sympy.diff would differentiate, restricted to the one variable being checked."""
    s = rnn.symbols
    fixed = {sym: sp.Float(v, 30) for sym, v in point.items() if sym != theta}
    h = {layer: s.h(layer, 0).xreplace(fixed) for layer in range(1, rnn.layers + 1)}
    sigma, total = rnn.act.sigma, sp.Integer(0)
    for t in range(1, rnn.T + 1):
        inp = s.x(t).xreplace(fixed)
        for layer in range(1, rnn.layers + 1):
            pre = s.W(layer).xreplace(fixed) * h[layer] + s.U(layer).xreplace(fixed) * inp + s.b(layer).xreplace(fixed)
            h[layer] = pre.applyfunc(lambda e: sigma.subs(A, e))
            inp = h[layer]
        if t in rnn.loss_steps():
            e = h[rnn.layers] - s.y(t).xreplace(fixed)
            total += sp.Rational(1, 2) * (e.T * e)[0, 0]
    return total


def state_values(rnn: RNN, point: dict) -> dict:
    """Numbers for every state symbol h_t, a_t at ``point`` (30 digits), from the nested forward pass."""
    exact = {sym: sp.Float(v, 30) for sym, v in point.items()}
    return {sym: expr.xreplace(exact).evalf(30) for sym, expr in nested_states(rnn).items()} | exact


@pytest.mark.parametrize(
    "T,act,n,layers,loss",
    GRID,
)
def test_explicit_and_recursive_equal_diff_of_unrolled_loss(T, act, n, layers, loss):
    """For every parameter entry θ: sympy.diff of the unrolled loss (in θ, the rest at a random point)
    equals the explicit and the recursive forms evaluated at the same point, to 1e-12 (normwise)."""
    rnn = RNN(T=T, n=n, layers=layers, activation=act, loss=loss)
    point = random_point(rnn, seed=T * 100 + n * 10 + layers)
    values, at = SymbolicFactors(rnn), state_values(rnn, point)
    wanted, explicit, recursive = [], [], []
    for param, layer in targets(rnn, "all"):
        entries = rnn.symbols.param(param, layer)
        explicit_grad = evaluate_explicit(rnn, param, layer, values).xreplace(at)
        recursive_grad = evaluate_recursive(rnn, param, layer, values).xreplace(at)
        for idx in np.ndindex(entries.shape):
            theta = entries[idx]
            derivative = sp.diff(loss_as_function_of(rnn, theta, point), theta)
            wanted.append(float(derivative.xreplace({theta: sp.Float(point[theta], 30)}).evalf(30)))
            explicit.append(float(sp.N(explicit_grad[idx], 30)))
            recursive.append(float(sp.N(recursive_grad[idx], 30)))
    assert normwise_error(np.array(explicit), np.array(wanted)) < 1e-12
    assert normwise_error(np.array(recursive), np.array(wanted)) < 1e-12


@pytest.mark.parametrize("act,T", [("tanh", 1), ("sigmoid", 1), ("sigmoid", 2), ("linear", 1), ("linear", 2)])
def test_scalar_forms_equal_diff_exactly(act, T):
    """For the smallest cases the equality is exact, not just numerical."""
    rnn = RNN(T=T, activation=act, loss="sum")
    subs, values = nested_states(rnn), SymbolicFactors(rnn)
    for param in ("W", "U", "b", "h0"):
        entry = rnn.symbols.param(param, 1)[0, 0]
        wanted = sp.diff(unrolled_loss(rnn), entry)
        for evaluate in (evaluate_explicit, evaluate_recursive):
            ours = evaluate(rnn, param, 1, values)[0, 0].xreplace(subs)
            assert sp.simplify(ours - wanted) == 0


def test_jacobian_factor_is_diag_sigma_prime_times_W_not_its_transpose():
    """J_t = ∂h_t/∂h_{t-1} = diag(σ'(a_t))·W: row i is scaled by σ'(a_t,i).  The often-printed
    W·diag(σ') (or Wᵀ·diag(σ')) is a different matrix, and the test shows that too."""
    rnn = RNN(T=2, n=2)
    s, values = rnn.symbols, SymbolicFactors(rnn)
    sigma = sp.tanh
    h1 = s.preactivation(1, 2).applyfunc(sigma)  # h_2 as a function of h_1
    jac = h1.jacobian(s.h(1, 1))
    to_h = {sigma(a): h for a, h in zip(s.preactivation(1, 2), s.h(1, 2), strict=True)}
    jac_in_h = jac.applyfunc(lambda e: sp.expand(e.subs(to_h)))
    ours = values.factor(Step("J", 1, 2)).applyfunc(sp.expand)
    assert (jac_in_h - ours).applyfunc(sp.simplify) == sp.zeros(2, 2)
    d = sp.diag(*values.sigma_prime(1, 2))
    assert (ours - (s.W(1) * d).applyfunc(sp.expand)).applyfunc(sp.simplify) != sp.zeros(2, 2)
    assert (ours - (s.W(1).T * d).applyfunc(sp.expand)).applyfunc(sp.simplify) != sp.zeros(2, 2)


def unroll_sums(expr: sp.Expr) -> sp.Expr:
    """Expand Sum/Product with numeric limits, outermost first, into plain finite sums and products."""
    def numeric(e):
        return isinstance(e, (sp.Sum, sp.Product)) and all(lim[1].is_number and lim[2].is_number for lim in e.limits)

    while expr.has(sp.Sum, sp.Product):
        expr = expr.replace(numeric, lambda e: e.doit(deep=False))
    return expr


@pytest.mark.parametrize("act", ["tanh", "linear", "sigmoid"])
@pytest.mark.parametrize("loss", ["last", "sum"])
@pytest.mark.parametrize("wrt", ["W", "U", "b", "h0"])
def test_general_form_at_concrete_T_equals_explicit(act, loss, wrt):
    """The Sum/Product formula, with T fixed and expanded, is the explicit form of that T."""
    for T in (1, 2, 4):
        rnn = RNN(T=T, activation=act, loss=loss)
        eqs = derive(rnn, "general", wrt).equations
        general = next(eq.rhs for eq in eqs if str(eq.lhs).startswith("∂L/∂"))  # the Sum/Product one
        concrete = unroll_sums(general.subs(sp.Symbol("T", integer=True, positive=True), T))
        indexed = {sp.IndexedBase(name, real=True): name for name in ("h", "a", "x", "y")}
        concrete = concrete.replace(
            lambda e: isinstance(e, sp.Indexed),
            lambda e, names=indexed: sp.Symbol(f"{names[e.base]}_{e.indices[0]}", real=True),
        )
        explicit = evaluate_explicit(rnn, wrt, 1, SymbolicFactors(rnn))[0, 0]
        assert sp.expand(concrete - explicit) == 0


def test_linear_general_form_is_closed():
    """For σ(a) = a the Jacobian product closes to w^(T−k)."""
    eqs = derive(RNN(T=5, activation="linear"), "general", "W").equations
    w, T, k = sp.Symbol("w", real=True), sp.Symbol("T", integer=True, positive=True), sp.Symbol(
        "k", integer=True, positive=True)
    assert any(sp.simplify(eq.rhs - w ** (T - k)) == 0 for eq in eqs)


def test_explicit_form_keeps_factors_in_time_order():
    """The T = 3 term for k = 1 reads (h_3 − y)·J_3·J_2·σ'(a_1)·h_0, left to right."""
    rhs = derive(RNN(T=3), "explicit", "W").equations[0].rhs
    first = rhs.args[0]
    names = [sp.sstr(f) for f in first.args]
    assert names == ["h_3 - y", "w*(1 - h_3**2)", "w*(1 - h_2**2)", "1 - h_1**2", "h_0"]


@pytest.mark.parametrize("form", ["recursive", "general"])
def test_long_sequences_do_not_recurse(form):
    """T = 10 000: the forms that scale are built without a RecursionError."""
    derivation = derive(RNN(T=10_000), form, "W")
    if form == "recursive":
        assert len(derivation.equations) == 10_001
        assert len(derivation.equations[-1].rhs.args) == 10_000


def test_explicit_reaches_T_1000_and_refuses_beyond_its_limit():
    derivation = derive(RNN(T=1000), "explicit", "W")
    assert len(derivation.equations[0].rhs.args) == 1000
    with pytest.raises(SymbpttError, match="recursive.*general"):
        derive(RNN(T=2000), "explicit", "W")
    with pytest.raises(SymbpttError, match=f"{EXPLICIT_MAX_FACTORS:,}"):
        derive(RNN(T=200, loss="sum"), "explicit", "W")


def test_expanded_has_a_limit():
    derive(RNN(T=3), "expanded", "W")
    with pytest.raises(SymbpttError, match="expanded form is limited"):
        derive(RNN(T=50), "expanded", "W")


@pytest.mark.parametrize("kwargs,message", [
    ({"T": 0}, "T"), ({"T": 2.5}, "integer"), ({"T": 3, "n": 9}, "hidden size"),
    ({"T": 3, "layers": 4}, "layers"), ({"T": 3, "activation": "swish"}, "tanh, sigmoid, relu, linear"),
    ({"T": 3, "activation": "__import__('os')"}, "not allowed"), ({"T": 3, "loss": "mean"}, "loss"),
])
def test_bad_model_input_is_refused(kwargs, message):
    with pytest.raises(SymbpttError, match=message):
        RNN(**kwargs)


def test_every_form_builds_for_matrices_and_layers():
    for form in ("unroll", "factors", "general", "explicit", "recursive", "expanded"):
        T = 1 if form == "expanded" else 2  # expanded: T ≤ 1 for n = 2 with two layers
        derivation = derive(RNN(T=T, n=2, m=2, layers=2, loss="sum"), form, "all")
        assert derivation.equations
