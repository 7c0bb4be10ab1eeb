"""One regression test per defect of issue 10 (those that run in this
process; fork, sharded JAX and fresh TensorFlow processes are in
``test_oracle_processes.py``), each against an independent reference:
SciPy, ``torch.distributions``, NumPy's own semantics, the float64 formula
``softmax((x + g) / tau)`` given the same noise, or analytic gradients.
"""

from __future__ import annotations

import math

import _oracle_support as S
import numpy as np
import pytest

import gumbelxp as gx

BACKENDS = S.backends()
AUTOGRAD = S.backends("torch", "jax", "tensorflow")


# 1 ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_d01_mt19937_generator_gives_the_gumbel_law(dtype):
    g = gx.gumbel((100_000,), dtype=dtype, rng=np.random.Generator(np.random.MT19937(0)))
    zm, zv = S.gumbel_moment_z(g)
    assert abs(zm) < S.Z_MAX and abs(zv) < S.Z_MAX, \
        f"mean {g.astype(float).mean():.3f} (0.577), variance {g.astype(float).var():.3f} (1.645)"
    assert S.ks_gumbel_p(g) > S.P_MIN
    x = np.broadcast_to(S.LOGITS, (20_000, 4)).astype(dtype)
    y = gx.gumbel_softmax(x, 0.5, hard=True, rng=np.random.Generator(np.random.MT19937(1)))
    counts = y.astype(np.float64).sum(axis=0)
    assert S.chi2_p(counts, S.PROBS) > S.P_MIN, f"frequencies {counts / counts.sum()}"
    idx = gx.gumbel_max(x, rng=np.random.Generator(np.random.MT19937(2)))
    assert S.chi2_p(np.bincount(idx, minlength=4), S.PROBS) > S.P_MIN


# 3 ---------------------------------------------------------------------------
@pytest.mark.parametrize("be", BACKENDS)
def test_d03_tau_of_the_wrong_shape_is_a_value_error(be):
    dtype = "float32"
    x = S.asarray(be, np.random.default_rng(0).normal(size=(2, 3, 3)), dtype)
    y = S.asarray(be, np.full((2, 3, 3), 1 / 3), dtype)
    for bad in (np.array([0.5, 1.0, 2.0]),  # (3,): would broadcast onto the categories
                np.full((2, 3, 3), 0.5),  # varies along the categories
                np.full((2, 1, 3), 0.5)):
        tau = S.asarray(be, bad, dtype)
        for hard in (False, True):
            with pytest.raises(ValueError):
                S.to_np(gx.gumbel_softmax(x, tau, hard=hard, rng=0))
        with pytest.raises(ValueError):
            S.to_np(gx.relaxed_log_prob(y, x, tau))


@pytest.mark.parametrize("be", BACKENDS)
def test_d03_tau_per_slice_equals_the_reference(be):
    dtype = "float32"
    r = np.random.default_rng(1)
    logits = r.normal(size=(2, 3, 3))
    g = r.gumbel(size=(2, 3, 3))
    t = r.uniform(0.3, 2.0, size=(2, 3))
    want = S.ref_gumbel_softmax(logits.astype(np.float32), g.astype(np.float32), t)
    x, noise = S.asarray(be, logits, dtype), S.asarray(be, g, dtype)
    for tau in (t, t[..., None]):  # the logits' shape without axis, or size 1 there
        got = S.to_np(gx.gumbel_softmax(x, S.asarray(be, tau, dtype), noise=noise))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # along axis 1: the slices are (2, 3) again, laid out as logits[:, :, j]
    want1 = np.moveaxis(S.ref_gumbel_softmax(np.moveaxis(logits, 1, -1).astype(np.float32),
                                             np.moveaxis(g, 1, -1).astype(np.float32), t), -1, 1)
    got = S.to_np(gx.gumbel_softmax(x, S.asarray(be, t, dtype), axis=1, noise=noise))
    np.testing.assert_allclose(got, want1, rtol=1e-4, atol=1e-5)


# 4 ---------------------------------------------------------------------------
@pytest.mark.parametrize("be", BACKENDS)
def test_d04_relaxed_log_prob_one_logits_vector_many_points(be):
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(2)
    logits = r.normal(size=4)
    y = r.dirichlet(np.ones(4), size=6)
    d = torch.distributions.RelaxedOneHotCategorical(torch.tensor(0.7, dtype=torch.float64),
                                                     logits=torch.tensor(logits))
    want = d.log_prob(torch.tensor(y)).numpy()
    assert want.shape == (6,)
    dtype = "float32"
    got = S.to_np(gx.relaxed_log_prob(S.asarray(be, y, dtype), S.asarray(be, logits, dtype), 0.7))
    assert got.shape == (6,)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)


