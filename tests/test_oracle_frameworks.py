"""Semantics checked against the frameworks' own code, not against gumbelxp.

* ``gx.relaxed_log_prob`` equals
  ``torch.distributions.RelaxedOneHotCategorical(tau, logits).log_prob(y)``,
  broadcasting included (one logits vector, many points; logits with batch
  dimensions of their own; ``tau`` per slice), on every backend;
* ``gx.gumbel(shape, loc=, scale=)`` follows NumPy's
  ``Generator.gumbel(loc, scale, size)``: exactly ``shape``, or an error where
  NumPy raises one;
* ``gx.gumbel_max(num_samples=m)`` has the shapes of ``tf.random.categorical``
  and ``torch.multinomial(replacement=True)``, and their law;
* shapes and dtypes as ``jax.random.gumbel`` / ``jax.random.categorical``;
* NumPy scalars (``tau=np.exp(-0.1)``, ``np.float32(0.5)``, seeds of type
  ``np.int64``) are numbers on every backend, validated as numbers.
"""

from __future__ import annotations

import _oracle_support as S
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gumbelxp as gx

HYP = settings(deadline=None, derandomize=True, database=None, max_examples=60,
               phases=(Phase.explicit, Phase.generate, Phase.shrink),
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BACKENDS = S.backends()
# float64 where the backend has it (JAX only with x64): tolerances follow
DTYPE = {"numpy": "float64", "torch": "float64", "tensorflow": "float64",
         "array_api_strict": "float64", "dask": "float64", "jax": "float32"}
# hypothesis examples per backend: JAX compiles each new shape, TF and Dask
# pay per op
EXAMPLES = {"numpy": 30, "torch": 30, "array_api_strict": 15, "tensorflow": 12, "dask": 12,
            "jax": 5}
TOL = {"float64": dict(rtol=1e-9, atol=1e-9), "float32": dict(rtol=2e-4, atol=2e-3)}


# ---------------------------------------------------------------------------
# relaxed_log_prob against torch.distributions.RelaxedOneHotCategorical
# ---------------------------------------------------------------------------
def torch_relaxed_log_prob(y, logits, tau, axis=-1):
    """The oracle: torch.distributions in float64, with the categories moved
    last; a per-slice tau is applied one slice at a time (torch multiplies a
    temperature tensor along the categories, so it takes one number)."""
    torch = pytest.importorskip("torch")
    from torch.distributions import RelaxedOneHotCategorical

    y = np.moveaxis(np.asarray(y, np.float64), axis, -1)
    logits = np.moveaxis(np.asarray(logits, np.float64), axis, -1)
    t = np.asarray(tau, np.float64)
    if t.ndim == 0:
        d = RelaxedOneHotCategorical(torch.tensor(float(t), dtype=torch.float64),
                                     logits=torch.tensor(logits), validate_args=False)
        return d.log_prob(torch.tensor(y)).numpy()
    yb, lb = np.broadcast_arrays(y, logits)
    out = np.empty(yb.shape[:-1])
    for idx in np.ndindex(out.shape):
        d = RelaxedOneHotCategorical(torch.tensor(float(t[idx]), dtype=torch.float64),
                                     logits=torch.tensor(lb[idx]), validate_args=False)
        out[idx] = d.log_prob(torch.tensor(yb[idx])).item()
    return out


@st.composite
def log_prob_case(draw):
    """(y, logits, tau, axis, tau_kind): y and logits with mutually
    broadcastable batch shapes, the categories at the same negative axis."""
    k = draw(st.integers(2, 5))
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                   max_side=3))
    by, bl = shapes.input_shapes
    batch = shapes.result_shape
    seed = draw(st.integers(0, 2**32 - 1))
    r = np.random.default_rng(seed)
    y = r.dirichlet(np.full(k, 1.5), size=by if by else None).reshape(*by, k)
    y = np.clip(y, 1e-3, None)
    y /= y.sum(-1, keepdims=True)
    logits = r.normal(size=(*bl, k)) * 2
    # the categories' axis: last, or further left in both
    j = draw(st.integers(1, min(len(by), len(bl)) + 1))
    y, logits = np.moveaxis(y, -1, -j), np.moveaxis(logits, -1, -j)
    kind = draw(st.sampled_from(["python", "numpy64", "numpy32", "0-d", "per-slice"]))
    t = float(draw(st.floats(0.2, 3.0)))
    if kind == "python":
        tau = t
    elif kind == "numpy64":
        tau = np.float64(t)
    elif kind == "numpy32":
        tau = np.float32(t)
    elif kind == "0-d":
        tau = np.asarray(t)
    else:
        # one value per slice of the broadcast result (its shape without axis)
        tau = r.uniform(0.2, 3.0, size=batch) if batch else np.asarray(t)
    return y, logits, tau, -j, kind


