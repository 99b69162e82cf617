"""Products whose floating-point events reach the watching thread (numeric/flags.py): the same bits as
NumPy's, and an underflow, overflow or invalid operation in any corner of a product that OpenBLAS splits
over threads recorded by FloatWatch, with no event for a product that lost nothing."""

from __future__ import annotations

import numpy as np
import pytest

from symbptt.activations import get_activation
from symbptt.cells import get_cell
from symbptt.numeric.factors import ArrayFactors, FloatWatch, NumericModel
from symbptt.numeric.flags import CHECKED_WORK, TINY, _lost_to_underflow, _raise_hidden, matmul

# (a's shape, b's shape): below the checked size, at sizes NumPy's OpenBLAS runs on one thread, and at
# sizes it splits over threads (a corner event there never reached the caller before flags.py)
SHAPES = [
    ((8, 8), (8, 4)),
    ((64, 64), (64, 128)),
    ((64, 64), (64, 64)),
    ((128, 128), (128, 64)),
    ((256, 256), (256, 64)),
    ((64, 64), (64, 1024)),
    ((1024, 1024), (1024,)),
    ((128, 128), (3, 128, 64)),  # one matrix against a stack (the input products of every step)
    ((3, 128, 64), (3, 64, 128)),  # a stack against a stack (the weight sums' products per step)
]


def _events(a: np.ndarray, b: np.ndarray) -> set[tuple[object, str]]:
    watch = FloatWatch()
    with watch.watch("product"):
        matmul(a, b)
    return watch.events


def _filled(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0.5, 1.0, size=shape)


@pytest.mark.parametrize(("sa", "sb"), SHAPES)
def test_same_bits_as_numpy(sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(sa) * 7 + sa[-1])
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    assert np.array_equal(matmul(a, b), np.matmul(a, b))
    out = np.empty_like(np.matmul(a, b))
    assert matmul(a, b, out=out) is out and np.array_equal(out, np.matmul(a, b))


@pytest.mark.parametrize(("sa", "sb"), SHAPES)
def test_a_clean_product_records_nothing(sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sa[-1] + 1)
    assert _events(rng.normal(size=sa), rng.normal(size=sb)) == set()