# 5 ---------------------------------------------------------------------------
@pytest.mark.parametrize("be", BACKENDS)
def test_d05_numpy_scalar_tau(be):
    dtype = "float32"
    r = np.random.default_rng(3)
    logits, g = r.normal(size=(3, 4)), r.gumbel(size=(3, 4))
    x, noise = S.asarray(be, logits, dtype), S.asarray(be, g, dtype)
    tau = np.exp(-0.1)  # every NumPy annealing schedule
    want = S.ref_gumbel_softmax(logits.astype(np.float32), g.astype(np.float32), float(tau))
    np.testing.assert_allclose(S.to_np(gx.gumbel_softmax(x, tau, noise=noise)), want,
                               rtol=1e-4, atol=1e-6)
    for bad in (np.float64(0), np.float64(-1), np.float64("nan"), 10**400):
        with pytest.raises(ValueError):
            S.to_np(gx.gumbel_softmax(x, bad, noise=noise))
    with pytest.raises(ValueError):
        S.to_np(gx.gumbel((3,), xp=be, scale=np.float64(-1), rng=0))


def test_d05_numpy_integer_seed_for_portable_rng():
    np.testing.assert_array_equal(gx.gumbel((5,), rng=gx.PortableRNG(np.int64(5))),
                                  gx.gumbel((5,), rng=gx.PortableRNG(5)))


# 6 ---------------------------------------------------------------------------
@pytest.mark.parametrize("be", BACKENDS)
def test_d06_gumbel_returns_exactly_the_shape_asked(be):
    dtype = "float32"
    with pytest.raises(ValueError):  # NumPy: rng.gumbel(zeros((2, 3)), 1, size=(3,)) raises
        S.to_np(gx.gumbel((3,), xp=be, dtype=dtype, loc=S.asarray(be, np.zeros((2, 3)), dtype),
                          rng=0))
    with pytest.raises(ValueError):
        S.to_np(gx.gumbel((3,), xp=be, dtype=dtype, scale=S.asarray(be, np.ones((2, 1)), dtype),
                          rng=0))
    loc = np.array([0.0, 100.0, -100.0])
    g = S.to_np(gx.gumbel((2000, 3), xp=be, dtype=dtype, loc=S.asarray(be, loc, dtype), rng=1))
    assert g.shape == (2000, 3)
    assert not np.array_equal(g[0], g[1]), "rows are identical"
    for j in range(3):
        assert S.ks_gumbel_p(g[:, j], loc[j]) > S.P_MIN


# 7 ---------------------------------------------------------------------------
def _soft_grad_wrt_noise(logits, g, tau, w):
    """d/dg sum(w * softmax((x + g) / tau)) = y * (w - <y, w>) / tau."""
    y = S.ref_gumbel_softmax(logits, g, tau)
    return y * (w - (y * w).sum(-1, keepdims=True)) / tau


def _case7():
    r = np.random.default_rng(4)
    return r.normal(size=(3, 5)), r.gumbel(size=(3, 5)), r.normal(size=(3, 5)), 0.8


