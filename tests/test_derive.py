"""The symbolic forms: against plain sympy.diff of the nested unrolled loss (small T), their structure,
the general-T form instantiated at T = 1..4, limits."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from conftest import exhaustive, normwise_error, random_point
from hypothesis import given
from hypothesis import strategies as st

from symbptt import RNN, SymbpttError
from symbptt import primitives as P
from symbptt.forms import FORMS, derive
from symbptt.model import loss_in_states, node_equations, unrolled_loss
from symbptt.paths import EXPLICIT_MAX_FACTORS, Step, evaluate_explicit, evaluate_recursive, targets
from symbptt.symbolic.shown import SymbolicFactors
from symbptt.templates import swap, swap_builder

GRID = [
    # cell, activation, T, n, layers, loss
    ("rnn", "tanh", 3, 1, 1, "last"), ("rnn", "tanh", 3, 1, 2, "sum"), ("rnn", "sigmoid", 2, 2, 1, "sum"),
    ("rnn", "relu", 2, 2, 2, "last"), ("rnn", "a/(1+abs(a))", 3, 1, 1, "sum"),
    ("lstm", None, 2, 1, 1, "last"), ("lstm", None, 1, 1, 2, "sum"), ("lstm", None, 1, 2, 1, "sum"),
    ("gru", None, 2, 1, 1, "sum"), ("gru", None, 1, 2, 1, "last"), ("gru", None, 1, 1, 2, "last"),
    ("mingru", None, 3, 1, 1, "sum"), ("mingru", None, 2, 2, 2, "last"), ("minlstm", None, 3, 1, 1, "last"),
    ("minlstm", None, 2, 2, 1, "sum"), ("indrnn", "relu", 3, 1, 1, "sum"), ("indrnn", "tanh", 2, 2, 2, "last"),
    ("lru", None, 3, 1, 1, "last"), ("lru", None, 2, 2, 2, "sum"),
]


def nested_loss(rnn: RNN, theta: sp.Symbol, point: dict) -> sp.Expr:
    """The unrolled loss with every symbol but ``theta`` at its 30-digit value: the nested expression plain
    sympy.diff would differentiate, restricted to the one variable being checked."""
    fixed = {sym: sp.Float(v, 30) for sym, v in point.items() if sym != theta}
    values = dict(fixed)
    for t in range(1, rnn.T + 1):
        for layer in range(1, rnn.layers + 1):
            for sym, expr in node_equations(rnn, layer, t):
                values[sym] = expr.xreplace(values)
    return loss_in_states(rnn).xreplace(values)


def state_values(rnn: RNN, point: dict) -> dict:
    """Numbers for every state and node symbol at ``point`` (30 digits), from the nested forward pass."""
    from symbptt.model import nested_states

    exact = {sym: sp.Float(v, 30) for sym, v in point.items()}
    return {sym: P.plain(expr).xreplace(exact).evalf(30) for sym, expr in nested_states(rnn).items()} | exact


def _first_of_each_cell(case: tuple) -> bool:
    """Every suite checks the first case of each cell and two layers of the rnn; `-m slow` the whole grid."""
    return GRID.index(next(c for c in GRID if c[0] == case[0])) == GRID.index(case) or case == GRID[1]


@pytest.mark.parametrize("cell,act,T,n,layers,loss", exhaustive(GRID, _first_of_each_cell))
def test_explicit_and_recursive_equal_diff_of_unrolled_loss(cell, act, T, n, layers, loss):
    """For every parameter entry θ: sympy.diff of the unrolled loss (in θ, the rest at a random point)
    equals the explicit and the recursive forms at the same point, to 1e-12 (normwise)."""
    rnn = RNN(T=T, n=n, layers=layers, activation=act, loss=loss, cell=cell)
    point = random_point(rnn, seed=T * 100 + n * 10 + layers)
    values, at = SymbolicFactors(rnn), state_values(rnn, point)
    wanted, explicit, recursive = [], [], []
    for param, layer in targets(rnn, "all"):
        entries = rnn.symbols.param(param, layer)
        explicit_grad = evaluate_explicit(rnn, param, layer, values).xreplace(at)
        recursive_grad = evaluate_recursive(rnn, param, layer, values).xreplace(at)
        for idx in np.ndindex(entries.shape):
            theta = entries[idx]
            derivative = sp.diff(nested_loss(rnn, theta, point), theta)
            wanted.append(float(derivative.xreplace({theta: sp.Float(point[theta], 30)}).evalf(30)))
            explicit.append(float(sp.N(explicit_grad[idx], 30)))
            recursive.append(float(sp.N(recursive_grad[idx], 30)))
    assert normwise_error(np.array(explicit), np.array(wanted)) < 1e-12
    assert normwise_error(np.array(recursive), np.array(wanted)) < 1e-12


@pytest.mark.parametrize("act,T", [("tanh", 1), pytest.param("sigmoid", 2, marks=pytest.mark.slow),  # simplify: 5 s
                                   ("linear", 2)])
def test_scalar_forms_equal_diff_exactly(act, T):
    """For the smallest cases the equality is exact, not just numerical."""
    from symbptt.model import nested_states

    rnn = RNN(T=T, activation=act, loss="sum")
    subs, values = nested_states(rnn), SymbolicFactors(rnn)
    for param in ("W", "U", "b", "h0"):
        entry = rnn.symbols.param(param, 1)[0, 0]
        wanted = sp.diff(unrolled_loss(rnn), entry)
        for evaluate in (evaluate_explicit, evaluate_recursive):
            ours = P.plain(evaluate(rnn, param, 1, values)[0, 0].xreplace(subs))
            assert sp.simplify(ours - P.plain(wanted)) == 0


def test_jacobian_factor_is_diag_sigma_prime_times_W_not_its_transpose():
    """J_t = ∂h_t/∂h_{t-1} = diag(σ'(a_t))·W: row i is scaled by σ'(a_t,i).  W·diag(σ') and Wᵀ·diag(σ')
    are different matrices, and the test shows that too."""
    rnn = RNN(T=2, n=2)
    s, values = rnn.symbols, SymbolicFactors(rnn)
    h_next = s.preactivation(1, 2).applyfunc(sp.tanh)
    jac = h_next.jacobian(s.h(1, 1))
    to_h = {sp.tanh(a): h for a, h in zip(s.preactivation(1, 2), s.h(1, 2), strict=True)}
    jac_in_h = jac.applyfunc(lambda e: sp.expand(e.subs(to_h)))
    ours = values.factor(Step("J", 1, 2)).applyfunc(sp.expand)
    assert (jac_in_h - ours).applyfunc(sp.simplify) == sp.zeros(2, 2)
    d = sp.diag(*values.sigma_prime(1, 2))
    assert (ours - (s.W(1) * d).applyfunc(sp.expand)).applyfunc(sp.simplify) != sp.zeros(2, 2)
    assert (ours - (s.W(1).T * d).applyfunc(sp.expand)).applyfunc(sp.simplify) != sp.zeros(2, 2)


def test_lstm_local_partials_are_the_textbook_ones():
    """∂c_t/∂c_{t-1} = f_t (the carousel), ∂h_t/∂c_t = o_t(1 − tanh² c_t), ∂f_t/∂a^f_t = f_t(1 − f_t)."""
    d = derive(RNN(T=1, cell="lstm"), "factors", "all")
    shown = {str(eq.lhs): sp.sstr(eq.rhs) for eq in d.equations}
    assert shown["∂c_t/∂c_(t-1)"] == "f_t"
    assert shown["∂h_t/∂c_t"] == "o_t*(1 - tanh(c_t)**2)"
    assert shown["∂f_t/∂a^f_t"] == "f_t*(1 - f_t)"
    gru = {str(eq.lhs): sp.sstr(eq.rhs) for eq in derive(RNN(T=1, cell="gru"), "factors", "all").equations}
    assert gru["∂h_t/∂h_(t-1)"] == "z_t"


def test_explicit_form_keeps_factors_in_time_order():
    """The T = 3 term for k = 1 reads (h_3 − y)·J_3·J_2·σ'(a_1)·h_0, left to right — also in SymPy's own
    printers, so a notebook shows what the command line shows."""
    rhs = derive(RNN(T=3), "explicit", "W").equations[0].rhs
    first = rhs.args[0]
    assert [sp.sstr(f) for f in first.args] == ["h_3 - y", "w*(1 - h_3**2)", "w*(1 - h_2**2)", "1 - h_1**2", "h_0"]
    assert sp.sstr(rhs).startswith("(h_3 - y)*w*(1 - h_3**2)*w*(1 - h_2**2)*(1 - h_1**2)*h_0 + ")
    assert sp.latex(rhs).startswith(r"\left(h_{3} - y\right) w \left(1 - h_{3}^{2}\right)")


def test_api_expressions_are_sympy_expressions_to_keep_working_with():
    """subs, simplify and lambdify work on a returned right-hand side."""
    rnn = RNN(T=2)
    rhs = derive(rnn, "explicit", "W").equations[0].rhs
    values = {sym: 0.5 for sym in rhs.free_symbols}
    direct = float(rhs.subs(values))
    f = sp.lambdify(sorted(rhs.free_symbols, key=str), rhs)
    assert f(*[0.5] * len(rhs.free_symbols)) == pytest.approx(direct, rel=1e-14)
    assert sp.simplify(rhs - rhs) == 0


def instantiate(expr: sp.Basic, T: int, t: int | None = None) -> sp.Basic:
    """A general-form expression at a concrete T (and step t): sums and products expanded, every
    step-indexed symbol turned into the concrete symbol of that step."""
    from symbptt import notation
    from symbptt.symbolic.general import S_IDX, T_SYM

    subs = {T_SYM: T} | ({S_IDX: t} if t is not None else {})
    expr = expr.subs(subs)
    while expr.has(sp.Sum, sp.Product):
        expr = expr.replace(lambda e: isinstance(e, (sp.Sum, sp.Product)) and all(
            lim[1].is_number and lim[2].is_number for lim in e.limits), lambda e: e.doit(deep=False))
    expr = expr.replace(lambda e: isinstance(e, notation.Seq) and e.args[0].is_number, lambda e: e.concrete())
    return expr.replace(lambda e: isinstance(e, notation.MatSeq) and e.args[1].is_number, lambda e: e.concrete())


@pytest.mark.parametrize("act", ["tanh", "linear", "sigmoid"])
@pytest.mark.parametrize("loss", ["last", "sum"])
@pytest.mark.parametrize("wrt", ["W", "U", "b", "h0"])
def test_scalar_general_form_at_concrete_T_equals_explicit(act, loss, wrt):
    """The Sum/Product formula, with T fixed and expanded, is the explicit form of that T."""
    for T in (1, 2, 4):
        rnn = RNN(T=T, activation=act, loss=loss)
        eqs = derive(rnn, "general", wrt).equations
        general = next(eq.rhs for eq in eqs if str(eq.lhs).startswith("∂L/∂"))
        concrete = P.plain(instantiate(general, T))
        explicit = P.plain(evaluate_explicit(rnn, wrt, 1, SymbolicFactors(rnn))[0, 0])
        assert sp.expand(concrete - explicit) == 0


def _general_form_read(cell: str, n: int, layers: int, loss: str, T: int) -> tuple[str, np.ndarray, list]:
    """The general form's LaTeX of a random network (seeded by T), what SymPy's own LaTeX parser reads from
    it at T (check.read_latex), and the numeric engine's gradient of the same network."""
    import mpmath
    from conftest import random_layers

    from symbptt.check import Trial, read_latex
    from symbptt.config import Config
    from symbptt.latex import snippet
    from symbptt.numeric.factors import gradients

    rnn = RNN(T=T, n=n, layers=layers, loss=loss, cell=cell)
    rng = np.random.default_rng(T)
    params = random_layers(rnn.spec, n, 1, layers, rng)
    x = rng.uniform(-1, 1, (T, 1))
    y = rng.uniform(-1, 1, n) if loss == "last" else rng.uniform(-1, 1, (T, n))
    cfg = Config(cell, None, params, x, y, loss, scalar=n == 1)
    latex = snippet(derive(rnn, "general", "all"))
    with mpmath.workdps(30):
        found = read_latex(latex, Trial(cell, None, n, 1, layers, T, loss, None, False, cfg))
    _, grads = gradients(cfg)
    expected = [v for g in grads for p in rnn.spec.params for v in np.ravel(g[p])]
    return latex, np.array(found, dtype=float), expected


@pytest.mark.parametrize("cell,n,layers,loss", [("rnn", 2, 1, "last"), ("rnn", 2, 2, "sum"), ("rnn", 1, 3, "last"),
                                                ("lstm", 1, 1, "sum"), ("lstm", 2, 2, "last"), ("gru", 2, 1, "sum")])
def test_ordered_general_form_evaluated_at_T_1_to_4_equals_explicit(cell, n, layers, loss):
    """Matrices, stacked layers, gated cells: the general form's LaTeX — definitions, terminal conditions,
    recursion and sums — read by SymPy's own LaTeX parser and instantiated at T = 1, 2, 4, gives the
    gradient of the numeric engine."""
    for T in (1, 2, 4):
        _, found, expected = _general_form_read(cell, n, layers, loss, T)
        assert np.allclose(found, expected, rtol=1e-10, atol=1e-13), T


@pytest.mark.parametrize("chars", [12, 30])
def test_a_general_form_broken_over_rows_reads_as_printed(monkeypatch, chars):
    """A ∏ or Σ whose body is too long for a row is broken inside its body, and a broken one that another
    factor follows sits in \\bigl( … \\bigr) (a nested activation's ∏ w σ'(a_j) ran 800 pt past the page
    on one row).  With the rows made short enough that every sum and product breaks, SymPy's own LaTeX
    parser reads the general form at T = 1, 2, 4 as the numeric engine's gradient, both losses."""
    import symbptt.latex as printed

    monkeypatch.setattr(printed, "CHARS_PER_LINE", chars)
    for T, loss in [(1, "last"), (2, "sum"), (4, "last"), (4, "sum")]:
        latex, found, expected = _general_form_read("rnn", 1, 1, loss, T)
        assert r"\prod_{j=k + 1}^{" in latex and ("\\bigl(" in latex) == (chars < 20)
        assert np.allclose(found, expected, rtol=1e-10, atol=1e-13), (T, loss)


def _at(name, t):
    from symbptt import notation

    parts = name.parts
    step = {"t": str(t), "t-1": str(t - 1)}.get(parts.step, parts.step)
    cls = notation.MatrixName if isinstance(name, notation.MatrixName) else notation.Name
    text = notation.Parts(parts.base, parts.tag, parts.layer, step, parts.unit).text()
    return cls(text, *name.shape) if cls is notation.MatrixName else cls(text)


def _at_expr(expr, t):
    from symbptt import notation

    return expr.replace(lambda e: isinstance(e, (notation.Name, notation.MatrixName)) and e.parts.step in ("t", "t-1"),
                        lambda e: _at(e, t))


def test_linear_general_form_is_closed():
    """For σ(a) = a the Jacobian product closes to w^(T−k)."""
    eqs = derive(RNN(T=5, activation="linear"), "general", "W").equations
    w = RNN(T=5).symbols.W(1)[0, 0]
    T, k = sp.Symbol("T", integer=True, positive=True), sp.Symbol("k", integer=True, positive=True)
    assert any(sp.simplify(eq.rhs - w ** (T - k)) == 0 for eq in eqs)


def test_gated_general_forms_show_the_path_that_survives():
    lstm = derive(RNN(T=3, cell="lstm"), "general", "W_f")
    carousel = next(eq for eq in lstm.equations if "c-path" in str(eq.lhs))
    assert sp.sstr(carousel.rhs) == "Product(f_j, (j, k + 1, T))"
    gru = derive(RNN(T=3, cell="gru"), "general", "W_z")
    assert any(sp.sstr(eq.rhs) == "Product(z_j, (j, k + 1, T))" for eq in gru.equations)


@pytest.mark.parametrize("form", ["recursive", "general"])
def test_long_sequences_do_not_recurse(form):
    """T = 3000, three times Python's recursion limit: the forms that scale are built without a
    RecursionError (benchmarks/ derives T = 10^5)."""
    derivation = derive(RNN(T=3000), form, "W")
    if form == "recursive":
        assert len(derivation.equations) == 3001
        assert len(derivation.equations[-1].rhs.args) == 3000


def test_explicit_reaches_T_1000_and_refuses_beyond_its_limit():
    derivation = derive(RNN(T=1000), "explicit", "W")
    assert len(derivation.equations[0].rhs.args) == 1000
    with pytest.raises(SymbpttError, match="recursive.*general"):
        derive(RNN(T=2000), "explicit", "W")
    with pytest.raises(SymbpttError, match=f"{EXPLICIT_MAX_FACTORS:,}"):
        derive(RNN(T=200, loss="sum"), "explicit", "W")
    with pytest.raises(SymbpttError, match="recursive"):
        derive(RNN(T=40, cell="lstm"), "explicit", "W_f")


def test_huge_printed_forms_are_refused_up_front():
    with pytest.raises(SymbpttError, match="general"):
        derive(RNN(T=1_000_000_000), "recursive", "W")
    with pytest.raises(SymbpttError, match="general"):
        derive(RNN(T=10_000_000), "unroll", "W")
    with pytest.raises(SymbpttError, match="expanded form is limited"):
        derive(RNN(T=50), "expanded", "W")
    for no_T in (RNN(T=1, n=4, m=4, layers=3, loss="sum"), RNN(T=1, n=2, cell="lstm")):  # said "limited to no T"
        with pytest.raises(SymbpttError, match="expanded form has no T within its size limit for this cell"):
            derive(no_T, "expanded", "all")


@pytest.mark.parametrize("kwargs,message", [
    ({"T": 0}, "T"), ({"T": 2.5}, "integer"), ({"T": 3, "n": 9}, "hidden size"),
    ({"T": 3, "layers": 4}, "layers"), ({"T": 3, "activation": "swish"}, "tanh, sigmoid, relu, linear"),
    ({"T": 3, "activation": "__import__('os')"}, "not allowed"), ({"T": 3, "loss": "mean"}, "loss"),
    ({"T": 3, "cell": "transformer"}, "unknown cell"), ({"T": 3, "cell": "lstm", "activation": "relu"}, "-a applies"),
])
def test_bad_model_input_is_refused(kwargs, message):
    with pytest.raises(SymbpttError, match=message):
        RNN(**kwargs)


def test_wrt_names_the_cells_own_parameters():
    with pytest.raises(SymbpttError, match="W_f, W_g"):
        derive(RNN(T=2, cell="lstm"), "explicit", "W")
    assert derive(RNN(T=2, cell="gru"), "explicit", "b_hn").equations


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_every_form_builds_for_matrices_and_layers(cell):
    for form in FORMS:
        if form == "expanded":
            continue
        derivation = derive(RNN(T=2, n=2, m=2, layers=2, loss="sum", cell=cell), form, "all")
        assert derivation.equations


@pytest.mark.parametrize("kwargs", [dict(T=12), dict(T=11, n=2), dict(T=10, cell="gru"),
                                    dict(T=6, activation="max(a, a**2, a**3)")])
@pytest.mark.parametrize("form", ["unroll", "factors", "explicit", "recursive"])
def test_printing_through_templates_equals_printing_each_factor(monkeypatch, kwargs, form):
    """The printers print one factor per template and swap step numbers in the printed string (steps
    9 → 10 change width, t − 1 and t share a factor): the result must be what printing every factor
    from scratch gives, character for character, in text, Unicode and LaTeX."""
    from symbptt import render
    from symbptt.latex import snippet
    from symbptt.render import render_lines

    rnn = RNN(**kwargs)
    wrt = "all" if form != "explicit" else rnn.spec.params[0]

    def printed() -> tuple[str, ...]:
        d = derive(rnn, form, wrt)
        return ("\n".join(render_lines(d, pretty=True, width=100)), "\n".join(render_lines(d, width=100)),
                snippet(d))

    fast = printed()
    monkeypatch.setattr(render, "_template", lambda expr: None)
    assert printed() == fast


@pytest.mark.parametrize("cell,words,absent", [
    ("mingru", "∂h_t/∂h_(t-1) = F_t, unit by unit: no path back goes through a weight", "J_t"),
    ("gru", "∂h_t/∂h_(t-1) = J_t + F_t: J through the weights, F unit by unit", "superscripts"),
    ("lstm", "superscripts name the new and the old state", "no path back"),
    ("indrnn", "each unit's path back goes through its own entry of w, not through a weight matrix", "J_t"),
    ("lru", "each unit's path back goes through its own entry of nu, not through a weight matrix", "gate"),
])
def test_the_factor_notes_say_what_the_cell_s_routes_are(cell, words, absent):
    """The notes under named factors are read off the cell's routes: minGRU has no J, the GRU one state."""
    from symbptt.render import render_text

    for form in ("factors", "explicit"):
        kwargs = {"named": True} if form == "explicit" else {}
        text = " ".join(render_text(derive(RNN(T=2, cell=cell), form, None, **kwargs), width=1000).split())
        assert words in text and absent not in text.split("# ", 1)[-1].split("where")[-1]


def test_a_path_whose_coefficient_is_one_is_its_matrix_alone():
    """The LRU's layer 2 reads h^(1) through U^(2) alone: V^(2)_t = U^(2), where it printed diag(1)·U^(2) (the
    identity written as the diagonal of a 1); a coefficient other than 1 keeps its diag, as minGRU's do."""
    from symbptt.render import render_text

    lru = render_text(derive(RNN(T=2, n=2, layers=2, cell="lru"), "recursive", "all", named=True), width=200)
    assert "\nV^(2)_t = U^(2)\n" in lru and "diag(1)@U" not in lru
    mingru = render_text(derive(RNN(T=2, n=2, layers=2, cell="mingru"), "recursive", "all", named=True), width=200)
    assert "V^(2)_t = diag(z^(2)_t*(1 - z^(2)_t)*(a^h(2)_t - h^(2)_(t-1)))@U_z^(2)" in mingru


def _first_trial(cell: str, activation: str | None):
    """The first trial of the check's draws (seed 0) with this cell and activation and n > 1."""
    from symbptt.check.trials import random_trial

    rng = np.random.default_rng(0)
    for _ in range(2000):
        trial = random_trial(rng, 3)
        if trial.cell == cell and trial.activation == activation and trial.n > 1 and not trial.truncate:
            return trial
    raise AssertionError(f"no {cell} trial with {activation} and n > 1 in 2000 draws")


@pytest.mark.parametrize("cell,activation,name", [("rnn", "linear", "D_"), ("lru", None, "D^a")])
def test_an_identity_factor_is_left_out_of_every_form_and_the_check_reads_them_right(monkeypatch, cell, activation,
                                                                                    name):
    """D_t = ∂h_t/∂a_t is the identity for a linear σ and for the LRU's input path: the forms leave it out
    (∂L/∂U = Σ_t δ_t x_tᵀ) rather than define D_t = diag(1), which reads as a 1 × 1 matrix; the check's
    readers (Python's precedence, SymPy's LaTeX parser) agree with the exact gradients.  Planted, every
    D left out (σ' dropped where it is not 1): the check fails on an rnn whose σ is not linear."""
    from symbptt import check
    from symbptt.render import render_text
    from symbptt.symbolic import shown

    trial = _first_trial(cell, activation)
    rnn = RNN(T=trial.T, n=trial.n, m=trial.m, layers=trial.layers, activation=trial.activation, loss=trial.loss,
              cell=cell)
    for form in ("explicit", "recursive", "general"):
        text = render_text(derive(rnn, form, "all"), width=1000)
        assert "diag(1)" not in text and name not in text, text
    errors = check.printed_forms(trial, check.Exact(trial), {})
    assert max(errors["printed text"]) < check.TOLERANCE["printed text"]
    assert max(errors["printed LaTeX"]) < check.TOLERANCE["printed LaTeX"]
    if cell == "rnn":
        monkeypatch.setattr(shown, "identity_route", lambda rnn, route: route.kind == "D")
        tanh = _first_trial("rnn", "tanh")
        check._clear_caches()
        planted = check.printed_forms(tanh, check.Exact(tanh), {})
        check._clear_caches()
        assert max(planted["printed text"]) > 1e3 * check.TOLERANCE["printed text"]


@pytest.mark.parametrize("update,params,words", [
    ("tanh(w*h + x)", ["w"], "the path back goes through w, a number, not a weight matrix"),
    ("exp(-exp(v))*h + x", ["v"], "the path back goes through v, a number, not a weight matrix"),
    ("tanh(h + u*x + b)", ["u", "b"], "no path back goes through a weight"),
    ("(1 - f)*h + f*n", ["wf", "uf", "wn", "bn"], "the path back goes through wf and wn, numbers, not a weight"),
])
def test_a_scalar_cell_s_note_names_the_numbers_its_path_back_goes_through(tmp_path, update, params, words):
    """Read off the cell's equations: a parameter in a product with the old state (or a value made from it)
    is on the path back; one that multiplies only the input or shifts a value is not.  The MGU's note said
    "no path back goes through a weight" above F_t = 1 + f(w_f·w_n…) + w_f…"""
    from symbptt.render import render_text

    cell = tmp_path / "c.toml"
    nodes = '[intermediates]\nf = "sigmoid(wf*h + uf*x)"\nn = "tanh(wn*(f*h) + bn)"\n' if "f" in update else ""
    cell.write_text(f'name = "c"\nstates = ["h"]\nparams = {params!r}\n'.replace("'", '"') + nodes
                    + f'[update]\nh = "{update}"\n')
    text = " ".join(render_text(derive(RNN(T=2, cell=str(cell)), "factors"), width=1000).split())
    assert words in text, text[-300:]


def _nodes(expr: sp.Basic) -> list[tuple[str, object]]:
    """Every node of a tree in order, with the commutativity SymPy records for it."""
    return [(sp.srepr(node), node.is_commutative) for node in sp.preorder_traversal(expr)]


@given(st.lists(st.sampled_from(["x", "y", "A", "2", "-1"]), min_size=3, max_size=3))
def test_a_template_rebuilt_from_new_values_is_what_swap_builds(picks):
    """templates.swap_builder skips SymPy's commutativity bookkeeping when the new values are commutative
    as the symbols they replace: each rebuilt node must then record what rebuilding it in full records,
    and a non-commutative value (A) must take the full way."""
    a, b, c = sp.symbols("a b c", real=True)
    template = a * sp.tanh(b + 2 * c) ** 2 + (a - c) / (1 + b ** 2)
    made = {"x": sp.Symbol("x", real=True), "y": sp.Symbol("y"), "A": sp.Symbol("A", commutative=False),
            "2": sp.Integer(2), "-1": sp.Integer(-1)}
    values = tuple(made[p] for p in picks)
    built = swap_builder(template, (a, b, c))(values)
    assert _nodes(built) == _nodes(swap(template, dict(zip((a, b, c), values, strict=True))))


def test_fewer_full_collections_only_while_a_form_is_built():
    """collector.while_built: full collections wait for FULL_EVERY middle ones while any form generator
    runs — two at once, one dropped half-way — and the thresholds come back as they were; a threshold
    someone else set meanwhile is left alone."""
    import gc

    from symbptt.collector import FULL_EVERY

    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        first = derive(RNN(T=4), "recursive", "W").stream()
        second = derive(RNN(T=3), "explicit", "W").stream()
        next(first)
        assert gc.get_threshold() == (700, 10, FULL_EVERY)
        next(second)
        list(first)
        assert gc.get_threshold() == (700, 10, FULL_EVERY)  # the second still runs
        del second  # dropped half-way: closed, so it lets go
        assert gc.get_threshold() == (700, 10, 10)
        third = derive(RNN(T=3), "recursive", "W").stream()
        next(third)
        gc.set_threshold(500, 5, 5)  # the caller's own choice while it runs
        list(third)
        assert gc.get_threshold() == (500, 5, 5)
        built = derive(RNN(T=3), "recursive", "W")
        built.equations  # noqa: B018  (built and kept: printing it streams the kept list)
        printing = built.stream()
        next(printing)
        assert gc.get_threshold() == (500, 5, FULL_EVERY)
        printing.close()
        assert gc.get_threshold() == (500, 5, 5)
    finally:
        gc.set_threshold(*before)


@pytest.mark.parametrize("model", [{}, {"activation": "sigmoid", "loss": "sum"}, {"layers": 2}])
@pytest.mark.parametrize("form", ["recursive", "explicit"])
def test_a_factor_of_a_step_is_one_object_in_every_term(model, form):
    """Each parameter's sum builds its own terms, yet a step's factor (1 − h_t², and the one inside
    w(1 − h_t²)) is one object wherever it stands: the printers find a factor's template by the object,
    and an equal copy would pay SymPy's structural comparison at every lookup of a long form."""
    from symbptt.symbolic.derivation import LazySum
    from symbptt.symbolic.shown import template_of

    derivation = derive(RNN(T=6, **model), form, "all")
    seen: dict[sp.Basic, sp.Basic] = {}
    copies = []

    def walk(expr: sp.Basic) -> None:
        if template_of(expr) is not None:
            first = seen.setdefault(expr, expr)
            if first is not expr:
                copies.append(expr)
        for arg in expr.args:
            walk(arg)

    for eq in derivation.stream():
        walk(eq.rhs.materialize() if isinstance(eq.rhs, LazySum) else eq.rhs)
    assert seen, "no factor made from a template: the check would pass on nothing"
    assert not copies, f"{len(copies)} equal copies of step factors, e.g. {copies[0]}"