def _tau_for(be, tau, dtype):
    if isinstance(tau, np.ndarray):
        return S.asarray(be, tau, dtype)
    return tau


@pytest.mark.slow
@pytest.mark.parametrize("be", BACKENDS)
def test_relaxed_log_prob_equals_torch_distributions(be):
    @settings(HYP, max_examples=EXAMPLES[be])
    @given(case=log_prob_case())
    def check(case):
        _check_relaxed_log_prob(be, case)

    check()


def _check_relaxed_log_prob(be, case):
    y, logits, tau, axis, kind = case
    dtype = DTYPE[be]
    expected = torch_relaxed_log_prob(y, logits, tau, axis)
    # the float64 formula of the paper agrees with torch (checks the oracle's use)
    np.testing.assert_allclose(S.concrete_log_prob64(y, logits, tau, axis), expected,
                               rtol=1e-9, atol=1e-9)
    got = gx.relaxed_log_prob(S.asarray(be, y, dtype), S.asarray(be, logits, dtype),
                              _tau_for(be, tau, dtype), axis)
    got = S.to_np(got)
    assert got.shape == expected.shape, (
        f"y {y.shape}, logits {logits.shape}, axis {axis}, tau {kind}: shape {got.shape}, "
        f"torch.distributions gives {expected.shape}")
    np.testing.assert_allclose(got, expected, **TOL[dtype])


@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("y_shape,logits_shape,out_shape", [
    ((6, 4), (4,), (6,)),  # one logits vector, many points
    ((6, 4), (2, 1, 4), (2, 6)),  # logits with a batch of their own
    ((4,), (3, 4), (3,)),  # one point, a batch of logits
    ((2, 6, 4), (6, 4), (2, 6)),
])
def test_relaxed_log_prob_everyday_broadcasting(be, y_shape, logits_shape, out_shape):
    r = np.random.default_rng(1)
    y = r.dirichlet(np.ones(4), size=y_shape[:-1] or None).reshape(y_shape)
    logits = r.normal(size=logits_shape)
    for tau in (0.5, np.float64(2.0)):
        expected = torch_relaxed_log_prob(y, logits, tau)
        assert expected.shape == out_shape
        dtype = DTYPE[be]
        got = S.to_np(gx.relaxed_log_prob(S.asarray(be, y, dtype), S.asarray(be, logits, dtype),
                                          tau))
        assert got.shape == out_shape, f"shape {got.shape}, torch gives {out_shape}"
        np.testing.assert_allclose(got, expected, **TOL[dtype])


