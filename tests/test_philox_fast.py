"""PortableRNG's fast paths equal the generic array-API Philox and the
pure-Python reference bit for bit.

Every backend's own way of producing the stream (NumPy: batched uint64
ufuncs, also behind CPU PyTorch tensors; JAX: ``lax.mulhi`` in one fusion;
TensorFlow: its own ``StatelessRandomUniformFullIntV2`` Philox op) is checked
word for word against ``stream_ref`` (Salmon et al.'s Philox on Python ints)
and against ``PortableRNG.words`` (the generic path), on seeds 0 and
2**64 - 1, starts that are odd or sit just below a multiple of 2**32
blocks, lengths that are not multiples of 4 and batch sizes small enough
that every batch boundary case occurs. Their Gumbel noise equals
``gumbel_from_words`` on the same backend bit for bit, on large random word
samples and the extreme words.
"""

import math

import numpy as np
import pytest
from gumbelxp.backends._base import Backend
from gumbelxp.conformance.checks import KAT, stream_ref
from gumbelxp.conformance.support import Target, selected_backends, to_numpy

import gumbelxp as gx
from gumbelxp._philox import gumbel_from_words
from gumbelxp._portable import PortableRNG

#: (seed, start word, number of words)
STREAMS = [
    (0, 0, 1),
    (0, 3, 10),
    (1, 1, 4),
    (12345, 7, 333),
    (2**64 - 1, 0, 64),
    (2**64 - 1, 4 * (2**32 - 2) + 1, 50),     # crosses 2**32 blocks
    (0x0123456789ABCDEF, 5, 4 * 1000 + 3),
    (7, 4 * 2**32 - 3, 9),                   # starts 3 words below 2**32 blocks
    (9, 2**40 + 1, 33),
    (3, 2**62 - 101, 97),                    # the end of the counter range
]
EDGE_WORDS = [0, 1, 2, 0x7FFFFFFE, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFE, 0xFFFFFFFF,
              0x00FFFFFF, 0x01000000, 0x7F000000, 0xFF000000, 0x3FFFFFFF, 0xC0000000]


def requires(name):
    if name not in selected_backends():
        pytest.skip(f"{name} not selected")
    return Target(name)


def key_of(seed):
    return seed & 0xFFFFFFFF, seed >> 32


def u64(a):
    return np.asarray(a).astype(np.uint64)


def words_sample(n=2**18, seed=0):
    """Random words plus the extreme ones, uint32."""
    w = np.random.default_rng(seed).integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    return np.concatenate([np.asarray(EDGE_WORDS, dtype=np.uint32), w])


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    view = np.int32 if a.dtype.itemsize == 4 else np.int64
    np.testing.assert_array_equal(a.view(view), b.view(view))


def generic_noise(be, seed, start, n, dtype):
    """The generic path's noise: Backend.portable_noise of the base class."""
    rng = PortableRNG(seed, start)
    words = n * (1 if dtype == "float32" else 2)
    g = Backend.portable_draw(be.adapter, rng.key, rng._take(words), "gumbel", (n,),
                              getattr(be.namespace, dtype), None, None)
    return to_numpy(g), rng.counter


# ---------------------------------------------------------------------------
# NumPy (also the words behind CPU PyTorch tensors)
# ---------------------------------------------------------------------------
@pytest.fixture
def small_batches(monkeypatch):
    """Tiny batches and thread splits, so that small draws cross every
    boundary the large ones do."""
    from gumbelxp.backends import _philox_numpy as _numpy

    def use(batch, thread_min=4):
        monkeypatch.setattr(_numpy, "PHILOX_BATCH", batch)
        monkeypatch.setattr(_numpy, "THREAD_MIN_WORDS", thread_min)
    return use


@pytest.mark.parametrize("batch", [1, 3, 2**14])
@pytest.mark.parametrize("seed,start,n", STREAMS)
def test_numpy_words(seed, start, n, batch, small_batches):
    be = requires("numpy")
    from gumbelxp.backends import _philox_numpy as _numpy

    small_batches(batch)
    ref = stream_ref(seed, start, n)
    for threads in (1, 3):
        w = _numpy.philox_words(key_of(seed), start, n, threads=threads)
        assert w.dtype == np.uint32
        np.testing.assert_array_equal(u64(w), ref)
    np.testing.assert_array_equal(PortableRNG.words(be.namespace, np.uint64, None,
                                                    key_of(seed), start, n), ref)
    np.testing.assert_array_equal(be.portable_draw(key_of(seed), start, "bits", (n,), None, None,
                                                   None), ref)


