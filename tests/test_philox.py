"""PortableRNG (Philox-4x32-10 on the array API): known answers on every
backend, the same bits everywhere, split invariance, state, and the exact
range of the noise transform."""

import math
import pickle

import numpy as np
import pytest
from gumbelxp.conformance.checks import KAT, noise_ref, stream_ref, uniform_ref
from gumbelxp.conformance.support import dtype_name, float_dtypes, from_numpy, to_numpy

import gumbelxp as gx
from gumbelxp._philox import gumbel_from_words, philox4x32

#: the exact extremes of the words -> Gumbel transform: the smallest x is
#: 2**-33 (float32, one word) or 2**-65 (float64, two words); g = -log(-log x)
#: at u = x and g = -log(-log1p(-x)) at u = 1 - x
G32_MIN, G32_MAX = -math.log(33 * math.log(2)), 33 * math.log(2)  # -3.1300, 22.8739
G64_MIN, G64_MAX = -math.log(65 * math.log(2)), 65 * math.log(2)  # -3.8079, 45.0546


def _words(backend, values):
    a = from_numpy(backend, np.asarray(values, dtype=np.int64))
    return backend.namespace.astype(a, getattr(backend.namespace, backend.philox_int))


def _u64(x):
    return np.asarray(to_numpy(x)).astype(np.uint64)


@pytest.mark.parametrize("ctr,key,expected", KAT, ids=["zeros", "ones", "pi"])
def test_known_answer_vectors(backend, ctr, key, expected):
    xp = backend.namespace
    out = philox4x32(xp, tuple(_words(backend, [c, c]) for c in ctr), key)
    assert [_u64(w).tolist() for w in out] == [[e, e] for e in expected]


@pytest.mark.parametrize("seed,counter", [(0, 0), (12345, 7), (2**64 - 1, 2**36 + 3)])
def test_random_bits_identical_on_every_backend(backend, seed, counter):
    rng = gx.PortableRNG(seed, counter)
    bits = rng.random_bits((3, 5), xp=backend.name)
    assert tuple(bits.shape) == (3, 5)
    np.testing.assert_array_equal(_u64(bits).ravel(), stream_ref(seed, counter, 15))
    assert rng.counter == counter + 15


def test_uniform_identical_on_every_backend(backend):
    for dtype in ("float32", "float64"):
        if dtype not in float_dtypes(backend):
            continue
        u = to_numpy(gx.PortableRNG(99, 2).uniform((4, 6), xp=backend.name, dtype=dtype))
        assert u.dtype == np.dtype(dtype)
        # exact: the mapping from words is exact in float32 and float64
        np.testing.assert_array_equal(u, uniform_ref(99, (4, 6), dtype, 2))


def test_uniform_half_precision_stays_open(backend):
    for dtype in ("float16", "bfloat16"):
        if dtype not in float_dtypes(backend):
            continue
        u = gx.PortableRNG(5).uniform((4096,), xp=backend.name, dtype=dtype)
        assert dtype_name(u) == dtype
        v = to_numpy(u).astype(np.float64)
        assert ((v > 0) & (v < 1)).all()
        np.testing.assert_allclose(v, uniform_ref(5, (4096,), "float32"), rtol=8e-3)


def test_split_invariance(backend):
    """Element i depends only on (seed, counter, i): a (B, K) draw is the
    same numbers as any split of it drawn in order."""
    name = backend.name
    whole = to_numpy(gx.PortableRNG(7, 5).random_bits((6, 4), xp=name))
    rng = gx.PortableRNG(7, 5)
    parts = [to_numpy(rng.random_bits((k, 4), xp=name)) for k in (1, 3, 2)]
    np.testing.assert_array_equal(whole, np.concatenate(parts))
    dtype = float_dtypes(backend)[-1]  # float64 where the backend has it
    whole = to_numpy(gx.PortableRNG(7, 5).uniform((6, 4), xp=name, dtype=dtype))
    rng = gx.PortableRNG(7, 5)
    parts = [to_numpy(rng.uniform((k, 4), xp=name, dtype=dtype)) for k in (4, 2)]
    np.testing.assert_array_equal(whole, np.concatenate(parts))


@pytest.mark.skip_backend("jax", reason="JAX runs Philox in 32-bit limbs; words_at takes "
                          "64-bit positions")
def test_words_at_any_position(backend):
    """Any piece of the stream can be computed alone (e.g. one Dask chunk)."""
    xp, key = backend.namespace, (0x89ABCDEF, 0x01234567)
    idx = from_numpy(backend, np.array([0, 5, 6, 7, 2**33 + 1], dtype=np.int64))
    got = _u64(gx.PortableRNG.words_at(xp, key, xp.astype(idx, getattr(backend.namespace, backend.philox_int))))
    seed = 0x0123456789ABCDEF
    want = [int(stream_ref(seed, int(i), 1)[0]) for i in (0, 5, 6, 7, 2**33 + 1)]
    assert got.tolist() == want