@pytest.mark.parametrize("be", AUTOGRAD)
def test_d07_hard_gradient_reaches_noise_when_logits_need_none(be):
    logits, g, w, tau = _case7()
    want = _soft_grad_wrt_noise(logits, g, tau, w)
    if be == "torch":
        import torch

        x = torch.tensor(logits)  # requires no gradient
        noise = torch.tensor(g, requires_grad=True)
        y = gx.gumbel_softmax(x, tau, hard=True, noise=noise)
        (y * torch.tensor(w)).sum().backward()
        got = noise.grad.numpy()
    elif be == "jax":
        import jax
        import jax.numpy as jnp

        x = jnp.asarray(logits, dtype=jnp.float32)
        got = np.asarray(jax.grad(lambda n: jnp.sum(
            gx.gumbel_softmax(x, tau, hard=True, noise=n) * jnp.asarray(w, dtype=jnp.float32)))(
                jnp.asarray(g, dtype=jnp.float32)))
    else:
        import tensorflow as tf

        x = tf.constant(logits)
        noise = tf.constant(g)
        with tf.GradientTape() as tape:
            tape.watch(noise)
            y = gx.gumbel_softmax(x, tau, hard=True, noise=noise)
            loss = tf.reduce_sum(y * w)
        got = tape.gradient(loss, noise).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_d07_hard_gradient_reaches_noise_under_jit_and_tau_array():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    logits, g, w, tau = _case7()
    want = _soft_grad_wrt_noise(logits, g, tau, w)
    x = jnp.asarray(logits, dtype=jnp.float32)
    f = jax.jit(jax.grad(lambda n: jnp.sum(gx.gumbel_softmax(x, tau, hard=True, noise=n)
                                           * jnp.asarray(w, dtype=jnp.float32))))
    np.testing.assert_allclose(np.asarray(f(jnp.asarray(g, dtype=jnp.float32))), want,
                               rtol=1e-4, atol=1e-5)
    torch = pytest.importorskip("torch")
    noise = torch.tensor(g, requires_grad=True)
    y = gx.gumbel_softmax(torch.tensor(logits), torch.full((3,), tau, dtype=torch.float64),
                          hard=True, noise=noise)
    (y * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(noise.grad.numpy(), want, rtol=1e-6, atol=1e-8)


# 8 ---------------------------------------------------------------------------
EXTREME = [("float32", 1e-46, False), ("float16", 1e-46, False), ("float32", 1e39, True),
           ("float16", 1e39, True), ("float32", 1e-300, True), ("float32", 1e300, False)]


@pytest.mark.parametrize("be", S.backends("numpy", "torch", "jax", "tensorflow"))
@pytest.mark.parametrize("dtype,tau,mask", EXTREME, ids=lambda v: str(v))
def test_d08_extreme_tau_never_nan(be, dtype, tau, mask):
    r = np.random.default_rng(5)
    logits = r.normal(size=(6, 5))
    if mask:
        logits[:, 1] = -np.inf
        logits[2, 3] = -np.inf
    logits = logits.astype(dtype).astype(np.float64)
    g = r.gumbel(size=(6, 5)).astype(np.float32)
    x = S.asarray(be, logits, dtype)
    noise = S.asarray(be, g, "float32" if dtype != "float16" else dtype)
    g = S.to_np(noise).astype(np.float64)
    s = logits + g
    assert S.top_gap(s) > 1e-3
    for t in (tau, np.float64(tau)):
        for hard in (False, True):
            y = gx.gumbel_softmax(x, t, hard=hard, noise=noise)
            assert S.dtype_name(y) == dtype
            got = S.to_np(y).astype(np.float64)
            assert not np.isnan(got).any(), f"tau={tau} hard={hard}: NaN"
            want = S.ref_gumbel_softmax(logits, g, tau) if not hard else S.one_hot(s.argmax(-1), 5)
            np.testing.assert_allclose(got, want, atol=2e-3 if dtype == "float16" else 1e-6)
        y = S.to_np(gx.gumbel_softmax(x, t, rng=7)).astype(np.float64)
        assert not np.isnan(y).any(), f"tau={tau} rng=7: NaN"
        np.testing.assert_allclose(y.sum(-1), 1.0, atol=2e-3)
        if mask:
            assert (y[np.isneginf(logits)] == 0).all()


@pytest.mark.parametrize("tau", [1e-46, 1e39])
def test_d08_extreme_tau_gradient_finite_torch(tau):
    torch = pytest.importorskip("torch")
    logits = torch.tensor(np.random.default_rng(6).normal(size=(4, 5)), dtype=torch.float32)
    logits[:, 0] = -math.inf
    x = logits.clone().requires_grad_(True)
    for hard in (False, True):
        y = gx.gumbel_softmax(x, tau, hard=hard, rng=0)
        assert not torch.isnan(y).any()
        (g,) = torch.autograd.grad((y * torch.arange(5.0)).sum(), x)
        assert torch.isfinite(g).all(), f"tau={tau} hard={hard}: gradient {g}"


# 10 (in this process; fresh processes in test_oracle_processes.py) ----------
def test_d10_tf_global_seed_repeats_in_process():
    tf = pytest.importorskip("tensorflow")
    x = tf.constant(np.zeros((4, 6)), dtype=tf.float32)

    def run():
        return [S.to_np(gx.gumbel_softmax(x, 0.5, rng=None)),
                S.to_np(gx.gumbel_softmax(x, 0.5, hard=True, rng=None)),
                S.to_np(gx.gumbel_max(x, rng=None)),
                S.to_np(gx.gumbel((5,), like=x, rng=None))]

    tf.random.set_seed(5)
    a = run()
    tf.random.set_seed(5)
    b = run()
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    tf.random.set_seed(6)
    c = run()
    assert not np.array_equal(a[0], c[0])
    # the draws of one run differ from each other (a sequence, not one fixed value)
    assert not np.array_equal(a[0][0], a[0][1])


def test_d10_keras_set_random_seed_repeats():
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    x = tf.constant(np.zeros((4, 6)), dtype=tf.float32)
    keras.utils.set_random_seed(5)
    a = S.to_np(gx.gumbel_softmax(x, 0.5, rng=None))
    keras.utils.set_random_seed(5)
    b = S.to_np(gx.gumbel_softmax(x, 0.5, rng=None))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_d10_tf_stateless_seed_pairs_same_in_every_mode(dtype):
    tf = pytest.importorskip("tensorflow")
    x = tf.constant(np.random.default_rng(7).normal(size=(8, 5)), dtype=dtype)

    def f(x, seed):
        return (gx.gumbel_softmax(x, 0.5, rng=seed), gx.gumbel_max(x, rng=seed),
                gx.gumbel_softmax(x, 0.5, hard=True, rng=seed))

    seeds = [(1, 2), tf.constant([1, 2]), tf.constant([1, 2], dtype=tf.int64)]
    eager = [[S.to_np(v) for v in f(x, s)] for s in seeds]
    graph = tf.function(f)
    xla = tf.function(f, jit_compile=True)
    for s, want in zip(seeds, eager, strict=True):
        for mode in (graph, xla):
            got = [S.to_np(v) for v in mode(x, s)]
            for u, v in zip(got, want, strict=True):
                np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)
    for other_form in eager[1:]:  # the pair as a tuple, an int32 or an int64 tensor
        for u, v in zip(eager[0], other_form, strict=True):
            np.testing.assert_array_equal(u, v)
    other = S.to_np(f(x, (1, 3))[0])
    assert not np.allclose(other, eager[0][0])
    # the noise is standard Gumbel: x + g with g of tf.random.stateless_* law
    g = S.to_np(gx.gumbel((50_000,), xp="tensorflow", dtype=dtype, rng=(3, 4)))
    assert S.ks_gumbel_p(g) > S.P_MIN


