"""`symbptt theory`: the mean-field prediction, checked against closed forms and Monte Carlo."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from conftest import run_in_process

from symbptt.errors import SymbpttError
from symbptt.numeric.theory import gaussian_mean, theory


@pytest.mark.parametrize("sigma_w", [0.3, 0.7, 0.95, 1.0])
def test_tanh_without_bias_has_q_star_zero_and_chi_sigma_w_squared(sigma_w):
    result = theory("tanh", sigma_w)
    assert result.q_star == 0.0 and result.chi == pytest.approx(sigma_w**2, rel=1e-14)
    assert result.phase == ("critical" if sigma_w == 1.0 else "ordered")
    low, high = result.critical_band
    assert low <= 1.0 <= high and low <= result.critical_sigma_w <= high


def test_the_edge_of_tanh_is_printed_to_the_digits_rounding_leaves():
    """Above σ_w = 1 + δ, χ − 1 ≈ (4/3)δ² for tanh without bias: χ's rounding hides its sign up to δ ≈
    1e-6, so the edge holds about 6 digits, not the bisection's 12 (another CPU's libm printed
    1.00000000005).  The printed value, its trailing zeros included, says so; ReLU's edge at √2 (χ − 1
    linear in δ) keeps 11 or more."""
    from symbptt.numeric.theory import _shown, held_digits

    result = theory("tanh", 1.5)
    held = result.held()["critical_sigma_w"]
    assert 5 <= held <= 8
    shown = re.search(r"σ_w = ([0-9.]+)\n", result.text()).group(1)
    assert len(shown.replace(".", "")) == held and abs(float(shown) - 1.0) <= 0.5 * 10.0 ** (1 - held)
    assert result.as_json()["digits_held"]["critical_sigma_w"] == held
    relu = theory("relu", 1.2, sigma_b=0.1)
    low, high = relu.critical_band
    assert low <= math.sqrt(2) <= high and relu.held()["critical_sigma_w"] >= 11
    assert held_digits(0.99999, 1.00001) == 5 and held_digits(1.0, 1.0) == 12 and held_digits(0.5, 2.0) == 0
    assert _shown(1.0, (0.0, math.inf), 0) == "between 0 and ∞" and _shown(1.0, (0.99999, 1.00001), 5) == "1.0000"


@pytest.mark.parametrize("sigma_w", [1.5, 1.001, 1.0000001, 1e-300])
def test_the_text_fits_an_80_column_terminal(sigma_w):
    """The χ line's gloss grows with a rate in exponent form or a band ("between … and …"): it moves to a
    line of its own rather than run past 80 columns."""
    text = theory("tanh", sigma_w, edge=False).text()
    assert max(len(line) for line in text.splitlines()) <= 80 and "per step)" in " ".join(text.split())


def test_a_wider_rounding_allowance_prints_fewer_digits(monkeypatch):
    """Words from data: the digits printed follow the allowance the bands are computed with."""
    from symbptt.numeric import theory as module

    before = theory("tanh", 1.5).held()
    monkeypatch.setattr(module, "ROUNDED", 1e-8)
    module._edge.cache_clear()  # the edge is found once per run: found again with the allowance
    try:
        after = theory("tanh", 1.5).held()
    finally:
        module._edge.cache_clear()
    assert after["q_star"] < before["q_star"] and after["critical_sigma_w"] < before["critical_sigma_w"]


def test_the_fixed_point_near_the_edge_keeps_fewer_digits_and_holds_them():
    """Just above the edge the variance map crosses the identity at a slope of about −2δ: q* is
    ill-conditioned and keeps fewer digits; those it prints agree with mpmath's fixed point."""
    import mpmath

    sigma_w = 1.0 + 1e-4
    result = theory("tanh", sigma_w, edge=False)
    held = result.held()["q_star"]
    assert 5 <= held < 12

    def gap(q):
        return sigma_w**2 * _mp_mean(lambda a: mpmath.tanh(a) ** 2, float(q)) - q

    with mpmath.workdps(30):
        exact = float(mpmath.findroot(gap, (result.q_star * 0.999, result.q_star * 1.001), solver="secant"))
    low, high = result.q_star_band
    assert low <= exact <= high
    shown = float(re.search(r"q\* = ([0-9.e+-]+) ", result.text()).group(1))
    assert abs(shown - exact) <= 0.5 * 10.0 ** (math.floor(math.log10(exact)) - held + 1) + (high - low)


