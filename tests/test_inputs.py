"""What users type: custom activations through the whitelist, cell files, and the activation table."""

from __future__ import annotations

import json
import math
import re
import time

import mpmath
import numpy as np
import pytest
import sympy as sp
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from symbptt import SymbpttError
from symbptt.activations import get_activation
from symbptt.cells.userfile import build_cell, load_cell_file
from symbptt.safeexpr import parse_activation

REFUSED = [
    ("abs(a, a)", "takes 1 argument"), ("exp(a, a)", "takes 1 argument"), ("tanh(a, 1)", "takes 1 argument"),
    ("erf(a, 2)", "takes 1 argument"), ("sinh(a, 1)", "takes 1 argument"), ("max(a)", "takes 2 to 4"),
    ("a**sqrt(-1)", "undefined"), ("a**log(0)", "undefined"), ("a**(1/0)", "divides by zero"),
    ("a*(1/0)", "divides by zero"), ("a/0", "division by zero"), ("a + log(-1)", "undefined"),
    ("((9**64)**64)**64*a", "overflows"), ("(((((9**64)**64)**64)**64)**64)*a", "overflows"),
    ("max(a**1, a**2, a**3, a**4, a**5, a**6, a**7, a**8, a**9, a**10, a**11)", "takes 2 to 4"),
    ("erf(" * 15 + "a" + ")" * 15, "nested more than"), ("a  # comment", "comments"),
    ("a**64.000001", "exponent"), ("a**a", "positive constant base"), ("2", "does not depend"),
    ("a.__class__", "Attribute"), ("open(a)", "not allowed"), ("__import__('os')", "not allowed"),
    ("lambda: a", "Lambda"), ("a if a else a", "IfExp"), ("[a]", "List"), ("a; a", "not a valid"),
    ("True*a", "not a real number"), ("1j*a", "not a real number"), ("x", "unknown activation"),
    ("x*a", "name 'x' is not allowed"),
    ("log(a)", "not real and finite"), ("1/a", "not real and finite"), ("sqrt(a)", "not real and finite"),
    # float64 cannot evaluate these, and the message says why, from the same function at 30 digits (it
    # said "not real and finite" of them all; found by benchmarks/activation_fuzz.py)
    ("exp(exp(a))", r"^custom activation 'exp\(exp\(a\)\)' is about 10\^308.3 at a = 6.565, beyond float64's range$"),
    ("cosh(sinh(a/4)/4)", r"is about 10\^14567 at a = -50, beyond"),
    ("sigmoid(log(1 + exp(a*a)))", r"^the slope of .* at a = -50: a value on the way there is beyond float64's range"),
    ("abs(a)**0.5", r"^the slope of custom activation 'abs\(a\)\*\*0.5' is not real and finite at a = 0$"),
    # a max or min whose arguments agree on a whole interval: its slope there took neither branch (0 where
    # max(a, |a|) rises; found by benchmarks/activation_fuzz.py)
    ("max(a, abs(a)) + 2.0", r"the arguments a and Abs\(a\) of its max are equal, to 30 digits, on a whole interval"),
    ("min(a, abs(a))", r"the arguments a and Abs\(a\) of its min are equal"),
    ("", "empty"), ("a+" * 300 + "a", "longer than"),
]


@pytest.mark.parametrize("text,message", REFUSED)
def test_refused_expressions_are_one_line_errors_in_well_under_a_second(text, message):
    start = time.process_time()  # this process's CPU time: not what other processes on the machine take
    with pytest.raises(SymbpttError, match=message) as info:
        get_activation(text)
    assert time.process_time() - start < 2.0
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_a_huge_expression_is_not_echoed_whole():
    with pytest.raises(SymbpttError) as info:
        get_activation("a+" * 500_000 + "a")
    assert len(str(info.value)) < 200


@pytest.mark.parametrize("text", ["a*1e-300", "a**64", "atan(1000000*(a-0.00025))", "min(a, 1) + max(a, -1, 0)",
                                  "tanh(a)*sigmoid(a)", "a + pi*E"])
def test_accepted_expressions(text):
    assert get_activation(text).gamma > 0


def test_arguments_float64_rounds_to_one_number_are_not_taken_for_equal():
    """tanh(a) and σ(a) round to one float64 from a ≈ 37 on; at 30 digits they differ, so the check for a
    max whose arguments agree on an interval passes them, and still refuses max(a, |a|)."""
    from symbptt import activations

    sigma = parse_activation("max(tanh(a), sigmoid(a))")
    activations._require_distinct_branches("max(tanh(a), sigmoid(a))", sigma)
    with pytest.raises(SymbpttError, match="equal, to 30 digits"):
        activations._require_distinct_branches("max(a, abs(a))", parse_activation("max(a, abs(a))"))