# ---------------------------------------------------------------------------
# gx.gumbel(shape, loc, scale): NumPy's Generator.gumbel(loc, scale, size)
# ---------------------------------------------------------------------------
@st.composite
def gumbel_shapes(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    # loc and scale: broadcastable to shape, or not
    def param():
        kind = draw(st.sampled_from(["number", "to-shape", "any"]))
        if kind == "number":
            return None
        if kind == "to-shape":
            return draw(hnp.broadcastable_shapes(shape, min_dims=0, max_dims=len(shape) + 1,
                                                 max_side=4))
        return draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    return shape, param(), param()


def _numpy_semantics(shape, loc, scale):
    """The shape NumPy's Generator.gumbel returns, or the error it raises."""
    try:
        return np.random.default_rng(0).gumbel(loc, scale, size=shape).shape, None
    except ValueError as e:
        return None, e


@pytest.mark.slow
@pytest.mark.parametrize("be", BACKENDS)
def test_gumbel_shape_and_loc_follow_numpy(be):
    @settings(HYP, max_examples=EXAMPLES[be])
    @given(case=gumbel_shapes())
    def check(case):
        _check_gumbel_shape(be, case)

    check()


def _check_gumbel_shape(be, case):
    shape, loc_shape, scale_shape = case
    r = np.random.default_rng(2)
    loc = 1.5 if loc_shape is None else r.normal(size=loc_shape) * 10
    # a tiny scale: the result is loc itself up to 1e-6, a value oracle for
    # where each loc lands (Gumbel noise is bounded by ~45)
    scale = 1e-8 if scale_shape is None else r.uniform(0.5, 1.0, size=scale_shape) * 1e-8
    want_shape, err = _numpy_semantics(shape, loc, scale)
    dtype = "float32" if be == "jax" else "float64"
    args = dict(xp=be, dtype=dtype, rng=3,
                loc=loc if loc_shape is None else S.asarray(be, loc, dtype),
                scale=scale if scale_shape is None else S.asarray(be, scale, dtype))
    if err is not None:
        with pytest.raises(ValueError):
            S.to_np(gx.gumbel(shape, **args))
        return
    assert want_shape == shape
    got = S.to_np(gx.gumbel(shape, **args))
    assert got.shape == shape, f"shape {shape}, loc {loc_shape}, scale {scale_shape}: {got.shape}"
    np.testing.assert_allclose(got, np.broadcast_to(loc, shape), rtol=1e-5, atol=1e-5)


def test_gumbel_loc_larger_than_shape_raises_like_numpy():
    with pytest.raises(ValueError):
        np.random.default_rng(0).gumbel(np.zeros((2, 3)), 1.0, size=(3,))
    for be in BACKENDS:
        dtype = "float32"
        with pytest.raises(ValueError):
            S.to_np(gx.gumbel((3,), xp=be, dtype=dtype, loc=S.asarray(be, np.zeros((2, 3)), dtype),
                              rng=0))
        with pytest.raises(ValueError):
            S.to_np(gx.gumbel((3,), xp=be, dtype=dtype,
                              scale=S.asarray(be, np.ones((4, 1)), dtype), rng=0))


# ---------------------------------------------------------------------------
# gumbel_max(num_samples=m): tf.random.categorical / torch.multinomial
# ---------------------------------------------------------------------------
def _framework_multi_shapes(logits2d, m):
    """Shapes the frameworks give for m samples of each row of 2-D logits."""
    shapes = {}
    if S.installed("torch"):
        import torch

        p = torch.softmax(torch.tensor(logits2d), -1)
        shapes["torch.multinomial"] = tuple(torch.multinomial(p, m, replacement=True).shape)
    if S.installed("tensorflow"):
        import tensorflow as tf

        shapes["tf.random.categorical"] = tuple(
            tf.random.categorical(tf.constant(logits2d), m, seed=1).shape)
    return shapes


@pytest.mark.parametrize("be", BACKENDS)
def test_num_samples_shapes_like_tf_and_torch(be):
    r = np.random.default_rng(4)
    b, k, m = 3, 5, 7
    logits = r.normal(size=(b, k))
    shapes = _framework_multi_shapes(logits, m)
    assert shapes and set(shapes.values()) == {(b, m)}
    dtype = "float32"
    x = S.asarray(be, logits, dtype)
    got = gx.gumbel_max(x, num_samples=m, rng=5)
    assert tuple(got.shape) == (b, m)
    # integer indices in range
    g = S.to_np(got)
    assert np.issubdtype(g.dtype, np.integer) and g.min() >= 0 and g.max() < k
    # the axis is replaced by m wherever it is
    xt = S.asarray(be, logits.T, dtype)
    assert tuple(gx.gumbel_max(xt, axis=0, num_samples=m, rng=5).shape) == (m, b)
    x3 = S.asarray(be, np.broadcast_to(logits, (2, b, k)), dtype)
    assert tuple(gx.gumbel_max(x3, num_samples=m, rng=5).shape) == (2, b, m)
    assert tuple(gx.gumbel_max(x3, axis=1, num_samples=m, rng=5).shape) == (2, m, k)
    x1 = S.asarray(be, logits[0], dtype)
    assert tuple(gx.gumbel_max(x1, num_samples=m, rng=5).shape) == (m,)
    assert tuple(gx.gumbel_max(x, num_samples=1, rng=5).shape) == (b, 1)


@pytest.mark.parametrize("be", S.backends("numpy", "torch", "jax", "tensorflow"))
def test_num_samples_law_rows_and_independence(be):
    """Each row's samples are i.i.d. softmax(row): per-row chi-square, and
    the pairs (sample j, sample j + 1) are independent (K x K chi-square)."""
    rows = np.array([S.LOGITS, S.LOGITS[::-1], [0.0, 0.0, 0.0, -np.inf]])
    m = 20_000
    x = S.asarray(be, rows, "float32")
    idx = S.to_np(gx.gumbel_max(x, num_samples=m, rng=6)).astype(np.int64)
    assert idx.shape == (3, m)
    for row, logits in zip(idx, rows, strict=True):
        p = S.chi2_p(np.bincount(row, minlength=4), S.softmax64(logits))
        assert p > S.P_MIN, f"row {logits}: frequencies {np.bincount(row, minlength=4) / m}"
    first = idx[0]
    pairs = np.bincount(first[:-1] * 4 + first[1:], minlength=16)
    joint = np.outer(S.PROBS, S.PROBS).ravel()
    assert S.chi2_p(pairs, joint) > S.P_MIN, "consecutive samples are not independent"


def test_num_samples_law_matches_tf_and_torch_samplers():
    from scipy import stats

    logits = np.array([S.LOGITS])
    m = 20_000
    ours = np.bincount(S.to_np(gx.gumbel_max(logits, num_samples=m, rng=7))[0], minlength=4)
    theirs = []
    if S.installed("torch"):
        import torch

        g = torch.Generator().manual_seed(0)
        theirs.append(np.bincount(torch.multinomial(torch.tensor(S.PROBS), m, replacement=True,
                                                    generator=g).numpy(), minlength=4))
    if S.installed("tensorflow"):
        import tensorflow as tf

        theirs.append(np.bincount(tf.random.categorical(tf.constant(logits), m,
                                                        seed=3).numpy()[0], minlength=4))
    for t in theirs:
        assert stats.chi2_contingency(np.stack([ours, t])).pvalue > S.P_MIN


# ---------------------------------------------------------------------------
# jax.random: shapes and dtypes
# ---------------------------------------------------------------------------
@pytest.mark.slow
def test_shapes_and_dtypes_like_jax_random():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    key = jax.random.key(0)
    for shape in ((), (2, 5)):
        ref = jax.random.gumbel(key, shape)
        got = gx.gumbel(shape, xp="jax", rng=key)
        assert got.shape == ref.shape and got.dtype == ref.dtype
    got = gx.gumbel((2, 5), xp=jnp, dtype=jnp.bfloat16, rng=key)
    assert got.shape == (2, 5) and got.dtype == jnp.bfloat16
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 3, 4)), dtype=jnp.float32)
    for axis in (-1, 0, 1):
        ref = jax.random.categorical(key, x, axis=axis)
        got = gx.gumbel_max(x, axis=axis, rng=key)
        assert got.shape == ref.shape, f"axis {axis}"
        assert jnp.issubdtype(got.dtype, jnp.integer)
    # jax.random.gumbel(key, x.shape) + x is what gumbel_softmax exponentiates
    g = jax.random.gumbel(key, x.shape)
    y = gx.gumbel_softmax(x, 0.7, noise=g)
    np.testing.assert_allclose(np.asarray(y), S.ref_gumbel_softmax(x, g, 0.7), atol=2e-6)
    i = gx.gumbel_max(x, noise=g)
    np.testing.assert_array_equal(np.asarray(i), np.asarray(jnp.argmax(x + g, axis=-1)))


