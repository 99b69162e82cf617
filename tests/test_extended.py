"""Sums with an unbounded exponent (numeric/extended.py): small blocks added entry by entry with Python's
floats give the mantissas and exponents NumPy's loop over the parts gives."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from symbptt.numeric import extended

_VALUE = st.one_of(st.floats(-1e300, 1e300, allow_subnormal=True), st.sampled_from([0.0, -0.0, 5e-324, -2.5e-308]))


@st.composite
def _parts(draw):
    shape = draw(st.sampled_from([(1, 1), (1,), (2,), (2, 4), (8, 1)]))
    size = int(np.prod(shape))
    out = []
    for _ in range(draw(st.integers(2, 70))):
        block = np.array(draw(st.lists(_VALUE, min_size=size, max_size=size)), dtype=float).reshape(shape)
        if draw(st.booleans()):
            e = draw(st.integers(-3000, 3000))
        else:
            e = np.array(draw(st.lists(st.integers(-3000, 3000), min_size=size, max_size=size)),
                         dtype=np.int64).reshape(shape)
        out.append((block, e))
        if draw(st.booleans()):  # the same part negated: a sum that cancels
            out.append((-block, e))
    return out


@settings(max_examples=examples(300), deadline=None)
@given(parts=_parts())
def test_small_blocks_added_entry_by_entry_are_numpys_sums_to_the_bit(parts):
    """Every mantissa and exponent of extended_sum's entrywise path equals its NumPy path's (ENTRYWISE = 0),
    with parts whose exponents lie thousands apart (an addend dropped as float64 addition drops it),
    zeros, subnormals and parts that cancel one another."""
    got_m, got_x = extended.extended_sum(parts)
    saved = extended.ENTRYWISE
    extended.ENTRYWISE = 0
    try:
        want_m, want_x = extended.extended_sum(parts)
    finally:
        extended.ENTRYWISE = saved
    assert got_m.shape == want_m.shape and got_x.dtype == want_x.dtype
    assert np.array_equal(got_m.view(np.int64), want_m.view(np.int64)) and np.array_equal(got_x, want_x)


def test_the_entrywise_path_is_taken_only_for_small_finite_blocks(monkeypatch):
    """Blocks beyond ENTRYWISE entries, a non-finite entry or a single part go NumPy's way."""
    taken: list[int] = []
    real = extended._entrywise_sum
    monkeypatch.setattr(extended, "_entrywise_sum", lambda v, e, shape: taken.append(len(v[0])) or real(v, e, shape))
    one = np.ones((1, 1))
    extended.extended_sum([(one, 0), (one, 3)])
    extended.extended_sum([(np.ones((3, 3)), 0), (np.ones((3, 3)), 1)])
    extended.extended_sum([(one, 0), (np.full((1, 1), np.inf), 1)])
    extended.extended_sum([(one, 0)])
    assert taken == [2]
    with pytest.raises(AssertionError):
        extended.extended_sum([])
