"""NumPy adapter.

Random numbers: ``rng=None`` draws from a module-level
``numpy.random.Generator``, reseeded from the operating system's entropy in
every forked child (as NumPy's and PyTorch's own global generators are), so
``multiprocessing`` workers and PyTorch ``DataLoader`` workers do not repeat
each other's noise. A ``Generator`` is used as is, on any bit generator. An
int seed means ``PortableRNG(seed)``, so a seeded NumPy result is the same
on array-api-strict and on Dask at any chunking.

PortableRNG's stream is computed in cache-sized batches
(:mod:`._philox_numpy`), the generic Philox being its reference.

Fast paths: ``gumbel_softmax`` and ``gumbel_max`` in place, for a number
``tau``: one buffer of noise becomes the scores ``x + g`` (from a native
generator as ``x - log E`` with ``E = -log(u)``, and at ``tau = 1`` one log
fewer: ``softmax(x + g) = exp(x - max x) / E``, normalised; from a
PortableRNG its batched stream); the hard one-hot is the Gumbel-max one-hot,
with no softmax. The generic functions of :mod:`gumbelxp` are their
reference.
"""

from __future__ import annotations

import importlib.metadata
import math
import os
from typing import Any, cast

import numpy as np

from . import _philox_numpy
from ._base import Backend

_default = np.random.default_rng()


def _reseed_after_fork() -> None:
    global _default
    _default = np.random.default_rng()


os.register_at_fork(after_in_child=_reseed_after_fork)


def default_generator() -> np.random.Generator:
    """The module-level generator that ``rng=None`` draws from."""
    return _default


#: bit generators whose raw output is a full 64-bit word (MT19937's is 32-bit)
_RAW64 = (np.random.PCG64, np.random.PCG64DXSM, np.random.Philox, np.random.SFC64)
#: below this many values the raw path's fixed cost outweighs its gain
_RAW_MIN = 4096


def uniform32_from_words(w: np.ndarray) -> np.ndarray:
    """float32 uniforms ``((w >> 9) + 0.5) * 2**-23`` from uint32 words, in
    place: the top 23 bits become the mantissa of a float in [1, 2), from
    which ``1 - 2**-24`` is subtracted exactly, so every value is the
    midpoint of its cell, in (0, 1) for any word."""
    np.right_shift(w, 9, out=w)
    np.bitwise_or(w, np.uint32(0x3F800000), out=w)
    u: np.ndarray = w.view(np.float32)  # pyright: ignore[reportUnknownMemberType]  (numpy's stubs)
    np.subtract(u, np.float32(1 - 2**-24), out=u)
    return u


