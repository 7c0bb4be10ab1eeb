"""Dask adapter: lazy, chunked Gumbel noise that does not depend on the chunking.

Every draw on Dask is counter-based (Philox-4x32-10, the stream of
:class:`gumbelxp.PortableRNG`): the element at global flat (C-order) index
``i`` of a draw that starts at stream word ``c`` uses words ``c + i`` (float32)
or ``c + 2i``, ``c + 2i + 1`` (float64), and each chunk computes the words of
its own elements only. So the noise is a lazy Dask array with the chunks of
the logits, computed in parallel, with the same bits whatever the chunking,
on any scheduler (threads, processes, ``dask.distributed``): a chunk that a
lost worker held is recomputed bit for bit.

What ``rng=`` means on Dask arrays:

``PortableRNG(seed)``
    As everywhere: the same bits as on NumPy and every other backend; the
    counter advances at graph-construction time (nothing is computed).
``int`` seed
    ``PortableRNG(seed)`` (a fresh one per call). NumPy's ``default_rng(seed)``
    cannot be computed chunk by chunk, so an int seed on Dask equals
    ``PortableRNG(seed)`` on NumPy, not ``rng=seed`` on NumPy.
``numpy.random.Generator`` or ``dask.array.random.Generator``
    One 64-bit Philox key is drawn from it (its state advances, eagerly and
    cheaply); the noise is then computed as above, so it too does not depend
    on the chunking.
``None``
    A key drawn from a module-level ``numpy.random.Generator``: fresh noise at
    each call.

A reduced axis split over several chunks is first rechunked to one chunk
along that axis (:meth:`DaskBackend.whole_axis`; the other axes keep their
chunks), so that every reduction runs inside a chunk, exactly as NumPy runs
it on that slice: results are identical for every chunking.
"""

from __future__ import annotations

import math
from typing import Any

import dask
import dask.array as da
import numpy as np

from .._philox import PortableRNG, _block_words, gumbel_from_words
from ._base import Backend, check_seed

_KEYS = np.random.default_rng()  # where rng=None draws its Philox keys


def _np_xp() -> Any:
    import array_api_compat.numpy

    return array_api_compat.numpy


# ---------------------------------------------------------------------------
# one chunk's words
# ---------------------------------------------------------------------------
#: words computed at once inside a chunk: Philox's temporaries stay in cache
#: and a task's memory is its output plus a few MiB, whatever the chunk size.
#: 2**14 keeps every temporary (128 KiB of uint64) at glibc's mmap threshold:
#: larger ones are mapped and unmapped at each step, and page faults then
#: cost 4x the arithmetic under dask.distributed, whose workers set
#: MALLOC_TRIM_THRESHOLD_=65536.
BATCH_WORDS = 2**14


def _runs_words(key: tuple[int, int], w0: np.ndarray, length: int) -> np.ndarray:
    """Words ``w0[r] .. w0[r] + length - 1`` of each run ``r``: ``(R, length)``."""
    if length < 8:  # short runs: one Philox block per word
        idx = w0[:, None] + np.arange(length, dtype=np.uint64)
        return np.asarray(PortableRNG.words_at(_np_xp(), key, idx))
    nb = (length + 3) // 4 + 1
    blocks = (w0 >> np.uint64(2))[:, None] + np.arange(nb, dtype=np.uint64)
    w = np.stack(_block_words(_np_xp(), key, blocks), axis=-1).reshape(w0.size, 4 * nb)
    off = (w0 & np.uint64(3)).astype(np.intp)
    if (off == off[0]).all():
        return w[:, off[0]:off[0] + length]
    return np.take_along_axis(w, off[:, None] + np.arange(length), axis=1)


def iter_chunk_words(key: tuple[int, int], start: int, per: int, shape: tuple[int, ...],
                     loc: list[tuple[int, int]], batch: int | None = None):
    """The stream words of one chunk's elements, in pieces: yields ``(e0, e1,
    w)`` with ``w`` of shape ``(e1 - e0, per)`` for the chunk's elements
    ``e0 .. e1 - 1`` in C order. Element ``i`` of the whole array (global flat
    index) takes words ``start + per * i + j``, ``j < per``; ``loc`` is the
    chunk's ``(begin, end)`` along each axis of the whole array of ``shape``.

    The chunk is a grid of runs that are contiguous in the global flat order
    (the trailing axes it covers whole, plus part of the one before). Long
    runs are computed in pieces of ``batch`` words, block by block (one
    Philox call gives four words); short runs many at once, vectorised.
    """
    nd = len(shape)
    n = math.prod(e - s for s, e in loc)
    if n == 0:
        return
    j = nd - 1
    while j > 0 and loc[j] == (0, shape[j]):
        j -= 1
    strides = [math.prod(shape[a + 1:]) for a in range(nd)]
    # flat index of each run's first element: a grid over the axes before j
    first = np.asarray(loc[j][0] * strides[j] if nd else 0, dtype=np.uint64)
    for a in range(j - 1, -1, -1):
        ar = np.arange(loc[a][0], loc[a][1], dtype=np.uint64) * np.uint64(strides[a])
        first = np.add.outer(ar, first)
    first = first.reshape(-1)
    m = n // first.size  # elements per run
    length = per * m  # words per run
    w0 = np.uint64(start) + np.uint64(per) * first  # first word of each run
    batch = BATCH_WORDS if batch is None else batch
    batch -= batch % per
    if length >= batch // 2 or first.size == 1:
        for r in range(first.size):
            for s in range(0, length, batch):
                k = min(batch, length - s)
                w = PortableRNG.words(_np_xp(), np.uint64, None, key, int(w0[r]) + s, k)
                e0 = r * m + s // per
                yield e0, e0 + k // per, np.asarray(w).reshape(-1, per)
    else:
        rb = batch // length
        for r in range(0, first.size, rb):
            w = _runs_words(key, w0[r:r + rb], length)
            yield r * m, (r + w.shape[0]) * m, w.reshape(-1, per)


