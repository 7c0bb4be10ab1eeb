"""PortableRNG's stream on NumPy arrays: Philox-4x32-10 in cache-sized batches.

The generic Philox of :mod:`gumbelxp._philox` is the reference; this is the
same stream, bit for bit, computed faster where NumPy's memory is the
target: NumPy arrays, CPU PyTorch tensors (which share it) and Dask chunks.
``tests/test_philox_fast.py`` compares every function here with the generic
words and with the pure-Python reference of :mod:`gumbelxp.conformance`.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .._philox import gumbel_from_words

NDArray = np.ndarray[Any, Any]

#: blocks (of four words) computed at once: the Philox state (three (2, B)
#: uint64 arrays) and the noise transform's scratch stay in a core's L2 cache,
#: and each ufunc call does enough work to hide its ~0.5 us of overhead
PHILOX_BATCH = 2**14

_W0, _W1 = 0x9E3779B9, 0xBB67AE85  # Weyl key increments
_MUL = np.array([[0xD2511F53], [0xCD9E8D57]], dtype=np.uint64)  # rows: c0, c2
_LO = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_LITTLE = sys.byteorder == "little"  # a uint64's low half is the first uint32


class _PhiloxBatches:
    """Philox-4x32-10 blocks of one key, batch by batch, with scratch reused.

    The state of ``m`` blocks is three ``(2, m)`` uint64 arrays: ``c`` holds
    the words that are multiplied (rows ``c0``, ``c2``, each < 2**32) and
    ``p`` / ``q`` the last two rounds' 64-bit products (rows ``c0 * M0``,
    ``c2 * M1``), whose low halves are the other two words (``c3``, ``c1``).
    A round is then four whole-array ufuncs on both rows at once::

        p = c * M;  c = (hi(p) ^ lo(q))[swapped rows];  c ^= k;  c &= 0xffffffff

    (``hi(c2 * M1) ^ c1 ^ k0`` and ``hi(c0 * M0) ^ c3 ^ k1``), the second one
    on the arrays' 32-bit halves. The first two rounds are cheaper: a block
    counter is ``(lo, hi, 0, 0)`` with ``hi`` the same for a whole batch
    (batches never straddle a multiple of 2**32), so half of their words are
    constants. About 4 ns a word on one core (Zen 4), 3x NumPy's own
    ``Generator.random``: NumPy's per-call cost and memory traffic, not the
    arithmetic, set the pace."""

    def __init__(self, key: tuple[int, int], batch: int) -> None:
        k0, k1 = key
        self.keys: list[tuple[int, int]] = []
        for _ in range(10):
            self.keys.append((k0, k1))
            k0, k1 = (k0 + _W0) & 0xFFFFFFFF, (k1 + _W1) & 0xFFFFFFFF
        self.rows = [np.array([[a], [b]], dtype=np.uint64) for a, b in self.keys]
        self.c = np.empty((2, batch), np.uint64)
        self.p = np.empty((2, batch), np.uint64)
        self.q = np.empty((2, batch), np.uint64)
        self.iota = np.arange(batch, dtype=np.uint64)

    def run(self, first: int, m: int, out: NDArray) -> None:
        """The words of blocks ``first .. first + m - 1`` (all with the same
        high counter word) into ``out``, a uint32 array of shape ``(m, 4)``."""
        c, p, q = self.c[:, :m], self.p[:, :m], self.q[:, :m]
        (k0, k1), hi_b = self.keys[0], first >> 32
        # round 0, on (lo, hi, 0, 0): c0 * M0 only; c0' = hi ^ k0, c1' = 0
        np.add(self.iota[:m], np.uint64(first & 0xFFFFFFFF), out=c[0])
        np.multiply(c[0], _MUL[0], out=q[0])                     # lo(q0) = c3'
        np.right_shift(q[0], _S32, out=c[1])
        np.bitwise_xor(c[1], np.uint64(k1), out=c[1])            # c2'
        # round 1: c0' is a constant, so is its product, and c1' = 0
        a = (hi_b ^ k0) * 0xD2511F53
        (k0, k1) = self.keys[1]
        np.multiply(c[1], _MUL[1], out=q[1])                     # lo(q1) = c1''
        np.right_shift(q[1], _S32, out=c[0])
        np.bitwise_xor(c[0], np.uint64(k0), out=c[0])            # c0''
        np.bitwise_xor(q[0], np.uint64((a >> 32) ^ k1), out=c[1])
        np.bitwise_and(c[1], _LO, out=c[1])                      # c2''
        q[0].fill(a & 0xFFFFFFFF)                                # lo(q0) = c3''
        # rounds 2..9
        for r in range(2, 10):
            np.multiply(c, _MUL, out=p)
            if _LITTLE:  # hi(p) ^ lo(q) in one pass over 32-bit halves: the
                # low half of each c gets it, the high half garbage (cut below)
                pv, qv, cv = p.view(np.uint32), q.view(np.uint32), c.view(np.uint32)  # pyright: ignore[reportUnknownMemberType]  (numpy's stubs)
                np.bitwise_xor(pv[::-1, 1:], qv[::-1, :-1], out=cv[:, :-1])
            else:
                np.right_shift(p[::-1], _S32, out=c)
                np.bitwise_xor(c, q[::-1], out=c)
            np.bitwise_xor(c, self.rows[r], out=c)
            if r < 9:  # the last round's high halves are cut by the cast below
                np.bitwise_and(c, _LO, out=c)
            p, q = q, p
        # words (c0, c1, c2, c3) = (c[0], lo(q[1]), c[1], lo(q[0])); the cast
        # keeps the low 32 bits (one column at a time: 4x faster than c.T)
        for j, src in enumerate((c[0], q[1], c[1], q[0])):
            np.copyto(out[:, j], src, casting="unsafe")


def iter_philox_words(key: tuple[int, int], start: int, n: int,
                      batch: int | None = None) -> Iterator[tuple[int, NDArray]]:
    """Words ``start .. start + n - 1`` of the stream of ``key``, in pieces:
    yields ``(i, w)``, ``w`` a uint32 array of the words ``start + i ..
    start + i + len(w) - 1``, valid until the next piece is asked for."""
    if n <= 0:
        return
    first, end = start // 4, (start + n - 1) // 4 + 1
    batch = min(batch or PHILOX_BATCH, end - first)  # scratch no larger than the draw
    eng = _PhiloxBatches(key, batch)
    buf = np.empty((batch, 4), np.uint32)
    skip, i = start - 4 * first, 0
    b = first
    while b < end:
        m = min(batch, end - b, 2**32 - (b & 0xFFFFFFFF))  # stay below the next multiple of 2**32
        eng.run(b, m, buf[:m])
        w = np.reshape(buf[:m], (-1,))[skip:skip + n - i]
        yield i, w
        i += w.size
        b += m
        skip = 0


def _default_threads() -> int:
    env = os.environ.get("GUMBELXP_PHILOX_THREADS", "").strip()
    if env:
        return max(1, int(env))
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


#: threads that share one large draw (NumPy's ufunc loops release the GIL,
#: and pieces of the stream are independent): ``$GUMBELXP_PHILOX_THREADS``,
#: else the cores this process may use, at most 4; 1 keeps every draw on the
#: calling thread
PHILOX_THREADS = _default_threads()
#: words per thread below which a draw stays on the calling thread
THREAD_MIN_WORDS = 2**19

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_workers = 0


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_workers
    with _pool_lock:
        if _pool is None or _pool_workers < workers:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gumbelxp-philox")
            _pool_workers = workers
        return _pool


def _forget_pool() -> None:  # a forked child inherits the pool but not its threads
    global _pool, _pool_workers
    _pool, _pool_workers = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _split(n: int, work: Any, threads: int | None) -> None:
    """``work(a, b)`` on contiguous ranges covering ``range(n)``: one range
    per thread (:data:`PHILOX_THREADS`, at least :data:`THREAD_MIN_WORDS`
    elements each), the first on the calling thread."""
    t = PHILOX_THREADS if threads is None else threads
    t = max(1, min(t, n // THREAD_MIN_WORDS))
    if t == 1:
        work(0, n)
        return
    bounds = [n * k // t for k in range(t + 1)]
    futures = [_executor(t - 1).submit(work, bounds[k], bounds[k + 1]) for k in range(1, t)]
    try:
        work(bounds[0], bounds[1])
    finally:
        for f in futures:
            f.result()


def for_each_piece(key: tuple[int, int], start: int, n: int, consumer: Any,
                   threads: int | None = None, batch: int | None = None) -> None:
    """Feed the words ``start .. start + n - 1`` to consumers, piece by piece:
    ``consumer(size)`` makes one (with its own scratch for pieces of up to
    ``size`` words), which is then called as ``consume(i, w)`` for the words
    ``start + i .. start + i + len(w) - 1``. Large draws are split into
    contiguous ranges, one per thread, each with its own consumer."""
    batch = batch or PHILOX_BATCH

    def work(a: int, b: int) -> None:
        consume = consumer(min(4 * batch, b - a + 3))
        for i, w in iter_philox_words(key, start + a, b - a, batch):
            consume(a + i, w)

    _split(n, work, threads)


def for_each_range(n: int, fn: Any, step: int = 2**16, threads: int | None = None) -> None:
    """Call ``fn(i, j)`` on consecutive ranges ``[i, j)`` of ``range(n)`` of at
    most ``step`` elements (pieces that stay in cache), split over threads
    as :func:`for_each_piece` splits a draw."""
    def work(a: int, b: int) -> None:
        for i in range(a, b, step):
            fn(i, min(i + step, b))

    _split(n, work, threads)


def philox_words(key: tuple[int, int], start: int, n: int, threads: int | None = None,
                 out: NDArray | None = None) -> NDArray:
    """Words ``start .. start + n - 1`` of PortableRNG's stream of ``key``
    (``PortableRNG.words``' values) as a uint32 array (``out`` if given): the
    NumPy fast path."""
    out = np.empty(n, np.uint32) if out is None else out

    def consumer(size: int) -> Callable[[int, NDArray], None]:
        def consume(i: int, w: NDArray) -> None:
            out[i:i + w.size] = w
        return consume

    for_each_piece(key, start, n, consumer, threads)
    return out


class _Gumbel32:
    """float32 Gumbel noise from words, as :func:`gumbelxp._philox.gumbel_from_words`
    computes it (the same ufuncs, so the same bits), in place in scratch:
    ``x = ((w & 0x7fffffff) + 0.5) * 2**-32``, ``E = -log1p(-x)`` if the top
    bit is set else ``-log(x)``, ``g = -log(E)``. The select is a bitwise
    blend with the sign of ``w`` (``np.where`` costs 4x more)."""

    def __init__(self, size: int) -> None:
        self.a = np.empty(size, np.float32)
        self.b = np.empty(size, np.float32)
        self.s = np.empty(size, np.int32)

    def __call__(self, w: NDArray, out: NDArray) -> None:
        k = w.size
        a, b, s = self.a[:k], self.b[:k], self.s[:k]
        wi = w.view(np.int32)  # pyright: ignore[reportUnknownMemberType]  (numpy's stubs)
        np.bitwise_and(wi, 0x7FFFFFFF, out=s)
        np.copyto(b, s, casting="unsafe")           # exact integer -> float32 rounding
        np.add(b, 0.5, out=b)
        np.multiply(b, 2.0**-32, out=b)             # x
        np.log(b, out=a)                            # log(x)
        np.negative(b, out=b)
        np.log1p(b, out=b)                          # log1p(-x)
        np.right_shift(wi, 31, out=s)               # -1 where the top bit is set, else 0
        ai, bi = a.view(np.int32), b.view(np.int32)  # pyright: ignore[reportUnknownMemberType]  (numpy's stubs)
        np.bitwise_xor(ai, bi, out=bi)
        np.bitwise_and(bi, s, out=bi)
        np.bitwise_xor(ai, bi, out=ai)              # top bit ? log1p(-x) : log(x), = -E
        np.negative(a, out=a)
        np.log(a, out=a)
        np.negative(a, out=out)


def portable_noise(key: tuple[int, int], start: int, n: int, dtype: Any = np.float32,
                   threads: int | None = None) -> NDArray:
    """``n`` standard Gumbel values of ``dtype`` (float32: one word each,
    float64: two) from the words at ``start`` on: the values of
    ``gumbel_from_words`` (bit for bit), batch by batch in cache."""
    dtype = np.dtype(dtype)
    out = np.empty(n, dtype)
    if dtype == np.float32:
        def consumer(size: int) -> Callable[[int, NDArray], None]:
            g = _Gumbel32(size)
            return lambda i, w: g(w, out[i:i + w.size])

        for_each_piece(key, start, n, consumer, threads)
        return out
    w = np.reshape(philox_words(key, start, 2 * n, threads), (n, 2))
    xp, step = _np_xp(), 4 * PHILOX_BATCH
    for e in range(0, n, step):  # in pieces that stay in cache
        out[e:e + step] = gumbel_from_words(xp, w[e:e + step], dtype)
    return out


def _np_xp() -> Any:
    import array_api_compat.numpy

    return array_api_compat.numpy
