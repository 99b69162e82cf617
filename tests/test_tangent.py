"""The check of an exact forward pass carried along it (numeric/tangent.py), against the second pass it
replaces (numeric/exact.py)."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from conftest import examples
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_arbforward import ACTIVATIONS, ROUNDED_INSIDE, _model

from symbptt.cells import BUILTIN
from symbptt.config import parse_config
from symbptt.numeric import arbforward, exact, tangent
from symbptt.numeric.factors import NumericModel
from symbptt.numeric.forward import compiled, forward


def _measured(model, dps: int) -> float | None:
    """What rounding is amplified by in the states of mpmath's pass at ``dps`` digits, as a second pass with
    CHECK digits more measures it (dps less the digits they share), where they share MEASURED or more."""
    passes = []
    for digits in (dps, dps + exact.CHECK):
        with mpmath.workdps(digits):
            mp_model = model.as_mp()
            passes.append(forward(compiled(model.cell, "mp"), mp_model.params, mp_model.x))
    shared = exact._agreeing_digits(model.cell.states, *passes)
    return dps - shared if shared >= 5 else None


def _chaotic(T: int = 300) -> NumericModel:
    """The tanh network of docs/performance.md §10b (n = 16, W = 4·N(0, 1/n), T = 300)."""
    n, rng = 16, np.random.default_rng(0)
    W = 4.0 * rng.normal(size=(n, n)) / np.sqrt(n)
    return NumericModel.of(parse_config({"activation": "tanh", "W": W.tolist(), "U": rng.normal(size=(n, 1)).tolist(),
                                         "b": [0.0] * n, "h0": [0.3] * n, "x": [[0.1]] * T, "y": [0.0] * n}))


ROUNDED_ONCE = [a for a in ACTIVATIONS if a not in ROUNDED_INSIDE]


@given(cell=st.sampled_from(BUILTIN), activation=st.sampled_from(ROUNDED_ONCE), n=st.integers(1, 3),
       layers=st.integers(1, 2), batch=st.integers(1, 2), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([0.5, 3.0]), dps=st.sampled_from([20, 40]))
@settings(max_examples=examples(12), deadline=None)
def test_the_carried_amplification_is_what_a_second_pass_measures(cell, activation, n, layers, batch, seed, scale,
                                                                   dps):
    """Every built-in cell, 1–2 layers, a batch: where it applies, the amplification carried along Arb's
    pass is within a few digits of what a second pass measures on mpmath's (benchmarks/carried_check.py:
    0.5–2.6 digits above it), never much below it.  Not log(1 + e^a) or π·tanh(a)/e: mpmath rounds inside
    the node (1 + e^a where a ≪ 0), which loses digits Arb's pass does not (it proves each node), so
    mpmath's pass loses more than the one carried."""
    model = _model(cell, activation, n, layers, 30, seed, scale, batch=batch)
    checked = arbforward.forward(model, dps + exact.CHECK)
    assert checked is not None
    carried, measured = tangent.amplification(model, checked), _measured(model, dps)
    assume(carried is not None and measured is not None)  # a draw where both measure (not silently passed)
    assert -1.0 < carried - measured < 4.0, (carried, measured)


def test_without_the_steps_maps_the_carried_check_misses_the_growth():
    """The chaotic network: the carried amplification is what a second pass measures.  Planted: each step's
    own roundings carried without the map J_t from the step before, and it reads dozens of digits less."""
    model = _chaotic()
    checked = arbforward.forward(model, 60 + exact.CHECK)
    measured = _measured(model, 60)
    carried = tangent.amplification(model, checked)
    assert measured is not None and measured > 20 and carried is not None and -1.0 < carried - measured < 4.0
    real = tangent._Step.__init__

    def unmapped(self, *args, **kwargs):
        real(self, *args, **kwargs)
        self.J = np.zeros_like(self.J)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tangent._Step, "__init__", unmapped)
        planted = tangent.amplification(model, checked)
    assert planted is not None and planted < measured - 15


def test_the_steps_are_made_a_chunk_at_a_time_to_the_same_measure(monkeypatch):
    """Made a few steps at a time (CHUNK_BYTES small), the maps and the measure are the same recursion: the
    signs are drawn in other blocks, so it moves by a fraction of a digit only."""
    model = _model("lstm", "tanh", 3, 2, 60, 7, scale=3.0, batch=2)
    checked = arbforward.forward(model, 40 + exact.CHECK)
    whole = tangent.amplification(model, checked)
    monkeypatch.setattr(tangent, "CHUNK_BYTES", 1)
    chunked = tangent.amplification(model, checked)
    assert whole is not None and chunked is not None and abs(whole - chunked) < 1.0