# ---------------------------------------------------------------------------
# NumPy scalars are numbers
# ---------------------------------------------------------------------------
GOOD_TAUS = [np.exp(-0.1), np.float32(0.5), np.float16(2.0), np.int64(2), np.float64(1.0),
             np.longdouble(0.25)]
BAD_TAUS = [np.float64(0), np.float64(-1), -1, 0, np.float32(0.0), np.int64(0),
            np.float64("nan"), np.float64("inf"), float("inf"), 10**400, -(10**400)]


@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("tau", GOOD_TAUS, ids=lambda t: f"{type(t).__name__}({t})")
def test_numpy_scalar_tau_is_a_number(be, tau):
    r = np.random.default_rng(8)
    logits = r.normal(size=(3, 4))
    g = r.gumbel(size=(3, 4))
    dtype = "float32"
    x, noise = S.asarray(be, logits, dtype), S.asarray(be, g, dtype)
    want = S.ref_gumbel_softmax(logits.astype(np.float32), g.astype(np.float32), float(tau))
    y = gx.gumbel_softmax(x, tau, noise=noise)
    assert S.dtype_name(y) == dtype
    np.testing.assert_allclose(S.to_np(y), want, rtol=1e-4, atol=1e-5)
    h = S.to_np(gx.gumbel_softmax(x, tau, hard=True, noise=noise))
    np.testing.assert_array_equal(h, S.one_hot(np.argmax(logits.astype(np.float32)
                                                        + g.astype(np.float32), -1), 4))
    y = r.dirichlet(np.ones(4), size=3)
    lp = S.to_np(gx.relaxed_log_prob(S.asarray(be, y, dtype), x, tau))
    np.testing.assert_allclose(lp, S.concrete_log_prob64(y, logits, float(tau)), rtol=1e-4,
                               atol=1e-3)


