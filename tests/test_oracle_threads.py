"""Concurrent calls from 4 threads with ``rng=None`` (NumPy's module-level
generator, PyTorch's global generator) or one shared generator: every
result is finite, the threads do not repeat each other, and the pooled
samples of each thread have the Gumbel law (SciPy's KS test, chi-square of
Gumbel-max frequencies). Which thread draws which values depends on the
scheduling, so the checks use level 1e-6: a wrong law still gives p ~ 0."""

from __future__ import annotations

import threading

import _oracle_support as S
import numpy as np
import pytest

import gumbelxp as gx

THREADS, CALLS = 4, 12


def _hammer(work):
    """Run ``work(i)`` in THREADS threads started together; their results."""
    barrier = threading.Barrier(THREADS)
    results, errors = [None] * THREADS, []

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as e:  # reported below
            errors.append(f"thread {i}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, "; ".join(errors)
    return results


def _check(results, where, pmin=S.P_MIN / 100):
    gumbels = [np.concatenate([np.asarray(c, np.float64).ravel() for c in r["gumbel"]])
               for r in results]
    for i, g in enumerate(gumbels):
        assert np.isfinite(g).all(), f"{where}: thread {i} drew non-finite noise"
        p = S.ks_gumbel_p(g)
        assert p > pmin, f"{where}: thread {i}: KS p={p:.2e}"
    for i in range(THREADS):
        for j in range(i):
            assert not np.array_equal(gumbels[i], gumbels[j]), \
                f"{where}: threads {i} and {j} drew the same noise"
    counts = sum(np.bincount(np.concatenate([np.asarray(c).ravel() for c in r["max"]]),
                             minlength=4) for r in results)
    assert S.chi2_p(counts, S.PROBS) > pmin, f"{where}: frequencies {counts / counts.sum()}"
    for r in results:
        for y in r["soft"]:
            y = np.asarray(y, np.float64)
            assert np.isfinite(y).all() and np.allclose(y.sum(-1), 1.0, atol=1e-5), where


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rng_kind", ["None", "shared Generator", "shared MT19937"])
def test_numpy_threads(dtype, rng_kind):
    shared = {"None": None, "shared Generator": np.random.default_rng(0),
              "shared MT19937": np.random.Generator(np.random.MT19937(0))}[rng_kind]
    x = np.broadcast_to(S.LOGITS, (2500, 4)).astype(dtype)  # 10,000 values: the raw path

    def work(i):
        out = {"gumbel": [], "max": [], "soft": []}
        for _ in range(CALLS):
            out["gumbel"].append(gx.gumbel((6000,), dtype=dtype, rng=shared))
            out["max"].append(gx.gumbel_max(x, rng=shared))
            out["soft"].append(gx.gumbel_softmax(x, 0.5, rng=shared))
        return out

    _check(_hammer(work), f"numpy {dtype} rng={rng_kind}")


def test_torch_threads_rng_none():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    x = torch.tensor(np.broadcast_to(S.LOGITS, (2500, 4)).copy(), dtype=torch.float32)

    def work(i):
        out = {"gumbel": [], "max": [], "soft": []}
        for _ in range(CALLS):
            out["gumbel"].append(gx.gumbel((6000,), xp="torch", rng=None).numpy())
            out["max"].append(gx.gumbel_max(x, rng=None).numpy())
            out["soft"].append(gx.gumbel_softmax(x, 0.5, rng=None).numpy())
        return out

    _check(_hammer(work), "torch rng=None")
