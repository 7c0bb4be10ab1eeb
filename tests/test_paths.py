"""Every path compared: each whole-call fast path (NumPy and PyTorch in
place, PyTorch's fused softmax under autograd, TensorFlow's fused kernels, in
and out of ``tf.function``) against the generic path given the same
generator state, and both against a float64 reference computed here from the
same generator's uniforms by the documented mapping, not by gumbelxp.

Hypothesis draws shapes, axes, temperatures (1 takes a separate branch),
hard/soft, -inf masks, bad slices and dtypes; every NumPy bit generator is
included, since the raw-word float32 path depends on the bit generator.
"""

import copy

import numpy as np
import pytest
from gumbelxp.backends import generic_only
from gumbelxp.conformance.support import TOLERANCES, Target, selected_backends, to_numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gumbelxp as gx

# a bad slice is NaN by design: NumPy's warnings about it are expected here
pytestmark = pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
FAST = [n for n in ("numpy", "torch", "tensorflow") if n in selected_backends()]
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


# ---------------------------------------------------------------------------
# generators in the same state, and their uniforms by the documented mapping
# ---------------------------------------------------------------------------
def twins(name, seed, bitgen="PCG64"):
    """Three generators of backend ``name`` in the same state."""
    if name == "numpy":
        g = np.random.Generator(getattr(np.random, bitgen)(seed))
        return g, copy.deepcopy(g), copy.deepcopy(g)
    if name == "torch":
        import torch

        return tuple(torch.Generator().manual_seed(seed) for _ in range(3))
    import tensorflow as tf

    return tuple(tf.random.Generator.from_seed(seed) for _ in range(3))


