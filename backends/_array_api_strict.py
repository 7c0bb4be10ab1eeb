"""array-api-strict adapter: the standard and nothing else.

It has no generator of its own: its random numbers come from NumPy, as on
the NumPy backend (``rng=None`` NumPy's module-level generator, a
``numpy.random.Generator`` as is, an int seed ``PortableRNG(seed)``), and
are placed on the input's device (``array_api_strict.Device``). No autograd.
"""

from __future__ import annotations

from typing import Any

import array_api_strict as xps
import numpy as np

from ._base import Backend
from ._numpy import BACKEND as _NUMPY


class StrictBackend(Backend):
    name = "array_api_strict"
    namespace_module = "array_api_strict"
    generator_name = "numpy.random.Generator"

    def handles(self, x: Any) -> bool:
        return isinstance(x, type(xps.asarray(0.0)))

    def is_generator(self, obj: Any) -> bool:
        return _NUMPY.is_generator(obj)

    def portable_seed(self, rng: Any) -> int | None:
        return _NUMPY.portable_seed(rng)

    def uniform(self, rng: Any, shape: tuple[int, ...], dtype: Any, device: Any,
                like: Any = None) -> Any:
        np_dtype = np.float32 if dtype == xps.float32 else np.float64
        return xps.asarray(_NUMPY.uniform(rng, shape, np_dtype, None), device=device)

    def device(self, x: Any) -> Any:
        return x.device


BACKEND = StrictBackend()
