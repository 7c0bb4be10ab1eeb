"""NumPy adapter: a module-level ``numpy.random.Generator`` is the default."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._philox import PortableRNG
from ._base import Backend, check_seed

_DEFAULT_RNG = np.random.default_rng()


def uniform32_from_words(w: np.ndarray) -> np.ndarray:
    """float32 uniforms ``((w >> 9) + 0.5) * 2**-23``, in place, from uint32
    words ``w``: the top 23 bits become the mantissa of a float in [1, 2),
    from which ``1 - 2**-24`` is subtracted exactly (Sterbenz), so every value
    is the midpoint of its cell, in (0, 1) for any word: no clamp needed.
    The same values as PortableRNG's float32 ``uniform`` gives for a word."""
    np.right_shift(w, 9, out=w)
    np.bitwise_or(w, np.uint32(0x3F800000), out=w)
    u = w.view(np.float32)
    return np.subtract(u, np.float32(1 - 2**-24), out=u)


#: below this many values the raw path's fixed cost (~4 us) outweighs its gain
_RAW_MIN = 4096


def _open_uniform(gen: np.random.Generator, shape, dtype) -> np.ndarray:
    """Open-interval uniforms. float32 from a plain ``Generator``: raw 64-bit
    words of its bit generator, two uniforms each (faster than ``random()``,
    whose float32 loop costs ~3 ns a value, and exact), from ``_RAW_MIN``
    values on. Otherwise
    ``random()``, which draws k * 2**-24 (float32) or k * 2**-53 (float64),
    k >= 0, with the zero cell moved to its midpoint (a subclass that
    overrides ``random`` is honoured)."""
    dtype = np.dtype(dtype)
    n = math.prod(shape)
    if dtype == np.float32 and type(gen) is np.random.Generator and n >= _RAW_MIN:
        w = gen.bit_generator.random_raw((n + 1) // 2).view(np.uint32)[:n]
        return uniform32_from_words(w).reshape(shape)
    u = gen.random(shape, dtype=dtype)
    np.maximum(u, np.finfo(dtype).eps * 0.25, out=u)
    return u


def _own(a, b=None) -> bool:
    """Whether ``a`` can take a result in place: a writeable array whose
    dtype the result keeps (``b`` a Python number or of ``a``'s dtype)."""
    return (type(a) is np.ndarray and a.flags.writeable
            and (b is None or not isinstance(b, np.ndarray) or b.dtype == a.dtype))


class NumpyBackend(Backend):
    name = "numpy"
    module = "numpy"
    namespace_module = "array_api_compat.numpy"
    generator_name = "numpy.random.Generator"

    def array_types(self):
        return (np.ndarray, np.generic)

    def is_generator(self, obj: Any) -> bool:
        return isinstance(obj, np.random.Generator)

    def default_generator(self, device=None) -> np.random.Generator:
        return _DEFAULT_RNG

    def seeded_generator(self, seed: int) -> np.random.Generator:
        return np.random.default_rng(seed)

    def as_counter_rng(self, rng: Any) -> Any:
        """An int seed is ``PortableRNG(seed)`` on the CPU array backends
        (NumPy, array-api-strict, Dask), so a seeded result is the same on all
        three, and for any Dask chunking. A ``Generator`` or ``None`` draws
        natively (fast)."""
        if isinstance(rng, int) and not isinstance(rng, bool):
            return PortableRNG(check_seed(rng))
        return rng

    def uniform(self, rng, shape, dtype, device):
        if rng is None:
            rng = _DEFAULT_RNG
        elif isinstance(rng, int):
            rng = np.random.default_rng(check_seed(rng))
        return _open_uniform(rng, tuple(shape), np.dtype(dtype))

    # fast paths: NumPy arrays are mutable, so temporaries are reused in place
    def exponential(self, rng, shape, dtype, device):
        u = self.uniform(rng, shape, dtype, device)
        np.log(u, out=u)
        return np.negative(u, out=u)

    def exp_(self, x):
        return np.exp(x, out=x) if _own(x) else np.exp(x)

    def log_(self, x):
        return np.log(x, out=x) if _own(x) else np.log(x)

    def neg_(self, x):
        return np.negative(x, out=x) if _own(x) else -x

    def sub_(self, a, b):
        return np.subtract(a, b, out=a) if _own(a, b) else a - b

    def div_(self, a, b):
        return np.divide(a, b, out=a) if _own(a, b) else a / b

    def one_hot(self, idx, like, axis, nan=None):
        out = np.zeros(like.shape, dtype=like.dtype)
        value = 1
        if nan is not None and np.isnan(nan).any():  # touch every slice only then
            out += nan
            value = nan + 1
        if axis == out.ndim - 1:  # rows of a fresh C array: one fancy-index write
            rows = out.reshape(-1, out.shape[-1])
            rows[np.arange(rows.shape[0]), idx.reshape(-1)] = np.reshape(value, -1)
        else:
            np.put_along_axis(out, idx, value, axis=axis)
        return out

    def device(self, x):
        return "cpu"  # NumPy's one device, as array_api_compat.device answers

    def version(self) -> str:
        return np.__version__


BACKEND = NumpyBackend()
