"""symbptt verify on Jacobians and partial derivatives: ∂h_t/∂h_k written as people write it, transposed, in
the wrong order, to a step the network lacks, of a stack; partial derivatives in a formula read as the
network's own, or refused with the reason."""

from __future__ import annotations

import re

import numpy as np
import pytest

from symbptt.check.verify import Model, VerifyError, verify


def _blocks(text: str) -> list[np.ndarray]:
    """The matrices of a counterexample's values, '[a, b; c, d], [e, f; g, h]', as arrays."""
    return [np.array([[float(v) for v in row.split(", ")] for row in block.split("; ")])
            for block in re.findall(r"\[([^\]]*)\]", text)]


@pytest.mark.parametrize("n", [2, 3])
def test_a_transposed_jacobian_shows_as_the_transpose_of_the_right_one(n):
    """The counterexample lists each step's matrix in brackets, rows apart ([a, b; c, d]), as the
    parameters are written: the formula's matrices are the Jacobian's transposed, which the flat list of
    4·T numbers it printed before did not show.  A gradient of a matrix is a matrix too."""
    wrong = verify(r"J_t = W^\top \operatorname{diag}(\sigma^\prime(a_t))", Model(n=n), points=1, diagnose=False)
    c = wrong.counterexample
    got, want = _blocks(c["formula"]), _blocks(c["exact"])
    assert len(got) == len(want) == c["T"] and all(a.shape == (n, n) for a in got)
    assert all(np.allclose(a, b.T, rtol=1e-11, atol=1e-14) for a, b in zip(got, want, strict=True))
    assert not all(np.allclose(a, b) for a, b in zip(got, want, strict=True))
    gradient = verify(r"\frac{\partial L}{\partial W} = \sum_{t=1}^{T} \delta_t h_{t-1}^\top \\ \delta_T = h_T - y \\ "
                      r"\delta_{t-1} = W^\top \operatorname{diag}(\sigma^\prime(a_t)) \delta_t", Model(n=n), points=1,
                      diagnose=False).counterexample
    assert [b.shape for b in _blocks(gradient["exact"])] == [(n, n)] == [b.shape for b in _blocks(gradient["formula"])]


@pytest.mark.parametrize("formula,model", [
    (r"\frac{\partial h_t}{\partial h_{t-1}} = w (\operatorname{sech}(a_t))^2", None),
    (r"\frac{\partial h_t}{\partial h_{t-1}} = w (\cosh a_t)^{-2}", None),
    (r"\frac{\partial h_t}{\partial h_{t-1}} = \mathrm{diag}(1 - h_t^2) W", Model(n=2)),
    (r"\frac{\partial h_t}{\partial h_{t-1}} = (W^\top \text{diag}(1 - h_t^2))^\top", Model(n=2)),
    (r"\dfrac{\partial h_t}{\partial h_{t-1}} = w \tfrac{1 - h_t^2}{1}", None),
    (r"\frac{\partial \mathcal{L}}{\partial \mathbf{W}} = \sum_{k=1}^{T} \boldsymbol{\delta}_k "
     r"\mathbf{h}_{k-1}^\top \\ \boldsymbol{\delta}_T = \operatorname{diag}(1 - \mathbf{h}_T^2)(\mathbf{h}_T - "
     r"\mathbf{y}) \\ \boldsymbol\delta_t = \operatorname{diag}(1 - \mathbf{h}_t^2) \mathbf{W}^\top "
     r"\boldsymbol{\delta}_{t+1}", Model(n=2)),
])
def test_right_jacobians_written_as_people_write_them_are_equal(formula, model):
    """w (sech a_t)^2 was read as (w·sech a_t)² — SymPy's parser takes w for a function applied to the
    bracket and squares the call — and called wrong; \\mathrm{diag} and \\text{diag} were "\\mathrm, which
    verify cannot read"; a \\dfrac on the left was "nothing to check"; bold vectors (\\mathbf{h}_t,
    \\boldsymbol{\\delta}_t) and a calligraphic \\mathcal{L} were refused."""
    assert verify(formula, model, points=1, diagnose=False).equal
    wrong = formula.replace("^2", "^3").replace("^{-2}", "^{-3}").replace("1 - h_t^2", "1 - h_t^3")
    assert not verify(wrong, model, points=1, diagnose=False).equal