def test_float_constants_are_kept_exactly():
    expr = parse_activation("a*0.1 + a**2.5")
    assert sp.Rational(1, 10) in expr.atoms(sp.Rational)
    assert sp.Rational(5, 2) in expr.atoms(sp.Rational)


@pytest.mark.parametrize("text,shown", [
    ("a/(1+abs(a))", "(Abs(a) + 1)**(-2)"),
    # the step of |sin(a)| switches where sin(a) = 0, without end: SymPy cannot solve that condition for a,
    # which raised NotImplementedError from get_activation (found by benchmarks/activation_fuzz.py)
    ("sin(a)/(1 + abs(sin(a)))", "cos(a)/(Abs(sin(a)) + 1)**2"),
    ("log(1+exp(a))", "exp(a)/(exp(a) + 1)"),
    ("max(a, 0.1*a)", "Piecewise((1/10, a <= 0), (1, True))"),  # the derivative from the left at the kink
    ("max(a, 0)", "H(a)"),
])
def test_custom_derivatives_are_printed_as_a_person_would_write_them(text, shown):
    assert sp.sstr(get_activation(text).dsigma_plain) == shown


def test_the_piecewise_route_is_taken_only_where_every_steps_argument_is_a_polynomial(monkeypatch):
    """simplify_derivative's piecewise route solves each step's condition for a.  Where a step's argument
    is not a polynomial in a (sign(sin(|a|)) in the slope of erf(|sin(|a|)|), found by
    benchmarks/activation_fuzz.py), SymPy spent 13.6 s there and found nothing shorter: the route is not
    taken, and the slope printed is still the slope (mpmath's numerical derivative, away from the kinks).
    A step of a polynomial (leaky relu's) still takes it."""
    from symbptt import activations
    from symbptt import primitives as P

    seen: list[sp.Expr] = []
    real = sp.piecewise_fold
    monkeypatch.setattr(sp, "piecewise_fold", lambda e, *args, **kwargs: seen.append(e) or real(e, *args, **kwargs))
    for text, taken in (("erf(abs(sin(abs(a))))", False), ("max(a, 0.1*a)", True)):
        seen.clear()
        shown = activations.simplify_derivative(P.plain(sp.diff(parse_activation(text), activations.A)))
        assert bool(seen) == taken, text
        slope = sp.lambdify(activations.A, P.plain(shown), [P.mpmath_module(P.plain(shown)), "mpmath"])
        value = sp.lambdify(activations.A, parse_activation(text), [P.mpmath_module(parse_activation(text)), "mpmath"])
        for a in (-2.3, -0.7, 0.4, 1.9, 4.0):
            assert abs(slope(mpmath.mpf(a)) - mpmath.diff(value, mpmath.mpf(a))) < 1e-12, (text, a)


def test_one_kink_convention_for_every_activation():
    """σ'(0) = 0 for the built-in relu and for max(a, 0) alike (H(0) = 0)."""
    assert get_activation("relu").np_dsigma(np.array([0.0]))[0] == 0.0
    assert get_activation("max(a, 0)").np_dsigma(np.array([0.0]))[0] == 0.0
    assert get_activation("max(a, 0)").np_dsigma(np.array([1e-300]))[0] == 1.0


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "erf(a)", "a/(1+abs(a))"])
def test_sigma_prime_from_a_keeps_its_digits_where_one_minus_h_squared_cannot(name):
    act = get_activation(name)
    with mpmath.workdps(60):
        exact_fn = {"tanh": lambda a: mpmath.sech(a) ** 2,
                    "sigmoid": lambda a: mpmath.exp(-a) / (1 + mpmath.exp(-a)) ** 2,
                    "erf(a)": lambda a: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-a * a),
                    "a/(1+abs(a))": lambda a: 1 / (1 + abs(a)) ** 2}[name]
        for a in (0.5, 19.0, 25.0, 300.0, 1e8):
            want = exact_fn(mpmath.mpf(a))
            if want < 1e-300:
                logs = act.np_log10_dsigma(np.array([a]))[0]
                assert abs(logs - float(mpmath.log10(want))) < 1e-13 * abs(float(mpmath.log10(want)))
                continue
            got = act.np_dsigma(np.array([a]))[0]
            assert abs(got - float(want)) <= 1e-13 * float(want), (name, a)


