"""API.md's sampling table on every backend: shapes, axes, dtypes and taus
fuzzed with hypothesis, every value checked against a NumPy float64
reference computed here from the exact inputs (``noise=`` makes each call
deterministic)."""

import math

import numpy as np
import pytest
from gumbelxp.backends import backend_of
from gumbelxp.conformance.support import TOLERANCES, dtype_name, float_dtypes, from_numpy, to_numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gumbelxp as gx

FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

TAUS = st.one_of(st.sampled_from([0.1, 0.5, 1.0, 2.0, 10.0]),
                 st.floats(0.05, 20.0, allow_nan=False, allow_infinity=False))


@st.composite
def cases(draw, min_n=1):
    ndim = draw(st.integers(1, 3))
    # few distinct sizes: JAX compiles each op once per shape
    shape = list(draw(st.lists(st.sampled_from([1, 3, 4]), min_size=ndim, max_size=ndim)))
    axis = draw(st.integers(-ndim, ndim - 1))
    shape[axis] = max(shape[axis], min_n)
    return tuple(shape), axis, draw(st.integers(0, 2**32 - 1))


def exact(be, a, dtype):
    """``a`` as a ``be`` array of ``dtype`` and, as float64, the exact values it holds."""
    x = from_numpy(be, np.asarray(a, dtype=np.float64), dtype)
    return x, to_numpy(x).astype(np.float64)


def inputs(be, shape, seed, dtype):
    """Logits and standard Gumbel noise (drawn by NumPy here, not by gumbelxp)."""
    r = np.random.default_rng(seed)
    x, xl = exact(be, r.normal(scale=3.0, size=shape), dtype)
    g, gl = exact(be, -np.log(-np.log(r.uniform(1e-12, 1.0, size=shape))), dtype)
    return x, xl, g, gl


def ref_softmax(s, tau, axis):
    z = s / tau
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def tol(dtype, scale=1.0):
    r, a = TOLERANCES[dtype]
    return dict(rtol=r * scale, atol=a * scale)


def same_array_kind(be, y, x, dtype=None):
    assert backend_of(y) is be.adapter
    assert type(y) is type(x) or be.adapter.handles(y)
    assert be.device(y) == be.device(x)
    if dtype is not None:
        assert y.dtype == dtype


def ints(be, idx):
    a = to_numpy(idx)
    assert a.dtype.kind in "iu", a.dtype
    return a.astype(np.int64)


# ---------------------------------------------------------------------------
# gumbel_softmax
# ---------------------------------------------------------------------------
@FUZZ
@given(case=cases(), tau=TAUS, data=st.data())
def test_gumbel_softmax_fuzz(backend, case, tau, data):
    shape, axis, seed = case
    dtype = data.draw(st.sampled_from(float_dtypes(backend)), label="dtype")
    x, xl, g, gl = inputs(backend, shape, seed, dtype)
    n = shape[axis]

    y = gx.gumbel_softmax(x, tau, axis=axis, noise=g)
    same_array_kind(backend, y, x, x.dtype)
    assert tuple(y.shape) == shape
    yn = to_numpy(y).astype(np.float64)
    assert not np.isnan(yn).any()
    assert ((yn >= 0) & (yn <= 1)).all()
    eps = float(np.finfo(np.float16).eps) if dtype == "float16" else (
        2.0**-7 if dtype == "bfloat16" else float(np.finfo(dtype).eps))
    np.testing.assert_allclose(yn.sum(axis=axis), 1.0, atol=4 * n * eps)
    # float32 error in the scores is magnified by 1/tau inside exp
    scale = 1.0 if dtype in ("float16", "bfloat16") else 10.0 / min(tau, 1.0)
    np.testing.assert_allclose(yn, ref_softmax(xl + gl, tau, axis), **tol(dtype, scale))

    # dim= is axis= (PyTorch's name)
    np.testing.assert_array_equal(to_numpy(gx.gumbel_softmax(x, tau, dim=axis, noise=g)),
                                  to_numpy(y))

    # hard: exact one-hot, at an index where the soft sample (same noise) is largest
    h = gx.gumbel_softmax(x, tau, hard=True, axis=axis, noise=g)
    same_array_kind(backend, h, x, x.dtype)
    hn = to_numpy(h)
    assert tuple(hn.shape) == shape
    assert set(np.unique(hn).tolist()) <= {0.0, 1.0}
    assert (hn.sum(axis=axis) == 1.0).all()
    chosen = np.take_along_axis(yn, np.expand_dims(hn.argmax(axis=axis), axis), axis)
    np.testing.assert_array_equal(chosen, yn.max(axis=axis, keepdims=True))