def test_an_arb_pass_is_checked_without_a_second_one_and_an_mpmath_pass_with_one(monkeypatch):
    """exact_forward on the chaotic network: with Arb, one pass (at CHECK digits more), checked by carrying
    its rounding (Trajectory.checked); with SYMBPTT_ARB=0, mpmath's two, compared.  Both settle at the
    digits asked for and find about the same amplification where it raised them."""
    made: list[int] = []
    forward_at = exact._forward_at
    monkeypatch.setattr(exact, "_forward_at", lambda model, dps: made.append(dps) or forward_at(model, dps))
    model = _chaotic()
    carried = exact.exact_forward(model, 60)
    assert made == [60 + exact.CHECK] and carried.checked == exact.CARRIED and carried.digits == 60
    assert arbforward.made_with_arb(carried)
    made.clear()
    monkeypatch.setenv("SYMBPTT_ARB", "0")
    compared = exact.exact_forward(model, 60)
    assert made == [60 + exact.CHECK, 60] and compared.checked == exact.AGAINST and compared.digits == 60
    assert not arbforward.made_with_arb(compared)
    assert carried.amplified is not None and compared.amplified is not None
    assert -1.0 < carried.amplified - compared.amplified < 4.0


def test_where_float64_cannot_hold_the_pass_a_second_pass_checks_it(monkeypatch):
    """A pass whose states leave float64's range (h_0 = 10^−300, weights 10^−10, no input or bias: every
    state far below its normal range) is not carried (None), and exact_forward makes the second pass."""
    model = NumericModel.of(parse_config({"activation": "tanh", "W": [[1e-10, 0.0], [0.0, 1e-10]], "U": [[1.0], [1.0]],
                                          "b": [0.0, 0.0], "h0": [1e-300, 1e-300], "x": [[0.0]] * 10, "y": [0.0, 0.0]}))
    checked = arbforward.forward(model, 40)
    assert checked is not None and tangent.amplification(model, checked) is None
    compared = exact.exact_forward(model, 20)
    assert compared.checked == exact.AGAINST and compared.digits == 20


@pytest.mark.parametrize("cell,layers,seed,scale", [("lstm", 2, 2, 6.0), ("gru", 2, 6, 3.0), ("rnn", 1, 11, 3.0)])
def test_the_steps_carried_through_the_graph_or_as_maps_give_one_measure(cell, layers, seed, scale, monkeypatch):
    """Each step's map J_t made for every t at once (a small state) and the errors taken through the
    one-step graph step by step (a large one, DENSE_MOST) are the same recursion on the same draws: one
    number, for a batch of 2.  In the two 2-layer networks the errors the layer below passes up decide it:
    planted, the maps without V_t (the layer below's h at t to the states at t) read a digit or more less."""
    model = _model(cell, "tanh", 3, layers, 40, seed, scale=scale, batch=2)
    checked = arbforward.forward(model, 40 + exact.CHECK)
    got = []
    for most in (0, 10**9):
        monkeypatch.setattr(tangent, "DENSE_MOST", most)
        got.append(tangent.amplification(model, checked))
    assert got[0] is not None and got[1] is not None and abs(got[0] - got[1]) < 1e-9
    if layers == 2:
        real = tangent._Step.__init__

        def without_below(self, *args, **kwargs):
            real(self, *args, **kwargs)
            self.V = None if self.V is None else np.zeros_like(self.V)

        monkeypatch.setattr(tangent._Step, "__init__", without_below)
        planted = tangent.amplification(model, checked)
        assert planted is not None and planted < got[1] - 1.0


def test_partials_float64_cannot_evaluate_send_the_pass_to_a_second_one(monkeypatch):
    """Planted: the partials' float64 function raises (as a cell file's function might at a value it
    refuses).  The carried check says it does not apply (None), without a traceback, and exact_forward
    checks the pass by a second one."""
    model = _chaotic(60)
    checked = arbforward.forward(model, 40)

    def refusing(*rows):
        raise ValueError("math domain error")

    monkeypatch.setattr(tangent, "_partials", lambda cell: ([("h", "a")], refusing))
    assert tangent.amplification(model, checked) is None
    assert exact.exact_forward(model, 30).checked == exact.AGAINST