def test_tanh_beyond_the_edge_is_chaotic_with_a_positive_fixed_point():
    result = theory("tanh", 1.5)
    assert result.q_star > 0 and result.chi > 1 and result.phase == "chaotic"
    q = result.q_star  # the fixed point holds
    mean, _ = gaussian_mean(lambda z: np.tanh(math.sqrt(q) * z) ** 2)
    assert 1.5**2 * mean == pytest.approx(q, rel=1e-12)


def test_relu_s_edge_is_at_sigma_w_squared_two_and_chi_is_half_of_it():
    result = theory("relu", 1.2, sigma_b=0.1)
    assert result.chi == pytest.approx(1.2**2 / 2, rel=1e-13)
    assert result.q_star == pytest.approx(0.1**2 / (1 - 1.2**2 / 2), rel=1e-12)  # E[relu(√q z)²] = q/2
    assert result.critical_sigma_w == pytest.approx(math.sqrt(2), abs=1e-11)
    assert theory("relu", 1.5, sigma_b=0.1).phase == "unbounded"


def test_linear_closed_form():
    result = theory("linear", 0.8, sigma_b=0.5, sigma_u=1.0, input_var=2.0)
    drive = 0.5**2 + 1.0**2 * 2.0
    assert result.q_star == pytest.approx(drive / (1 - 0.64), rel=1e-12)
    assert result.chi == pytest.approx(0.64, rel=1e-14) and result.depth_scale == pytest.approx(-1 / math.log(0.64))


def test_erf_fixed_point_against_its_closed_form():
    """E[erf(√q z)²] = (2/π) arcsin(2q/(1 + 2q))."""
    result = theory("erf(a)", 1.2, sigma_u=0.5, edge=False)
    q = result.q_star
    assert 1.2**2 * (2 / math.pi) * math.asin(2 * q / (1 + 2 * q)) + 0.25 == pytest.approx(q, rel=1e-12)


def test_a_custom_activation_against_monte_carlo():
    result = theory("a/(1+abs(a))", 1.3, sigma_b=0.2, sigma_u=0.5, edge=False)
    rng = np.random.default_rng(0)
    a = math.sqrt(result.q_star) * rng.standard_normal(2_000_000)
    samples = 1.3**2 / (1 + np.abs(a)) ** 4
    assert abs(samples.mean() - result.chi) <= 4 * samples.std() / math.sqrt(a.size)


def _mp_mean(f, q):
    """E_z[f(√q z)] by mpmath's adaptive quadrature, split where f changes (|√q z| ~ 1): a reference that
    shares nothing with the tool's rule."""
    import mpmath

    with mpmath.workdps(25):
        r = mpmath.sqrt(mpmath.mpf(q))
        cuts = [-mpmath.inf, -12, *[k / r for k in (-40, -10, -3, -1, 0, 1, 3, 10, 40) if abs(k / r) < 12], 12,
                mpmath.inf]
        return float(mpmath.quad(lambda z: f(r * z) * mpmath.npdf(z), sorted(set(cuts))))


@pytest.mark.parametrize("sigma_w", [30.0, 1e4, 1e6])
def test_a_large_gain_keeps_its_digits_and_its_fixed_point(sigma_w):
    """For large σ_w, q* ~ σ_w² and tanh changes within |z| ~ 1/√q*: a grid uniform in z stepped over it
    (σ_w = 100 printed χ = 53.4041449921 against 53.4057775; from σ_w ≈ 1000 q* > 1e6 was called "no
    fixed point", which a bounded activation cannot lack).  The fixed point and χ against mpmath."""
    import mpmath

    result = theory("tanh", sigma_w, edge=False)
    q = result.q_star
    assert q is not None and result.phase == "chaotic" and result.digits >= 12
    assert sigma_w**2 * _mp_mean(lambda a: mpmath.tanh(a) ** 2, q) == pytest.approx(q, rel=1e-12)
    assert sigma_w**2 * _mp_mean(lambda a: mpmath.sech(a) ** 4, q) == pytest.approx(result.chi, rel=1e-11)