def test_builtin_gammas():
    assert [get_activation(n).gamma for n in ("tanh", "sigmoid", "relu", "linear")] == [1.0, 0.25, 1.0, 1.0]
    assert get_activation("erf(a)").gamma == pytest.approx(2 / math.sqrt(math.pi))
    assert get_activation("erf(a)").gamma_exact


# ---------------------------------------------------------------- cell files

MGU = {"name": "mgu", "states": ["h"], "params": ["w_f", "u_f", "b_f", "w_n", "u_n", "b_n"],
       "intermediates": {"f": "sigmoid(w_f*h + u_f*x + b_f)", "n": "tanh(w_n*(f*h) + u_n*x + b_n)"},
       "update": {"h": "(1 - f)*h + f*n"}}


def test_the_shipped_example_cell_loads_and_differentiates():
    from symbptt import RNN
    from symbptt.forms import derive

    cell = load_cell_file("docs/cells/mgu.toml")
    assert cell.states == ("h",) and cell.scalar_params == tuple(MGU["params"])
    assert derive(RNN(T=3, cell="docs/cells/mgu.toml"), "recursive", "all").equations


def test_user_cell_gradient_equals_finite_differences():
    from symbptt.config import parse_config
    from symbptt.numeric.factors import gradients

    rng = np.random.default_rng(3)
    data = {"cell": "docs/cells/mgu.toml", "x": rng.uniform(-1, 1, 5).tolist(), "y": 0.2, "loss": "last", "h0": 0.1}
    data |= {p: float(rng.normal(0, 0.8)) for p in MGU["params"]}
    cfg = parse_config(data)
    loss, grads = gradients(cfg)
    eps = 1e-6
    for p in [*MGU["params"], "h0"]:
        plus, minus = dict(data), dict(data)
        plus[p] += eps
        minus[p] -= eps
        fd = (gradients(parse_config(plus))[0] - gradients(parse_config(minus))[0]) / (2 * eps)
        assert abs(float(np.ravel(grads[0][p])[0]) - fd) < 1e-7 * max(1.0, abs(fd))


@pytest.mark.parametrize("change,message", [
    ({"states": []}, "non-empty list"),
    ({"states": ["c"]}, "must include h"),
    ({"params": ["w_f", "w_f"]}, "twice"),
    ({"intermediates": {"f": "sigmoid(q*h)", "n": "tanh(x)"}}, "name 'q' is not allowed"),
    ({"intermediates": {"f": "n*h", "n": "f*x"}}, "cyclic"),
    ({"update": {}}, "no expression for state 'h'"),
    ({"update": {"h": "f", "c": "h"}}, "not a state"),
    ({"intermediates": {"f": "__import__('os')"}}, "not allowed"),
    ({"extra": 1}, "unknown key"),
    ({"params": ["w_f", "u_f", "b_f", "w_n", "u_n", "b_n", "v"]}, "not used"),
    ({"intermediates": {"h": "x"}}, "defined twice"),
    ({"intermediates": {**MGU["intermediates"], "g": "tanh(x)"}}, "'g' is not read by any"),
    ({"params": ["x"]}, "reserved"),
    ({"title": "mgu \U0001F600"}, "Latin-1"), ({"name": "\uff21\uff22"}, "Latin-1"),
])
def test_bad_cell_files_are_refused_naming_the_problem(change, message):
    with pytest.raises(SymbpttError, match=message):
        build_cell(MGU | change, "cell.toml")


