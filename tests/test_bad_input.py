"""API.md's "Bad input" table, every row on every backend."""

import re

import numpy as np
import pytest
from gumbelxp.backends import BACKEND_NAMES
from gumbelxp.conformance.support import dtype_name, float_dtypes, from_numpy, to_numpy

import gumbelxp as gx

NEG = -np.inf


def arr(be, a, dtype="float32"):
    return from_numpy(be, np.asarray(a, dtype=np.float64), dtype)


def noise_like(be, shape, seed=0, dtype="float32"):
    u = np.random.default_rng(seed).uniform(1e-9, 1.0, size=shape)
    return arr(be, -np.log(-np.log(u)), dtype)


# every public function that takes logits, as (name, call(logits, **kw))
CALLS = {
    "gumbel_softmax": lambda x, **kw: gx.gumbel_softmax(x, 0.5, **kw),
    "gumbel_softmax_hard": lambda x, **kw: gx.gumbel_softmax(x, 0.5, hard=True, **kw),
    "gumbel_max": lambda x, **kw: gx.gumbel_max(x, **kw),
    "gumbel_topk": lambda x, **kw: gx.gumbel_topk(x, 2, **kw),
}


# ---------------------------------------------------------------------------
# integer or boolean logits: TypeError naming the dtype
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int32", "int64", "bool"])
def test_integer_or_bool_logits(backend, dtype):
    xp = backend.namespace
    x = xp.astype(backend.asarray([[1, 0, 1], [0, 1, 1]]), getattr(xp, dtype))
    name = dtype_name(x)
    assert name in ("int32", "int64", "bool")  # the dtype really is integral here
    fns = dict(CALLS)
    fns["straight_through"] = lambda x, **kw: gx.straight_through(x)
    fns["relaxed_log_prob"] = lambda x, **kw: gx.relaxed_log_prob(
        arr(backend, [[0.5, 0.25, 0.25]] * 2), x, 1.0)
    for what, f in fns.items():
        with pytest.raises(TypeError, match=re.escape(name)):
            f(x, rng=0) if what not in ("straight_through", "relaxed_log_prob") else f(x)


# ---------------------------------------------------------------------------
# tau: a Python number that is not finite and > 0
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("tau", [0, 0.0, -1, -1e-3, float("inf"), float("-inf"), float("nan")])
def test_bad_tau(backend, tau):
    x = arr(backend, [[0.0, 1.0, 2.0]])
    for hard in (False, True):
        with pytest.raises(ValueError):
            gx.gumbel_softmax(x, tau, hard=hard, rng=0)
        with pytest.raises(ValueError):
            gx.gumbel_softmax(x, tau, hard=hard, noise=noise_like(backend, (1, 3)))
    with pytest.raises(ValueError):
        gx.relaxed_log_prob(arr(backend, [[0.2, 0.3, 0.5]]), x, tau)


def test_bad_array_tau_with_validate(backend):
    x = arr(backend, [[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]])
    with pytest.raises(ValueError):
        gx.gumbel_softmax(x, arr(backend, [1.0, 0.0]), rng=0, validate=True)


# ---------------------------------------------------------------------------
# k not in 1..n
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("k", [0, -1, 5, 100])
def test_bad_k(backend, k):
    x = arr(backend, np.zeros((3, 4)))
    with pytest.raises(ValueError):
        gx.gumbel_topk(x, k, rng=0)
    with pytest.raises(ValueError):
        gx.gumbel_topk(x, k, axis=0, noise=noise_like(backend, (3, 4))) if k != 4 else None


def test_k_at_the_bounds_is_fine(backend):
    x = arr(backend, np.zeros((3, 4)))
    assert tuple(gx.gumbel_topk(x, 1, rng=0).shape) == (3, 1)
    assert tuple(gx.gumbel_topk(x, 4, rng=0).shape) == (3, 4)
    assert tuple(gx.gumbel_topk(x, 3, axis=0, rng=0).shape) == (3, 4)


# ---------------------------------------------------------------------------
# axis out of range
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [2, -3, 7])
def test_axis_out_of_range(backend, axis):
    x = arr(backend, np.zeros((2, 3)))
    y = arr(backend, np.full((2, 3), 1 / 3))
    calls = [
        lambda: gx.gumbel_softmax(x, axis=axis, rng=0),
        lambda: gx.gumbel_softmax(x, dim=axis, rng=0),
        lambda: gx.gumbel_softmax(x, hard=True, axis=axis, rng=0),
        lambda: gx.gumbel_max(x, axis=axis, rng=0),
        lambda: gx.gumbel_topk(x, 1, axis=axis, rng=0),
        lambda: gx.straight_through(y, axis=axis),
        lambda: gx.relaxed_log_prob(y, x, 1.0, axis=axis),
    ]
    for call in calls:
        with pytest.raises((ValueError, IndexError)):
            call()