def test_the_text_prints_the_digits_the_quadrature_holds_and_chi_beyond_float64():
    """Words from data: the printed χ and q* carry as many digits as the quadrature agrees to; χ below
    float64's range (σ_w = 1e-300: χ = 1e-600) is printed from its log10, and χ = 0 has depth scale 0."""
    import dataclasses

    result = theory("tanh", 1.5, edge=False)
    assert "χ  = 1.13932322499 " in result.text() and "q* = 0.79335404261 " in result.text()
    rough = dataclasses.replace(result, digits=3)
    assert "χ  = 1.14 " in rough.text() and "q* = 0.793 " in rough.text() and "agreeing to 3 digits" in rough.text()
    tiny = theory("tanh", 1e-300, edge=False)
    assert tiny.log10_chi == pytest.approx(-600.0, abs=1e-12) and tiny.chi == 0.0
    assert "χ  = 1e-600 " in tiny.text() and "≈ -300 per step" in tiny.text()
    assert tiny.depth_scale == pytest.approx(1 / (600 * math.log(10)), rel=1e-12)
    assert tiny.rate == pytest.approx(-300 * math.log(10), rel=1e-12)
    subnormal = theory("tanh", 1e-160, edge=False)  # χ = 1e-320 is a subnormal float: its log10 holds it
    assert "χ  = 1e-320 " in subnormal.text()
    zero = theory("tanh", 0.0, edge=False)
    assert zero.chi == 0.0 and zero.depth_scale == 0.0 and math.isinf(zero.rate)
    assert "depth scale 1/|ln χ| = 0 steps" in zero.text() and "-∞ per step" in zero.text()
    assert zero.as_json()["depth_scale"] == 0.0 and zero.as_json()["log10_chi"] is None


def test_no_fixed_point_says_how_far_it_was_looked_for():
    result = theory("relu", 1.5, sigma_b=0.1, edge=False)
    assert result.q_star is None and math.isnan(result.rate)
    assert f"no fixed point up to q = {result.q_limit:.3g}" in result.text()
    assert result.q_limit >= 1e6 * 1.5**2 and result.as_json()["q_searched_to"] == result.q_limit


def test_the_command_line_text_json_and_refusals():
    text = run_in_process("theory", "--sigma-w", "1.5")
    assert text.returncode == 0 and "phase: chaotic" in text.stdout and "χ  = 1.139" in text.stdout
    report = json.loads(run_in_process("theory", "-a", "relu", "--sigma-w", "1.2", "--sigma-b", "0.1",
                                       "--format", "json").stdout)
    assert set(report) >= {"q_star", "chi", "depth_scale", "phase", "critical_sigma_w"}
    for args in (["--sigma-w", "-1"], ["--sigma-w", "nan"], ["-a", "__import__('os')"]):
        ran = run_in_process("theory", *args)
        assert ran.returncode == 2 and "Traceback" not in ran.stderr
    with pytest.raises(SymbpttError, match="sigma_w"):
        theory("tanh", float("inf"))


def test_beside_the_bound_is_above_every_exact_rate_and_its_words_follow_the_sign():
    """The bound is a theorem: for every network and gain it is above the exact rate.  Whether it
    guarantees vanishing is read from its sign, and the sentence changes with it."""
    from symbptt.numeric.beside import beside

    low, high = beside("tanh", 0.3, 16, 40, 3), beside("tanh", 1.5, 16, 40, 3)
    for drawn in (low, high, beside("relu", 1.2, 16, 40, 2, init="orthogonal")):
        assert all(e <= b for e, b in zip(drawn.exact, drawn.bound, strict=True))
    assert max(low.bound) < 0 and "vanishing is guaranteed" in low.text()
    assert min(high.bound) > 0 and "guarantees nothing about vanishing" in high.text()
    assert "vanishing is guaranteed" not in high.text()