@FUZZ
@given(case=cases(min_n=2), keep=st.booleans(), data=st.data())
def test_array_tau_one_value_per_slice(backend, case, keep, data):
    shape, axis, seed = case
    dtype = data.draw(st.sampled_from(float_dtypes(backend)), label="dtype")
    x, xl, g, gl = inputs(backend, shape, seed, dtype)
    tshape = list(shape)
    tshape[axis] = 1
    tau_np = np.random.default_rng(seed + 1).uniform(0.3, 5.0, size=tshape)
    t, tl = exact(backend, tau_np if keep else np.squeeze(tau_np, axis=axis), dtype)
    y = gx.gumbel_softmax(x, t, axis=axis, noise=g)
    same_array_kind(backend, y, x, x.dtype)
    tl = tl if keep else np.expand_dims(tl, axis)
    scale = 1.0 if dtype in ("float16", "bfloat16") else 30.0
    np.testing.assert_allclose(to_numpy(y), ref_softmax(xl + gl, tl, axis), **tol(dtype, scale))


def test_array_tau_equals_per_slice_scalar_taus(backend):
    x, _, g, _ = inputs(backend, (3, 4), 7, "float32")
    taus = [0.25, 1.0, 4.0]
    y = to_numpy(gx.gumbel_softmax(x, from_numpy(backend, taus, "float32"), noise=g))
    for i, t in enumerate(taus):
        yi = to_numpy(gx.gumbel_softmax(x, t, noise=g))[i]
        np.testing.assert_allclose(y[i], yi, rtol=1e-5, atol=1e-7)
    assert not np.allclose(y[0], y[2])  # the temperatures really differ per slice


def test_bad_tau_array_shape(backend):
    x, _, g, _ = inputs(backend, (3, 4), 0, "float32")
    with pytest.raises(ValueError):
        gx.gumbel_softmax(x, from_numpy(backend, np.ones((3, 4)), "float32"), noise=g)


@pytest.mark.parametrize("dtype", [pytest.param("float16", marks=pytest.mark.needs("float16")),
                                   pytest.param("bfloat16", marks=pytest.mark.needs("bfloat16"))])
def test_half_precision_is_computed_in_float32(backend, dtype):
    """logits 1000 + small noise: in float16 (spacing 0.5) or bfloat16
    (spacing 4) the sum ``logits + g`` would round the noise away; in float32
    it is exact. The result must be softmax of the exact sums, cast back."""
    x, xl = exact(backend, [[1000.0, 1000.0, 992.0]], dtype)
    g, gl = exact(backend, [[0.1, 0.3, 0.0]], dtype)
    y = gx.gumbel_softmax(x, 1.0, noise=g)
    same_array_kind(backend, y, x, x.dtype)
    assert dtype_name(y) == dtype
    np.testing.assert_allclose(to_numpy(y), ref_softmax(xl + gl, 1.0, -1), **tol(dtype))
    idx = ints(backend, gx.gumbel_max(x, noise=g))
    assert idx.tolist() == [1]
    # sampled noise in half precision: finite, input dtype
    y = gx.gumbel_softmax(x, 0.5, rng=3)
    assert dtype_name(y) == dtype and np.isfinite(to_numpy(y)).all()
    g = gx.gumbel((1000,), like=x, rng=3)
    assert dtype_name(g) == dtype and np.isfinite(to_numpy(g)).all()


def test_minus_inf_mask_with_noise(backend):
    x, _ = exact(backend, [[0.0, -np.inf, 1.0], [-np.inf, 2.0, -np.inf]], "float32")
    g, gl = exact(backend, [[0.3, 5.0, -0.2], [9.0, 0.1, 3.0]], "float32")
    for hard in (False, True):
        y = to_numpy(gx.gumbel_softmax(x, 0.5, hard=hard, noise=g))
        assert not np.isnan(y).any()
        assert y[0, 1] == 0.0 and y[1, 0] == 0.0 and y[1, 2] == 0.0
        assert y[1, 1] == 1.0
    y = to_numpy(gx.gumbel_softmax(x, 0.5, noise=g))
    np.testing.assert_allclose(y[0, [0, 2]], ref_softmax(np.array([0.3, 0.8]), 0.5, -1),
                               rtol=1e-5)