def test_a_cell_file_that_is_not_toml_or_defines_a_name_twice(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("states = [h")
    with pytest.raises(SymbpttError, match="not valid TOML"):
        load_cell_file(bad)
    twice = tmp_path / "twice.toml"
    twice.write_text('states = ["h"]\nparams = ["w"]\n[update]\nh = "w*h"\nh = "x"\n')
    with pytest.raises(SymbpttError, match="defined twice"):
        load_cell_file(twice)
    with pytest.raises(SymbpttError, match="cannot read"):
        load_cell_file(tmp_path / "missing.toml")


@pytest.mark.parametrize("kind,name", [
    ("params", "h_1"), ("params", "E1"), ("params", "x_1"), ("params", "a_1"), ("params", "c_1"),
    ("params", "f_1"), ("params", "W_1"), ("params", "D_1"), ("params", "J_1"), ("params", "y_1"),
    ("params", "L_1"), ("params", "T_1"), ("params", "w_1"), ("params", "delta_1"), ("params", "sigma_1"),
    ("params", "h_T"), ("params", "W"), ("params", "S"), ("states", "x1"), ("states", "q_1"),
    ("states", "s_t"), ("states", "y"), ("states", "w"), ("intermediates", "a_t"), ("intermediates", "f_1"),
    ("intermediates", "delta"), ("intermediates", "b"),
])
def test_names_that_look_like_the_notation_are_refused_when_the_file_is_read(kind, name):
    """Each of these used to pass the name check and crash derive/latex/grad with a traceback."""
    if kind == "params":
        data = {"states": ["h"], "params": [name, "v"], "update": {"h": f"tanh({name}*h + v*x)"}}
    elif kind == "states":
        data = {"states": ["h", name], "params": ["v"], "update": {"h": f"tanh(v*h + {name})", name: "x"}}
    else:
        data = {"states": ["h"], "params": ["v"], "intermediates": {name: "v*h + x"}, "update": {"h": f"tanh({name})"}}
    with pytest.raises(SymbpttError, match=r"not an allowed|reserved"):
        build_cell(data, "cell.toml")


@pytest.mark.parametrize("data,message", [
    ({"states": ["h"], "params": ["w_f", "wf"], "update": {"h": "tanh(w_f*h + wf*x)"}}, "print alike"),
    ({"states": ["h", "q"], "params": ["q_f"], "update": {"h": "tanh(q_f*h + q)", "q": "x"}}, "base of parameter"),
])
def test_names_that_would_print_alike_are_refused(data, message):
    with pytest.raises(SymbpttError, match=message):
        build_cell(data, "cell.toml")


@pytest.mark.parametrize("names", [("v", "q", "m"), ("lam_x", "p", "pre"), ("mu", "d", "gate")])
def test_any_accepted_names_work_end_to_end(tmp_path, names):
    """Names the checker accepts derive, print (text and LaTeX, both forms) and give gradients."""
    from click.testing import CliRunner

    from symbptt.cli import main

    param, state, inter = names
    cell = tmp_path / "c.toml"
    cell.write_text(f'states = ["h", "{state}"]\nparams = ["{param}", "v_x2"]\n[intermediates]\n'
                    f'{inter} = "{param}*h + v_x2*x + {state}"\n[update]\nh = "tanh({inter})"\n'
                    f'{state} = "0.5*{state} + h"\n')
    values = tmp_path / "p.json"
    values.write_text(json.dumps({"cell": str(cell), param: 0.7, "v_x2": 0.4, "h0": 0.1, f"{state}0": 0.2,
                                  "x": [0.5, -0.2, 0.3], "y": 0.1}))
    for args in (["derive", "-T", "2", "--cell", str(cell)],
                 ["derive", "-T", "2", "--form", "general", "--format", "latex", "--cell", str(cell)],
                 ["derive", "-T", "2", "--layers", "2", "--form", "recursive", "--cell", str(cell)],
                 ["sweep", "-T", "3", "--points", "3", "--cell", str(cell), "--param", param],
                 ["grad", "--params", str(values)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (args, result.output, result.exception)


@pytest.mark.parametrize("step,h0,message", [
    ("sqrt(w*h + x)", 0.0, r"the step h = sqrt\(h\*w \+ x\) has no finite real value at h_\(t-1\) = 0\.0, x = -1\.0"),
    ("log(w*h + x)", 0.0, r"log\(h\*w \+ x\) has no finite real value"),
    ("w/h", 0.0, r"the step h = w/h has no finite real value at h_\(t-1\) = 0\.0, w = 0\.5"),
])
def test_a_cell_step_undefined_on_the_data_is_refused_naming_the_step_and_values(tmp_path, step, h0, message):
    from click.testing import CliRunner

    from symbptt.cli import main

    cell = tmp_path / "d.toml"
    cell.write_text(f'states = ["h"]\nparams = ["w"]\n[update]\nh = "{step}"\n')
    values = tmp_path / "d.json"
    values.write_text(json.dumps({"cell": str(cell), "w": 0.5, "h0": h0, "x": [-1, 0.5, -2], "y": 0.1}))
    for args in (["grad", "--params", str(values)],
                 ["sweep", "--cell", str(cell), "-T", "3", "--points", "3", "--param", "w"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and not isinstance(result.exception, (TypeError, ZeroDivisionError)), args
        assert result.output.count("\n") == 1 and "has no finite real value" in result.output, result.output
    result = CliRunner().invoke(main, ["grad", "--params", str(values)])
    assert re.search(message, result.output), result.output


def test_a_cell_whose_update_never_reads_a_state_is_refused_when_read():
    with pytest.raises(SymbpttError, match="reads a previous state"):
        build_cell({"states": ["h"], "params": ["w"], "update": {"h": "w*x"}}, "cell.toml")
    # through an intermediate counts as reading it
    build_cell({"states": ["h"], "params": ["w"], "intermediates": {"q": "w*h", "p": "q + x"},
                "update": {"h": "tanh(p)"}}, "cell.toml")


@pytest.mark.parametrize("args", [["sweep", "--cell", "lstm", "-T", "5"],
                                  ["sweep", "--cell", "gru", "-T", "4", "-u", "-1"]])
def test_negative_gains_on_gated_cells_flip_the_weights(args):
    """The default grid (−3..3) puts negative gains on gated cells; −g draws −1 times the +g weights."""
    from click.testing import CliRunner

    from symbptt.cli import main

    result = CliRunner().invoke(main, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    from symbptt.numeric.examples import example_config

    plus, minus = example_config("lstm", 3, 2, gain=1.5), example_config("lstm", 3, 2, gain=-1.5)
    assert np.array_equal(minus.layers[0]["W_f"], -plus.layers[0]["W_f"])


@pytest.mark.timeout(60)  # the hang it guards against: a per-test limit, not a timing
def test_an_activation_that_nests_exponentials_is_analysed_in_seconds_not_for_ever():
    """tanh(sinh(a)): the probes out to |a| = 10^12 asked mpmath for exp(−2·sinh(10^12)), whose reduction by
    ln 2 needs ~10^12 bits and never finished.  Arguments beyond 2^MAX_MAG are now refused (BeyondReach)
    before mpmath starts, and the analysis skips those probes: σ', γ and the words about γ come out."""
    from symbptt import primitives as P
    from symbptt.activations import A
    from symbptt.gamma import _tail_values

    act = get_activation("tanh(sinh(a))")
    assert P.plain(act.dsigma) == sp.cosh(A) / sp.cosh(sp.sinh(A)) ** 2
    tails = _tail_values(act.mp_dsigma)  # γ's look at the tails (out to 10^12) stops where mpmath cannot reach
    assert tails is not None and all(0 <= v < 1e-100 for v in tails)  # it decays: not "unbounded"
    huge = mpmath.mpf(2) ** (P.MAX_MAG + 1)
    for f in (act.mp_dsigma, P.mp_tanh, P.mp_sigmoid, P.mpmath_module(act.dsigma)["exp"]):
        with pytest.raises(P.BeyondReach, match="shrink the weights"):
            f(huge)
    assert P.mpmath_module(act.dsigma)["exp"](-mpmath.mpf(2) ** (P.MAX_MAG - 1)) > 0  # below the limit: computed


@given(bits=st.integers(601, 6000), mag=st.integers(65, 3000), top=st.integers(1, 200),
       seed=st.integers(0, 2**32 - 1), negative=st.booleans())
@settings(max_examples=examples(60), deadline=None)
def test_an_exponential_of_a_large_integer_is_reduced_by_ln2(bits, mag, top, seed, negative):
    """exp_parts of an integer of `mag` bits at more than 600 bits of precision (every number past 2^prec
    is one), where mpmath's mpf_exp raises e to that power (a minute at 2^30000), within one rounding of
    Arb's exp of the same integer at prec + mag + 64 bits; and below the line it is mpf_exp itself."""
    from flint import arb, ctx, fmpz
    from mpmath.libmp import from_man_exp, mpf_exp

    from symbptt import primitives as P

    rng = np.random.default_rng(seed)
    man = int(rng.integers(1, 2**62)) >> max(0, 62 - min(top, mag)) | 1
    x = from_man_exp(-man if negative else man, mag - man.bit_length())
    got = P.exp_parts(x, bits)
    old = ctx.prec
    try:
        ctx.prec = bits + mag + 64
        exact = (arb(fmpz(-man if negative else man)) * arb(2) ** (mag - man.bit_length())).exp()
        value = arb(fmpz(-got[1] if got[0] else got[1])) * arb(2) ** got[2]
        assert abs((value - exact) / exact) <= arb(2) ** -bits  # half a unit of a prec-bit mantissa at most
    finally:
        ctx.prec = old
    small = from_man_exp(-man if negative else man, min(P.POWER_MAG, mag) - man.bit_length())
    if small[2] + small[3] <= P.POWER_MAG:
        assert P.exp_parts(small, bits) == mpf_exp(small, bits, "n")


def test_no_exponential_takes_mpmaths_integer_powers(monkeypatch):
    """tanh, σ, σ', sech², exp, sinh and cosh of −(2^2000 + 1) at 300 digits, which mpmath computed as
    e^2000-bit-power by squarings (libelefun's mpf_pow_int, planted here to raise), reduce by ln 2
    instead; cosh and sinh are ±e^|x|/2."""
    from mpmath.libmp import libelefun

    from symbptt import primitives as P

    def powers(*args):
        raise AssertionError("mpf_exp took the integer power of e")

    monkeypatch.setattr(libelefun, "mpf_pow_int", powers)
    table = P.mpmath_module()
    with mpmath.workdps(300):
        x = -(mpmath.mpf(2) ** 2000 + 1)
        with pytest.raises(AssertionError):
            mpmath.exp(x)  # the plant is where mpmath looks
        P.forget_mp_values()
        assert P.mp_tanh(x) == -1 and P.mp_sigmoid(x) > 0 and P.mp_dsigmoid(x) > 0 and P.mp_dtanh(x) > 0
        e = table["exp"](-x)
        assert table["cosh"](x) == e / 2 and table["sinh"](x) == -e / 2 and table["sinh"](-x) == e / 2
        assert table["exp"](x) * e == 1 or abs(table["exp"](x) * e - 1) < mpmath.mpf(10) ** -295


def test_the_reach_guard_reads_mpmaths_magnitude_from_the_parts():
    """reachable() reads |x| < 2^(exponent + bits) from the mpf's own parts: it refuses exactly the
    numbers whose mpmath.mag is beyond MAX_MAG, on both sides of the line and for 0, ±inf and NaN, and a
    tanh and its slope from the kept exponentials are those of |x| (the sign cleared in the key)."""
    from symbptt import primitives as P

    rng = np.random.default_rng(5)
    numbers = [mpmath.mpf(0), mpmath.inf, -mpmath.inf, mpmath.nan]
    for shift in range(-3, 4):
        top = mpmath.mpf(2) ** (P.MAX_MAG + shift)
        numbers += [top, -top, top * (1 - mpmath.mpf(2) ** -80), top * mpmath.mpf(rng.uniform(0.5, 1))]
    for x in numbers:
        beyond = bool(mpmath.isfinite(x) and x != 0 and mpmath.mag(x) > P.MAX_MAG)
        try:
            P.reachable(x)
            refused = False
        except P.BeyondReach:
            refused = True
        assert refused == beyond, mpmath.nstr(x, 8)
    with mpmath.workdps(40):
        for v in rng.normal(0, 3, 50):
            x = mpmath.mpf(v)
            assert P.mp_tanh(-x) == -P.mp_tanh(x) and P.mp_dtanh(-x) == P.mp_dtanh(x)
            assert abs(P.mp_tanh(x) - mpmath.tanh(x)) <= mpmath.mpf(10) ** -39 * abs(mpmath.tanh(x))
            assert abs(P.mp_dtanh(x) - mpmath.sech(x) ** 2) <= mpmath.mpf(10) ** -39 * mpmath.sech(x) ** 2


@settings(max_examples=examples(300), deadline=None)
@given(st.integers(1, 1 << 500), st.integers(1, 600), st.sampled_from([53, 113, 200, 430]))
def test_tanh_from_its_exponential_is_one_correctly_rounded_quotient(man, spare, prec):
    """primitives._tanh_of: |m|/(2 − |m|) for any m in [−1, 0) equals mpmath's correctly rounded quotient
    of the exact operands, bit for bit (a quotient cut short, planted, differs)."""
    from mpmath.libmp import from_man_exp, mpf_div, mpf_sub

    from symbptt import primitives as P

    exp = -(man.bit_length() + spare - 1)  # |m| = man·2^exp ≤ 1
    m = from_man_exp(-man, exp)
    absolute = from_man_exp(man, exp)
    den = mpf_sub(from_man_exp(2, 0), absolute, 0, "n")  # prec 0: exact
    want = mpf_div(absolute, den, prec, "n")
    assert P._tanh_of(m, prec) == want


@pytest.mark.parametrize("w,code,words", [
    (50, 0, None),
    (3000, 1, "the log10 of a Jacobian norm or step factor is beyond float64's range"),
    (1e5, 1, "beyond the 10^9,864 it can reduce"),
])
def test_grad_with_a_nested_activation_says_what_it_could_not_hold(tmp_path, w, code, words):
    """At w = 3000 the factor w·σ'(a) of tanh(exp(a)) (as of tanh(sinh(a))) is about 10^(−10^1300): its
    log10 is beyond float64's range; the summary said "vanishing: exactly 0 (a factor is zero)" — no
    factor is zero.  At w = 10^5 the exact step needs exp of a number of ~43000 digits: it said "the cell
    is not defined on these data"; the step is defined.  At w = 50 the log10 is about −1e22, and the
    summary printed 23 digits of a float64 that holds 16."""
    from conftest import run_in_process

    values = tmp_path / "p.json"
    values.write_text(json.dumps({"activation": "tanh(exp(a))", "W": w, "U": 1, "b": 0, "h0": 0.5,
                                  "x": [1, 0.5, -0.2], "y": 0.3}))
    ran = run_in_process("grad", "--params", str(values))
    assert ran.returncode == code, (ran.stdout, ran.stderr)
    if words is not None:
        assert words in ran.stderr and ran.stderr.count("\n") == 1 and "not defined" not in ran.stderr, ran.stderr
        return
    report = json.loads(ran.stdout)
    log10 = report["log10_jacobian_norms"][0]["log10"]
    shown = re.search(r"10\^\((-[0-9.]+e[0-9]+)\) over T = 3", report["summary"])
    assert shown, report["summary"]
    assert float(shown.group(1)) == pytest.approx(log10, rel=1e-14) and len(shown.group(1).split("e")[0]) <= 17
    assert "exactly 0" not in report["summary"]


def test_the_mean_field_of_a_custom_activation_float64_cannot_evaluate_far_out():
    """tanh(sinh(a)) at σ_w = 1000: float64's σ' = cosh(a)/cosh(sinh(a))² is ∞/∞ = NaN beyond |a| ≈ 710,
    which the quadrature reached (a traceback: "cannot convert float NaN to integer").  Those points are
    now recomputed with mpmath (about e^−e^|a|, 0 in float64); χ against an mpmath quadrature."""
    from symbptt.numeric.theory import theory

    found = theory("tanh(sinh(a))", sigma_w=1000.0, edge=False)
    assert found.q_star is not None and found.chi is not None
    with mpmath.workdps(20):
        root = mpmath.sqrt(found.q_star)
        slope = lambda a: mpmath.cosh(a) / mpmath.cosh(mpmath.sinh(a)) ** 2  # noqa: E731
        mean = mpmath.quad(lambda z: slope(root * z) ** 2 * mpmath.npdf(z), [-1, -0.01, -0.003, 0, 0.003, 0.01, 1])
    assert found.chi == pytest.approx(float(1e6 * mean), rel=1e-10)
    shown = float(found.text().split("χ  = ")[1].split()[0])  # to the digits its band holds
    held = found.held()["chi"]
    assert held >= 10 and shown == pytest.approx(float(1e6 * mean), rel=10.0 ** (1 - held))


def test_whether_sympy_searches_is_decided_by_the_size_of_sigma_prime_not_by_the_clock(monkeypatch):
    """The derivative of max(a, a², a³) held SymPy's simplify 30 s, and a 2 s limit cut it where the
    machine happened to be slow — so the σ' printed, and whether γ was "exact", depended on the machine.
    Now the size of σ' decides (SYMPY_MAX_OPS) and the clock is only a net well above what a σ' within
    the size takes: above the size no SymPy search starts (the limit is never armed)."""
    import contextlib

    from symbptt import activations as acts
    from symbptt import gamma
    from symbptt import primitives as P

    big = P.plain(sp.diff(parse_activation("max(a, a**2, a**3)"), acts.A))
    assert sp.count_ops(big) > acts.SYMPY_MAX_OPS

    @contextlib.contextmanager
    def never(seconds):
        raise AssertionError("a SymPy search was started for a σ' above the size")
        yield  # pragma: no cover

    monkeypatch.setattr(acts, "time_limit", never)
    monkeypatch.setattr(gamma, "time_limit", never)
    as_derived = acts.left_kinks(big).replace(lambda e: isinstance(e, sp.Heaviside), lambda e: P.H(e.args[0]))
    assert acts.simplify_derivative(big) == as_derived
    assert gamma._limits_at_infinity(big) is None  # no proof: γ is estimated, and says so


def test_a_sigma_prime_beyond_float64s_logs_is_never_called_zero_in_sweeps_and_figures():
    """σ' of tanh(sinh(a)) at a = 800 is about 10^(−10^347): not 0, and its log10 is beyond float64.  The
    log was −∞, so the sweeps added it up as an exact 0, `plot regimes` labelled those cells "exactly 0: a
    unit is off (σ' = 0)", and the gradient sweep turned its binary exponent (−1.5e174 at a ≈ 400) into an
    int64 that wrapped: log10|∂L/∂w| = +2.78e18 at T = 2.  Now: NaN ("beyond what it holds") in every one,
    −∞ only for an exact 0, and the figure's words say so."""
    from symbptt import plots as plot
    from symbptt.numeric.sweeps import sweep_grad, sweep_scalar

    act = get_activation("tanh(sinh(a))")
    logs = act.np_log10_dsigma(np.array([0.0, 30.0, 800.0]))
    assert logs[0] == 0.0 and -1e13 < logs[1] < -1e12 and np.isnan(logs[2])
    assert get_activation("max(a, 0)").np_log10_dsigma(np.array([-1.0]))[0] == -np.inf  # an exact 0 stays −∞
    weights = np.array([1.0, 1000.67, 3000.0])
    grad = sweep_grad(weights, 5, "tanh(sinh(a))")
    jac = sweep_scalar(weights, 5, "tanh(sinh(a))")
    for values in (grad, jac):
        held = values[np.isfinite(values)]
        assert np.all(held < 400), values  # no wrapped exponent posing as a huge gradient
        assert np.isnan(values[2:, 1:]).all() and not np.isneginf(values[1:, 1:]).any(), values
    # the figure's grey cells: an unbounded σ = sinh drives the state past float64 (NaN) — not "exactly 0"
    figure, data = plot.regimes("sinh(a)", 1.0, 3000.0, points=7, T_max=5, beside="none")
    assert np.isnan(data.values["values"]).any()
    assert "beyond what float64 holds" in " ".join(t.get_text() for t in figure.texts)
    assert not any("exactly 0" in text for _, text in data.values["labels"])
    figure, data = plot.regimes("sinh(a)", 0.1, 0.5, points=7, T_max=5, beside="none")  # every value held
    assert "beyond what float64 holds" not in " ".join(t.get_text() for t in figure.texts)


def test_where_the_branches_of_a_min_tie_its_slope_is_one_branch_s():
    """min(a, log(1 + eᵃ)) is a for every a: its branches differ by log(1 + e^−a), which float64 loses from
    a ≈ 37 and 30 digits from a ≈ 70.  There both of σ''s steps were 0 at the tie, so σ' = 0 where it is 1,
    and a unit driven past it had ∂L/∂h_0 = 0 in an exact report (benchmarks/activation_fuzz.py, seed 21:
    0 where it is 1.1·10^47).  The pair of steps is now one: at a tie σ' is the first branch's slope."""
    from conftest import benchmark_script

    import symbptt

    act = get_activation("min(a, log(1 + exp(a)))")
    assert list(act.np_dsigma(np.array([40.0, 0.5, -3.0]))) == pytest.approx([1.0, 1.0, 1.0], rel=1e-15)
    with mpmath.workdps(30):
        assert act.mp_dsigma(mpmath.mpf(100)) == 1  # a tie to 30 digits: 1, not 0
    fuzz = benchmark_script("activation_fuzz")
    tree = fuzz.Tree(act.name, lambda a: a, lambda a: mpmath.mpf(1))  # σ(a) = a: its reference
    x = [float(v) for v in np.random.default_rng(3).uniform(0, 1, 40)]
    want = fuzz.settled(tree, 2.0, 1.0, 0.1, 0.3, x)  # the state doubles each step: a reaches 10^12
    params = {"W": np.array([[2.0]]), "U": np.array([[1.0]]), "b": np.array([0.1]), "h0": np.array([0.3])}
    got = symbptt.gradients(params, np.array(x).reshape(-1, 1, 1), np.zeros((1, 1)), activation=act.name)
    for name in ("W", "U", "b", "h0"):
        entry = float(np.ravel(got.grads[name])[0])
        assert entry == pytest.approx(float(want[name]), rel=1e-12), name