def test_beside_mean_field_falls_inside_the_seeds_spread_away_from_the_edge():
    """n = 64, σ_w = 0.8 (ordered, away from the edge at 1): the prediction lies within the spread of
    the exact rates of 8 networks, and the text says "inside"; at n = 4 it is stated either way."""
    from symbptt.numeric.beside import beside

    drawn = beside("tanh", 0.8, 64, 200, 8)
    assert min(drawn.exact) <= drawn.mean_field <= max(drawn.exact)
    assert "inside the range" in drawn.text()
    small = beside("tanh", 0.8, 4, 200, 3)
    inside = min(small.exact) <= small.mean_field <= max(small.exact)
    assert ("inside the range" if inside else "outside the range") in small.text()


def test_beside_chaotic_networks_get_only_the_decimals_rounding_leaves_and_are_not_called_exact():
    """σ_w = 3 (chaotic): every network's trajectory amplifies rounding past 10^13 from some T < 200, so the
    float64 rates are not exact; the same network with W0[0, 0] one ulp larger gives rates that differ by
    the shift said, the rows and sentences print only the decimals that shift leaves standing (the last
    one at least four times it; they printed four), and the row is named float64.  σ_w = 0.8 (calm):
    exact, four decimals, no such sentence."""
    import math

    from symbptt.numeric.beside import beside
    from symbptt.numeric.sweeps import recurrent_matrix, rounding_decides, sweep_gain

    drawn = beside("tanh", 3.0, 32, 200, 3)
    shift = 0.0
    for k, s in enumerate(drawn.seeds):
        W0 = recurrent_matrix(32, s)
        values = sweep_gain(np.array([3.0]), 200, "tanh", 32, seed=s, W0=W0)
        mask = rounding_decides(values, "tanh")[:, 0]
        assert mask[-1] and drawn.decided_from[k] == int(np.argmax(mask)) + 1
        W0[0, 0] = np.nextafter(W0[0, 0], np.inf)
        moved = sweep_gain(np.array([3.0]), 200, "tanh", 32, seed=s, W0=W0)[:, 0] * math.log(10.0)
        shift = max(shift, abs(moved[-1] / 200 - drawn.exact[k]),
                    abs((moved[-1] - moved[99]) / 100 - drawn.observed[k]))
    assert drawn.shift == pytest.approx(shift, rel=1e-12) and shift > 0
    places = min(4, max(0, math.floor(-math.log10(4 * shift))))
    assert drawn.places == places < 4
    text = drawn.text(200)
    lo, hi = min(drawn.exact), max(drawn.exact)
    assert "float64, these networks" in text and "exact" not in text
    assert f"{lo:+.{places}f} to {hi:+.{places}f}" in text
    assert (f"Rounding, not the model, decides the trajectories of 3 of the 3 networks from T = "
            f"{min(drawn.decided_from)} on") in text and f"by up to {shift:.2g} per step" in text
    calm = beside("tanh", 0.8, 32, 200, 3)
    assert not any(calm.decided_from) and calm.places == 4 and "exact, these networks" in calm.text()
    assert "Rounding, not the model" not in calm.text() and f"{min(calm.exact):+.4f}" in calm.text()


def test_beside_on_the_command_line_json_and_refusals():
    import json

    from conftest import run_in_process

    ran = run_in_process("theory", "--sigma-w", "1.2", "--beside", "-n", "8", "-T", "30", "--seeds", "2",
                         "--format", "json")
    data = json.loads(ran.stdout)
    assert ran.returncode == 0 and data["seeds"] == [0, 1] and len(data["exact"]) == 2 and data["sentences"]
    assert run_in_process("theory", "--sigma-w", "1.2", "--beside", "-n", "8", "-T", "30", "--seeds", "2",
                          "--format", "json").stdout == ran.stdout
    for args, words in ((["--beside", "--sigma-b", "1"], "--sigma-b does not apply"), (["-n", "4"], "-n applies"),
                        (["--beside", "-n", "1"], "n must be"), (["--beside", "--seeds", "0"], "seeds must be")):
        bad = run_in_process("theory", *args)
        assert bad.returncode == 2 and words in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [[], ["--cell", "lru"], ["--beside"], ["--cell", "mingru", "--beside"],
                                  ["--cell", "gru", "--beside"], ["--format", "json"]])