# ---------------------------------------------------------------------------
# gumbel_max / gumbel_topk
# ---------------------------------------------------------------------------
@FUZZ
@given(case=cases(), keepdims=st.booleans(), data=st.data())
def test_gumbel_max_fuzz(backend, case, keepdims, data):
    shape, axis, seed = case
    dtype = data.draw(st.sampled_from(float_dtypes(backend)), label="dtype")
    x, xl, g, gl = inputs(backend, shape, seed, dtype)
    n = shape[axis]
    idx = gx.gumbel_max(x, axis=axis, keepdims=keepdims, noise=g)
    same_array_kind(backend, idx, x)
    want = list(shape)
    if keepdims:
        want[axis] = 1
    else:
        del want[axis]
    assert tuple(idx.shape) == tuple(want)
    i = ints(backend, idx)
    assert ((i >= 0) & (i < n)).all()
    # the chosen category maximises logits + noise (up to float32 rounding)
    s = xl + gl
    chosen = np.take_along_axis(s, i if keepdims else np.expand_dims(i, axis), axis)
    assert (chosen >= s.max(axis=axis, keepdims=True) - 1e-5 * (1 + np.abs(s).max())).all()


@FUZZ
@given(case=cases(), data=st.data())
def test_gumbel_topk_fuzz(backend, case, data):
    shape, axis, seed = case
    n = shape[axis]
    k = data.draw(st.integers(1, n), label="k")
    x, xl, g, gl = inputs(backend, shape, seed, "float32")
    idx = gx.gumbel_topk(x, k, axis=axis, noise=g)
    same_array_kind(backend, idx, x)
    want = list(shape)
    want[axis] = k
    assert tuple(idx.shape) == tuple(want)
    i = ints(backend, idx)
    assert ((i >= 0) & (i < n)).all()
    srt = np.sort(np.moveaxis(i, axis, -1), axis=-1)
    assert (np.diff(srt, axis=-1) != 0).all(), "indices repeat within a slice"
    s = xl + gl
    picked = np.take_along_axis(s, i, axis)
    slack = 1e-5 * (1 + np.abs(s).max())
    assert (np.diff(picked, axis=axis) <= slack).all(), "not in decreasing order of logits + g"
    # and they are the k largest: the smallest picked >= every unpicked
    mask = np.ones(s.shape, dtype=bool)
    np.put_along_axis(mask, i, False, axis)
    rest = np.where(mask, s, -np.inf).max(axis=axis, keepdims=True)
    assert (picked.min(axis=axis, keepdims=True) >= rest - slack).all()
    # the first index is gumbel_max's
    first = np.take(i, [0], axis=axis)
    np.testing.assert_array_equal(
        first, ints(backend, gx.gumbel_max(x, axis=axis, keepdims=True, noise=g)))


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_sampled_indices_shapes_and_ranges(backend, axis):
    x, _ = exact(backend, np.random.default_rng(0).normal(size=(3, 5, 4)), "float32")
    n = x.shape[axis]
    want = [3, 5, 4]
    del want[axis]
    i = ints(backend, gx.gumbel_max(x, axis=axis, rng=1))
    assert i.shape == tuple(want) and ((i >= 0) & (i < n)).all()
    for k in (1, 2, n):
        t = np.moveaxis(ints(backend, gx.gumbel_topk(x, k, axis=axis, rng=2)), axis, -1)
        assert t.shape == tuple(want) + (k,)
        assert ((t >= 0) & (t < n)).all()
        assert (np.diff(np.sort(t, axis=-1), axis=-1) != 0).all()
    # k = n: every slice is a permutation
    assert (np.sort(t, axis=-1) == np.arange(n)).all()