def test_a_jacobian_to_a_numbered_step_is_checked_at_the_t_that_have_it():
    """∂h_T/∂h_0 (the product of every step) and ∂h_T/∂h_3 are Jacobians too: checked at the T above that
    step only, which the verdict names; a wrong order of a matrix product is diagnosed as for ∂h_T/∂h_k."""
    whole = verify(r"\frac{\partial h_T}{\partial h_0} = \prod_{t=1}^{T} w (1 - h_t^2)")
    assert whole.equal and whole.T_values == (1, 2, 3, 4, 5, 6) and "∂h_T/∂h_0" in whole.text(100)
    late = verify(r"\frac{\partial h_T}{\partial h_3} = \prod_{t=4}^{T} w (1 - h_t^2)")
    assert late.equal and late.T_values == (4, 5, 6) and "at each T = 4, 5, 6" in late.text(100)
    off = verify(r"\frac{\partial h_T}{\partial h_3} = \prod_{t=3}^{T} w (1 - h_t^2)")
    assert not off.equal
    order = verify(r"\frac{\partial h_T}{\partial h_0} = \prod_{t=1}^{T} \operatorname{diag}(\sigma'(a_t)) W",
                   model=Model(n=2))
    assert not order.equal and "reverse order" in order.text(100)
    with pytest.raises(VerifyError, match="needs T > 7: give T"):
        verify(r"\frac{\partial h_T}{\partial h_7} = 1")


@pytest.mark.parametrize("formula,model,equal,diagnosis", [
    (r"\frac{\partial h_T}{\partial h_k} = \prod_{j=k+1}^{T} w \left(1 - h_j^2\right)", Model(), True, None),
    (r"\frac{\partial h_T}{\partial h_k} = \prod_{j=k}^{T} w (1-h_j^2)", Model(), False, "starts at j=k+1"),
    (r"\frac{\partial h_T}{\partial h_k} = \prod_{j=k+1}^{T} w \sigma'(a_j)", Model(activation="sigmoid"), True,
     None),
    (r"J_t = \operatorname{diag}(\sigma'(a_t)) W", Model(n=2), True, None),
    (r"\frac{\partial h_t}{\partial h_{t-1}} = W^\top \operatorname{diag}(\sigma'(a_t))", Model(n=3), False,
     "the Jacobian is transposed"),
    (r"\frac{\partial h_T}{\partial h_k} = \prod_{j=k+1}^{T} \operatorname{diag}(1 - h_j^2) W", Model(n=2), False,
     None),
])
def test_jacobians_of_the_state_are_checked_too(formula, model, equal, diagnosis):
    """∂h_T/∂h_k (in k and T) and ∂h_t/∂h_{t-1} = J_t against the reference's Jacobians: right ones equal,
    a range off by one and a transposed J_t named; ∏ diag(·) W written as a SymPy-style product of matrices
    in the wrong order (J_{k+1} first) differs."""
    verdict = verify(formula, model)
    assert verdict.equal is equal, verdict.text()
    noun = "the Jacobian"
    assert noun in verdict.text().splitlines()[0]
    if diagnosis:
        assert diagnosis in (verdict.diagnosis or "")
        assert verify(verdict.corrected, model).equal


def test_a_planted_index_bug_in_the_jacobian_check_is_caught(monkeypatch):
    """Write k + 1 where the check sets k: the right ∂h_T/∂h_k then differs."""
    from symbptt.check import jacobian

    real = jacobian._at
    monkeypatch.setattr(jacobian, "_at", lambda text, letter, value: real(text, letter, value + 1))
    assert not verify(r"\frac{\partial h_T}{\partial h_k} = \prod_{j=k+1}^{T} w (1-h_j^2)", Model(),
                      diagnose=False).equal


def test_a_jacobian_of_a_stack_is_refused_in_one_line():
    with pytest.raises(VerifyError, match="of one layer"):
        verify(r"\frac{\partial h_T}{\partial h_k} = \prod_{j=k+1}^{T} w (1-h_j^2)", Model(layers=2))