def test_each_theory_output_ends_its_last_line(args):
    """The tables beside the networks once ended without a newline: the shell's prompt went on after
    their last sentence ("…were different.$")."""
    from conftest import run_in_process

    sizes = ["-n", "4", "-T", "12", "--seeds", "1"] if "--beside" in args else []
    ran = run_in_process("theory", *args, *sizes)
    assert ran.returncode == 0 and ran.stdout.endswith("\n") and not ran.stdout.endswith("\n\n"), ran.stdout[-80:]


# ---------------------------------------------------------------- cells with a diagonal, state-blind path


def test_which_cells_the_diagonal_theory_covers_is_read_off_their_steps(tmp_path):
    from symbptt.activations import get_activation
    from symbptt.cells import get_cell
    from symbptt.numeric.diagonal_theory import DiagonalFactor, diagonal_factor

    def factor(name):
        return diagonal_factor(get_cell(name, get_activation("tanh")))

    for name in ("rnn", "lstm", "gru"):
        assert factor(name) == "its path back goes through a weight matrix"
    assert "depends on the state" in factor("indrnn")
    covered = {name: factor(name) for name in ("mingru", "minlstm", "lru")}
    assert all(isinstance(f, DiagonalFactor) for f in covered.values())
    assert covered["mingru"].linears == ("a_z",) and covered["minlstm"].linears == ("a_f", "a_i")
    assert covered["lru"].params == ("nu",) and not covered["lru"].linears
    blind = tmp_path / "blind.toml"  # a scalar cell file whose factor reads the input only
    blind.write_text('name = "blind"\nstates = ["h"]\nparams = ["u", "b"]\n[intermediates]\n'
                     'f = "sigmoid(u*x + b)"\n[update]\nh = "f*h + x"\n')
    assert "no random law" in factor(str(blind))


def test_the_lru_s_rates_have_closed_forms():
    """λ = exp(−exp(ν)), ν ~ U(−5, −2): E ln λ = −(e^−2 − e^−5)/3, the largest unit's rate −e^−5 and
    E[λ²] = (E1(2e^−5) − E1(2e^−2))/3 (substituting u = 2e^ν)."""
    import mpmath

    from symbptt.numeric.diagonal_theory import diagonal_theory

    lru = diagonal_theory("lru")
    assert lru.unit_rate == pytest.approx(-(math.exp(-2) - math.exp(-5)) / 3, rel=1e-13)
    assert lru.best_unit_rate == pytest.approx(-math.exp(-5), rel=1e-13)
    chi = float((mpmath.e1(2 * mpmath.exp(-5)) - mpmath.e1(2 * mpmath.exp(-2))) / 3)
    assert lru.chi == pytest.approx(chi, rel=1e-12) and lru.digits >= 12


@pytest.mark.parametrize("sigma_u", [0.0, 0.7, 2.5])
def test_mingru_and_minlstm_rates_against_monte_carlo_and_jensen(sigma_u):
    from symbptt.numeric.diagonal_theory import diagonal_theory

    rng = np.random.default_rng(11)
    af, ai = rng.standard_normal((2, 400_000)) * sigma_u
    for cell, g in (("mingru", 1 / (1 + np.exp(af))), ("minlstm", 1 / (1 + (1 + np.exp(-af)) / (1 + np.exp(-ai))))):
        found = diagonal_theory(cell, sigma_u)
        for value, sample in ((found.unit_rate, np.log(g)), (found.chi, g**2)):
            assert abs(value - sample.mean()) <= 5 * sample.std() / math.sqrt(sample.size) + 1e-14, cell
        assert found.mean_field >= found.unit_rate - 1e-15 and found.best_unit_rate == found.unit_rate
    assert diagonal_theory("mingru", 0.0).unit_rate == pytest.approx(-math.log(2), rel=1e-15)


