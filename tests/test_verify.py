"""`symbptt verify`: hand-written formulas, right and wrong, each with the verdict and diagnosis it must
get.  The formulas are the classroom ones, written out here in this project's words and notation
(Jacobians and partial derivatives: test_verify_jacobians.py)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from conftest import examples, exhaustive, run_in_process
from hypothesis import given, settings
from hypothesis import strategies as st

from symbptt.check.reader import index_value
from symbptt.check.verify import Model, VerifyError, verify

# one tanh unit, the general-T closed form (right), and the usual ways it goes wrong
RIGHT = (r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} (h_T - y) \left(\prod_{j=k+1}^{T} w (1-h_j^2)\right)"
         r" (1-h_k^2) h_{k-1}")
DELTA = (r"\frac{\partial L}{\partial W} = \sum_{t=1}^{T} \operatorname{diag}(\sigma'(a_t)) \delta_t h_{t-1}^\top"
         r" \\ \delta_T = h_T - y \\ \delta_{t-1} = W^\top \operatorname{diag}(\sigma'(a_t)) \delta_t")

TWO_LAYERS = (r"\frac{\partial L}{\partial W^{(1)}} = \sum_{t=1}^{T} \operatorname{diag}(\sigma'(a^{(1)}_t)) "
              r"\delta^{(1)}_t (h^{(1)}_{t-1})^\top \\ \delta^{(2)}_T = h^{(2)}_T - y \\ "
              r"\delta^{(2)}_{t-1} = (W^{(2)})^T \operatorname{diag}(\sigma'(a^{(2)}_t)) \delta^{(2)}_t \\ "
              r"\delta^{(1)}_{T} = (U^{(2)})^\top \operatorname{diag}(\sigma'(a^{(2)}_T)) \delta^{(2)}_T \\ "
              r"\delta^{(1)}_{t-1} = (W^{(1)})^\top \operatorname{diag}(\sigma'(a^{(1)}_t)) \delta^{(1)}_t "
              r"+ (U^{(2)})^\top \operatorname{diag}(\sigma'(a^{(2)}_{t-1})) \delta^{(2)}_{t-1}")

CORPUS = [
    # (name, formula, model, equal, words of the diagnosis)
    ("closed form, tanh written out", RIGHT, Model(), True, None),
    ("closed form in σ', capital W, \\Bigl and \\, spacing",
     r"\frac{\partial L}{\partial W} = \sum_{k=1}^T (h_T - y) \Bigl(\prod_{j=k+1}^T W \sigma'(a_j)\Bigr) "
     r"\sigma'(a_k)\, h_{k-1}", Model(), True, None),
    ("written out for T = 2", r"\frac{\partial L}{\partial w} = (h_2 - y)(1-h_2^2) h_1 + (h_2-y)(1-h_2^2) w "
     r"(1-h_1^2) h_0", Model(), True, None),
    ("the bias: no input factor", RIGHT.replace("{\\partial w}", "{\\partial b}").replace(" h_{k-1}", ""),
     Model(), True, None),
    ("the δ recursion, scalar, sigmoid", r"\frac{\partial L}{\partial b} = \sum_{t=1}^{T} \delta_t \sigma'(a_t) "
     r"\\ \delta_T = h_T - y \\ \delta_{t-1} = w \sigma'(a_t) \delta_t", Model(activation="sigmoid"), True, None),
    ("the δ recursion for matrices", DELTA, Model(n=2), True, None),
    ("two layers, n = 3, transposes as (X)^\\top and ^T", TWO_LAYERS, Model(n=3, layers=2), True, None),
    ("two layers without the path down from layer 2", TWO_LAYERS.rsplit(" + ", 1)[0], Model(n=3, layers=2), False,
     "go down from layer 2 to layer 1"),
    ("product from j = k", RIGHT.replace("j=k+1", "j=k"), Model(), False, "off by one"),
    ("h_k for h_(k-1)", RIGHT.replace("h_{k-1}", "h_{k}"), Model(), False, "h_k is written where h_(k-1)"),
    ("the error's sign", RIGHT.replace("(h_T - y)", "(y - h_T)"), Model(), False, "sign of the error"),
    ("a factor 2 from the square", "\\frac{\\partial L}{\\partial w} = 2" + RIGHT.split("=", 1)[1], Model(), False,
     "loss convention"),
    ("the transposed Jacobian in the δ recursion",
     DELTA.replace(r"W^\top \operatorname{diag}(\sigma'(a_t))", r"\operatorname{diag}(\sigma'(a_t)) W"),
     Model(n=2), False, "Jacobian is transposed"),
    ("a missing transpose on h_(t-1)", DELTA.replace(r"h_{t-1}^\top", "h_{t-1}"), Model(n=2), False,
     "transpose is missing or misplaced"),
    ("a missing σ' at the entry step", RIGHT.replace(" (1-h_k^2)", ""), Model(), False, "a factor σ' is missing"),
    ("a missing σ' inside the product", RIGHT.replace(" w (1-h_j^2)", " w"), Model(), False,
     "a factor σ' is missing"),
    ("the product without its brackets takes the entry step's σ' and h_(k-1) in",
     RIGHT.replace(r"\left(\prod", r"\prod").replace(r"(1-h_j^2)\right)", "(1-h_j^2)"), Model(), False,
     "without brackets"),
    ("the product of Jacobians without its brackets, n = 2",
     r"\frac{\partial L}{\partial W} = \sum_{k=1}^{T} \operatorname{diag}(\sigma^\prime(a_k)) \prod_{j=k+1}^{T} "
     r"W^\top \operatorname{diag}(\sigma^\prime(a_j))\, (h_T - y) h_{k-1}^\top", Model(n=2), False, "without brackets"),
    ("a missing diag(σ') at the entry step, n = 2",
     DELTA.replace(r"\operatorname{diag}(\sigma'(a_t)) \delta_t h", r"\delta_t h"), Model(n=2), False,
     "diag(σ'(a_j)) is missing"),
    ("a missing diag(σ') in the δ recursion, n = 2",
     DELTA.replace(r"W^\top \operatorname{diag}(\sigma'(a_t)) \delta_t", r"W^\top \delta_t"), Model(n=2), False,
     "diag(σ'(a_j)) is missing"),
    ("a missing σ' in the δ recursion, one unit",
     r"\frac{\partial L}{\partial w} = \sum_{t=1}^{T} \sigma'(a_t) \delta_t h_{t-1} \\ \delta_T = h_T - y \\ "
     r"\delta_{t-1} = w \delta_t", Model(), False, "a factor σ' is missing"),
    ("W diag(σ') for diag(σ') W, n = 2", r"J_t = W \operatorname{diag}(\sigma'(a_t))", Model(n=2), False,
     "in the other order"),
    ("diag(σ') W^T for W^T diag(σ') in the δ recursion, n = 2",
     DELTA.replace(r"W^\top \operatorname{diag}(\sigma'(a_t))", r"\operatorname{diag}(\sigma'(a_t)) W^\top"),
     Model(n=2), False, "in the other order"),
    ("σ'(a_(t-1)) for σ'(a_t), n = 2", r"J_t = \operatorname{diag}(\sigma'(a_{t-1})) W", Model(n=2), False,
     "σ' is taken at the wrong step"),
    ("h_t for h_(t-1) in the δ form, n = 2", DELTA.replace(r"h_{t-1}^\top", r"h_t^\top"), Model(n=2), False,
     "h_t is written where h_(t-1) belongs"),
    ("w^(T-k) for the product of the steps' factors",
     RIGHT.replace(r"\left(\prod_{j=k+1}^{T} w (1-h_j^2)\right)", "w^{T-k}"), Model(), False, "a power of the weight"),
    ("tanh' as 1 - h", RIGHT.replace("w (1-h_j^2)", "w (1-h_j)"), Model(), False, "the square is missing"),
    ("h_(k-1) for x_k in ∂L/∂u", RIGHT.replace("partial w}", "partial u}"), Model(), False,
     "h_(k-1) is written where x_k belongs"),
    ("w^(T-k) for the product, ReLU", r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} (h_T - y) w^{T-k} "
     r"\sigma'(a_k) h_{k-1}", Model(activation="relu"), False, "a power of the weight"),
    ("the weight left out of the product", RIGHT.replace(" w (1-h_j^2)", " (1-h_j^2)"), Model(), False,
     "a weight is left out"),
    ("W^T left out of the δ recursion, n = 2", DELTA.replace(r"W^\top \operatorname", r"\operatorname"), Model(n=2),
     False, "a weight is left out"),
    ("δ_(t-1) for δ_t in the sum, n = 2", DELTA.replace(r"\delta_t h_{t-1}", r"\delta_{t-1} h_{t-1}"), Model(n=2),
     False, "δ is taken at the wrong step"),
    ("tanh' at the step before, (1 - h_(j-1)^2)", RIGHT.replace("(1-h_j^2)", "(1-h_{j-1}^2)"), Model(), False,
     "h_(j-1) is written where h_j belongs"),
    ("σ' of layer 2 at the step before, two layers",
     TWO_LAYERS.replace(r"\sigma'(a^{(2)}_t)) \delta^{(2)}_t \\", r"\sigma'(a^{(2)}_{t-1})) \delta^{(2)}_t \\", 1),
     Model(n=3, layers=2), False, "σ' is taken at the wrong step"),
    ("the entry step's h_(k-1) left out", RIGHT.replace(" (1-h_k^2) h_{k-1}", " (1-h_k^2)"), Model(), False,
     "the input of the step where the parameter enters is left out"),
    ("a flipped sign and a missing σ' (no single known mistake explains both)",
     RIGHT.replace(" (1-h_k^2)", "").replace("(h_T - y)", "(y - h_T)"), Model(), False, None),
]


# published and classroom formulas (the facts, written out in this project's notation and words)
PUBLISHED = [
    ("Pascanu, Mikolov & Bengio (2013), eq. 5: W transposed and on the left of diag(σ')",
     r"\frac{\partial h_t}{\partial h_{t-1}} = W^\top \operatorname{diag}(\sigma'(a_t))", Model(n=2), False,
     "transpose"),
    ("d2l's closed form: the last step's own term, then the sum over the earlier ones",
     r"\frac{\partial L}{\partial w} = (h_T - y) \Bigl[(1-h_T^2) h_{T-1} + \sum_{i=1}^{T-1} \Bigl(\prod_{j=i+1}^{T} "
     r"w (1-h_j^2)\Bigr) (1-h_i^2) h_{i-1}\Bigr]", Model(), True, None),
    ("the LSTM carousel, one step: ∂c_t/∂c_(t-1) = diag(f_t) with h_(t-1) held fixed",
     r"\frac{\partial c_t}{\partial c_{t-1}} = \operatorname{diag}(f_t)", Model(cell="lstm", n=2), True, None),
    ("the LSTM carousel ∏ f_j as the total ∂c_T/∂c_k (the paths through h left out)",
     r"\frac{\partial c_T}{\partial c_k} = \prod_{j=k+1}^{T} \operatorname{diag}(f_j)", Model(cell="lstm", n=2),
     False, "the direct path alone"),
    ("the GRU's ∏ z_j (PyTorch's convention, which symbptt's GRU follows) as the total ∂h_T/∂h_k",
     r"\frac{\partial h_T}{\partial h_k} = \prod_{j=k+1}^{T} \operatorname{diag}(z_j)", Model(cell="gru", n=2),
     False, "the direct path alone"),
]
CORPUS += PUBLISHED


# mistakes whose diagnosis searches longest (2–3 s each) run with `pytest -m slow`; a missing σ' is still
# diagnosed in every suite (inside the product)
LONG_SEARCH = ("a missing σ' at the entry step", "two layers without the path down from layer 2",
               "a factor 2 from the square")


@pytest.mark.parametrize("name,formula,model,equal,words",
                         exhaustive(CORPUS, lambda c: c[0] not in LONG_SEARCH, ids=[c[0] for c in CORPUS]))
def test_each_formula_of_the_corpus_gets_its_verdict(name, formula, model, equal, words):
    verdict = verify(formula, model, points=2)
    assert verdict.equal is equal, verdict.text()
    if equal:
        assert verdict.counterexample is None and verdict.diagnosis is None
        return
    assert verdict.counterexample and verdict.counterexample["formula"] != verdict.counterexample["exact"]
    if words is None:
        assert verdict.diagnosis is None and "none of the known mistakes" in verdict.text()
    else:
        assert words in verdict.diagnosis
        if verdict.corrected is None:  # paths left out are named, not written back in
            assert verdict.diagnosis.startswith(("a missing path", "the formula is the direct path alone"))
        else:
            assert verify(verdict.corrected, model, points=2).equal, "the corrected formula is right"


def test_an_edit_that_makes_a_definition_refer_to_itself_is_passed_over(monkeypatch):
    """A known mistake's edit can turn δ_{t-1} = W^T … δ_t into a definition of δ_{t-1} through itself
    (the σ'-step edit once read the a_t at the end of \\delta_t): evaluating it never ends.  The
    diagnosis passes such an edit over instead of stopping with a RecursionError."""
    from symbptt.check import verify as module
    from symbptt.check.mistakes import _each

    mistakes = module._mistakes
    looping = ("a loop", _each(r"a_(?:\{([a-z])\}|([a-z])(?![A-Za-z0-9]))", r"a_{\1\2-1}"))  # \delta_t too
    monkeypatch.setattr(module, "_mistakes", lambda model: [looping, *mistakes(model)])
    wrong = (r"\frac{\partial L}{\partial w} = \sum_{t=1}^{T} \sigma'(a_t) \delta_t h_{t-1} \\ \delta_T = h_T - y "
             r"\\ \delta_{t-1} = w \delta_t")
    verdict = verify(wrong, Model(), points=2)
    assert not verdict.equal and "a factor σ' is missing" in verdict.diagnosis


def test_a_factor_put_in_never_lands_inside_a_call():
    """σ' written out keeps its argument: a σ'(a_X) or diag(σ'(a_X)) put in after each \\right) once landed
    inside H(a_k) (ReLU's σ'), making H(a_k·H(a_T)), which the random networks could not tell from the
    right factor; the candidates leave every call's argument as it was."""
    from symbptt.check.handwriting import read_rows
    from symbptt.check.mistakes import missing_diag, missing_sigma

    text = read_rows(r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} (h_T - y) w^{T-k} \sigma'(a_k) h_{k-1}",
                     Model(activation="relu"))[0][1]
    calls = re.findall(r"H\\left\(\\left\(a_\w\\right\)\\right\)", text)
    assert calls
    for candidate in [*missing_sigma(text), *missing_diag(text, lambda X: f"D_{{{X}}}")]:
        assert all(call in candidate for call in calls), candidate


def test_the_correction_keeps_the_writer_s_spelling():
    wrong = (r"\frac{\partial L}{\partial W} = \sum_{k=1}^T (y - h_T) \Bigl(\prod_{j=k+1}^T W \sigma'(a_j)\Bigr) "
             r"\sigma'(a_k)\, h_{k-1}")
    verdict = verify(wrong, points=1)
    assert verdict.corrected == wrong.replace("(y - h_T)", "(h_T - y)")


def test_a_bracketed_product_is_taken_as_the_writer_bracketed_it():
    r"""The brackets-missing diagnosis is offered for a ∏ written without brackets only: the same formula
    with the entry step's σ' inside the ∏'s brackets is a wrong formula whose brackets are the writer's,
    and no closing of them is offered as the correction; the factors of a product are found as written
    (σ^\prime with its call, \, and \cdot between factors, diag(…), h_{k-1}^\top)."""
    from symbptt.check.mistakes import _unbracketed_scope

    bracketed = RIGHT.replace(r"(1-h_j^2)\right) (1-h_k^2)", r"(1-h_j^2) (1-h_k^2)\right)")
    verdict = verify(bracketed, points=1)
    assert not verdict.equal and (verdict.diagnosis is None or "without brackets" not in verdict.diagnosis)
    assert all(v.count(r"\left(\prod") == 1 and r"\left(\sum" in v for v in _unbracketed_scope(bracketed))
    text = r"\prod_{j=k+1}^{T} W^\top \cdot \operatorname{diag}(\sigma^\prime(a_j))\, (h_T - y) h_{k-1}^\top + 1"
    inside = [v[len(r"\left(\prod_{j=k+1}^{T} "):v.index(r"\right)")] for v in _unbracketed_scope(text)]
    assert inside == [r"W^\top", r"W^\top \cdot \operatorname{diag}(\sigma^\prime(a_j))",
                      r"W^\top \cdot \operatorname{diag}(\sigma^\prime(a_j))\, (h_T - y)"]


def test_mutations_of_a_right_formula_are_never_called_equal():
    """Random one-token changes of the closed form (an index, a limit, a factor dropped, a sign): every
    change that alters the value is found; none is reported equal by accident."""
    rng = np.random.default_rng(3)
    edits = [("h_{k-1}", "h_{k}"), ("j=k+1", "j=k"), ("j=k+1", "j=k+2"), ("^{T}", "^{T-1}"), ("(h_T - y)", "h_T"),
             (" w ", " "), ("(1-h_k^2)", "(1-h_k)"), ("k=1", "k=2"), ("(1-h_j^2)", "(1+h_j^2)"),
             ("h_{k-1}", "h_{k-2}")]
    for i in rng.permutation(len(edits)):
        old, new = edits[i]
        mutated = RIGHT.replace(old, new, 1)
        assert mutated != RIGHT
        assert not verify(mutated, points=2, diagnose=False).equal, mutated


def test_a_step_the_network_does_not_have_is_a_wrong_formula_not_an_unreadable_one():
    """a_(k-1) at k = 1 is a_0, which no network has: the formula is wrong (exit 1), not unreadable."""
    wrong = r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} (h_T - y) (1-\tanh^2(a_{k-1})) h_{k-1}"
    verdict = verify(wrong, points=1, diagnose=False)
    assert not verdict.equal and verdict.counterexample["formula"].startswith("no value")