def ref_uniform(name, gen, shape, dtype):
    """The uniforms gumbelxp draws from ``gen``, computed from the framework's
    own calls and the documented mapping onto the open interval."""
    n = int(np.prod(shape))
    if name == "numpy":
        if (dtype == "float32" and n >= 4096 and type(gen.bit_generator).__name__
                in ("PCG64", "PCG64DXSM", "Philox", "SFC64")):
            w = gen.bit_generator.random_raw((n + 1) // 2).view(np.uint32)[:n].astype(np.float64)
            return ((np.floor(w / 512) + 0.5) * 2.0**-23).reshape(shape)
        u = gen.random(shape, dtype=np.dtype(dtype)).astype(np.float64)
        return np.maximum(u, np.finfo(dtype).eps / 4)
    if name == "torch":
        import torch

        u = torch.rand(shape, generator=gen, dtype=getattr(torch, dtype)).double().numpy()
        return np.maximum(u, np.finfo(dtype).eps / 4)
    import tensorflow as tf

    u = gen.uniform(shape, dtype=getattr(tf, dtype)).numpy().astype(np.float64)
    return np.maximum(u, np.finfo(dtype).eps / 2)


def ref_gumbel_softmax(x, g, tau, hard, axis):
    """float64: softmax((x + g) / tau), or its argmax one-hot; NaN slices
    where the logits hold NaN / +inf or only -inf."""
    s = x.astype(np.float64) + g
    m = np.max(s, axis=axis, keepdims=True)
    z = (s - m) / tau
    e = np.exp(z)
    y = e / e.sum(axis=axis, keepdims=True)
    if hard:
        idx = np.argmax(s, axis=axis)
        y = (np.expand_dims(idx, axis) == np.arange(x.shape[axis]).reshape(
            [-1 if d == axis % x.ndim else 1 for d in range(x.ndim)])).astype(np.float64)
        bad = ~np.isfinite(m)
        y = np.where(bad, np.nan, y)
    return y


def near_tie(x, g, axis):
    """Slices whose two largest scores are too close for float32 to order."""
    if x.shape[axis] < 2:
        return np.zeros(np.delete(x.shape, axis % x.ndim), dtype=bool)
    s = np.sort(np.where(np.isnan(x), -np.inf, x + g), axis=axis)
    top2 = np.take(s, [-1, -2], axis=axis)
    d = np.abs(np.take(top2, [0], axis=axis) - np.take(top2, [1], axis=axis))
    return np.squeeze(d, axis) <= 1e-4 * (1 + np.abs(np.squeeze(np.take(top2, [0], axis=axis), axis)))


@st.composite
def calls(draw):
    nd = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=nd, max_size=nd)))
    if draw(st.booleans()):  # large enough for NumPy's raw-word path
        shape = (*shape[:-1], 4096 // max(1, int(np.prod(shape[:-1]))) + 1)
    axis = draw(st.integers(-nd, nd - 1))
    tau = draw(st.sampled_from([1.0, 0.5, 0.1, 3.0, 1e-3]))
    hard = draw(st.booleans())
    dtype = draw(st.sampled_from(["float32", "float64"]))
    mask = draw(st.sampled_from(["none", "some", "bad"]))
    seed = draw(st.integers(0, 2**32 - 1))
    return shape, axis, tau, hard, dtype, mask, seed


def logits_for(shape, axis, mask, seed):
    r = np.random.default_rng(seed)
    x = r.normal(scale=2.0, size=shape)
    if mask in ("some", "bad"):
        x = np.where(r.random(shape) < 0.3, -np.inf, x)
    if mask == "bad":  # the first slice: a NaN, a +inf, or every logit -inf
        v = r.choice([np.nan, np.inf, -np.inf])
        sl = [0] * x.ndim
        sl[axis] = slice(None) if v == -np.inf else 0
        x[tuple(sl)] = v
    return x


def assert_same(a, b, tol, where=None):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    nan = np.isnan(b)
    np.testing.assert_array_equal(np.isnan(a), nan)
    ok = ~nan if where is None else (~nan & where)
    np.testing.assert_allclose(a[ok], b[ok], rtol=tol[0], atol=tol[1])


# ---------------------------------------------------------------------------
# the fast gumbel_softmax and gumbel_max against generic and reference
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", FAST)
@SETTINGS
@given(call=calls(), bitgen=st.sampled_from(BIT_GENERATORS))
def test_fast_gumbel_softmax_equals_generic_and_reference(name, call, bitgen):
    shape, axis, tau, hard, dtype, mask, seed = call
    t = Target(name)
    x = logits_for(shape, axis, mask, seed)
    xa = t.asarray(x, dtype)
    g1, g2, g3 = twins(name, seed, bitgen)
    fast = to_numpy(gx.gumbel_softmax(xa, tau, hard=hard, axis=axis, rng=g1))
    with generic_only():
        generic = to_numpy(gx.gumbel_softmax(xa, tau, hard=hard, axis=axis, rng=g2))
    g = -np.log(-np.log(ref_uniform(name, g3, shape, dtype)))
    ref = ref_gumbel_softmax(x.astype(dtype), g, tau, hard, axis)
    tol = TOLERANCES[dtype] if tau >= 0.1 else (1e-3, 1e-5)  # small tau magnifies rounding
    keep = None
    if hard:  # a near tie may break either way in float32 rounding
        keep = np.broadcast_to(np.expand_dims(~near_tie(x.astype(dtype), g, axis), axis), shape)
    assert_same(fast, ref, tol, keep)
    assert_same(generic, ref, tol, keep)
    assert_same(fast, generic, tol, keep)


@pytest.mark.parametrize("name", FAST)
@SETTINGS
@given(call=calls(), keepdims=st.booleans())
def test_fast_gumbel_max_equals_generic_and_reference(name, call, keepdims):
    shape, axis, _, _, dtype, mask, seed = call
    mask = "some" if mask == "bad" else mask  # a bad slice has no defined index
    t = Target(name)
    x = logits_for(shape, axis, mask, seed)
    valid = ~np.all(x == -np.inf, axis=axis)
    g1, g2, g3 = twins(name, seed)
    xa = t.asarray(x, dtype)
    fast = to_numpy(gx.gumbel_max(xa, axis=axis, keepdims=keepdims, rng=g1))
    with generic_only():
        generic = to_numpy(gx.gumbel_max(xa, axis=axis, keepdims=keepdims, rng=g2))
    g = -np.log(-np.log(ref_uniform(name, g3, shape, dtype)))
    ref = np.argmax(x.astype(dtype) + g, axis=axis, keepdims=keepdims)
    ok = valid & ~near_tie(x.astype(dtype), g, axis)
    if keepdims:
        ok = np.expand_dims(ok, axis)
    np.testing.assert_array_equal(fast[ok], ref[ok])
    np.testing.assert_array_equal(generic[ok], ref[ok])


@pytest.mark.skipif("numpy" not in FAST, reason="numpy is not among the selected backends")
@pytest.mark.parametrize("shape, axis, layout", [
    ((5000, 8), -1, "C"),         # row pieces of 4096 rows and a tail
    ((3, 70000), -1, "C"),        # rows longer than a piece: one row each
    ((7, 40, 300), -1, "C"),      # leading axes flattened into rows
    ((1024, 9), 0, "C"),          # not the last axis: one full-size temporary
    ((9, 1024), -1, "F"),         # last axis of a non-contiguous array
])
def test_numpy_tau1_soft_in_pieces(shape, axis, layout):
    """NumPy's tau = 1 soft path (exp(x - max x) / E in the uniforms' buffer,
    the temporary in cache-sized pieces of rows) against the generic path
    and the float64 reference, from the same generator state."""
    x = logits_for(shape, axis, "some", 11)
    x32 = x.astype(np.float32)
    xa = np.asfortranarray(x32) if layout == "F" else x32
    g1, g2, g3 = twins("numpy", 11)
    fast = gx.gumbel_softmax(xa, 1.0, axis=axis, rng=g1)
    with generic_only():
        generic = gx.gumbel_softmax(xa, 1.0, axis=axis, rng=g2)
    g = -np.log(-np.log(ref_uniform("numpy", g3, shape, "float32")))
    ref = ref_gumbel_softmax(x32, g, 1.0, False, axis)
    assert_same(fast, ref, TOLERANCES["float32"])
    assert_same(fast, generic, TOLERANCES["float32"])


def test_fast_paths_exist_where_claimed():
    """The paths the comparisons above exercise are really taken."""
    from gumbelxp.backends import get_backend

    for name in FAST:
        assert "gumbel_softmax" in get_backend(name).fast_paths
    for name in set(FAST) & {"numpy", "torch"}:
        assert "gumbel_max" in get_backend(name).fast_paths


# ---------------------------------------------------------------------------
# autograd on and off: the same forward, the soft gradient
# ---------------------------------------------------------------------------
AUTOGRAD = [n for n in ("torch", "tensorflow") if n in selected_backends()]


@pytest.mark.parametrize("name", AUTOGRAD)
@pytest.mark.parametrize("tau", [1.0, 0.5])
@pytest.mark.parametrize("hard", [False, True])
def test_fast_path_under_autograd_equals_generic(name, tau, hard):
    t = Target(name)
    r = np.random.default_rng(3)
    x = r.normal(size=(6, 5))
    x[0, 1] = -np.inf
    cot = t.asarray(r.normal(size=(6, 5)), "float64")
    xa = t.asarray(x, "float64")
    g1, g2, g3 = twins(name, 11)

    def f(gen):
        return lambda v: gx.gumbel_softmax(v, tau, hard=hard, rng=gen)

    y1, (d1,) = t.vjp(f(g1), (xa,), cot)
    with generic_only():
        y2, (d2,) = t.vjp(f(g2), (xa,), cot)
    g = -np.log(-np.log(ref_uniform(name, g3, x.shape, "float64")))
    ys = ref_gumbel_softmax(x, g, tau, False, -1)
    c = to_numpy(cot)
    # analytic: d/dx of sum(c * softmax((x + g) / tau)) = ys * (c - sum(c * ys)) / tau
    d_ref = ys * (c - (c * ys).sum(-1, keepdims=True)) / tau
    np.testing.assert_allclose(to_numpy(y1), to_numpy(y2), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(to_numpy(y1), ref_gumbel_softmax(x, g, tau, hard, -1),
                               rtol=1e-12, atol=1e-14)
    for d in (d1, d2):
        d = to_numpy(d)
        assert np.isfinite(d).all()
        np.testing.assert_allclose(d, d_ref, rtol=1e-10, atol=1e-12)


@pytest.mark.skipif("tensorflow" not in selected_backends(), reason="tensorflow not selected")
@pytest.mark.parametrize("jit", [False, True])
def test_tensorflow_fast_path_in_tf_function_equals_eager(jit):
    import tensorflow as tf

    x = tf.constant(np.random.default_rng(1).normal(size=(7, 9)), tf.float32)
    for hard in (False, True):
        for tau in (1.0, 0.3):
            eager = gx.gumbel_softmax(x, tau, hard=hard, rng=(4, 5))
            f = tf.function(lambda v, hard=hard, tau=tau: gx.gumbel_softmax(
                v, tau, hard=hard, rng=(4, 5)), jit_compile=jit)
            with generic_only():
                generic = gx.gumbel_softmax(x, tau, hard=hard, rng=(4, 5))
            np.testing.assert_allclose(f(x).numpy(), eager.numpy(), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(generic.numpy(), eager.numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# the raw-word float32 path: which bit generators take it, and its values
# ---------------------------------------------------------------------------
@pytest.mark.skipif("numpy" not in selected_backends(), reason="numpy not selected")
@pytest.mark.parametrize("bitgen", BIT_GENERATORS)
@pytest.mark.parametrize("n", [100, 4096, 50_000])
def test_numpy_uniforms_by_bit_generator(bitgen, n):
    gen = np.random.Generator(getattr(np.random, bitgen)(5))
    twin = copy.deepcopy(gen)
    g = gx.gumbel((n,), dtype="float32", rng=gen)
    ref = -np.log(-np.log(ref_uniform("numpy", twin, (n,), "float32")))
    np.testing.assert_allclose(g, ref, rtol=2e-6, atol=2e-6)
    # and the law: mean and variance of the Gumbel distribution
    if n >= 4096:
        assert abs(g.mean() - np.euler_gamma) < 5 * np.sqrt(np.pi**2 / 6 / n)
        # the sample variance's sd: sigma^2 sqrt((kurtosis - 1) / n), Gumbel kurtosis 5.4
        assert abs(g.var() - np.pi**2 / 6) < 5 * np.pi**2 / 6 * np.sqrt(7.4 / n)


# ---------------------------------------------------------------------------
# the fast paths with PortableRNG: its stream, bit for bit, through any path
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", FAST)
@SETTINGS
@given(call=calls())
def test_fast_paths_with_portable_rng_equal_generic_and_reference(name, call):
    """The fast paths take PortableRNG's noise from the backend's fast stream;
    the reference is the conformance suite's pure-Python Philox and noise
    transform in float64."""
    from gumbelxp.conformance.checks import noise_ref

    shape, axis, tau, hard, dtype, mask, seed = call
    t = Target(name)
    x = logits_for(shape, axis, mask, seed)
    xa = t.asarray(x, dtype)
    fast = to_numpy(gx.gumbel_softmax(xa, tau, hard=hard, axis=axis, rng=gx.PortableRNG(seed)))
    with generic_only():
        generic = to_numpy(gx.gumbel_softmax(xa, tau, hard=hard, axis=axis,
                                             rng=gx.PortableRNG(seed)))
    g = noise_ref(seed, shape, dtype)
    ref = ref_gumbel_softmax(x.astype(dtype), g, tau, hard, axis)
    tol = TOLERANCES[dtype] if tau >= 0.1 else (1e-3, 1e-5)
    keep = None
    if hard:
        keep = np.broadcast_to(np.expand_dims(~near_tie(x.astype(dtype), g, axis), axis), shape)
    assert_same(fast, ref, tol, keep)
    assert_same(generic, ref, tol, keep)
    if mask != "bad":
        idx = to_numpy(gx.gumbel_max(xa, axis=axis, rng=gx.PortableRNG(seed)))
        ok = ~np.all(x == -np.inf, axis=axis) & ~near_tie(x.astype(dtype), g, axis)
        np.testing.assert_array_equal(idx[ok], np.argmax(x.astype(dtype) + g, axis=axis)[ok])