def _softplus_mean(s: float) -> float:
    """E ln(1 + e^{s z}), z ~ N(0, 1), by mpmath (log1p: no underflow), split at the kink |z| ~ 1/s."""
    import mpmath

    with mpmath.workdps(25):
        cuts = sorted({-mpmath.inf, -1, -1 / mpmath.mpf(s), 0, 1 / mpmath.mpf(s), 1, mpmath.inf})
        return float(mpmath.quad(lambda z: mpmath.log1p(mpmath.exp(s * z)) * mpmath.npdf(z), cuts))


@pytest.mark.parametrize("sigma_u", [30.0, 1e6])
def test_a_saturating_gate_keeps_its_rate_where_its_factor_underflows(sigma_u):
    """minGRU's g = σ(−a) is 0 in float64 beyond a ≈ 745, and Gauss–Hermite points stepped over its
    kink: σ_u = 30 printed λ = −inf, depth scale 0 and χ = 0.494 (0.48673).  λ = −E softplus(σ_u z)."""
    import mpmath

    from symbptt.numeric.diagonal_theory import diagonal_theory

    found = diagonal_theory("mingru", sigma_u)
    assert found.digits >= 9
    assert found.unit_rate == pytest.approx(-_softplus_mean(sigma_u), rel=1e-9)
    cuts = sorted({-mpmath.inf, -1, -1 / mpmath.mpf(sigma_u), 0, 1 / mpmath.mpf(sigma_u), 1, mpmath.inf})
    chi = float(mpmath.quad(lambda z: mpmath.exp(-2 * mpmath.log1p(mpmath.exp(sigma_u * z))) * mpmath.npdf(z), cuts))
    assert found.chi == pytest.approx(chi, rel=1e-9)
    assert "-inf" not in found.text() and "λ = E ln|g| = -" in found.text()


def test_a_cell_file_s_factor_in_log_space_or_refused_in_one_line(tmp_path):
    """1 − tanh(a) is taken as 2σ(−2a) in log space (λ = ln 2 − E softplus(2 σ_u z)); a factor outside
    the log-space rules that float64 turns to 0 on the rule's points is refused, naming what to lower."""
    from conftest import run_in_process

    from symbptt.numeric.diagonal_theory import diagonal_theory

    def cell(name: str, factor: str):
        path = tmp_path / f"{name}.toml"
        path.write_text(f'name = "{name}"\nstates = ["h"]\nparams = ["U_z", "U_h", "b"]\n[shapes]\n'
                        f'U_z = ["n", "m"]\nU_h = ["n", "m"]\nb = ["n"]\n[update]\n'
                        f'h = "{factor} * h + tanh(U_h @ x)"\n')
        return str(path)

    tgate = diagonal_theory(cell("tgate", "(1 - tanh(U_z @ x + b))"), 30.0)
    assert tgate.unit_rate == pytest.approx(math.log(2) - _softplus_mean(60.0), rel=1e-9)
    square = cell("square", "(1 - tanh(U_z @ x + b)**2)")
    assert diagonal_theory(square, 1.0).digits >= 12  # within float64's range the factor is evaluated as is
    with pytest.raises(SymbpttError, match=r"float64 gives 0 or no number there; lower σ_u·√q_x"):
        diagonal_theory(square, 30.0)
    ran = run_in_process("theory", "--cell", square, "--sigma-u", "30")
    assert ran.returncode == 2 and len(ran.stderr.strip().splitlines()) == 1 and not ran.stdout