@pytest.mark.parametrize("formula,model,reason", [
    (r"\frac{\partial L}{\partial w} = \frac{1}{0}", None, "a division by zero"),
    (r"\frac{\partial L}{\partial w} = (h_T - y) (1 - h_T^2) h_{T+1}", None, "h at a step outside 0..1"),
    (r"\frac{\partial L}{\partial u} = (h_T - y) (1 - h_T^2) x_{0}", None, "x at a step outside 1..1"),
    (r"\frac{\partial h_T}{\partial h_k} = \prod_{j=k+1}^{T} \sqrt{-1}", Model(n=2), "not a real number here"),
], ids=["1/0", "h_(T+1)", "x_0", "sqrt(-1), n = 2"])
def test_where_the_formula_has_no_value_it_says_why_and_the_exact_side_still_has_one(formula, model, reason):
    """1/0 printed "the gradient is no value (an index outside 0..T, …)": the reason was not the reason,
    and the gradient, which has a value, was said to have none.  h_{T+1} was a traceback (IndexError),
    and x_0 was read as x_T (NumPy's index −1)."""
    verdict = verify(formula, model, points=1, diagnose=False)
    c = verdict.counterexample
    assert not verdict.equal and c["formula"] == f"no value ({reason})", c
    exact = [float(v) for v in re.findall(r"-?[0-9.]+(?:e[-+]?[0-9]+)?", c["exact"])]  # as many as it has entries
    assert len(exact) == (4 if model else 1) and all(np.isfinite(exact))
    assert c["exact"].startswith("[") == bool(model)  # a 2 × 2 Jacobian in brackets, rows apart