# ---------------------------------------------------------------------------
# -inf logits: never chosen, exactly 0, no NaN in output or gradient
# ---------------------------------------------------------------------------
MASKED = np.array([[0.0, NEG, 3.0, NEG, -1.0],
                   [NEG, NEG, NEG, NEG, 2.0],
                   [5.0, 4.0, NEG, 3.0, NEG]])


def test_minus_inf_never_chosen(backend):
    rows = 400
    x = arr(backend, np.tile(MASKED, (rows, 1)))
    mask = np.isneginf(np.tile(MASKED, (rows, 1)))
    for tau in (0.1, 1.0, 10.0):
        for hard in (False, True):
            y = to_numpy(gx.gumbel_softmax(x, tau, hard=hard, rng=1))
            assert not np.isnan(y).any()
            assert (y[mask] == 0.0).all()
            np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-5)
    y = to_numpy(gx.gumbel_softmax(x, arr(backend, np.full(3 * rows, 0.3)), rng=2))
    assert not np.isnan(y).any() and (y[mask] == 0.0).all()
    i = to_numpy(gx.gumbel_max(x, rng=3))
    assert not mask[np.arange(3 * rows), i].any()
    assert (i[1::3] == 4).all()  # the only unmasked category
    t = to_numpy(gx.gumbel_topk(x[0::3, :], 3, rng=4))  # row 0 has 3 unmasked
    assert set(np.unique(t).tolist()) <= {0, 2, 4}
    # fewer unmasked than k: the masked ones come last
    t = to_numpy(gx.gumbel_topk(x[2::3, :], 4, rng=5))
    assert (np.sort(t[:, :3], axis=-1) == [0, 1, 3]).all()


@pytest.mark.needs("autograd")
@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("array_tau", [False, True])
def test_minus_inf_gradient_has_no_nan(backend, hard, array_tau):
    x = arr(backend, MASKED)
    g = noise_like(backend, MASKED.shape, 3)
    cot = arr(backend, np.random.default_rng(0).normal(size=MASKED.shape))
    if array_tau:
        def f(lg, t):
            return gx.gumbel_softmax(lg, t, hard=hard, noise=g)
        args = (x, arr(backend, [0.5, 1.0, 2.0]))
    else:
        def f(lg):
            return gx.gumbel_softmax(lg, 0.7, hard=hard, noise=g)
        args = (x,)
    out, grads = backend.vjp(f, args, cot)
    assert not np.isnan(to_numpy(out)).any()
    for gr in grads:
        assert gr is not None
        gn = to_numpy(gr)
        assert np.isfinite(gn).all(), gn
    gl = to_numpy(grads[0])
    assert (gl[np.isneginf(MASKED)] == 0.0).all()
    assert np.abs(gl[0]).sum() > 0  # the gradient is not just zeroed everywhere


# ---------------------------------------------------------------------------
# all -inf, NaN or +inf slices: NaN confined to the slice; validate=True raises
# ---------------------------------------------------------------------------
BAD_ROWS = {
    "all -inf": [NEG, NEG, NEG],
    "nan": [0.0, np.nan, 1.0],
    "+inf": [0.0, np.inf, 1.0],
}
GOOD = np.array([[0.0, 1.0, 2.0], [1.0, -1.0, 0.5], [2.0, NEG, 0.0], [0.3, 0.2, 0.1],
                 [1.0, 1.0, 1.0], [0.0, 0.0, 5.0]])


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("kind", list(BAD_ROWS))
def test_bad_slice_is_confined(backend, kind):
    bad_at = 4
    data = GOOD.copy()
    data[bad_at] = BAD_ROWS[kind]
    x, x_ok = arr(backend, data), arr(backend, GOOD)
    g = noise_like(backend, GOOD.shape, 11)
    others = [i for i in range(len(GOOD)) if i != bad_at]
    for hard in (False, True):
        y = to_numpy(gx.gumbel_softmax(x, 0.5, hard=hard, noise=g))
        ref = to_numpy(gx.gumbel_softmax(x_ok, 0.5, hard=hard, noise=g))
        assert np.isnan(y[bad_at]).any(), "a bad slice must show NaN, not a made-up sample"
        assert not np.isnan(y[others]).any()
        np.testing.assert_array_equal(y[others], ref[others])
    for f in (lambda z: gx.gumbel_max(z, noise=g), lambda z: gx.gumbel_topk(z, 2, noise=g)):
        np.testing.assert_array_equal(to_numpy(f(x))[others], to_numpy(f(x_ok))[others])
    # along axis 0 as well (the bad slice is a column)
    yT = to_numpy(gx.gumbel_softmax(arr(backend, data.T), 0.5, axis=0,
                                    noise=arr(backend, to_numpy(g).T)))
    assert np.isnan(yT[:, bad_at]).any() and not np.isnan(yT[:, others]).any()
    if backend.has("autograd"):
        _, (gr,) = backend.vjp(lambda lg: gx.gumbel_softmax(lg, 0.5, noise=g), (x,),
                               arr(backend, np.random.default_rng(1).normal(size=GOOD.shape)))
        assert np.isfinite(to_numpy(gr)[others]).all()


