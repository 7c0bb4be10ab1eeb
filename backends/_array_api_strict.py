"""array-api-strict adapter: the standard and nothing else. Its random
numbers come from NumPy (it has no generator of its own) and are wrapped
into strict arrays; no autograd."""

from __future__ import annotations

from typing import Any

import array_api_strict as xps
import numpy as np

from ._base import Backend
from ._numpy import BACKEND as _NUMPY


class StrictBackend(Backend):
    name = "array_api_strict"
    module = "array_api_strict"
    namespace_module = "array_api_strict"
    generator_name = "numpy.random.Generator"

    def array_types(self):
        return (type(xps.asarray(0.0)),)

    def is_generator(self, obj: Any) -> bool:
        return _NUMPY.is_generator(obj)

    def default_generator(self, device=None):
        return _NUMPY.default_generator()

    def seeded_generator(self, seed: int) -> Any:
        return _NUMPY.seeded_generator(seed)

    def as_counter_rng(self, rng: Any) -> Any:
        return _NUMPY.as_counter_rng(rng)

    def uniform(self, rng, shape, dtype, device):
        np_dtype = np.float32 if dtype == xps.float32 else np.float64
        u = _NUMPY.uniform(rng, shape, np_dtype, None)
        return xps.asarray(u, dtype=dtype, device=device)

    def to_numpy(self, x):
        return np.asarray(x)

    def version(self) -> str:
        return xps.__version__


BACKEND = StrictBackend()
