"""API.md's ``rng=`` table on every backend, open-interval uniforms, and
10^7 half-precision draws without NaN or inf."""

import importlib.util

import numpy as np
import pytest
from gumbelxp.conformance.support import (
    Target,
    dtype_name,
    float_dtypes,
    from_numpy,
    native_generator,
    selected_backends,
    to_numpy,
)

import gumbelxp as gx
from gumbelxp._philox import gumbel_from_words
from gumbelxp._portable import PortableRNG

# which frameworks' generators are native to which backends
OWNERS = {
    "numpy": {"numpy", "array_api_strict", "dask"},
    "torch": {"torch"},
    "jax": {"jax"},
    "tensorflow": {"tensorflow"},
}


def native_for(be, seed):
    for fw, owners in OWNERS.items():
        if be.name in owners:
            return native_generator(fw, seed)
    pytest.skip(f"no native generator known to this test for {be.name}")


def logits(be, shape=(64, 5), dtype="float32"):
    r = np.random.default_rng(0)
    return from_numpy(be, r.normal(size=shape), dtype)


def draws(be, x, rng):
    """Every sampling function once, as NumPy arrays."""
    return [
        to_numpy(gx.gumbel_softmax(x, 0.7, rng=rng)),
        to_numpy(gx.gumbel_max(x, rng=rng)),
        to_numpy(gx.gumbel_topk(x, 3, rng=rng)),
        to_numpy(gx.gumbel(tuple(x.shape), like=x, rng=rng)),
    ]


def assert_same(a, b):
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


def assert_all_differ(a, b):
    for u, v in zip(a, b, strict=True):
        assert not np.array_equal(u, v)


# ---------------------------------------------------------------------------
# None
# ---------------------------------------------------------------------------
@pytest.mark.skip_backend("jax", reason="JAX has no global random state (next test)")
def test_rng_none(backend):
    x = logits(backend)
    a, b = draws(backend, x, None), draws(backend, x, None)
    assert_all_differ(a, b)  # the default generator advances
    for y in a:
        assert np.isfinite(y).all()


def test_rng_none_without_global_state_asks_for_a_key():
    x = logits(Target(need("jax").name))
    for call in (lambda: gx.gumbel_softmax(x), lambda: gx.gumbel_max(x),
                 lambda: gx.gumbel_topk(x, 2), lambda: gx.gumbel((3,), like=x)):
        with pytest.raises(ValueError, match="key"):
            call()


def need(name):
    if name not in selected_backends():
        pytest.skip(f"{name} is not among the selected backends")
    from gumbelxp.backends import get_backend

    return get_backend(name)


def test_rng_none_uses_torch_global_generator():
    backend = need("torch")
    import torch

    x = logits(backend)
    torch.manual_seed(1234)
    a = draws(backend, x, None)
    torch.manual_seed(1234)
    assert_same(a, draws(backend, x, None))


def test_rng_none_follows_tf_global_seed():
    backend = need("tensorflow")
    import tensorflow as tf

    x = logits(backend)
    tf.random.set_seed(99)
    a = draws(backend, x, None)
    tf.random.set_seed(99)
    assert_same(a, draws(backend, x, None))


# ---------------------------------------------------------------------------
# int seeds
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2**31 + 7, 2**40 + 3, 2**64 - 1])
def test_int_seed_reproducible(backend, seed):
    x = logits(backend)
    a = draws(backend, x, seed)
    assert_same(a, draws(backend, x, seed))
    assert_all_differ(a, draws(backend, x, seed ^ 1))


@pytest.mark.skip_backend(
    "torch", reason="torch's CPU generator (mt19937) keeps only the low 32 bits of a seed")
def test_int_seed_high_bits_matter(backend):
    x = logits(backend)
    assert_all_differ(draws(backend, x, 5), draws(backend, x, 5 + 2**32))


@pytest.mark.parametrize("seed", [-1, 2**64])
def test_int_seed_out_of_range(backend, seed):
    with pytest.raises(ValueError):
        gx.gumbel_softmax(logits(backend), rng=seed)


# ---------------------------------------------------------------------------
# native generators
# ---------------------------------------------------------------------------
def test_native_generator(backend):
    x = logits(backend)
    if backend.name == "jax":
        import jax

        k = jax.random.key(3)
        assert_same(draws(backend, x, k), draws(backend, x, k))  # keys are values
        assert_all_differ(draws(backend, x, k), draws(backend, x, jax.random.key(4)))
        legacy = jax.random.PRNGKey(3)  # raw uint32[2] keys too
        assert_same(draws(backend, x, legacy), draws(backend, x, legacy))
        return
    g1, g2 = native_for(backend, 42), native_for(backend, 42)
    first = draws(backend, x, g1)
    assert_all_differ(first, draws(backend, x, g1))  # its state advanced
    assert_same(first, draws(backend, x, g2))  # a twin generator replays the stream


