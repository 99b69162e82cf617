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

STEP = sp.Function("step")


def lambdify_plain(symbols, exprs):
    """lambdify to NumPy with Heaviside mapped to np.heaviside directly (SymPy's own printer turns it
    into a Piecewise whose condition simplification takes minutes on nested relu expressions)."""
    exprs = [[e.replace(sp.Heaviside, lambda x, h0=sp.S.Half: STEP(x, h0)) for e in row] for row in exprs]
    modules = [{"step": lambda x, h0: np.heaviside(x, h0)}, "numpy"]
    return sp.lambdify(symbols, exprs, modules, cse=True)


def _entries_to_check(shape, rng):
    """Every entry of a scalar parameter; one seeded random entry of each matrix parameter (the
    structure is the same for every entry, and sympy.diff of the nested loss costs seconds per entry)."""
    all_entries = list(np.ndindex(shape))
    return all_entries if len(all_entries) <= 1 else [all_entries[rng.integers(len(all_entries))]]


GRID = list(itertools.product(range(1, 7), ACTIVATIONS, (1, 2), (1, 2), ("last", "sum")))


def _is_slow(T: int, n: int, layers: int) -> bool:
    return n == 2 and layers == 2 and T >= 4


@pytest.mark.parametrize(
    "T,act,n,layers,loss",
    [pytest.param(*cfg, marks=pytest.mark.slow) if _is_slow(cfg[0], cfg[2], cfg[3]) else cfg for cfg in GRID],
)
def test_explicit_and_recursive_equal_diff_of_unrolled_loss(T, act, n, layers, loss):
    """Both forms, substituted down to inputs, equal sympy.diff of the nested loss at a random point."""
    rnn = RNN(T=T, n=n, layers=layers, activation=act, loss=loss)
    loss_expr, subs, values = unrolled_loss(rnn), nested_states(rnn), SymbolicFactors(rnn)
    rng = np.random.default_rng(T)
    wanted, explicit, recursive = [], [], []
    for param, layer in targets(rnn, "all"):
        entries = rnn.symbols.param(param, layer)
        explicit_grad = evaluate_explicit(rnn, param, layer, values).xreplace(subs)
        recursive_grad = evaluate_recursive(rnn, param, layer, values).xreplace(subs)
        for idx in _entries_to_check(entries.shape, rng):
            wanted.append(sp.diff(loss_expr, entries[idx]))
            explicit.append(explicit_grad[idx])
            recursive.append(recursive_grad[idx])
    symbols = rnn.symbols.parameters()
    point = random_point(rnn, seed=T * 100 + n * 10 + layers)
    f = lambdify_plain(symbols, [wanted, explicit, recursive])
    # one-element arrays: relu's Piecewise lambdifies to np.select, which wants array conditions
    out = f(*[np.array([point[s]]) for s in symbols])
    d, e, r = (np.array([np.ravel(x)[0] for x in v], dtype=float) for v in out)
    assert normwise_error(e, d) < 1e-12
    assert normwise_error(r, d) < 1e-12


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("T", [1, 2])
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


@pytest.mark.parametrize("act", ["tanh", "linear", "sigmoid"])
@pytest.mark.parametrize("loss", ["last", "sum"])
@pytest.mark.parametrize("wrt", ["W", "U", "b", "h0"])
def test_general_form_at_concrete_T_equals_explicit(act, loss, wrt):
    """The Sum/Product formula, with T fixed and expanded, is the explicit form of that T."""
    for T in (1, 2, 4):
        rnn = RNN(T=T, activation=act, loss=loss)
        general = derive(rnn, "general", wrt).equations[-1].rhs
        concrete = general.subs(sp.Symbol("T", integer=True, positive=True), T).doit()
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
        derivation = derive(RNN(T=2, n=2, m=2, layers=2, loss="sum"), form, "all")
        assert derivation.equations