@pytest.mark.parametrize(("formula", "model", "label"), [
    (r"\frac{\partial c_T}{\partial c_k} = \prod_{j=k+1}^{T} \operatorname{diag}(f_j)", Model(cell="lstm", n=2),
     "(k = 0..1)"),
    (r"J_t = W^\top \operatorname{diag}(\sigma^\prime(a_t))", Model(n=2), "(t = 1..3)"),
    (r"\frac{\partial h_T}{\partial h_k} = \prod_{j=k}^{T} w (1-h_j^2)", Model(), "(k = 0)"),
], ids=["c of an LSTM", "J_t", "one k"])
def test_the_values_say_which_steps_they_are(formula, model, label):
    """Each Jacobian's values are labelled with the steps they run over, for every state (∂c_T/∂c_k of an
    LSTM had no label), and a single step is named as one ((k = 0), not (k = 0..0))."""
    text = verify(formula, model, points=1).text(200)
    assert f"the formula gives {label} " in text and text.count(label) == 2, text


@pytest.mark.parametrize("formula,words,not_words", [
    (r"\frac{\partial L}{\partial w} = \lim_{x\to 0} x", r"cannot read '\lim_{x\to 0} x'", "zeta"),
    (r"\frac{\partial L}{\partial w} = \sum_{k=1}^{10^{9}} h_k", "each without braces inside", "SymPy"),
])
def test_an_unreadable_formula_is_quoted_as_written(formula, words, not_words):
    """SymPy's complaint quoted the formula with verify's placeholders (\\lim_{\\zeta_{0} \\to 0}); a sum
    whose limit has braces inside (^{10^{9}}) was said to lack a limit."""
    with pytest.raises(VerifyError) as error:
        verify(formula, points=1)
    assert words in str(error.value) and not_words not in str(error.value), str(error.value)