@pytest.mark.parametrize("formula, model, equal", [
    (r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} (h_T - y) \Bigl(\prod_{j=k+1}^{T} "
     r"\frac{\partial h_j}{\partial h_{j-1}}\Bigr) \sigma^\prime(a_k)\, h_{k-1}", Model(), True),
    (r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} \frac{\partial L}{\partial h_T} "
     r"\frac{\partial h_T}{\partial h_k} \sigma^\prime(a_k)\, h_{k-1}", Model(), True),
    (r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} \frac{\partial L}{\partial h_T} \Bigl(\prod_{j=k}^{T} "
     r"\frac{\partial h_j}{\partial h_{j-1}}\Bigr) \sigma^\prime(a_k)\, h_{k-1}", Model(), False),
    (r"\frac{\partial L}{\partial W} = \sum_{k=1}^{T} \operatorname{diag}(\sigma^\prime(a_k)) \Bigl("
     r"\frac{\partial h_T}{\partial h_k}\Bigr)^\top (h_T - y) h_{k-1}^\top", Model(n=2), True),
    # ascending j multiplies J_{k+1} ⋯ J_T: the reverse of ∂h_T/∂h_k = J_T ⋯ J_{k+1} for matrices
    (r"\frac{\partial L}{\partial W} = \sum_{k=1}^{T} \operatorname{diag}(\sigma^\prime(a_k)) \Bigl(\prod_{j=k+1}^{T} "
     r"\frac{\partial h_j}{\partial h_{j-1}}\Bigr)^\top (h_T - y) h_{k-1}^\top", Model(n=2), False),
    (r"\frac{\partial L}{\partial W} = \sum_{k=1}^{T} \operatorname{diag}(\sigma^\prime(a_k)) \Bigl(\prod_{j=k+1}^{T} "
     r"\Bigl(\frac{\partial h_j}{\partial h_{j-1}}\Bigr)^\top\Bigr) (h_T - y) h_{k-1}^\top", Model(n=2), True),
    (r"\frac{\partial h_T}{\partial h_k} = \prod_{j=k+1}^{T} \frac{\partial h_j}{\partial h_{j-1}}", Model(), True),
    (r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} \partial L / \partial h_T \; \partial h_T/\partial h_{k} \, "
     r"\sigma^\prime(a_k)\, h_{k-1}", Model(), True),
    # the LSTM's h → h block of one step holds c fixed: their product leaves out the paths through c
    (r"\frac{\partial h_T}{\partial h_k} = \prod_{j=k+1}^{T} \frac{\partial h_j}{\partial h_{j-1}}",
     Model(cell="lstm"), False),
    (r"\frac{\partial c_T}{\partial c_k} = \frac{\partial c_T}{\partial c_k}", Model(cell="lstm"), True),
    (r"\frac{\partial h_T}{\partial h_k} = \frac{\partial h_T}{\partial h_{k+1}} \frac{\partial h_{k+1}}{\partial h_k}",
     Model(n=2), True),
], ids=["product", "chain", "off by one", "matrix", "matrix order", "transposed factors", "rnn path", "inline",
        "lstm path", "lstm c", "chain rule at k + 1 = T"])
def test_partial_derivatives_in_a_formula_stand_for_the_network_s_own(formula, model, equal):
    """∂h_j/∂h_{j-1}, ∂h_T/∂h_k and ∂L/∂h_T inside a formula are the network's own (the reference's
    Jacobians at 40 digits), so what is checked is how they are put together."""
    assert verify(formula, model, points=2, diagnose=False).equal is equal


@pytest.mark.parametrize("formula, model, words", [
    (r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} \frac{\partial a_T}{\partial a_k} h_{k-1}", Model(),
     "a is not one"),
    (r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} \frac{\partial h_T}{\partial c_k} h_{k-1}", Model(cell="lstm"),
     "not ∂h/∂c"),
    (r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} \frac{\partial L}{\partial h_k} \sigma^\prime(a_k) h_{k-1}",
     Model(), "two readings"),
    (r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} \frac{\partial L}{\partial h_T} h_{k-1}", Model(loss="sum"),
     "two readings"),
    (r"\frac{\partial L}{\partial W} = \sum_{k=1}^{T} \frac{\partial L}{\partial h_T} h_{k-1}^\top", Model(n=2),
     "a row in one layout and a column in the other"),
    (r"\frac{\partial L}{\partial w^{(1)}} = \sum_{k=1}^{T} \frac{\partial h_T}{\partial h_k} h_{k-1}",
     Model(layers=2), "one layer"),
    (r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} (h_T - y) \frac{\partial h_T}{\partial h_m} h_{k-1}", Model(),
     "letters a sum or product binds"),
], ids=["not a state", "two states", "dL/dh_k", "loss sum", "n = 2", "stack", "unbound"])
def test_a_partial_derivative_with_more_than_one_reading_is_refused_with_the_reason(formula, model, words):
    with pytest.raises(VerifyError, match=re.escape(words)):
        verify(formula, model, points=1)


def test_a_partial_derivative_at_a_step_the_network_lacks_has_no_value():
    verdict = verify(r"\frac{\partial L}{\partial w} = \frac{\partial h_{T+1}}{\partial h_T} (h_T - y)", Model(),
                     points=1, diagnose=False)
    assert not verdict.equal and "h at a step outside 0..1" in verdict.text()


