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
    ``PortableRNG(seed)`` (a fresh one per call), as on NumPy and
    array-api-strict: ``rng=seed`` gives the same bits on all three.
``numpy.random.Generator`` or ``dask.array.random.Generator``
    One 64-bit Philox key is drawn from it (its state advances, eagerly and
    cheaply); the noise is then computed as above, so it too does not depend
    on the chunking.
``None``
    A key drawn from a module-level ``numpy.random.Generator``: fresh noise at
    each call.

A reduced axis split over several chunks is first rechunked to one chunk
along that axis (:meth:`DaskBackend.whole_axis`; the other axes keep their
chunks, except that a block one element wide after the axis is merged with
a neighbour, see :func:`_no_unit_runs`), so that every reduction runs inside
a chunk and adds in the order NumPy adds for the whole array: results are
bit-identical to NumPy's for every chunking.
"""

from __future__ import annotations

import itertools
import math
import types
from collections.abc import Iterator
from functools import cached_property
from typing import Any

import dask as _dask
import dask.array as _dask_array
import numpy as np

from .._philox import block_words, gumbel_from_words, uniform_from_words, words_at
from . import _philox_numpy
from ._base import Backend
from ._numpy import default_generator  # rng=None: keys from NumPy's (fork-safe) generator

#: Dask's array functions are mostly unannotated: ``Any`` to type checkers
dask: Any = _dask
da: Any = _dask_array


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
        return np.asarray(words_at(_np_xp(), key, idx))
    nb = (length + 3) // 4 + 1
    blocks = (w0 >> np.uint64(2))[:, None] + np.arange(nb, dtype=np.uint64)
    w = np.reshape(np.stack(block_words(_np_xp(), key, blocks), axis=-1), (w0.size, 4 * nb))
    off = (w0 & np.uint64(3)).astype(np.intp)
    if (off == off[0]).all():
        return w[:, off[0]:off[0] + length]
    return np.take_along_axis(w, off[:, None] + np.arange(length), axis=1)


def iter_chunk_words(key: tuple[int, int], start: int, per: int, shape: tuple[int, ...],
                     loc: list[tuple[int, int]],
                     batch: int | None = None) -> Iterator[tuple[int, int, np.ndarray]]:
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
        first = np.expand_dims(ar, tuple(range(1, first.ndim + 1))) + first  # outer sum
    first = np.reshape(first, (-1,))
    m = n // first.size  # elements per run
    length = per * m  # words per run
    w0 = first * np.uint64(per) + np.uint64(start)  # first word of each run
    batch = BATCH_WORDS if batch is None else batch
    batch -= batch % per
    if length >= batch // 2 or first.size == 1:
        for r in range(first.size):
            for s in range(0, length, batch):
                k = min(batch, length - s)
                w = _philox_numpy.philox_words(key, int(w0[r]) + s, k, threads=1)
                e0 = r * m + s // per
                yield e0, e0 + k // per, np.reshape(np.asarray(w), (-1, per))
    else:
        rb = batch // length
        for r in range(0, first.size, rb):
            w = _runs_words(key, w0[r:r + rb], length)
            yield r * m, (r + w.shape[0]) * m, np.reshape(w, (-1, per))


def chunk_words(key: tuple[int, int], start: int, per: int, shape: tuple[int, ...],
                loc: list[tuple[int, int]], batch: int | None = None) -> np.ndarray:
    """All the words of one chunk, shape ``(n, per)``: see :func:`iter_chunk_words`."""
    n = math.prod(e - s for s, e in loc)
    out = np.empty((n, per), dtype=np.uint64)
    for e0, e1, w in iter_chunk_words(key, start, per, shape, loc, batch):
        out[e0:e1] = w
    return out


def _draw_block(key: tuple[int, int], start: int, per: int, dtype: Any, kind: str,
                block_info: dict[Any, Any] | None = None) -> np.ndarray:
    """One chunk of a draw: Gumbel noise, uniforms or the words (``kind``)."""
    if block_info is None:
        raise TypeError("_draw_block runs through da.map_blocks, which passes block_info")
    info = block_info[None]
    chunk_shape: tuple[int, ...] = tuple(info["chunk-shape"])
    dtype = np.dtype(dtype)
    shape, loc = tuple(info["shape"]), list(info["array-location"])
    first = _contiguous_start(shape, loc)
    if kind == "gumbel" and first is not None:  # one run of the stream: batched, in cache
        g = _philox_numpy.portable_noise(key, start + per * first, math.prod(chunk_shape),
                                         dtype, threads=1)
        return np.reshape(g, chunk_shape)
    out = np.empty(math.prod(chunk_shape), dtype=dtype)
    for e0, e1, w in iter_chunk_words(key, start, per, shape, loc):
        if kind == "bits":
            out[e0:e1] = w[:, 0]
        else:
            f = gumbel_from_words if kind == "gumbel" else uniform_from_words
            out[e0:e1] = f(_np_xp(), w, dtype)
    return np.reshape(out, chunk_shape)


def _contiguous_start(shape: tuple[int, ...], loc: list[tuple[int, int]]) -> int | None:
    """The global flat index of a chunk's first element if the chunk is one
    run of the flat (C) order (whole along every axis after the first it
    splits, one element along the axes before), else None."""
    nd = len(shape)
    j = nd - 1
    while j > 0 and tuple(loc[j]) == (0, shape[j]):
        j -= 1
    if any(e - s != 1 for s, e in loc[:j]):
        return None
    strides = [math.prod(shape[a + 1:]) for a in range(nd)]
    return sum(s * strides[a] for a, (s, _) in enumerate(loc))


def _no_unit_runs(chunks: tuple[tuple[int, ...], ...], axis: int,
                  shape: tuple[int, ...]) -> dict[int, tuple[int, ...]]:
    """Rechunking that makes every block's reduction along ``axis`` add in
    NumPy's order for the whole array. NumPy adds the values of a slice
    pairwise when they are adjacent in memory (nothing after ``axis``, or
    only size-1 axes) and one by one otherwise; a block that is one element
    wide after ``axis`` while the array is wider would add pairwise, so such
    blocks are merged with a neighbour along the last wide axis."""
    after = range(axis + 1, len(shape))
    if math.prod(shape[a] for a in after) <= 1:
        return {}
    if not any(all(chunks[a][i] == 1 for a, i in zip(after, idx, strict=True))
               for idx in itertools.product(*(range(len(chunks[a])) for a in after))):
        return {}
    last = max(a for a in after if shape[a] > 1)
    merged: list[int] = []
    for c in chunks[last]:
        if merged and (merged[-1] < 2 or c < 2):
            merged[-1] += c
        else:
            merged.append(c)
    return {last: tuple(merged)}


def _empty_safe(reduce: Any) -> Any:
    """Dask's ``max``/``min`` fail at compute on an empty array even when the
    reduced axis is not empty (NumPy gives an empty result): such a
    reduction is answered with the empty result itself."""
    def f(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
        if isinstance(x, da.Array) and x.size == 0 and axis is not None:
            axes = {a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis)}
            if all(x.shape[a] > 0 for a in axes):
                shape = tuple(1 if a in axes else d for a, d in enumerate(x.shape)
                              if keepdims or a not in axes)
                return da.zeros(shape, dtype=x.dtype)
        return reduce(x, axis=axis, keepdims=keepdims)
    return f


class _Namespace(types.ModuleType):
    """array-api-compat's Dask namespace, with :func:`_empty_safe` reductions."""

    def __init__(self) -> None:
        import array_api_compat.dask.array as base

        super().__init__(base.__name__)
        names = {k: v for k, v in vars(base).items() if not k.startswith("__")}
        names["__array_namespace_info__"] = vars(base)["__array_namespace_info__"]
        names["max"], names["min"] = _empty_safe(names["max"]), _empty_safe(names["min"])
        self.__dict__.update(names)