def test_the_diagonal_text_prints_the_digits_its_rules_agree_on():
    """minLSTM's factor changes along a_f = a_i, a ridge no tensor rule resolves at σ_u = 1000: the two
    rules agree to 2 digits, the text prints 2 (it printed at least 3), and they hold (Monte Carlo)."""
    import dataclasses
    import re

    from symbptt.numeric.diagonal_theory import diagonal_theory

    found = diagonal_theory("minlstm", 1000.0)
    assert found.digits <= 3
    shown = re.search(r"χ = ([0-9.e+-]+);", found.text()).group(1)
    assert len(shown.replace("0.", "", 1).lstrip("0")) == max(1, found.digits)
    rng = np.random.default_rng(5)
    af, ai = rng.standard_normal((2, 1_000_000)) * 1000.0
    lf, li = -np.logaddexp(0, -af), -np.logaddexp(0, -ai)
    g2 = np.exp(2 * (lf - np.logaddexp(lf, li)))
    assert abs(found.chi - g2.mean()) <= 10.0 ** -found.digits * found.chi + 5 * g2.std() / 1000
    more = dataclasses.replace(found, digits=7)
    assert len(re.search(r"χ = ([0-9.e+-]+);", more.text()).group(1).replace("0.", "", 1).lstrip("0")) == 7


def test_beside_a_diagonal_cell_the_norm_is_its_largest_unit_and_units_average_to_the_prediction():
    """The exact products of a minGRU are diagonal: the norm's rate is the largest unit's, and the mean over
    64 units of their rates at T = 400 falls within 0.01 of λ (a factor counted twice misses by 0.8)."""
    from symbptt.numeric.diagonal_theory import cell_beside

    drawn = cell_beside("mingru", 1.0, n=64, T=400, seeds=2)
    assert all(abs(u - drawn.theory.unit_rate) < 0.01 for u in drawn.unit_mean)
    assert all(e > u for e, u in zip(drawn.exact, drawn.unit_mean, strict=True))
    words = " ".join(drawn.sentences())
    assert f"{float(np.mean(np.subtract(drawn.exact, drawn.unit_mean))):.3g} per step" in words
    lam, lo, hi = drawn.theory.unit_rate, min(drawn.unit_mean), max(drawn.unit_mean)
    where = "inside" if lo <= lam <= hi else "outside"
    assert f"λ = {lam:+.4f} is {where} the range of the networks' means over units ({lo:+.4f} to {hi:+.4f})" in words
    other = cell_beside("lstm", 1.0, n=8, T=30, seeds=1)
    assert other.theory is None and "No closed-form prediction for lstm: its path back goes through a weight" \
        in " ".join(other.sentences())


def test_cell_theory_on_the_command_line():
    assert "q_x = 2" in run_in_process("theory", "--cell", "mingru", "--input-var", "2").stdout
    ran = run_in_process("theory", "--cell", "lru", "--format", "json")
    data = json.loads(ran.stdout)
    assert ran.returncode == 0 and data["unit_parameters"] == "ν ~ U(-5, -2)" and data["phase"] == "ordered"
    beside = run_in_process("theory", "--cell", "minlstm", "--beside", "-n", "8", "-T", "30", "--seeds", "2")
    assert beside.returncode == 0 and "exact, mean over units" in beside.stdout
    for args, words in ((["--cell", "gru"], "no closed-form theory for gru: its path back goes through"),
                        (["--cell", "mingru", "--sigma-b", "1"], "--sigma-b does not apply to the theory of mingru"),
                        (["--cell", "mingru", "-a", "relu"], "--activation does not apply"),
                        (["--cell", "lru", "-T", "5"], "-T applies with --beside only"),
                        (["--cell", "mingru", "--beside", "--sigma-w", "2"], "--sigma-w does not apply"),
                        (["--cell", "mingru", "--beside", "--input-var", "2"], "--input-var does not apply"),
                        (["--cell", "indrnn", "-a", "relu"], "no closed-form theory for indrnn")):
        bad = run_in_process("theory", *args)
        assert bad.returncode == 2 and words in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, args