def test_gumbel_softmax_draws_the_documented_noise(backend):
    """gumbel_softmax with PortableRNG uses words counter.. in C order."""
    dtype = float_dtypes(backend)[-1]
    logits = from_numpy(backend, np.zeros((2, 3)), dtype)
    rng = gx.PortableRNG(11, 4)
    idx = to_numpy(gx.gumbel_max(logits, rng=rng))
    np.testing.assert_array_equal(idx, noise_ref(11, (2, 3), dtype, 4).argmax(axis=-1))
    assert rng.counter == 4 + 6 * (2 if dtype == "float64" else 1)


def test_counter_advance():
    rng = gx.PortableRNG(1)
    rng.random_bits((2, 3))
    assert rng.counter == 6
    rng.uniform((5,), dtype="float32")
    assert rng.counter == 11
    rng.uniform((5,), dtype="float64")  # two words per float64
    assert rng.counter == 21
    gx.gumbel((2, 2), dtype="float64", rng=rng)
    assert rng.counter == 29
    gx.gumbel_softmax(np.zeros((3, 2), dtype=np.float32), rng=rng)
    assert rng.counter == 35
    # two draws are two consecutive pieces of one stream
    a, b = gx.PortableRNG(1).random_bits((4,)), gx.PortableRNG(1, 4).random_bits((4,))
    np.testing.assert_array_equal(np.concatenate([a, b]), gx.PortableRNG(1).random_bits((8,)))


def test_state_save_restore_and_pickle():
    rng = gx.PortableRNG(2**40 + 3)
    rng.uniform((7,), dtype="float32")
    state = rng.get_state()
    assert state == {"seed": 2**40 + 3, "counter": 7}
    clone = pickle.loads(pickle.dumps(rng))
    assert clone == rng and clone is not rng
    after = rng.uniform((3, 3))  # float64: 18 words
    np.testing.assert_array_equal(clone.uniform((3, 3)), after)
    rng.set_state(state)
    np.testing.assert_array_equal(rng.uniform((3, 3)), after)
    assert rng.counter == clone.counter == 25
    assert gx.PortableRNG(**state) == gx.PortableRNG(2**40 + 3, 7)
    assert "seed=" in repr(rng) and "counter=25" in repr(rng)


@pytest.mark.parametrize("bad,exc", [(-1, ValueError), (2**64, ValueError),
                                     (True, TypeError), (1.5, TypeError)])
def test_bad_seed(bad, exc):
    with pytest.raises(exc):
        gx.PortableRNG(bad)


def test_noise_range_extremes(backend):
    """Feed the extreme words into the transform: the documented range."""
    xp = backend.namespace
    w32 = np.array([[0], [0x80000000], [1], [0x7FFFFFFF], [0xFFFFFFFF]])
    g = to_numpy(gumbel_from_words(xp, _words(backend, w32), xp.float32))
    assert g.dtype == np.float32
    np.testing.assert_allclose(g[:2], [G32_MIN, G32_MAX], rtol=2e-6)
    assert (g[2:] > g[0]).all() and (g[2:] < g[1]).all()
    if "float64" in float_dtypes(backend):
        w64 = np.array([[0, 0], [0x80000000, 0], [0, 1], [0xFFFFFFFF, 0xFFFFFFFF]])
        g = to_numpy(gumbel_from_words(xp, _words(backend, w64), xp.float64))
        np.testing.assert_allclose(g[:2], [G64_MIN, G64_MAX], rtol=1e-13)
        assert (g[2:] > g[0]).all() and (g[2:] < g[1]).all()


def test_noise_range_is_attained_only_at_the_extremes():
    """Over 2**22 words spread over all of [0, 2**32), the float32 noise stays
    inside [G32_MIN, G32_MAX] and is monotone within each half."""
    step = 2**10
    w = np.arange(0, 2**32, step, dtype=np.uint64)
    w = np.concatenate([w, w + step - 1])
    w.sort()
    g = gumbel_from_words(gx.backends.get_backend("numpy").namespace, w[:, None], np.float32)
    assert g.min() >= np.float32(G32_MIN) - 1e-6 and g.max() <= np.float32(G32_MAX) + 1e-5
    lower, upper = g[w < 2**31], g[w >= 2**31]
    assert (np.diff(lower) >= 0).all() and (np.diff(upper) <= 0).all()
