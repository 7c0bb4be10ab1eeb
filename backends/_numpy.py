"""NumPy adapter: a module-level ``numpy.random.Generator`` is the default."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import Backend, check_seed

_DEFAULT_RNG = np.random.default_rng()


def _open_uniform(gen: np.random.Generator, shape, dtype) -> np.ndarray:
    """Open-interval uniforms: ``random()`` draws k * 2**-24 (float32) or
    k * 2**-53 (float64), k >= 0; the zero cell is moved to its midpoint."""
    u = gen.random(shape, dtype=dtype)
    np.maximum(u, np.finfo(dtype).eps * 0.25, out=u)
    return u


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

    def uniform(self, rng, shape, dtype, device):
        if rng is None:
            rng = _DEFAULT_RNG
        elif isinstance(rng, int):
            rng = np.random.default_rng(check_seed(rng))
        return _open_uniform(rng, tuple(shape), np.dtype(dtype))

    def version(self) -> str:
        return np.__version__


BACKEND = NumpyBackend()