@pytest.mark.parametrize("formula", [
    r"\frac{\partial h_T}{\partial h_k} = \prod_{j=k+1}^{T} \operatorname{diag}(\sigma^\prime(a_j)) W",
    r"\frac{\partial L}{\partial W} = \sum_{k=1}^{T} \operatorname{diag}(\sigma^\prime(a_k)) \Bigl(\prod_{j=k+1}^{T} "
    r"\frac{\partial h_j}{\partial h_{j-1}}\Bigr)^\top (h_T - y)\, h_{k-1}^\top",
], ids=["jacobian", "gradient"])
def test_a_product_of_matrices_in_the_wrong_order_is_named_and_corrected(formula):
    """Written left to right with j rising, ∏_{j=k+1}^{T} J_j is J_(k+1) ⋯ J_T; ∂h_T/∂h_k runs the other
    way.  The correction, in the writer's spelling, is equal; for one unit the order changes nothing and
    the mistake is not tried."""
    verdict = verify(formula, Model(n=2), points=2)
    assert not verdict.equal and "multiply in the reverse order" in verdict.text()
    assert r"\sigma^\prime" in verdict.corrected
    assert verify(verdict.corrected, Model(n=2), points=2, diagnose=False).equal
    assert "a product of matrices in reverse order" in verdict.tried
    scalar = verify(r"\frac{\partial h_T}{\partial h_k} = \prod_{j=k}^{T} w", Model(), points=1)
    assert "reverse order" not in scalar.text() and "a product of matrices in reverse order" not in scalar.tried


def test_the_lstm_s_h_blocks_multiplied_are_named_as_the_paths_through_c_left_out():
    """∏ ∂h_j/∂h_(j-1) (each one-step block holds c fixed) is not ∂h_T/∂h_k of an LSTM: the paths from h
    into c and back are missing, and the diagnosis says so — computed from the blocks, not from the words."""
    formula = r"\frac{\partial h_T}{\partial h_k} = \prod_{j=k+1}^{T} \frac{\partial h_j}{\partial h_{j-1}}"
    verdict = verify(formula, Model(cell="lstm"), points=1)
    assert not verdict.equal and "one-step blocks ∂h_j/∂h_(j-1), each with c held fixed" in verdict.text(200)
    two = verify(formula, Model(cell="lstm", n=2), points=1)  # left to right: step k+1's block first
    assert "one-step blocks ∂h_j/∂h_(j-1) (multiplied in the reverse order, step k+1 first)" in two.text(200)
    # the same blocks with one of them doubled are not the product of the blocks: no such diagnosis
    doubled = formula.replace(r"\prod", r"2 \prod")
    assert "one-step blocks" not in verify(doubled, Model(cell="lstm"), points=1).text(200)


@pytest.mark.parametrize("rhs, words", [
    (r"\frac{\partial h_{T}}{\partial h_{}} (h_T - y)", "one step in each subscript"),
    (r"\frac{\partial h_{T}}{\partial h_{k,1}} (h_T - y)", "not one unit's entry"),
    (r"\frac{\partial L}{\partial h_{}}", "one step in the subscript"),
    (r"\frac{\partial x_{0}}{\partial W_{1}}", "not ∂x/∂w"),
], ids=["empty step", "a unit", "empty loss step", "not a state"])
def test_a_partial_derivative_written_wrong_is_one_line(rhs, words):
    with pytest.raises(VerifyError, match=re.escape(words)):
        verify(r"\frac{\partial L}{\partial w} = " + rhs, points=1)


def test_a_formula_that_names_only_step_0_runs_one_step_and_t_is_checked():
    """A formula naming only h_0 ran a network of 0 steps (a traceback); T = 0 from the API too."""
    verdict = verify(r"\frac{\partial L}{\partial w} = h_0", points=1, diagnose=False)
    assert not verdict.equal and verdict.counterexample["T"] == 1
    with pytest.raises(VerifyError, match="T must be an integer from 1 to 12"):
        verify(r"\frac{\partial L}{\partial w} = h_0", T=0)
    below = verify(r"\frac{\partial L}{\partial w} = \frac{\partial h_{T}}{\partial h_{-5}} (h_T - y)", points=1,
                   diagnose=False)
    assert "an index below 0" in below.text()


@pytest.mark.parametrize("state", ["h_{-1}", "h_{k-2}", "x_{-3}"])
def test_a_step_below_0_has_no_value_whether_written_as_a_number_or_from_k(state):
    """h_{-1} was "no value for the symbol" (unreadable, exit 2) while h_{k-2} at k = 1 was a formula with
    no value there (exit 1): a minus sign in front of an index is read as one, as within it."""
    verdict = verify(rf"\frac{{\partial L}}{{\partial w}} = \sum_{{k=1}}^{{T}} {state} (h_T - y)", points=1,
                     diagnose=False)
    assert not verdict.equal and "an index below 0" in verdict.text()


def test_a_complaint_quotes_partial_derivatives_as_written_and_a_rebound_k_is_named():
    with pytest.raises(VerifyError) as error:
        verify(r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} \frac{\partial L}{\partial h_T} \sum_{0=1}^{T} 1")
    assert r"\frac{\partial L}{\partial h_{T}}" in str(error.value) and "partial}_" not in str(error.value)
    with pytest.raises(VerifyError, match="k both as the step of ∂h_T/∂h_k and as the index"):
        verify(r"\frac{\partial h_T}{\partial h_k} = \sum_{k=1}^{T} \left(w\right)")