@pytest.mark.parametrize("formula,loss", [
    (r"\frac{\partial L}{\partial w} = \sum_{t=1}^{T} \sum_{k=1}^{t} (h_t - y_t) \left(\prod_{j=k+1}^{t} "
     r"w (1 - h_j^2)\right) (1 - h_k^2) h_{k-1}", "sum"),
    (r"\frac{\partial L}{\partial w} = \sum_{i=1}^{2} \sum_{k=1}^{T} \frac{1}{2} (h_T - y) \left("
     r"\prod_{j=k+1}^{T} w (1 - h_j^2)\right) (1 - h_k^2) h_{k-1}", "last"),
])
def test_a_double_sum_is_summed_over_both_indices(formula, loss):
    """SymPy's parser folds Σ_t Σ_k f into one Sum with two limits; the reader summed over the first only.
    The gradient of the loss 'sum' (an inner limit reading the outer index) was "unreadable: \\t", and
    Σ_{i=1}^{2} Σ_k ½·(the gradient) — the gradient, written oddly — was called wrong (it gave half)."""
    verdict = verify(formula, Model(loss=loss), points=2, diagnose=False)
    assert verdict.equal, verdict.text()
    halved = formula.replace(r"\sum_{i=1}^{2}", r"\sum_{i=1}^{1}")
    if halved != formula:
        assert not verify(halved, Model(loss=loss), points=1, diagnose=False).equal