def test_numpy_words_in_pieces_restart_at_2_to_32_blocks(small_batches):
    """Batches never straddle a multiple of 2**32 blocks (the first two rounds
    take the high counter word as a constant of the batch)."""
    requires("numpy")
    from gumbelxp.backends import _philox_numpy as _numpy

    small_batches(2**10)
    start = 4 * (2**32 - 100)
    pieces = [(i, w.copy()) for i, w in _numpy.iter_philox_words((5, 6), start, 4000)]
    assert [i for i, _ in pieces] == [0, 400]  # 100 blocks, then from 2**32 on
    whole = np.concatenate([w for _, w in pieces])
    np.testing.assert_array_equal(u64(whole), stream_ref(6 << 32 | 5, start, 4000))


@pytest.mark.parametrize("batch", [1, 5, 2**14])
@pytest.mark.parametrize("seed,start,n", STREAMS)
def test_numpy_noise_equals_generic(seed, start, n, batch, small_batches):
    be = requires("numpy")
    from gumbelxp.backends import _philox_numpy as _numpy

    small_batches(batch)
    for dtype in ("float32", "float64"):
        want, counter = generic_noise(be, seed, start, n, dtype)
        for threads in (1, 2):
            same_bits(_numpy.portable_noise(key_of(seed), start, n, dtype, threads=threads), want)
        rng = PortableRNG(seed, start)
        same_bits(rng.draw_on(be.adapter, "gumbel", (n,), np.dtype(dtype), None), want)
        assert rng.counter == counter


def test_numpy_transform_on_random_and_extreme_words():
    be = requires("numpy")
    from gumbelxp.backends import _philox_numpy as _numpy

    w = words_sample()
    out = np.empty(w.size, np.float32)
    _numpy._Gumbel32(w.size)(w, out)
    same_bits(out, gumbel_from_words(be.namespace, w.astype(np.uint64)[:, None], np.float32))
    assert np.isfinite(out).all()


# ---------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed,start,n", STREAMS)
def test_torch_words_and_noise(seed, start, n, small_batches):
    be = requires("torch")
    import torch
    from gumbelxp.backends import _torch

    small_batches(7)
    ref = stream_ref(seed, start, n)
    w = _torch.philox_words_cpu(key_of(seed), start, n)
    assert w.dtype == torch.int64
    np.testing.assert_array_equal(u64(w), ref)
    np.testing.assert_array_equal(u64(PortableRNG.words(be.namespace, torch.int64, "cpu",
                                                         key_of(seed), start, n)), ref)
    for dtype in ("float32", "float64"):
        want, counter = generic_noise(be, seed, start, n, dtype)
        same_bits(_torch.portable_noise_cpu(key_of(seed), start, n, getattr(torch, dtype)), want)
        rng = PortableRNG(seed, start)
        same_bits(rng.draw_on(be.adapter, "gumbel", (n,), getattr(torch, dtype), "cpu").numpy(),
                  want)
        assert rng.counter == counter


def test_torch_transform_on_random_and_extreme_words():
    be = requires("torch")
    import torch
    from gumbelxp.backends import _torch

    w = words_sample()
    want = gumbel_from_words(be.namespace, torch.from_numpy(w.astype(np.int64))[:, None],
                             torch.float32).numpy()
    out = np.empty(w.size, np.float32)
    _torch.gumbel32_from_words_cpu(w, out)
    same_bits(out, want)
    w = w.copy()
    _torch.gumbel32_from_words_cpu(w, w.view(np.float32))  # in place, as portable_noise_cpu
    same_bits(w.view(np.float32), want)


def test_torch_compile_takes_the_generic_path():
    """Inside torch.compile the generic path is traced (NumPy is not)."""
    requires("torch")
    import torch

    x = torch.randn(8, 5)
    f = torch.compile(lambda t: gx.gumbel_softmax(t, rng=gx.PortableRNG(3)), backend="eager")
    torch.testing.assert_close(f(x), gx.gumbel_softmax(x, rng=gx.PortableRNG(3)),
                               rtol=0, atol=0)