# ---------------------------------------------------------------------------
# gumbel
# ---------------------------------------------------------------------------
def test_gumbel_like_xp_dtype_device(backend):
    xp = backend.namespace
    like, _ = exact(backend, np.zeros(3), "float32")
    g = gx.gumbel((2, 5), like=like, rng=0)
    same_array_kind(backend, g, like, like.dtype)
    assert tuple(g.shape) == (2, 5)
    g = gx.gumbel(7, xp=backend.name, rng=0)
    assert backend_of(g) is backend.adapter and tuple(g.shape) == (7,)
    g = gx.gumbel((3,), xp=xp, dtype=xp.float32, rng=0)
    assert backend_of(g) is backend.adapter and g.dtype == xp.float32
    for dtype in float_dtypes(backend):
        g = gx.gumbel((4,), xp=backend.name, dtype=getattr(xp, dtype), rng=1)
        assert dtype_name(g) == dtype and np.isfinite(to_numpy(g)).all()


def test_gumbel_defaults_to_numpy():
    g = gx.gumbel((3, 2), rng=0)
    assert isinstance(g, np.ndarray) and g.shape == (3, 2) and g.dtype == np.float64


def test_gumbel_loc_scale_are_affine(backend):
    like, _ = exact(backend, np.zeros(1), "float32")
    g0 = to_numpy(gx.gumbel((50,), like=like, rng=gx.PortableRNG(5))).astype(np.float64)
    g1 = to_numpy(gx.gumbel((50,), like=like, loc=2.0, scale=3.0,
                            rng=gx.PortableRNG(5))).astype(np.float64)
    np.testing.assert_allclose(g1, 2.0 + 3.0 * g0, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        gx.gumbel((2,), like=like, scale=0.0, rng=0)


# ---------------------------------------------------------------------------
# straight_through / relaxed_log_prob
# ---------------------------------------------------------------------------
def ref_one_hot(y, axis):
    idx = np.expand_dims(y.argmax(axis=axis), axis)  # NumPy: first of ties
    out = np.zeros_like(y)
    np.put_along_axis(out, idx, 1.0, axis)
    return out


def test_straight_through_forward(backend):
    vals = np.array([[0.2, 0.5, 0.3], [0.4, 0.2, 0.4], [0.1, 0.7, 0.2], [0.6, 0.1, 0.3]])
    for dtype in float_dtypes(backend):
        y, yl = exact(backend, vals, dtype)
        for axis in (-1, 0):
            h = gx.straight_through(y, axis=axis)
            same_array_kind(backend, h, y, y.dtype)
            # exact one-hot; ties ([0.4, 0.2, 0.4]) go to a single index, the first
            np.testing.assert_array_equal(to_numpy(h), ref_one_hot(yl, axis))


def ref_concrete_log_density(y, logits, tau):
    """Maddison et al. (2017) eq. 2 in its product form, float64, last axis."""
    n = y.shape[-1]
    a = np.exp(logits)
    tau = np.asarray(tau, dtype=np.float64)
    t = tau[..., None]
    dens = (math.factorial(n - 1) * tau ** (n - 1)
            * np.prod(a * y ** (-t - 1), axis=-1)
            / np.sum(a * y ** (-t), axis=-1) ** n)
    return np.log(dens)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_relaxed_log_prob_matches_concrete_density(backend, n):
    r = np.random.default_rng(n)
    yl = r.dirichlet(np.ones(n), size=4)
    logits = r.normal(size=(4, n))
    y, yl = exact(backend, yl, "float32")
    lg, ll = exact(backend, logits, "float32")
    for tau in (0.5, 1.0, 2.5):
        lp = gx.relaxed_log_prob(y, lg, tau)
        same_array_kind(backend, lp, lg, lg.dtype)
        assert tuple(lp.shape) == (4,)
        np.testing.assert_allclose(to_numpy(lp), ref_concrete_log_density(yl, ll, tau),
                                   rtol=1e-4, atol=1e-4)
    # array tau (one per slice) and another axis
    taus = np.array([0.5, 1.0, 2.0, 3.0])
    t, tl = exact(backend, taus, "float32")
    lp = gx.relaxed_log_prob(y, lg, t)
    np.testing.assert_allclose(to_numpy(lp), ref_concrete_log_density(yl, ll, tl),
                               rtol=1e-4, atol=1e-4)
    yT, _ = exact(backend, yl.T, "float32")
    lT, _ = exact(backend, ll.T, "float32")
    np.testing.assert_allclose(to_numpy(gx.relaxed_log_prob(yT, lT, 0.7, axis=0)),
                               ref_concrete_log_density(yl, ll, 0.7), rtol=1e-4, atol=1e-4)