def open_uniform(gen: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """Uniforms on the open interval (0, 1) from ``gen``.

    float32 from a plain ``Generator`` on a 64-bit bit generator (NumPy's
    default PCG64, PCG64DXSM, Philox, SFC64), from ``_RAW_MIN`` values on:
    each raw 64-bit word gives two values (:func:`uniform32_from_words`),
    faster than ``random()``. Otherwise ``random()``, which draws
    ``k * 2**-24`` (float32) or ``k * 2**-53`` (float64), ``k >= 0``, with
    the zero cell moved to its midpoint.
    """
    dt = np.dtype(dtype)
    n = math.prod(shape)
    if (dt == np.float32 and n >= _RAW_MIN and type(gen) is np.random.Generator
            and type(gen.bit_generator) in _RAW64):
        raw = gen.bit_generator.random_raw((n + 1) // 2)
        w: np.ndarray = raw.view(np.uint32)[:n]  # pyright: ignore[reportUnknownMemberType]  (numpy's stubs)
        return np.reshape(uniform32_from_words(w), shape)
    u = cast("np.ndarray", gen.random(shape, dtype=dt))
    np.maximum(u, float(np.finfo(dt).eps) * 0.25, out=u)
    return u


def _native(rng: Any) -> np.random.Generator | None:
    if rng is None:
        return _default
    return rng if isinstance(rng, np.random.Generator) else None


def _log_exponential(gen: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """``log E`` with ``E = -log(u)`` standard exponential, so that
    ``x - log E = x + g``, in one fresh buffer."""
    e = open_uniform(gen, shape, dtype)
    np.log(e, out=e)
    np.negative(e, out=e)
    np.log(e, out=e)
    return e


def _portable(rng: Any) -> Any:
    """The PortableRNG a checked ``rng`` stands for here (an int seed, or a
    PortableRNG), or None."""
    from gumbelxp._philox import PhiloxStream

    if isinstance(rng, int):
        return PhiloxStream(rng)
    return rng if isinstance(rng, PhiloxStream) else None


def _scores(x: np.ndarray, rng: Any) -> np.ndarray | None:
    """``x + g`` in a fresh buffer: ``g = -log E`` from a native generator
    (``x - log E``), or PortableRNG's noise (its batched stream); None for
    any other ``rng``."""
    p = _portable(rng)
    if p is not None:
        s: np.ndarray[Any, Any] = p.draw_on(BACKEND, "gumbel", x.shape, x.dtype, None)
        np.add(s, x, out=s)
        return s
    gen = _native(rng)
    if gen is None:
        return None
    e = _log_exponential(gen, x.shape, x.dtype)
    np.subtract(x, e, out=e)
    return e


def _gumbel_max(x: np.ndarray, axis: int, keepdims: bool, rng: Any) -> Any:
    s = _scores(x, rng)
    return None if s is None else np.argmax(s, axis=axis, keepdims=keepdims)


def _one_hot_of(s: np.ndarray, axis: int) -> np.ndarray:
    """The exact one-hot of ``argmax(s)``, NaN on the slices whose maximum is
    not finite (a NaN, +inf or only -inf logits)."""
    idx = np.argmax(s, axis=axis, keepdims=True)  # NumPy's argmax finds a NaN first
    y = np.zeros(s.shape, dtype=s.dtype)
    if axis == y.ndim - 1:  # rows of a fresh C array: one fancy-index write
        rows = np.reshape(y, (-1, s.shape[-1]))
        at = (np.arange(rows.shape[0]), np.reshape(idx, (-1,)))
        rows[at] = 1.0
        high = np.reshape(s, (-1, s.shape[-1]))[at]  # the maxima, gathered: no second pass
    else:
        np.put_along_axis(y, idx, 1.0, axis=axis)
        high = np.max(s, axis=axis, keepdims=True)
    bad = ~np.isfinite(high)
    if bad.any():
        y[np.broadcast_to(np.reshape(bad, idx.shape), y.shape)] = np.nan
    return y


def _times_exp_shifted(y: np.ndarray, x: np.ndarray, m: np.ndarray, axis: int) -> None:
    """``y *= exp(x - m)``, the temporary in pieces of whole rows that stay in
    cache when the axis is the last of a C-contiguous ``x``."""
    if axis != x.ndim - 1 or not x.flags.c_contiguous:
        t = np.subtract(x, m)
        np.exp(t, out=t)
        np.multiply(y, t, out=y)
        return
    k = x.shape[-1]
    x2, y2, m2 = np.reshape(x, (-1, k)), np.reshape(y, (-1, k)), np.reshape(m, (-1, 1))
    rows = max(1, 2**15 // max(k, 1))
    tmp = np.empty((min(rows, x2.shape[0]), k), dtype=y.dtype)
    for i in range(0, x2.shape[0], rows):
        j = min(i + rows, x2.shape[0])
        t = tmp[:j - i]
        np.subtract(x2[i:j], m2[i:j], out=t)
        np.exp(t, out=t)
        np.multiply(y2[i:j], t, out=y2[i:j])


def _gumbel_softmax(x: np.ndarray, tau: Any, hard: bool, axis: int, rng: Any) -> Any:
    fi = np.finfo(x.dtype)
    if not isinstance(tau, float) or not fi.smallest_normal <= tau <= fi.max:
        return None
    gen = _native(rng)
    if gen is not None and tau == 1.0 and not hard:
        # softmax(x - log E) = exp(x - max x) / E, normalised: one log fewer,
        # and one buffer: the uniforms' (a second full-size one costs more
        # than the log it saves)
        y = open_uniform(gen, x.shape, x.dtype)
        np.log(y, out=y)
        np.divide(-1.0, y, out=y)  # 1 / E, E = -log(u) ~ Exp(1)
        _times_exp_shifted(y, x, np.max(x, axis=axis, keepdims=True), axis)
        return np.divide(y, np.sum(y, axis=axis, keepdims=True), out=y)
    s = _scores(x, rng)
    if s is None:
        return None
    if hard:  # the Gumbel-max one-hot: no softmax needed
        return _one_hot_of(s, axis)
    np.subtract(s, np.max(s, axis=axis, keepdims=True), out=s)
    if tau != 1.0:
        np.divide(s, tau, out=s)
    np.exp(s, out=s)
    return np.divide(s, np.sum(s, axis=axis, keepdims=True), out=s)


class NumpyBackend(Backend):
    name = "numpy"
    namespace_module = "array_api_compat.numpy"
    generator_name = "numpy.random.Generator"
    fast_paths = {"gumbel_softmax": _gumbel_softmax, "gumbel_max": _gumbel_max}

    def handles(self, x: Any) -> bool:
        return isinstance(x, (np.ndarray, np.generic))

    def is_generator(self, obj: Any) -> bool:
        return isinstance(obj, np.random.Generator)

    def uniform(self, rng: Any, shape: tuple[int, ...], dtype: Any, device: Any,
                like: Any = None) -> Any:
        gen = _native(rng)
        if gen is None:  # an int seed is portable here: check_rng leaves nothing else
            raise TypeError(f"not a numpy.random.Generator: {type(rng).__name__}")
        return open_uniform(gen, tuple(shape), dtype)

    def portable_seed(self, rng: Any) -> int | None:
        """An int seed is ``PortableRNG(seed)``, as on array-api-strict and Dask."""
        return rng if isinstance(rng, int) else None

    def portable_draw(self, key: tuple[int, int], start: int, kind: str,
                      shape: tuple[int, ...], dtype: Any, device: Any, like: Any) -> Any:
        """The stream in cache-sized batches (:mod:`._philox_numpy`)."""
        from gumbelxp._philox import draw_from

        return draw_from(self.namespace, kind, shape, dtype,
                         lambda n: _philox_numpy.philox_words(key, start, n).astype(np.uint64),
                         lambda n: _philox_numpy.portable_noise(key, start, n, dtype))

    def device(self, x: Any) -> Any:
        return "cpu"  # NumPy's one device, as array_api_compat.device answers

    def info(self) -> dict[str, Any]:
        return {"version": importlib.metadata.version("numpy"), "devices": ["cpu"]}


BACKEND = NumpyBackend()