def _corner(sa: tuple[int, ...], sb: tuple[int, ...], scale: float, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
    """Operands whose product has its last row × last column entry built from terms of size scale²."""
    a, b = _filled(sa, rng), _filled(sb, rng)
    a[..., -1, :] *= scale
    if b.ndim == 1:
        b *= scale  # a vector's one column: the last row of the product is the corner
    else:
        b[..., :, -1] *= scale
    return a, b


@pytest.mark.parametrize(("sa", "sb"), SHAPES)
def test_an_underflow_in_one_corner_is_recorded(sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    a, b = _corner(sa, sb, 1e-160, np.random.default_rng(3))  # terms near 1e-320: subnormal, digits lost
    assert ("product", "underflow") in _events(a, b)


@pytest.mark.parametrize(("sa", "sb"), SHAPES)
def test_an_overflow_in_one_corner_is_recorded(sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    a, b = _corner(sa, sb, 1e160, np.random.default_rng(4))
    assert ("product", "overflow") in _events(a, b)


def test_a_nan_from_finite_operands_is_recorded_as_invalid() -> None:
    """With FMA a sum of finite products cannot reach inf − inf, but a BLAS without it can (two terms that
    overflow with opposite signs): a NaN in the result of finite operands is an invalid operation."""
    a, b = np.ones((256, 256)), np.ones((256, 64))
    c = np.matmul(a, b)
    c[-1, -1] = np.nan
    watch = FloatWatch()
    with watch.watch("product"):
        _raise_hidden(a, b, c)
    assert watch.events == {("product", "invalid value")}
    a[0, 0] = np.inf  # a NaN that a non-finite operand explains was recorded where that operand was made
    watch = FloatWatch()
    with watch.watch("product"):
        _raise_hidden(a, b, c)
    assert not watch.events


def test_a_tiny_term_inside_a_normal_sum_is_not_an_underflow() -> None:
    """A term below the smallest normal number loses at most 2⁻¹⁰⁷⁵, below half an ulp of a sum of
    normal size: the rule reads no underflow there (OpenBLAS still flags it when the calling thread
    computes that entry; where another thread does, nothing is recorded).  Once the sum of the entry's
    magnitudes is itself tiny, the event is recorded whichever thread computed it."""
    rng = np.random.default_rng(5)
    a, b = _filled((256, 256), rng), _filled((256, 64), rng)
    a[-1, 0], b[0, -1] = 1e-200, 1e-200  # one term 1e-400 in a sum of about 60
    assert np.matmul(a, b)[-1, -1] > 1
    assert not _lost_to_underflow(a, b)
    a[-1, 1:] = b[1:, -1] = 0.0  # the corner entry is now that term alone
    assert _lost_to_underflow(a, b)
    assert ("product", "underflow") in _events(a, b)


def test_a_small_entry_of_normal_terms_beside_a_tiny_term_elsewhere_is_not_an_underflow() -> None:
    """The rule itself (not BLAS's own flags, which the calling thread raises for any tiny product in its
    share): an entry below the margin whose one term is a normal number lost nothing, even when another
    entry holds a term below TINY inside a sum of normal size; the two must meet in one entry."""
    rng = np.random.default_rng(8)
    a, b = _filled((256, 256), rng), _filled((256, 64), rng)
    a[-1, :], a[:, 0], b[:, -1] = 0.0, 0.0, 0.0
    a[-1, 0], b[0, -1] = 1.0, 1.5 * TINY  # the corner: one term, 1.5·TINY, below the margin but normal
    a[0, 1], b[1, 1] = 1e-200, 0.75e-200  # entry (0, 1) gains a term near 7.5e-401 inside a sum near 60
    assert np.matmul(a, b)[-1, -1] == 1.5 * TINY
    assert not _lost_to_underflow(a, b)
    b[2, -1], a[-1, 2] = 1e-170, 1e-170  # the corner gains a term near 1e-340: now it has lost digits
    assert _lost_to_underflow(a, b)


def test_the_margin_is_twice_the_inner_size_times_tiny() -> None:
    """At the edge of the rule: a corner entry with a term below TINY and its magnitudes summing to just
    above 2·K·TINY is clean by the rule; just below, it is an underflow, and recorded."""
    K = 256
    a, b = np.full((256, K), 0.5), np.full((K, 64), 0.5)
    a[-1, :] = 0.0
    a[-1, 0], a[-1, 1] = 1.0, TINY  # the last row: two terms only
    b[:, -1] = 0.0
    b[1, -1] = 0.5  # the corner's second term, TINY/2, is below TINY
    for factor, flagged in ((1.1, False), (0.9, True)):
        b[0, -1] = factor * 2 * K * TINY  # the corner's first term: a normal number near the margin
        assert _lost_to_underflow(a, b) is flagged, factor
        if flagged:
            assert ("product", "underflow") in _events(a, b)


def test_the_check_is_skipped_below_the_checked_size_and_under_ignore() -> None:
    a, b = _corner((16, 16), (16, 4), 1e-160, np.random.default_rng(6))
    assert a.shape[0] * a.shape[1] * b.shape[1] < CHECKED_WORK
    a, b = _corner((256, 256), (256, 64), 1e-160, np.random.default_rng(6))
    with np.errstate(all="ignore"):
        assert np.array_equal(matmul(a, b), np.matmul(a, b))  # nothing raised under 'ignore'
    with np.errstate(under="raise"), pytest.raises(FloatingPointError):
        matmul(a, b)


def test_the_watched_forward_pass_sees_an_underflow_in_one_corner() -> None:
    """The NumPy forward pass of a 128-unit rnn over a batch of 64: one batch element's inputs and one
    row of U are tiny, so one corner of every step's U·x_t is subnormal — inside the share of the product
    that OpenBLAS gives another thread.  The watch records it for the forward pass."""
    n, m, T, B = 128, 128, 3, 64
    rng = np.random.default_rng(7)
    U = _filled((n, m), rng)
    U[-1] *= 1e-160
    x = _filled((T, m, B), rng)
    x[:, :, -1] *= 1e-160
    p = {"W": np.zeros((n, n)), "U": U, "b": np.zeros((n, 1)), "h0": np.zeros((n, 1))}
    model = NumericModel(get_cell("rnn", get_activation("tanh")), [p], x, np.full((n, B), 0.5), "last")
    watch = FloatWatch()
    ArrayFactors(model, watch=watch)
    assert watch.touched("forward")
    x[:, :, -1] = _filled((T, m), rng)  # the same pass without the tiny inputs: clean
    watch = FloatWatch()
    ArrayFactors(NumericModel(model.cell, [p], x, model.y, "last"), watch=watch)
    assert not watch.events


def test_an_object_product_is_numpy_s_and_not_checked(monkeypatch) -> None:
    """mpf object arrays (the exact path's input products) are exact arithmetic: the product is NumPy's,
    and no float64 event is read off its tiny entries (checked here from any size, so that the test stays
    small: the rule is the dtype, not the size)."""
    import mpmath

    from symbptt.numeric import flags

    monkeypatch.setattr(flags, "CHECKED_WORK", 1)
    a = np.empty((8, 8), dtype=object)
    b = np.empty((8, 8), dtype=object)
    for idx in np.ndindex(a.shape):
        a[idx], b[idx] = mpmath.mpf(1e-200), mpmath.mpf(1e-200) * (idx[0] + 1)
    watch = FloatWatch()
    with watch.watch("product"):
        c = matmul(a, b)  # its entries near 1e-398: far below float64's range, exact as mpf
    assert c.dtype == object and c[0, 0] == np.matmul(a, b)[0, 0]
    assert not watch.events
    floats = np.full((8, 8), 1e-160)  # the same rule at this size reads a float64 product's underflow
    with watch.watch("product"):
        matmul(floats, floats)
    assert watch.events == {("product", "underflow")}


def test_the_recurrent_products_of_a_pass_are_checked_at_a_threaded_size() -> None:
    """A pass picks its per-step product once (flags.product_for): NumPy's own for small products, the
    checked one from CHECKED_WORK.  Here only W·h_1 has a subnormal corner (W's last row and the last
    batch element of h_1 near 1e-160), at 128 × 128 × 64: the watch records it for the forward pass."""
    from symbptt.numeric.flags import product_for

    assert product_for(CHECKED_WORK - 1) is np.matmul and product_for(CHECKED_WORK) is matmul
    n, T, B = 128, 2, 64
    rng = np.random.default_rng(9)
    W = _filled((n, n), rng) / n
    W[-1] *= 1e-160
    x = _filled((T, 1, B), rng)
    x[0, :, -1] *= 1e-160  # h_1 of the last batch element is near 1e-160 in every unit (normal numbers)
    p = {"W": W, "U": _filled((n, 1), rng), "b": np.zeros((n, 1)), "h0": np.zeros((n, 1))}
    model = NumericModel(get_cell("rnn", get_activation("tanh")), [p], x, np.full((n, B), 0.5), "last")
    watch = FloatWatch()
    ArrayFactors(model, watch=watch)
    assert watch.events == {("forward", "underflow")}


def test_the_delta_recursion_s_products_are_checked_at_a_threaded_size() -> None:
    """The NumPy kernel's δ recursion picks its product per pass as the forward pass does: here only
    Wᵀ(σ' ⊙ δ_T) has a subnormal corner (W's last column and the last batch element's δ_T near 1e-160,
    at 128 × 128 × 64), and the watch records it for the δ's."""
    from symbptt.numeric import kernel

    n, T, B = 128, 2, 64
    rng = np.random.default_rng(10)
    W = _filled((n, n), rng) / n
    W[:, -1] *= 1e-160
    x = _filled((T, 1, B), rng)
    x[:, :, -1] = 0.0  # the last batch element stays at h = 0 ...
    y = np.full((n, B), 0.5)
    y[:, -1] = -1e-160  # ... so its δ_T = h_T − y is 1e-160 in every unit
    p = {"W": W, "U": _filled((n, 1), rng), "b": np.zeros((n, 1)), "h0": np.zeros((n, 1))}
    watch = FloatWatch()
    values = ArrayFactors(NumericModel(get_cell("rnn", get_activation("tanh")), [p], x, y, "last"), watch=watch)
    assert not watch.events
    kernel.gradients(values)
    assert ("delta", "underflow") in watch.events