# 12 -------------------------------------------------------------------------
DASK_CHUNKS = {
    "one": -1,
    "rows": (5, -1),
    "one-column": (-1, 1),
    "single-elements": (7, 1),
    "ragged": ((10, 20, 7), (3, 5, 4)),
}


def _dask_ops():
    return {
        "soft": lambda x, rng, axis: gx.gumbel_softmax(x, 0.5, axis=axis, rng=rng),
        "soft-tau1": lambda x, rng, axis: gx.gumbel_softmax(x, 1.0, axis=axis, rng=rng),
        "hard": lambda x, rng, axis: gx.gumbel_softmax(x, 0.5, hard=True, axis=axis, rng=rng),
        "max": lambda x, rng, axis: gx.gumbel_max(x, axis=axis, rng=rng),
        "topk": lambda x, rng, axis: gx.gumbel_topk(x, 3, axis=axis, rng=rng),
        "gumbel": lambda x, rng, axis: gx.gumbel(tuple(x.shape), like=x, rng=rng),
    }


@pytest.mark.parametrize("chunks", list(DASK_CHUNKS), ids=list(DASK_CHUNKS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_d12_dask_bit_identical_to_numpy_for_every_chunking(chunks, dtype):
    da = pytest.importorskip("dask.array")
    logits = np.random.default_rng(8).normal(size=(37, 12)).astype(dtype)
    logits[3, 5] = -np.inf
    x = da.from_array(logits, chunks=DASK_CHUNKS[chunks])
    bad = []
    for name, op in _dask_ops().items():
        for axis in (-1, 0):
            for seed in ("portable", "int"):
                rng_np = gx.PortableRNG(11) if seed == "portable" else 11
                rng_da = gx.PortableRNG(11) if seed == "portable" else 11
                want = op(logits, rng_np, axis)
                got = op(x, rng_da, axis)
                assert isinstance(got, da.Array)
                got = got.compute()
                if got.shape != want.shape or not np.array_equal(got, want, equal_nan=True):
                    n = (np.sum(got != want) if got.shape == want.shape else "shape")
                    bad.append(f"{name} axis={axis} rng={seed}: {n} values differ")
    assert not bad, "; ".join(bad)


@pytest.mark.parametrize("chunks", [-1, (2, -1)])
def test_d12_dask_empty_batch_computes(chunks):
    da = pytest.importorskip("dask.array")
    x = da.from_array(np.zeros((0, 4), dtype=np.float32), chunks=chunks)
    for rng in (gx.PortableRNG(1), 1, None):
        assert gx.gumbel_softmax(x, 0.5, rng=rng).compute().shape == (0, 4)
        assert gx.gumbel_softmax(x, 0.5, hard=True, rng=rng).compute().shape == (0, 4)
        assert gx.gumbel_max(x, rng=rng).compute().shape == (0,)
        assert gx.gumbel_topk(x, 2, rng=rng).compute().shape == (0, 2)
        assert gx.gumbel((0, 4), like=x, rng=rng).compute().shape == (0, 4)
    # NumPy agrees
    assert gx.gumbel_softmax(np.zeros((0, 4)), 0.5, rng=1).shape == (0, 4)
    assert gx.gumbel_max(np.zeros((0, 4)), rng=1).shape == (0,)


# 13 -------------------------------------------------------------------------
def test_d13_numpy_matrix_is_a_type_error_suggesting_asarray():
    m = np.matrix([[1.0, 2.0, 3.0], [0.0, 0.5, 1.0]])
    y = np.matrix(np.full((2, 3), 1 / 3))
    calls = {
        "gumbel_softmax": lambda: gx.gumbel_softmax(m, rng=0),
        "gumbel_softmax hard": lambda: gx.gumbel_softmax(m, hard=True, rng=0),
        "gumbel_max": lambda: gx.gumbel_max(m, rng=0),
        "gumbel_topk": lambda: gx.gumbel_topk(m, 2, rng=0),
        "straight_through": lambda: gx.straight_through(m),
        "relaxed_log_prob y": lambda: gx.relaxed_log_prob(y, np.asarray(m), 1.0),
        "relaxed_log_prob logits": lambda: gx.relaxed_log_prob(np.asarray(y), m, 1.0),
        "gumbel like": lambda: gx.gumbel((2, 3), like=m, rng=0),
    }
    for name, call in calls.items():
        try:
            call()
        except TypeError as e:
            assert "asarray" in str(e), f"{name}: the TypeError does not suggest np.asarray: {e}"
        else:
            pytest.fail(f"{name}: np.matrix accepted")


# 14 -------------------------------------------------------------------------
@pytest.mark.parametrize("be", BACKENDS)
def test_d14_relaxed_log_prob_validate(be):
    dtype = "float32"
    r = np.random.default_rng(9)
    logits = S.asarray(be, r.normal(size=(3, 4)), dtype)
    good = r.dirichlet(np.ones(4), size=3).astype(np.float32)
    a = S.to_np(gx.relaxed_log_prob(S.asarray(be, good, dtype), logits, 0.5, validate=True))
    b = S.to_np(gx.relaxed_log_prob(S.asarray(be, good, dtype), logits, 0.5))
    np.testing.assert_array_equal(a, b)
    for name, bad in {
        "sums to 1.2": good * 1.2,
        "sums to 0.9": good * 0.9,
        "negative": np.array([[-0.1, 0.5, 0.3, 0.3]] * 3),
        "zero": np.array([[0.0, 0.5, 0.25, 0.25]] * 3),
        "nan": np.where(np.arange(4) == 2, np.nan, good),
    }.items():
        bad = np.array(bad, dtype=np.float32)
        bad[0] = good[0]  # the first slice is fine, a later one is not
        with pytest.raises(ValueError):
            S.to_np(gx.relaxed_log_prob(S.asarray(be, bad, dtype), logits, 0.5, validate=True))
        del name
    # bad logits and tau too
    with pytest.raises(ValueError):
        bl = r.normal(size=(3, 4))
        bl[1, 2] = np.nan
        gx.relaxed_log_prob(S.asarray(be, good, dtype), S.asarray(be, bl, dtype), 0.5,
                            validate=True)
    with pytest.raises(ValueError):
        gx.relaxed_log_prob(S.asarray(be, good, dtype), logits,
                            S.asarray(be, np.array([0.5, -1.0, 0.5]), dtype), validate=True)