@pytest.mark.slow
def test_at_n_256_the_settled_slope_of_eight_networks_brackets_the_mean_field_away_from_the_edge():
    """n = 256, inputs N(0, 1), g = 0.8 (the edge is at 1.86): the slope of ln‖∂h_t/∂h_0‖₂ over t = 200..400
    of each of 8 networks, their range holds ½ ln χ (−0.6555; the networks: about −0.667 to −0.650).
    With -m slow (3.8 s, the suite's longest test); every suite runs the same check at n = 64 over all
    of T (test_beside_mean_field_falls_inside_the_seeds_spread_away_from_the_edge)."""
    from symbptt.numeric.final_gain import final_gain_rates
    from symbptt.numeric.sweeps import recurrent_matrix

    slopes = []
    for s in range(8):
        W0 = recurrent_matrix(256, s, "gaussian")
        at_400, _, _ = final_gain_rates(np.array([0.8]), 400, "tanh", 256, seed=s, W0=W0)
        at_200, _, _ = final_gain_rates(np.array([0.8]), 200, "tanh", 256, seed=s, W0=W0)
        slopes.append(float(at_400[0] - at_200[0]) * math.log(10.0) / 200)
    predicted = 0.5 * math.log(theory("tanh", 0.8, 0.0, 1.0, 1.0, edge=False).chi)
    assert min(slopes) <= predicted <= max(slopes)


def test_a_rate_beside_the_networks_prints_no_more_digits_than_its_quadrature_holds():
    from symbptt.numeric.beside import rate_text

    assert rate_text(-0.7563001311, 14) == rate_text(-0.7563001311) == "-0.7563"
    assert rate_text(-282.1604, 2) == "-2.8e+02" and rate_text(-0.41683, 3) == "-0.417"
    assert rate_text(-8.6498, 3) == "-8.65" and rate_text(float("-inf"), 2) == "−∞"


def test_a_cell_file_is_drawn_as_the_file_says_wherever_random_networks_are_drawn(tmp_path):
    """theory --beside and plot gradmap draw random networks of a cell through its Cell: a cell file's
    name alone ("tgate") was looked up as a built-in cell and refused ("unknown cell 'tgate'")."""
    from symbptt import plots
    from symbptt.numeric.diagonal_theory import cell_beside

    path = tmp_path / "tgate.toml"
    path.write_text('name = "tgate"\nstates = ["h"]\nparams = ["U_z", "U_h", "b"]\n[shapes]\nU_z = ["n", "m"]\n'
                    'U_h = ["n", "m"]\nb = ["n"]\n[update]\nh = "(1 - tanh(U_z @ x + b)) * h + tanh(U_h @ x)"\n')
    drawn = cell_beside(str(path), 1.0, n=4, T=20, seeds=1)
    assert drawn.theory is not None and all(np.isfinite(drawn.exact)) and drawn.text().startswith("tgate, n = 4")
    _, data = plots.gradient_map(str(path), T_max=20, points=9)
    assert np.isfinite(data.values["log10_grad"]).any()


def test_beside_says_exactly_zero_where_relu_cuts_every_path_not_that_float64_ran_out():
    """relu at σ_w = 0.5, n = 4: most networks' ∂h_T/∂h_0 is exactly 0 (rate −∞); the sentence said the
    forward pass "left float64's range".  Now the count of such networks, from the data."""
    from symbptt.numeric.beside import beside

    drawn = beside("relu", 0.5, 4, 10, 8)
    zero = sum(v == -math.inf for v in drawn.exact)
    assert zero > 0 and not any(math.isnan(v) for v in drawn.exact)
    (sentence,) = drawn.sentences()
    assert f"In {zero} of the 8 networks ∂h_T/∂h_0 is exactly 0" in sentence and "float64" not in sentence


def test_the_edge_that_is_not_found_names_the_range_searched(monkeypatch):
    """Where χ − 1 keeps one sign over the σ_w searched, the line says so with the range's end, read from
    the range itself: searched up to 0.5, tanh without bias has no edge there (its edge is σ_w = 1)."""
    from symbptt.numeric import theory as th

    th._edge.cache_clear()
    try:
        assert "σ_w = 1.00000" in th.theory("tanh", 1.5).text()
        th._edge.cache_clear()
        monkeypatch.setattr(th, "EDGE_SEARCH", (1e-3, 0.5))
        assert "σ_w = none in (0, 0.5]" in th.theory("tanh", 1.5).text()
    finally:
        th._edge.cache_clear()