def chunk_words(key: tuple[int, int], start: int, per: int, shape: tuple[int, ...],
                loc: list[tuple[int, int]], batch: int | None = None) -> np.ndarray:
    """All the words of one chunk, shape ``(n, per)``: see :func:`iter_chunk_words`."""
    n = math.prod(e - s for s, e in loc)
    out = np.empty((n, per), dtype=np.uint64)
    for e0, e1, w in iter_chunk_words(key, start, per, shape, loc, batch):
        out[e0:e1] = w
    return out


def _uniform_from_words(w: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Open-interval uniforms from words, as :meth:`PortableRNG.uniform`."""
    xp = _np_xp()
    if w.shape[1] == 1:
        u = ((w[:, 0] >> np.uint64(9)).astype(np.float32) + np.float32(0.5)) * np.float32(2.0**-23)
        if np.finfo(dtype).bits < 32:  # half precision: round, keep the interval open
            eps = float(np.finfo(dtype).eps)
            u = xp.astype(xp.clip(u, eps * 2.0**-11, 1.0 - eps / 2), dtype)
        return u
    hi = (w[:, 0] >> np.uint64(6)).astype(dtype)
    lo = (w[:, 1] >> np.uint64(6)).astype(dtype)
    return (hi * 2.0**26 + (lo + 0.5)) * 2.0**-52


def _draw_block(key: tuple[int, int], start: int, per: int, dtype: Any, kind: str,
                block_info: dict | None = None) -> np.ndarray:
    """One chunk of a draw: Gumbel noise (``kind="gumbel"``) or uniforms."""
    info = block_info[None]
    dtype = np.dtype(dtype)
    out = np.empty(math.prod(info["chunk-shape"]), dtype=dtype)
    for e0, e1, w in iter_chunk_words(key, start, per, tuple(info["shape"]),
                                      list(info["array-location"])):
        out[e0:e1] = (gumbel_from_words(_np_xp(), w, dtype) if kind == "gumbel"
                      else _uniform_from_words(w, dtype))
    return out.reshape(info["chunk-shape"])


class DaskBackend(Backend):
    name = "dask"
    module = "dask"
    namespace_module = "array_api_compat.dask.array"
    generator_name = "numpy.random.Generator or dask.array.random.Generator"

    def array_types(self):
        return (da.Array,)

    def to_numpy(self, x):
        return np.asarray(x.compute() if isinstance(x, da.Array) else x)

    # -- layout --------------------------------------------------------------
    def whole_axis(self, x, axis):
        if isinstance(x, da.Array) and x.numblocks[axis] > 1:
            return x.rechunk({axis: -1})
        return x

    def chunks(self, shape: tuple[int, ...], dtype: Any, like: Any = None) -> tuple:
        """The chunks of a draw of ``shape``: ``like``'s if it is a Dask array of
        that shape, else Dask's automatic chunks."""
        if any(isinstance(s, float) and math.isnan(s) for s in shape):
            raise ValueError("cannot draw noise for a Dask array of unknown shape: "
                             "call .compute_chunk_sizes() on it first")
        if isinstance(like, da.Array) and tuple(like.shape) == tuple(shape):
            return like.chunks
        return da.core.normalize_chunks("auto", tuple(shape), dtype=np.dtype(dtype))

    # -- random numbers ------------------------------------------------------
    def is_generator(self, obj: Any) -> bool:
        return isinstance(obj, (np.random.Generator, da.random.Generator))

    def as_counter_rng(self, rng: Any) -> PortableRNG:
        """Every ``rng`` becomes a :class:`PortableRNG` (module docstring)."""
        if isinstance(rng, PortableRNG):
            return rng
        if rng is None:
            rng = _KEYS
        elif isinstance(rng, int):
            return PortableRNG(check_seed(rng))
        elif isinstance(rng, da.random.Generator):
            bitgen = getattr(rng, "_bit_generator", None)
            if not isinstance(bitgen, np.random.BitGenerator):
                raise TypeError("this dask.array.random.Generator exposes no NumPy bit "
                                "generator: pass an int seed or gumbelxp.PortableRNG")
            rng = np.random.Generator(bitgen)  # shares, and advances, its state
        return PortableRNG(int(rng.integers(0, 2**64, dtype=np.uint64)))

    def _draw(self, rng: PortableRNG, shape, dtype, kind: str, like: Any) -> da.Array:
        shape = tuple(shape)
        dtype = np.dtype(dtype)
        per = 1 if dtype.itemsize <= 4 else 2
        chunks = self.chunks(shape, dtype, like)
        start = rng._take(per * math.prod(shape))
        return da.map_blocks(
            _draw_block, rng.key, start, per, dtype.str, kind,
            chunks=chunks, dtype=dtype, meta=np.empty((0,) * len(shape), dtype=dtype),
            name=f"gumbelxp-{kind}-" + dask.base.tokenize(rng.key, start, per, dtype.str,
                                                           chunks),
        )

    def uniform(self, rng, shape, dtype, device, like=None):
        """Lazy open-interval uniforms (those of :meth:`PortableRNG.uniform`),
        chunked like ``like`` or automatically."""
        return self._draw(self.as_counter_rng(rng), shape, dtype, "uniform", like)

    def portable_noise(self, rng, shape, dtype, device, like=None):
        return self._draw(rng, shape, dtype, "gumbel", like)

    def version(self) -> str:
        return dask.__version__


BACKEND = DaskBackend()