def test_torch_generator_state_advances():
    backend = need("torch")
    import torch

    g = torch.Generator().manual_seed(7)
    before = g.get_state().clone()
    gx.gumbel_softmax(logits(backend), rng=g)
    assert not torch.equal(before, g.get_state())


def foreign_generators(be):
    """Native generators of installed frameworks other than ``be``'s."""
    out = []
    for fw, owners in OWNERS.items():
        if be.name in owners:
            continue
        if fw != "numpy" and (fw not in selected_backends()
                              or importlib.util.find_spec(fw) is None):
            continue
        out.append((fw, native_generator(fw, 0)))
    return out


def test_generator_of_another_framework(backend):
    x = logits(backend)
    gens = foreign_generators(backend)
    if not gens:
        pytest.skip("no other framework's generator available")
    for fw, g in gens:
        calls = (lambda: gx.gumbel_softmax(x, rng=g), lambda: gx.gumbel_max(x, rng=g),  # noqa: B023
                 lambda: gx.gumbel_topk(x, 2, rng=g), lambda: gx.gumbel((2,), like=x, rng=g))  # noqa: B023
        for call in calls:
            with pytest.raises(TypeError, match=r"rng"):
                call()
        assert fw not in backend.name


@pytest.mark.parametrize("bad", [object(), "seed", 1.5, True], ids=["object", "str", "float", "bool"])
def test_not_a_generator(backend, bad):
    with pytest.raises(TypeError):
        gx.gumbel_softmax(logits(backend), rng=bad)


def test_rng_and_noise_both(backend):
    x = logits(backend)
    g = gx.gumbel(tuple(x.shape), like=x, rng=0)
    for call in (lambda: gx.gumbel_softmax(x, rng=0, noise=g),
                 lambda: gx.gumbel_softmax(x, rng=PortableRNG(0), noise=g),
                 lambda: gx.gumbel_max(x, rng=1, noise=g),
                 lambda: gx.gumbel_topk(x, 2, rng=1, noise=g)):
        with pytest.raises(TypeError):
            call()