@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("tau", BAD_TAUS, ids=lambda t: f"{type(t).__name__}({str(t)[:8]})")
def test_invalid_number_tau_is_a_value_error(be, tau):
    x = S.asarray(be, np.zeros((2, 3)), "float32")
    y = S.asarray(be, np.full((2, 3), 1 / 3), "float32")
    with pytest.raises(ValueError):
        S.to_np(gx.gumbel_softmax(x, tau, rng=0))
    with pytest.raises(ValueError):
        S.to_np(gx.gumbel_softmax(x, tau, hard=True, rng=0))
    with pytest.raises(ValueError):
        S.to_np(gx.relaxed_log_prob(y, x, tau))


@pytest.mark.parametrize("be", BACKENDS)
@pytest.mark.parametrize("kw", [dict(scale=np.float64(-1)), dict(scale=np.float64(0)),
                                dict(scale=np.float32("nan")), dict(scale=-1),
                                dict(loc=np.float64("inf")), dict(loc=np.float64("nan")),
                                dict(scale=10**400)],
                         ids=lambda kw: f"{next(iter(kw))}={next(iter(kw.values()))!s:.8}")
def test_invalid_number_loc_scale_is_a_value_error(be, kw):
    with pytest.raises(ValueError):
        S.to_np(gx.gumbel((5,), xp=be, rng=0, **kw))


@pytest.mark.parametrize("be", BACKENDS)
def test_numpy_scalar_loc_scale_are_numbers(be):
    dtype = "float32"
    g = S.to_np(gx.gumbel((4,), xp=be, dtype=dtype, rng=0, loc=np.float64(100.0),
                          scale=np.float32(1e-6)))
    assert g.shape == (4,)
    np.testing.assert_allclose(g, 100.0, atol=1e-3)


@pytest.mark.parametrize("be", BACKENDS)
def test_numpy_integer_seeds(be):
    dtype = "float32"
    x = S.asarray(be, np.zeros((3, 4)), dtype)
    for seed, np_seed in ((5, np.int64(5)), (5, np.uint8(5)), (2**63 + 7, np.uint64(2**63 + 7))):
        a = S.to_np(gx.gumbel_softmax(x, 0.5, rng=seed))
        b = S.to_np(gx.gumbel_softmax(x, 0.5, rng=np_seed))
        np.testing.assert_array_equal(a, b)
        if be == "jax":
            continue  # PortableRNG's constructor is the same everywhere; JAX compiles slowly
        a = S.to_np(gx.gumbel((6,), xp=be, dtype=dtype, rng=gx.PortableRNG(seed)))
        b = S.to_np(gx.gumbel((6,), xp=be, dtype=dtype, rng=gx.PortableRNG(np_seed)))
        np.testing.assert_array_equal(a, b)


def test_portable_rng_numpy_seed():
    a = gx.gumbel((8,), rng=gx.PortableRNG(np.int64(5)))
    np.testing.assert_array_equal(a, gx.gumbel((8,), rng=gx.PortableRNG(5)))
