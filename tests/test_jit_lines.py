"""One sequence's nudged reruns with their routes and products written out (numeric/jit_lines.py): the
same nudged values to the bit as a batch's, whose routes and products the shared helpers compute."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_layers

from symbptt.activations import get_activation
from symbptt.cells import get_cell
from symbptt.numeric import jit_nudge
from symbptt.numeric.factors import NumericModel


@pytest.mark.parametrize(("cell", "loss"), [("rnn", "sum"), ("lstm", "last"), ("gru", "last")])
def test_one_sequence_is_nudged_as_it_is_in_a_batch(compiled_kernel, cell, loss):
    """A sequence rerun alone (its products and routes written out in the step) and the same sequence
    beside another in a batch of two (the helpers _columns, _through_n, _diagonal_n), every value moved
    up: every nudged linear map, node, coefficient and δ_t (times 2 to its step's exponent, which the batch
    shares) the same to the bit, 12 units, 110 steps (long enough for the reruns to run compiled).  One
    layer with one input, so that U·x_t, which NumPy multiplies before the loops, has no sum whose order
    could differ.  A nudge whose size is read wrong moves its value by an ulp, so the sizes the routes carry
    beside δ are held too."""
    rng = np.random.default_rng(7)
    spec = get_cell(cell, get_activation("tanh"))
    params = [{k: (np.asarray(v, dtype=float).reshape(-1, 1) if np.ndim(v) < 2 else np.asarray(v, dtype=float))
               for k, v in p.items()} for p in random_layers(spec, 12, 1, 1, rng, 0.8)]
    T = 110
    x = rng.normal(size=(T, 1, 2))
    y = rng.normal(size=(12, 2) if loss == "last" else (T, 12, 2))
    both = jit_nudge.nudged_pass(NumericModel(spec, params, x, y, loss), 1, False)
    alone = jit_nudge.nudged_pass(NumericModel(spec, params, np.ascontiguousarray(x[..., :1]),
                                               np.ascontiguousarray(y[..., :1]), loss), 1, False)
    assert both is not None and alone is not None
    for ours, theirs in zip(alone.values + alone.coefs, both.values + both.coefs, strict=True):
        for key, arr in theirs.items():
            assert np.array_equal(ours[key][..., 0], arr[..., 0]), key
    steps = np.arange(T + 1)
    for ours, theirs in zip(alone.deltas, both.deltas, strict=True):
        assert np.array_equal(np.ldexp(ours[..., 0], alone.exps[steps, None]),
                              np.ldexp(theirs[..., 0], both.exps[steps, None]))