class DaskBackend(Backend):
    name = "dask"
    namespace_module = "array_api_compat.dask.array"

    @cached_property
    def namespace(self) -> Any:
        return _Namespace()
    generator_name = "numpy.random.Generator or dask.array.random.Generator"

    def handles(self, x: Any) -> bool:
        return isinstance(x, da.Array)

    # -- layout --------------------------------------------------------------
    def whole_axis(self, x: Any, axis: int) -> Any:
        if not isinstance(x, da.Array):
            return x
        spec: dict[int, Any] = _no_unit_runs(x.chunks, axis, tuple(x.shape))
        if x.numblocks[axis] > 1:
            spec[axis] = -1
        return x.rechunk(spec) if spec else x

    def _chunks(self, shape: tuple[int, ...], dtype: Any,
                like: Any = None) -> tuple[tuple[int, ...], ...]:
        """The chunks of a draw of ``shape``: ``like``'s if it is a Dask array of
        that shape, else Dask's automatic chunks."""
        if any(isinstance(s, float) and math.isnan(s) for s in shape):
            raise ValueError("cannot draw noise for a Dask array of unknown shape: "
                             "call .compute_chunk_sizes() on it first")
        chunks: tuple[tuple[int, ...], ...]
        if isinstance(like, da.Array) and tuple(like.shape) == tuple(shape):
            chunks = like.chunks
        else:
            chunks = da.core.normalize_chunks("auto", tuple(shape), dtype=np.dtype(dtype))
        return chunks

    # -- random numbers ------------------------------------------------------
    def is_generator(self, obj: Any) -> bool:
        return isinstance(obj, (np.random.Generator, da.random.Generator))

    def portable_seed(self, rng: Any) -> int:
        """Every ``rng`` stands for a PortableRNG (module docstring)."""
        if isinstance(rng, int):
            return rng
        if rng is None:
            rng = default_generator()
        elif isinstance(rng, da.random.Generator):
            bitgen = getattr(rng, "_bit_generator", None)
            if not isinstance(bitgen, np.random.BitGenerator):
                raise TypeError("this dask.array.random.Generator exposes no NumPy bit "
                                "generator: pass an int seed or gumbelxp.PortableRNG")
            rng = np.random.Generator(bitgen)  # shares, and advances, its state
        return int(rng.integers(0, 2**64, dtype=np.uint64))

    def uniform(self, rng: Any, shape: tuple[int, ...], dtype: Any, device: Any,
                like: Any = None) -> Any:
        raise NotImplementedError("on Dask every rng is drawn as a PortableRNG stream")

    def portable_draw(self, key: tuple[int, int], start: int, kind: str,
                      shape: tuple[int, ...], dtype: Any, device: Any, like: Any) -> Any:
        """Lazy values chunked like ``like`` (or automatically), each chunk
        computing only its own words."""
        shape = tuple(shape)
        dtype = np.dtype(np.uint64 if kind == "bits" else dtype)
        per = 1 if kind == "bits" or dtype.itemsize <= 4 else 2
        chunks = self._chunks(shape, dtype, like)
        return da.map_blocks(
            _draw_block, key, start, per, dtype.str, kind,
            chunks=chunks, dtype=dtype, meta=np.empty((0,) * len(shape), dtype=dtype),
            name=f"gumbelxp-{kind}-" + dask.base.tokenize(key, start, per, dtype.str, chunks),
        )

    def info(self) -> dict[str, Any]:
        return {"version": dask.__version__, "devices": ["cpu"]}


BACKEND = DaskBackend()