@pytest.mark.parametrize("formula,words", [
    (r"\frac{\partial L}{\partial w} = \delta_T h_{T-1} \\ \delta_t = \delta_{t+1} w",
     "needs δ_{t+1} at a step no row defines"),
    (r"\frac{\partial L}{\partial w} = \delta_5 h_4", "uses δ_{5}, which no row defines"),
])
def test_a_delta_without_its_row_is_named_as_written(formula, words):
    """A recursion without its first row, or δ with no row at all, was "the formula uses delta_{t+1},
    which this model has no value for; it knows … δ_t … once defined on a row of their own" — the row
    was there."""
    with pytest.raises(VerifyError) as error:
        verify(formula, points=1)
    assert words in str(error.value) and "delta" not in str(error.value), str(error.value)


def test_a_function_squared_before_its_argument_is_named_not_a_placeholder():
    with pytest.raises(VerifyError) as error:
        verify(r"\frac{\partial h_t}{\partial h_{t-1}} = w \operatorname{sech}^2(a_t)", points=1)
    assert "the function sech with a power before its argument" in str(error.value)
    assert "chi" not in str(error.value)


def test_a_product_with_its_limits_written_downwards_is_diagnosed_and_corrected():
    """∏_{j=T}^{k+1} (the factors' order written into the limits) counts j up from T: empty wherever
    k+1 < T.  verify said "none of the known mistakes"; it now names it and writes the limits upwards."""
    wrong = (r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} (h_T - y) \left(\prod_{j=T}^{k+1} w (1 - h_j^2)"
             r"\right) (1 - h_k^2) h_{k-1}")
    verdict = verify(wrong, points=1)
    assert not verdict.equal and verdict.diagnosis.startswith("the product's limits run downwards")
    assert r"\prod_{j=k+1}^{T}" in verdict.corrected and verify(verdict.corrected, points=1).equal


