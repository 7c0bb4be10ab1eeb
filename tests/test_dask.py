"""Dask: lazy, chunk-invariant sampling, equal to NumPy's PortableRNG draws,
on the threaded scheduler and on a real multi-process LocalCluster (also when
a worker dies mid-computation)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from gumbelxp.conformance.support import ENV_VAR, selected_backends

da = pytest.importorskip("dask.array", reason="dask is not installed")
if "dask" not in selected_backends():
    pytest.skip(f"dask is excluded by ${ENV_VAR}", allow_module_level=True)

import dask  # noqa: E402
from dask.callbacks import Callback  # noqa: E402
from gumbelxp.backends import get_backend  # noqa: E402
from gumbelxp.backends._dask import chunk_words  # noqa: E402

import gumbelxp as gx  # noqa: E402
from gumbelxp._portable import PortableRNG  # noqa: E402

DASK = get_backend("dask")
SHAPE = (6, 10)
# whole, rows split, categories split (the reduced axis), both, ragged, 1x1
CHUNKINGS = [(6, 10), (2, 10), (6, 3), (4, 4), ((1, 5), (7, 2, 1)), (1, 1)]


def logits(dtype="float64", shape=SHAPE, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


class CountTasks(Callback):
    """Counts the tasks any local scheduler runs while active."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def _pretask(self, key, dsk, state):
        self.n += 1


CALLS = {
    "gumbel": lambda x, rng: gx.gumbel(x.shape, like=x, rng=rng),
    "soft": lambda x, rng: gx.gumbel_softmax(x, tau=0.7, rng=rng),
    "hard": lambda x, rng: gx.gumbel_softmax(x, tau=0.7, hard=True, rng=rng),
    "max": lambda x, rng: gx.gumbel_max(x, rng=rng),
    "max_axis0": lambda x, rng: gx.gumbel_max(x, axis=0, keepdims=True, rng=rng),
    "topk": lambda x, rng: gx.gumbel_topk(x, 4, rng=rng),
    "topk_axis0": lambda x, rng: gx.gumbel_topk(x, 3, axis=0, rng=rng),
}


# ---------------------------------------------------------------------------
# the words of one chunk
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(), (11,), (5, 7), (3, 4, 5), (2, 3, 1, 6)])
@pytest.mark.parametrize("per", [1, 2])
@pytest.mark.parametrize("start", [0, 3, 2**33 + 1])
def test_chunk_words_are_the_streams_words(shape, per, start):
    n = math.prod(shape)
    full = np.asarray(PortableRNG.words(get_backend("numpy").namespace,
                                        np.uint64, None, (123, 456), start, per * n))
    full = full.reshape(shape + (per,))
    rs = np.random.default_rng(len(shape) + per + start % 7)
    for _ in range(12):
        loc = []
        for s in shape:
            a = int(rs.integers(0, s))
            b = int(rs.integers(a + 1, s + 1))
            loc.append((a, b) if rs.random() < 0.7 else (0, s))
        sub = full[tuple(slice(a, b) for a, b in loc)]
        for batch in (None, 6, 16, 40):  # pieces of runs, and groups of short runs
            w = chunk_words((123, 456), start, per, shape, loc, batch)
            np.testing.assert_array_equal(w, sub.reshape(-1, per), err_msg=f"{loc} {batch}")


# ---------------------------------------------------------------------------
# chunk invariance and equality with NumPy
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_any_chunking_gives_the_same_bits_as_numpy_portable_rng(call, dtype):
    x = logits(dtype)
    expected = CALLS[call](x, PortableRNG(7))
    for chunks in CHUNKINGS:
        d = da.from_array(x, chunks=chunks)
        for rng in (PortableRNG(7), 7):  # an int seed on Dask means PortableRNG(seed)
            got = CALLS[call](d, rng)
            assert isinstance(got, da.Array)
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(got.compute(), expected,
                                          err_msg=f"{call} chunks={chunks} rng={rng!r}")


@pytest.mark.parametrize("call", CALLS)
def test_int_seed_equals_numpy_and_array_api_strict_int_seed(call):
    """An int seed means PortableRNG(seed) on NumPy, array-api-strict and Dask,
    so a seeded NumPy result is reproduced on Dask at any chunking."""
    x = logits("float32")
    expected = CALLS[call](x, 11)
    assert not np.array_equal(expected, CALLS[call](x, 12))
    for chunks in CHUNKINGS[:4]:
        got = CALLS[call](da.from_array(x, chunks=chunks), 11).compute()
        np.testing.assert_array_equal(got, expected, err_msg=f"{call} chunks={chunks}")
    xps = pytest.importorskip("array_api_strict")
    np.testing.assert_array_equal(np.asarray(CALLS[call](xps.asarray(x), 11)), expected)


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_relaxed_log_prob_is_chunk_invariant(chunks):
    x = logits()
    y = gx.gumbel_softmax(x, tau=0.5, rng=PortableRNG(1))
    expected = gx.relaxed_log_prob(y, x, 0.5)
    got = gx.relaxed_log_prob(da.from_array(y, chunks=chunks), da.from_array(x, chunks=chunks),
                              0.5)
    assert isinstance(got, da.Array)
    np.testing.assert_array_equal(got.compute(), expected)