@pytest.mark.parametrize("kind", list(BAD_ROWS))
def test_validate_names_the_first_bad_slice(backend, kind):
    data = np.tile(GOOD, (2, 1))  # 12 rows: bad ones at 7 and 9, the first is 7
    data[7] = BAD_ROWS[kind]
    data[9] = BAD_ROWS["nan"]
    x = arr(backend, data)
    calls = [
        lambda **kw: gx.gumbel_softmax(x, 0.5, rng=0, validate=True, **kw),
        lambda **kw: gx.gumbel_softmax(x, 0.5, hard=True, rng=0, validate=True, **kw),
        lambda **kw: gx.gumbel_max(x, rng=0, validate=True, **kw),
        lambda **kw: gx.gumbel_topk(x, 2, rng=0, validate=True, **kw),
    ]
    for call in calls:
        with pytest.raises(ValueError) as e:
            call()
        msg = str(e.value)
        assert re.search(r"\b7\b", msg), msg
        assert not re.search(r"\b9\b", msg), msg
    # the bad slice as a column: axis=0
    with pytest.raises(ValueError, match=r"\b7\b"):
        gx.gumbel_softmax(arr(backend, data.T), axis=0, rng=0, validate=True)
    # valid input passes validation and gives the unvalidated result
    ok = arr(backend, GOOD)
    g = noise_like(backend, GOOD.shape)
    np.testing.assert_array_equal(to_numpy(gx.gumbel_softmax(ok, noise=g, validate=True)),
                                  to_numpy(gx.gumbel_softmax(ok, noise=g)))


# ---------------------------------------------------------------------------
# half precision: never NaN for finite input
# ---------------------------------------------------------------------------
@pytest.mark.needs("float16")
def test_half_precision_never_nan_for_finite_input(backend):
    halves = [d for d in float_dtypes(backend) if d in ("float16", "bfloat16")]
    for dtype in halves:
        big = float(np.finfo(np.float16).max) if dtype == "float16" else 3e38
        x = arr(backend, np.tile([[big, -big, 0.0, 1.0], [-big, -big, -big, -big]], (500, 1)),
                dtype)
        for tau in (0.01, 1.0, 100.0):
            for hard in (False, True):
                y = gx.gumbel_softmax(x, tau, hard=hard, rng=7)
                assert dtype_name(y) == dtype
                yn = to_numpy(y).astype(np.float64)
                assert np.isfinite(yn).all()
                np.testing.assert_allclose(yn.sum(-1), 1.0, atol=1e-2)


# ---------------------------------------------------------------------------
# an array type no backend knows
# ---------------------------------------------------------------------------
class NotAnArray:
    shape = (3,)
    dtype = "float32"


@pytest.mark.parametrize("obj", [[0.0, 1.0, 2.0], (0.0, 1.0), NotAnArray(), 3.0],
                         ids=["list", "tuple", "custom", "float"])
def test_unknown_array_type(obj):
    for call in (lambda: gx.gumbel_softmax(obj, rng=0), lambda: gx.gumbel_max(obj, rng=0),
                 lambda: gx.gumbel_topk(obj, 1, rng=0), lambda: gx.straight_through(obj)):
        with pytest.raises(TypeError) as e:
            call()
        msg = str(e.value)
        for name in BACKEND_NAMES:
            assert name in msg, msg


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("kind", list(BAD_ROWS))
@pytest.mark.parametrize("tau,hard", [(1.0, False), (1.0, True), (0.5, False), (0.5, True)])
def test_bad_slice_is_wholly_nan_on_every_path(backend, kind, tau, hard):
    """Whichever internal path a call takes (tau = 1 folds the logs, hard
    without a gradient is Gumbel-max, fused kernels), a bad slice is NaN in
    every entry, as the generic path makes it, and the others are samples."""
    bad_at = 2
    data = GOOD.copy()
    data[bad_at] = BAD_ROWS[kind]
    x = arr(backend, data)
    # the native generator: the fast paths (PortableRNG takes the reference path)
    outs = [gx.gumbel_softmax(x, tau, hard=hard, rng=backend.native_generator(3))]
    if backend.has("autograd"):  # under autograd the fast paths differ
        outs.append(backend.vjp(lambda lg: gx.gumbel_softmax(
            lg, tau, hard=hard, rng=backend.native_generator(3)), (x,),
                                arr(backend, np.ones(GOOD.shape)))[0])
    others = [i for i in range(len(GOOD)) if i != bad_at]
    for out in outs:
        y = to_numpy(out)
        assert np.isnan(y[bad_at]).all(), y[bad_at]
        assert np.isfinite(y[others]).all()
        np.testing.assert_allclose(y[others].sum(axis=-1), 1.0, rtol=1e-3)