# ---------------------------------------------------------------------------
# PortableRNG
# ---------------------------------------------------------------------------
def test_portable_rng_same_bits_everywhere(backend):
    ref = PortableRNG(2024).uniform((1000,), xp="numpy", dtype=np.float32)
    r = PortableRNG(2024)
    u = r.uniform((1000,), xp=backend.name, dtype=backend.namespace.float32)
    assert r.counter == 1000  # one 32-bit word per float32 element
    np.testing.assert_array_equal(to_numpy(u), ref)
    assert ((ref > 0) & (ref < 1)).all()
    # Gumbel noise: equal within float32 tolerance to NumPy's from the same stream
    x = logits(backend, (50, 4))
    gref = to_numpy(gx.gumbel((50, 4), xp="numpy", dtype=np.float32, rng=PortableRNG(9)))
    r = PortableRNG(9)
    g = to_numpy(gx.gumbel((50, 4), like=x, rng=r))
    np.testing.assert_allclose(g, gref, rtol=1e-5, atol=1e-6)
    assert r.counter == 200
    # the same noise through gumbel_softmax
    y = to_numpy(gx.gumbel_softmax(x, 0.5, rng=PortableRNG(9)))
    s = (to_numpy(x).astype(np.float64) + gref) / 0.5
    e = np.exp(s - s.max(-1, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(-1, keepdims=True), rtol=1e-4, atol=1e-6)


def test_portable_rng_advances_and_restores(backend):
    x = logits(backend)
    r = PortableRNG(5)
    state = r.get_state()
    a = to_numpy(gx.gumbel_softmax(x, rng=r))
    b = to_numpy(gx.gumbel_softmax(x, rng=r))
    assert not np.array_equal(a, b)
    r.set_state(state)
    np.testing.assert_array_equal(to_numpy(gx.gumbel_softmax(x, rng=r)), a)
    if "float64" in float_dtypes(backend):
        r = PortableRNG(5)
        gx.gumbel((10,), xp=backend.name, dtype=backend.namespace.float64, rng=r)
        assert r.counter == 20  # two words per float64 element


# ---------------------------------------------------------------------------
# uniforms from the open interval: log(0) is impossible, not unlikely
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("word", [0, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF])
def test_portable_extreme_words_are_finite(word):
    for per, dt in ((1, np.float32), (2, np.float64)):
        w = np.full((4, per), word, dtype=np.uint64)
        g = gumbel_from_words(np, w, dt)
        assert np.isfinite(g).all(), (word, per, g)


@pytest.mark.parametrize("word", [0, 0xFFFFFFFF])
def test_portable_uniform_extreme_words(backend, monkeypatch, word):
    def fake_words(xp, int_dtype, device, key, start, n):
        return xp.full((n,), word, dtype=int_dtype)

    monkeypatch.setattr(PortableRNG, "words", staticmethod(fake_words))
    for dt in float_dtypes(backend):
        if dt not in ("float32", "float64"):
            continue
        u = to_numpy(PortableRNG(0).uniform((8,), xp=backend.name,
                                            dtype=getattr(backend.namespace, dt)))
        assert ((u > 0) & (u < 1)).all(), u
        g = to_numpy(gx.gumbel((8,), xp=backend.name, dtype=getattr(backend.namespace, dt),
                               rng=PortableRNG(0)))
        assert np.isfinite(g).all(), g


def force_zero_uniforms(backend, monkeypatch):
    """Make the backend's own generator return exact zeros (its lower bound);
    returns the rng to pass, or skips."""
    name = backend.name
    if name in ("numpy", "array_api_strict"):
        class ZeroGenerator(np.random.Generator):
            def random(self, size=None, dtype=np.float64, out=None):
                return np.zeros(size, dtype=dtype)

        return ZeroGenerator(np.random.PCG64(0))
    if name == "torch":
        import torch

        real = torch.rand

        def zeros(*shape, generator=None, dtype=None, device=None, **kw):
            return torch.zeros_like(real(*shape, generator=generator, dtype=dtype,
                                         device=device, **kw))

        monkeypatch.setattr(torch, "rand", zeros)
        return 0
    if name == "jax":
        import jax
        import jax.numpy as jnp

        def lowest(key, shape=(), dtype=jnp.float32, minval=0.0, maxval=1.0):
            return jnp.full(shape, minval, dtype=dtype)  # the bound it can return

        monkeypatch.setattr(jax.random, "uniform", lowest)
        return 0
    if name == "tensorflow":
        import tensorflow as tf

        def zeros(shape, seed=None, dtype=tf.float32, **kw):
            return tf.zeros(shape, dtype=dtype)

        monkeypatch.setattr(tf.random, "stateless_uniform", zeros)
        return 0
    pytest.skip(f"{name} draws through PortableRNG (covered by the extreme-word tests)")


def test_generator_returning_zero_gives_finite_noise(backend, monkeypatch):
    rng = force_zero_uniforms(backend, monkeypatch)
    x = logits(backend, (4, 3))
    for dt in float_dtypes(backend):
        g = to_numpy(gx.gumbel((16,), xp=backend.name, dtype=getattr(backend.namespace, dt),
                               rng=rng))
        assert np.isfinite(g).all(), (dt, g)
        assert np.ptp(g) == 0  # the forced value really was used
    y = to_numpy(gx.gumbel_softmax(x, 0.1, rng=rng))
    assert np.isfinite(y).all()


# ---------------------------------------------------------------------------
# 10^7 half-precision draws: no NaN, no inf
# ---------------------------------------------------------------------------
HALF_DRAWS = 10**7


@pytest.mark.slow
@pytest.mark.needs("float16")
def test_ten_million_half_precision_draws(backend):
    halves = [d for d in ("float16", "bfloat16") if d in float_dtypes(backend)]
    xp = backend.namespace
    chunk = 2_500_000
    for dt in halves:
        dtype = getattr(xp, dt)
        for i in range(HALF_DRAWS // chunk):
            g = gx.gumbel((chunk,), xp=backend.name, dtype=dtype, rng=1000 + i)
            assert dtype_name(g) == dt
            gn = to_numpy(g)
            assert np.isfinite(gn).all(), f"{dt} chunk {i}"
            if i == 0:  # it is really Gumbel noise, not a constant
                assert abs(float(gn.astype(np.float64).mean()) - 0.5772) < 0.01
        if backend.name not in ("numpy", "torch"):
            continue  # the noise above is the whole story; keep the suite fast
        # and through gumbel_softmax: 10^6 slices of 10 categories
        x = from_numpy(backend, np.zeros((HALF_DRAWS // 10, 10)), dt)
        y = to_numpy(gx.gumbel_softmax(x, 0.1, rng=7))
        assert np.isfinite(y).all()