def test_half_precision_and_array_tau():
    x = logits("float16")
    tau = np.linspace(0.5, 2.0, SHAPE[0])
    expected = gx.gumbel_softmax(x, tau=tau, rng=PortableRNG(2))
    for chunks in CHUNKINGS:
        got = gx.gumbel_softmax(da.from_array(x, chunks=chunks),
                                tau=da.from_array(tau, chunks=2), rng=2)
        assert got.dtype == np.float16
        np.testing.assert_array_equal(got.compute(), expected)


def test_portable_rng_counter_advances_as_on_numpy():
    a, b = PortableRNG(5), PortableRNG(5)
    d = da.from_array(logits("float32"), chunks=(2, 3))
    first, second = gx.gumbel_max(d, rng=a), gx.gumbel_max(d, rng=a)
    assert a == PortableRNG(5, counter=2 * math.prod(SHAPE))
    np.testing.assert_array_equal(first.compute(), gx.gumbel_max(logits("float32"), rng=b))
    np.testing.assert_array_equal(second.compute(), gx.gumbel_max(logits("float32"), rng=b))


def test_uniform_is_portable_rng_uniform_in_any_chunking():
    for dtype in (np.float32, np.float64):
        expected = PortableRNG(4).uniform((9, 5), dtype=dtype)
        for chunks in [(9, 5), (2, 2), (4, 5)]:
            like = da.zeros((9, 5), chunks=chunks)
            u = PortableRNG(4).uniform((9, 5), dtype=dtype, like=like)
            assert u.chunks == like.chunks
            np.testing.assert_array_equal(u.compute(), expected)
        u = PortableRNG(4).uniform((9, 5), dtype=dtype, xp="dask").compute()
        np.testing.assert_array_equal(u, expected)
        assert ((u > 0) & (u < 1)).all()


@pytest.mark.parametrize("make", [
    lambda: np.random.default_rng(11),
    lambda: da.random.default_rng(11),
], ids=["numpy.Generator", "dask.Generator"])
def test_native_generators_give_chunk_invariant_draws_and_advance(make):
    x = logits()
    results = []
    for chunks in CHUNKINGS:
        gen = make()
        r1 = gx.gumbel_softmax(da.from_array(x, chunks=chunks), rng=gen).compute()
        r2 = gx.gumbel_softmax(da.from_array(x, chunks=chunks), rng=gen).compute()
        assert not np.array_equal(r1, r2)  # the generator's state advanced
        results.append((r1, r2))
    for r in results[1:]:
        np.testing.assert_array_equal(r[0], results[0][0])
        np.testing.assert_array_equal(r[1], results[0][1])


def test_rng_none_draws_fresh_noise():
    d = da.from_array(logits(), chunks=(3, 5))
    a, b = gx.gumbel(SHAPE, like=d).compute(), gx.gumbel(SHAPE, like=d).compute()
    assert not np.array_equal(a, b)


def test_foreign_generator_is_a_type_error():
    with pytest.raises(TypeError):
        gx.gumbel_max(da.zeros((2, 3), chunks=1), rng=object())
    with pytest.raises(TypeError, match="dask"):
        gx.gumbel_max(np.zeros((2, 3)), rng=da.random.default_rng(0))


# ---------------------------------------------------------------------------
# laziness, chunks, graph shape
# ---------------------------------------------------------------------------
def test_nothing_is_computed_until_the_user_computes():
    d = da.from_array(logits(), chunks=(2, 3))
    with CountTasks() as counter:
        outs = [f(d, rng) for f in CALLS.values() for rng in (PortableRNG(1), 1, None)]
        outs.append(gx.relaxed_log_prob(outs[3], d, 0.5))
        outs.append(gx.straight_through(outs[3]))
        outs.append(gx.gumbel((50, 40), xp="dask", rng=3))
        assert all(isinstance(o, da.Array) for o in outs)
        assert counter.n == 0
        dask.compute(*outs)
        assert counter.n > 0


def test_non_reduced_axes_keep_their_chunks():
    d = da.from_array(logits(), chunks=(((1, 2, 3), (4, 6))))
    assert gx.gumbel_softmax(d, rng=0).chunks == ((1, 2, 3), (10,))
    assert gx.gumbel_max(d, rng=0).chunks == ((1, 2, 3),)
    assert gx.gumbel_max(d, axis=0, rng=0).chunks == ((4, 6),)
    assert gx.gumbel_topk(d, 3, rng=0).chunks == ((1, 2, 3), (3,))
    assert gx.gumbel(SHAPE, like=d, rng=0).chunks == d.chunks