# ---------------------------------------------------------------------------
# JAX
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed,start,n", STREAMS)
def test_jax_words_and_noise(seed, start, n):
    be = requires("jax")
    import jax.numpy as jnp
    from gumbelxp.backends import _jax

    ref = stream_ref(seed, start, n)
    w = _jax.philox_words(key_of(seed), start, n)
    assert w.dtype == jnp.uint32
    np.testing.assert_array_equal(u64(w), ref)
    np.testing.assert_array_equal(u64(PortableRNG.words(jnp, jnp.uint32, None, key_of(seed),
                                                         start, n)), ref)
    dtypes = ["float32"] + (["float64"] if jnp.zeros(1, dtype=float).dtype == jnp.float64 else [])
    for dtype in dtypes:
        want, counter = generic_noise(be, seed, start, n, dtype)
        same_bits(_jax.portable_noise(key_of(seed), start, n, dtype), want)
        rng = PortableRNG(seed, start)
        same_bits(rng.draw_on(be.adapter, "gumbel", (n,), jnp.dtype(dtype), None), want)
        assert rng.counter == counter


def test_jax_transform_under_jit_equals_eager():
    """The fast path runs gumbel_from_words fused under jit; the generic path
    runs it op by op: the same bits."""
    requires("jax")
    import jax
    import jax.numpy as jnp

    w = jnp.asarray(words_sample())[:, None]
    same_bits(jax.jit(lambda w: gumbel_from_words(jnp, w, jnp.float32))(w),
              gumbel_from_words(jnp, w, jnp.float32))


def test_jax_jit_and_vmap_use_the_stream():
    requires("jax")
    import jax
    import jax.numpy as jnp

    x = jnp.zeros((3, 7))
    eager = gx.gumbel((3, 7), like=x, rng=gx.PortableRNG(11, 5))
    jitted = jax.jit(lambda x: gx.gumbel((3, 7), like=x, rng=gx.PortableRNG(11, 5)))(x)
    same_bits(jitted, eager)
    v = jax.vmap(lambda r: r + gx.gumbel((7,), like=r, rng=gx.PortableRNG(11, 5)))(x)
    same_bits(v[1], np.asarray(eager).reshape(-1)[:7])


# ---------------------------------------------------------------------------
# TensorFlow
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["eager", "function", "xla"])
@pytest.mark.parametrize("seed,start,n", STREAMS)
def test_tensorflow_words(seed, start, n, mode):
    requires("tensorflow")
    import tensorflow as tf
    from gumbelxp.backends import _tensorflow

    def f():
        return _tensorflow.philox_words(key_of(seed), start, n)

    if mode != "eager":
        f = tf.function(f, jit_compile=mode == "xla")
    w = f()
    assert w.dtype == tf.uint32
    np.testing.assert_array_equal(u64(w), stream_ref(seed, start, n))


def _tf_philox(mode):
    import tensorflow as tf

    def f(ctr, key, n=4):
        return tf.raw_ops.StatelessRandomUniformFullIntV2(
            shape=[n], key=tf.constant([key[0] | key[1] << 32], tf.uint64),
            counter=tf.constant([ctr[0] | ctr[1] << 32, ctr[2] | ctr[3] << 32], tf.uint64),
            alg=1, dtype=tf.uint32)
    return tf.function(f, jit_compile=True) if mode == "xla" else f


@pytest.mark.parametrize("mode", ["eager", "xla"])
def test_tensorflow_op_passes_the_known_answer_vectors(mode):
    """TensorFlow's Philox op itself, counter and key set from each of
    Random123's vectors (its counter is 128 bits: (c0 | c1 << 32,
    c2 | c3 << 32), its key k0 | k1 << 32). Under XLA (TensorFlow 2.21) a
    low counter half from 2**63 + 1 on gives other words (the "pi" vector's
    is 0x85A308D3243F6A88): PortableRNG's block counters stay below 2**60."""
    requires("tensorflow")
    f = _tf_philox(mode)
    for ctr, key, expected in KAT:
        if mode == "xla" and ctr[1] >= 0x80000000 and ctr[0] and ctr[1] != 0xFFFFFFFF:
            continue
        assert u64(f(ctr, key)).tolist() == list(expected)