def test_a_formula_in_T_is_tested_at_six_lengths_and_a_concrete_one_at_its_own():
    assert verify(RIGHT, points=1).T_values == (1, 2, 3, 4, 5, 6)
    concrete = verify(r"\frac{\partial L}{\partial w} = (h_1 - y)(1-h_1^2) h_0", points=1)
    assert concrete.equal and concrete.T_values == (1,)


@pytest.mark.parametrize("formula,message", [
    ("", "needs a formula"),
    (r"\sum_{k=1}^{T} h_k", "no '='"),
    (r"h_T = \sum_{k=1}^{T} h_k", "nothing to check: the left-hand side must be ∂L/∂θ"),
    (r"\frac{\partial L}{\partial q} = h_T", "not a parameter"),
    (r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} (h_T - y) \left(", "unclosed"),
    ("x" * 5000, "at most"),
    (r"\frac{\partial L}{\partial w} = \prod_{j=1}^{100000000} w", "100000000 terms"),
    (r"\frac{\partial L}{\partial w} = " + "(" * 800 + "w" + ")" * 800, "nested more than"),
    (r"\frac{\partial L}{\partial w} = h_{99}", "reaches step 99"),
    (r"\frac{\partial L}{\partial w} = \input{/etc/passwd}", "cannot read"),
], ids=["empty", "no equals", "not a gradient", "unknown parameter", "unclosed", "too long", "huge product",
        "deep nesting", "far step", "input command"])
def test_an_unreadable_formula_is_one_line_and_exit_2(formula, message):
    with pytest.raises(VerifyError, match=message):
        verify(formula)
    ran = run_in_process("verify", formula) if formula else run_in_process("verify")
    assert ran.returncode == 2 and ran.stderr.startswith("Error:") and "Traceback" not in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("formula,message", [
    (r"\frac{\partial L}{\partial w} = \sum_{k=1}^{10^9} w", "a sum over 1,000,000,000 values of k, more than"),
    (r"\frac{\partial L}{\partial w} = w'", "cannot read the prime in w'"),
    (r"\frac{\partial L}{\partial w} = \sigma'(a_T)\sigma''(a_T)", r"cannot read the prime in \sigma''"),
    (r"\frac{\partial L}{\partial w} = 0 = 1", "a second '=' (or a comparison) in one row"),
    (r"\frac{\partial L}{\partial w} = \int_0^1 w \, dw", "an integral"),
], ids=["sum to 10^9", "prime on w", "second derivative", "two equals", "integral"])
def test_what_verify_cannot_read_is_named_before_any_work(formula, message):
    """A limit written as a power (checked before the first term, not after the 60 s limit), a prime the
    parser would drop (w' read as w gave a verdict on the wrong formula), a second '=' and an integral
    (the messages named SymPy's BooleanFalse and Integral) are refused in one line."""
    with pytest.raises(VerifyError, match=re.escape(message)) as info:
        verify(formula)
    assert "\n" not in str(info.value) and "Boolean" not in str(info.value)


def test_the_command_line_exits_0_1_and_prints_json_for_scripts():
    right = run_in_process("verify", RIGHT)
    assert right.returncode == 0 and right.stdout.startswith("equal:")
    assert all(len(line) <= 100 for line in right.stdout.splitlines())
    wrong = run_in_process("verify", RIGHT.replace("j=k+1", "j=k"), "--format", "json")
    assert wrong.returncode == 1
    report = json.loads(wrong.stdout)
    assert report["verdict"] == "differs" and "off by one" in report["diagnosis"]
    assert report["T"] == [1, 2, 3, 4, 5, 6] and report["digits"] == 40
    assert re.fullmatch(r"[-0-9.e, ]+", report["counterexample"]["formula"])


def test_a_formula_from_a_notes_file(tmp_path):
    notes = tmp_path / "notes.tex"
    notes.write_text("% my notes\nThe gradient is\n\\begin{equation}\n" + RIGHT + "\n\\end{equation}\n")
    assert run_in_process("verify", "--file", str(notes)).returncode == 0
    (tmp_path / "empty.tex").write_text("no maths here")
    ran = run_in_process("verify", "--file", str(tmp_path / "empty.tex"))
    assert ran.returncode == 2 and "no displayed equation" in ran.stderr


def test_a_cell_file_is_refused_by_name():
    with pytest.raises(VerifyError, match="cells the reference BPTT knows"):
        verify(RIGHT, Model(cell="docs/cells/mgu.toml"))


@pytest.mark.parametrize("model,form", [(Model(), "explicit"), (Model(n=2), "recursive"), (Model(), "recursive")])
def test_the_text_notation_derive_prints_is_read_too(model, form):
    """What `derive --format text` prints (∂L/∂w = (h_2 - y)*w*…, J_t.T@delta_t, diag(…), # notes) is a
    formula verify reads; it is the gradient; with the error's sign flipped it is diagnosed."""
    from symbptt import RNN, derive
    from symbptt.render import render_text

    text = render_text(derive(RNN(T=3, n=model.n), form, "W"))
    assert "\\" not in text and verify(text, model, points=1).equal
    if form == "explicit":
        wrong = verify(text.replace("(h_3 - y)", "(y - h_3)"), model, points=1)
        assert not wrong.equal and "sign of the error" in wrong.diagnosis


def test_in_jupyter_a_verdict_shows_its_counterexample_as_a_table():
    """_repr_markdown_ (Jupyter renders it before LaTeX): the formula typeset with the verdict, the
    counterexample's every symbol and both sides in a table, the diagnosis and the corrected formula."""
    wrong = RIGHT.replace(r"\prod_{j=k+1}^{T}", r"\prod_{j=k}^{T}")
    verdict = verify(wrong, Model(), T=3)
    shown = verdict._repr_markdown_()
    assert shown.startswith("$$\n") and "\\text{differs}" in shown
    rows = [line for line in shown.splitlines() if line.startswith("| ")]
    assert rows[0] == "| | value |" and len(rows) == 2 + len(verdict.counterexample["values"]) + 2
    for name, value in verdict.counterexample["values"].items():
        assert f"| {name} | {value} |" in rows
    assert f"| the formula gives | {verdict.counterexample['formula']} |" in rows
    assert "Diagnosis: the product" in shown and shown.count("$$") == 4  # the formula and the corrected one
    right = verify(RIGHT, Model(), T=3)._repr_markdown_()
    assert "\\text{equal}" in right and "| | value |" not in right


def test_a_formula_shown_in_a_notebook_cannot_leave_its_math():
    from symbptt.check.display import verdict_markdown
    from symbptt.check.verify import Verdict

    evil = Verdict(False, "∂L/∂w", "x $$ <img src=x onerror=alert(1)> & y", (1,), 1,
                   {"T": 1, "values": {"w<b>": "1|2"}, "formula": "1", "exact": "2"}, None, None, {"model": "m"})
    shown = verdict_markdown(evil)
    assert "<img" not in shown and "<b>" not in shown and shown.count("$$") == 2
    assert "\\lt img" in shown and "w&lt;b&gt;" in shown and "1\\|2" in shown
    assert "<img" not in evil._repr_latex_()



@pytest.mark.parametrize("formula,model,words", [
    (r"\frac{\partial L}{\partial w} = (h_2 - y)(1-h_2^2) h_1", Model(), "the paths that enter w at step k = 1"),
    (r"\frac{\partial L}{\partial b} = (h_2 - y_2)(1-h_2^2) + (h_2 - y_2)(1-h_2^2) w (1-h_1^2)", Model(loss="sum"),
     "start from the loss term at step 1 are left out"),
    (r"\frac{\partial L}{\partial b} = (h_1 - y_1)(1-h_1^2)", Model(loss="sum"),
     "keeps only the paths that start from the loss term at step 1"),
])
def test_a_missing_path_is_named(formula, model, words):
    """A written-out formula with paths left out: the diagnosis names them from the difference."""
    verdict = verify(formula, model, T=2)
    assert not verdict.equal and words in " ".join(verdict.text(200).split())


def test_a_missing_path_is_named_at_the_counterexample_s_T():
    """Σ_{k=1}^{T-1} leaves out the last step's paths.  The first counterexample is at T = 1, where that
    step is k = 1, and the diagnosis said "the paths that enter w at step k = 1 are left out" as though of
    every T — at T = 3 the k = 1 paths are there.  It now says at which T it looked and that k = T."""
    formula = (r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T-1} (h_T - y) \left(\prod_{j=k+1}^{T} "
               r"w (1 - h_j^2)\right) (1 - h_k^2) h_{k-1}")
    verdict = verify(formula, points=1)
    words = " ".join(verdict.text(200).split())
    assert verdict.counterexample["T"] == 1 and "(at the counterexample's T = 1)" in words
    assert "enter w at step k = 1 = T are left out" in words


def test_a_difference_no_group_of_paths_explains_gets_no_path_named():
    wrong = r"\frac{\partial L}{\partial w} = 1.1 (h_2 - y)(1-h_2^2) h_1 + (h_2-y)(1-h_2^2) w (1-h_1^2) h_0"
    verdict = verify(wrong, Model(), T=2)
    assert not verdict.equal and "missing path" not in verdict.text(200)


def test_the_mistakes_said_to_be_tried_are_the_ones_tried():
    """The sentence "none of the known mistakes (…)" was fixed text: it left out the σ' it tries for one
    unit, and a verdict with diagnose=False claimed the list was tried.  It is now the names of the
    mistakes verify tried for this model, and "not looked for" where it looked for none."""
    from symbptt.check.mistakes import MATRICES_ONLY, MISTAKES, known_mistakes

    wrong = r"\frac{\partial L}{\partial w} = \frac{1}{0}"
    for model, sigma in ((Model(), True), (Model(n=2), False)):
        verdict = verify(wrong.replace("w}", "W}") if model.n > 1 else wrong, model, points=1)
        said = " ".join(verdict.text(200).split())
        assert verdict.tried == known_mistakes(model.n)
        assert all((name in said) == (model.n > 1 or name not in MATRICES_ONLY) for name, _, _ in MISTAKES)
        assert ("a σ' left out" in said) == sigma and ("a diag(σ') left out" in said) == (not sigma)
    quiet = verify(wrong, points=1, diagnose=False)
    assert quiet.tried == () and "diagnosis: not looked for" in quiet.text() and "known mistakes" not in quiet.text()


@pytest.mark.parametrize("sub", ["k-", "-", "--1", "+-k"])
def test_a_sign_without_a_term_is_no_index(sub):
    assert index_value(sub, {"k": 3}) is None
    assert index_value("-k+1", {"k": 3}) == -2 and index_value("+2", {}) == 2


GENERAL_IN_SIGMA = (r"\frac{\partial L}{\partial w} = \sum_{k=1}^{T} (h_T - y) "
                    r"\left(\prod_{j=k+1}^{T} w \sigma'(a_j)\right) \sigma'(a_k) h_{k-1}")


@pytest.mark.parametrize("activation", ["2*tanh(a)", "a*sigmoid(a)", "max(a, 0.2*a) + 0.1*sin(a)"])
def test_any_activation_a_user_gives_is_verified_against_its_own_reference(activation):
    """`verify -a` with a custom activation outside the check's own three stopped with a KeyError and a
    traceback: the reference had σ and σ' written out for those three only.  Any other is now taken from
    its text, σ' by mpmath's differences (check.trials._written_pair): the right formula is equal; for
    2·tanh(a), one without σ'(a_k) differs and is diagnosed, and the command line says equal."""
    model = Model(activation=activation)
    assert verify(GENERAL_IN_SIGMA, model, points=2).equal
    if activation != "2*tanh(a)":
        return  # the wrong formula and the command line once (a diagnosis tries every known mistake: seconds)
    wrong = verify(GENERAL_IN_SIGMA.replace(r" \sigma'(a_k)", ""), model)
    assert not wrong.equal and "σ' is missing" in wrong.diagnosis
    ran = run_in_process("verify", "-a", activation, GENERAL_IN_SIGMA.replace("'", "^\\prime"))
    assert ran.returncode == 0 and ran.stdout.startswith("equal:") and "Traceback" not in ran.stderr


@settings(max_examples=examples(14))
@given(st.sampled_from(["2*tanh(a)", "a*sigmoid(a)", "max(a, 0.2*a) + 0.1*sin(a)", "log(1 + exp(a))",
                        "a/sqrt(1 + a**2)", "erf(a/2)*cosh(a/4)", "min(abs(a), 3) - E**(-a*a)/pi"]),
       st.floats(-6, 6).filter(lambda v: abs(v) > 1e-6))
def test_the_reference_of_a_written_activation_is_the_engine_s_sigma_and_slope(text, a):
    """The reference's σ and σ' of a written activation (its text walked with mpmath, σ' by differences)
    against the engine's (SymPy's expression and derivative, lambdified for mpmath) at 40 digits."""
    import mpmath

    from symbptt.activations import get_activation
    from symbptt.check.trials import reference_activation

    sigma, slope = reference_activation(text, "mp")
    act = get_activation(text)
    with mpmath.workdps(40):
        x = mpmath.mpf(a)
        for ours, theirs in ((sigma(x), act.mp_sigma(x)), (slope(x), act.mp_dsigma(x))):
            assert abs(ours - theirs) <= mpmath.mpf(10) ** -35 * max(1, abs(theirs)), (text, a)
    slope_float = float(reference_activation(text, "float")[1](a))
    assert abs(slope_float - float(act.np_dsigma(np.array([a]))[0])) <= 1e-12 * max(1.0, abs(slope_float))


def test_a_planted_slip_in_a_written_reference_is_caught(monkeypatch):
    """The comparison can fail: with σ' of the reference off by one part in 10^6, the right formula for a
    written activation is called wrong."""
    from symbptt.check import trials

    real = trials._written_pair

    def slipped(text, kind):
        sigma, slope = real(text, kind)
        return sigma, np.frompyfunc(lambda a: slope(a) * (1 + 1e-6), 1, 1)

    monkeypatch.setattr(trials, "_written_pair", slipped)
    assert not verify(GENERAL_IN_SIGMA, Model(activation="2*tanh(a)")).equal