def test_each_chunk_draws_only_its_own_noise():
    d = da.from_array(logits(shape=(40, 30)), chunks=(10, 30))
    g = gx.gumbel(d.shape, like=d, rng=PortableRNG(3))
    graph = dict(g.__dask_graph__())
    noise_tasks = [k for k in graph if isinstance(k, tuple) and "gumbelxp-gumbel" in k[0]]
    assert len(noise_tasks) == 4
    one = g.blocks[2]  # computing one chunk runs one noise task, for 10 x 30 values
    with CountTasks() as counter:
        v = one.compute()
    assert v.shape == (10, 30) and counter.n <= 2
    np.testing.assert_array_equal(v, gx.gumbel((40, 30), rng=PortableRNG(3))[20:30])


def test_validate_computes_and_names_the_bad_slice():
    x = logits()
    x[4, 2] = np.nan
    with pytest.raises(ValueError, match=r"logits\[4, :\]"):
        gx.gumbel_softmax(da.from_array(x, chunks=(2, 3)), rng=0, validate=True)


def test_precomputed_noise_and_errors():
    x = logits()
    g = gx.gumbel(SHAPE, rng=PortableRNG(8))
    d = da.from_array(x, chunks=(2, 5))
    got = gx.gumbel_max(d, noise=da.from_array(g, chunks=(3, 2)))
    np.testing.assert_array_equal(got.compute(), np.argmax(x + g, axis=-1))
    with pytest.raises(ValueError):
        gx.gumbel_topk(d, 11, rng=0)
    with pytest.raises(TypeError):
        gx.gumbel_max(da.from_array(np.arange(6).reshape(2, 3)), rng=0)


def test_gumbel_max_frequencies_follow_softmax():
    p = np.array([0.032, 0.087, 0.237, 0.644])
    lg = da.broadcast_to(da.from_array(np.arange(1.0, 5)), (200_000, 4)).rechunk((25_000, 4))
    idx = gx.gumbel_max(lg, rng=0)
    freq = np.bincount(idx.compute(), minlength=4) / 200_000
    np.testing.assert_allclose(freq, p, atol=4e-3)


# ---------------------------------------------------------------------------
# a real cluster: two worker processes on loopback
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  host="127.0.0.1", dashboard_address=None,
                                  memory_limit="1GiB") as cluster, \
            distributed.Client(cluster) as c:
        yield c


def test_cluster_results_equal_single_process(client):
    x = logits("float32", shape=(64, 50))
    d = da.from_array(x, chunks=(8, 20))
    outs = [f(d, PortableRNG(21)) for f in CALLS.values()]
    local = dask.compute(*outs, scheduler="threads")
    remote = client.gather(client.compute(outs))
    for a, b in zip(local, remote, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(remote[1], CALLS["soft"](x, PortableRNG(21)))
    assert len(client.run(os.getpid)) == 2


def test_a_worker_killed_mid_computation_does_not_change_the_result(client):
    import signal
    import time

    # no function of this module may reach the workers: they would import it,
    # and with it every framework that the backend selection loads
    from distributed.utils_test import slowidentity

    x = logits("float64", shape=(160, 40))
    d = da.from_array(x, chunks=(2, 40))  # 80 chunks, ~20 ms each
    expected = gx.gumbel_softmax(x, rng=PortableRNG(5))
    y = gx.gumbel_softmax(d, rng=PortableRNG(5)).map_blocks(slowidentity, dtype=x.dtype)
    pids = client.run(os.getpid)
    fut = client.compute(y)
    deadline = time.monotonic() + 10
    while (sum(map(len, client.has_what().values())) < 20
           and time.monotonic() < deadline):
        time.sleep(0.02)  # until chunk results live on both workers
    victim = max(client.has_what().items(), key=lambda kv: len(kv[1]))[0]
    assert not fut.done()
    os.kill(pids[victim], signal.SIGKILL)
    np.testing.assert_array_equal(fut.result(timeout=60), expected)
    assert pids[victim] not in client.run(os.getpid).values()


def test_bench_dask_on_the_cluster(client):
    from gumbelxp.conformance.bench.dask import bench_dask, format_record

    rec = bench_dask(200_000, chunk=50_000, numpy_draws=20_000, client=client, progress=False)
    assert rec["tasks"] == 4 and rec["workers"] == 2
    assert rec["draws_per_s"] > 0 and rec["numpy_portable"] > 0
    assert rec["max_freq_error"] < 0.01  # the Gumbel-max theorem, 2e5 samples
    assert "samples/s" in format_record(rec)