@pytest.mark.parametrize("mode", ["eager", "xla"])
def test_tensorflow_op_on_random_counters_in_the_stream_range(mode):
    """Random keys and block counters below 2**60 (all PortableRNG uses):
    each output word i is word i % 4 of block counter + i // 4."""
    requires("tensorflow")
    from gumbelxp.conformance.checks import philox_ref

    f = _tf_philox(mode)
    r = np.random.default_rng(3)
    for _ in range(50):
        key = tuple(int(v) for v in r.integers(0, 2**32, 2))
        b = int(r.integers(0, 2**60)) if r.random() < 0.7 else (1 << int(r.integers(1, 60))) - 1
        want = [w for j in range(3) for w in philox_ref(((b + j) & 0xFFFFFFFF, (b + j) >> 32, 0, 0),
                                                         key)]
        assert u64(f((b & 0xFFFFFFFF, b >> 32, 0, 0), key, 12)).tolist() == want


@pytest.mark.parametrize("seed,start,n", STREAMS)
def test_tensorflow_noise_equals_generic(seed, start, n):
    be = requires("tensorflow")
    import tensorflow as tf
    from gumbelxp.backends import _tensorflow

    for dtype in ("float32", "float64"):
        want, counter = generic_noise(be, seed, start, n, dtype)
        same_bits(_tensorflow.portable_noise(key_of(seed), start, n, dtype), want)
        rng = PortableRNG(seed, start)
        same_bits(rng.draw_on(be.adapter, "gumbel", (n,), getattr(tf, dtype), None), want)
        assert rng.counter == counter
        # and in a tf.function, against the generic path traced there
        fast = tf.function(lambda d=dtype: _tensorflow.portable_noise(key_of(seed), start, n, d))
        slow = tf.function(lambda d=dtype: Backend.portable_draw(
            be.adapter, key_of(seed), start, "gumbel", (n,), getattr(tf, d), None, None))
        same_bits(fast(), slow())


@pytest.mark.parametrize("n", [1, 7, 8, 15, 17, 2**18 + 5])
def test_tensorflow_transform_on_random_and_extreme_words(n):
    """Random words and the extreme ones, at lengths whose tails TensorFlow's
    kernels compute outside their vector loops."""
    be = requires("tensorflow")
    import tensorflow as tf
    from gumbelxp.backends import _tensorflow

    w = words_sample(max(n - len(EDGE_WORDS), 0))[:n]
    got = _tensorflow.gumbel32_from_words(tf.constant(w))
    want = gumbel_from_words(be.namespace, tf.constant(w.astype(np.int64))[:, None], tf.float32)
    same_bits(got.numpy(), want.numpy())


# ---------------------------------------------------------------------------
# every backend: through the public API
# ---------------------------------------------------------------------------
@pytest.mark.skip_backend("array_api_strict", "dask", "cupy",
                          reason="no PortableRNG fast path of its own")
@pytest.mark.parametrize("shape", [(3, 5), (4, 1000), (2, 3, 7)])
def test_public_calls_equal_the_generic_path(backend, shape, monkeypatch):
    """gx.gumbel / gx.gumbel_softmax / random_bits / uniform with the fast
    paths against the same calls with the adapter's fast hooks removed."""
    dtype = backend.dtypes()[-1]
    n = math.prod(shape)

    def draw():
        rng = PortableRNG(2**64 - 1, 4 * 2**32 - 2)
        return [to_numpy(rng.random_bits(shape, xp=backend.name)),
                to_numpy(rng.uniform(shape, xp=backend.name, dtype=dtype)),
                to_numpy(gx.gumbel(shape, xp=backend.name, dtype=dtype, rng=rng)),
                rng.counter]

    fast = draw()
    monkeypatch.setattr(type(backend.adapter), "portable_draw", Backend.portable_draw)
    slow = draw()
    for a, b in zip(fast[:3], slow[:3], strict=True):
        same_bits(a, b)
    words = 1 if dtype != "float64" else 2
    assert fast[3] == slow[3] == 4 * 2**32 - 2 + n + 2 * words * n


def test_bench_portable_records_and_table():
    requires("numpy")
    from gumbelxp.conformance.bench import portable as _bench_portable

    recs = _bench_portable.run(backends=["numpy"], shapes=[(8, 16)], repeats=1,
                               philox_threads=1, clock="cpu")
    assert [r["kind"] for r in recs] == list(_bench_portable.KINDS)
    assert all(r["ratio"] > 0 and r["philox_threads"] == 1 and r["clock"] == "cpu" for r in recs)
    table = _bench_portable.format_table(recs)
    assert table.count("\n") == 1 + len(recs) and "numpy (eager) | 8x16 | call" in table
