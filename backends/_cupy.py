"""CuPy adapter: arrays, generators and noise on the array's GPU.

* ``rng=None`` is CuPy's default generator of the array's device,
  ``cupy.random.get_random_state()`` (the one ``cupy.random.seed`` seeds);
  an ``int`` seeds a fresh ``cupy.random.RandomState``; a
  ``cupy.random.Generator`` (or a ``RandomState``) is used as is. Uniforms
  are drawn on the device and moved into the open interval there.
* :meth:`CupyBackend.fused_gumbel_softmax` and
  :meth:`CupyBackend.fused_gumbel_max` run the fused kernels of
  :mod:`._cupy_kernels` where they apply (float32 / float16, last axis,
  ``rng`` None, an int or a PortableRNG): the noise is Philox made in
  registers, never written to memory. An int seed there means the stream of
  ``PortableRNG(seed)``; ``None`` a fresh key drawn on the device from the
  default generator. ``GUMBELXP_CUPY_FUSED=0`` (or ``use_fused = False``)
  turns them off.

Importing this module needs CuPy, not a GPU: only using it does.
"""

from __future__ import annotations

import contextlib
from typing import Any

import cupy

from . import _cupy_kernels
from ._base import Backend, check_seed


def _on(device: Any):
    """A context making ``device`` current (no-op for None)."""
    if device is None:
        return contextlib.nullcontext()
    if isinstance(device, int):
        return cupy.cuda.Device(device)
    return device


_open_unit_kernel = None


def _open_unit(u: Any) -> Any:
    """Uniforms in [0, 1) (cuRAND's grid reaches below 2**-25) into the open
    interval, in place: only an exact 0 (or a 1 from rounding) moves."""
    global _open_unit_kernel
    if _open_unit_kernel is None:
        _open_unit_kernel = cupy.ElementwiseKernel(
            "", "T u",
            "if (!(u > (T)0)) u = (T)LO; else if (!(u < (T)1)) u = (T)1 - (T)HI;",
            "gumbelxp_open_unit",
            preamble="#define LO 2.9802322387695312e-08\n#define HI 5.9604644775390625e-08\n",
        )
    _open_unit_kernel(u)
    return u


class CupyBackend(Backend):
    name = "cupy"
    module = "cupy"
    namespace_module = "array_api_compat.cupy"
    generator_name = "cupy.random.Generator"

    #: use the fused kernels where they apply (tests turn this off for the
    #: generic reference path)
    use_fused: bool = _cupy_kernels.enabled()

    def array_types(self):
        return (cupy.ndarray,)

    def _generator_types(self) -> tuple[type, ...]:
        types: list[type] = [cupy.random.RandomState]
        try:  # lazy in CuPy: loads cuRAND
            types.append(cupy.random.Generator)
        except Exception:
            pass
        return tuple(types)

    def is_generator(self, obj: Any) -> bool:
        return isinstance(obj, self._generator_types())

    def default_generator(self, device=None):
        with _on(device):
            return cupy.random.get_random_state()

    def uniform(self, rng, shape, dtype, device):
        shape = tuple(shape)
        with _on(device):
            if rng is None:
                rng = cupy.random.get_random_state()
            elif isinstance(rng, int):
                rng = cupy.random.RandomState(check_seed(rng))
            if isinstance(rng, cupy.random.RandomState):
                u = rng.random_sample(shape, dtype=dtype)
            else:
                u = rng.random(shape, dtype=dtype)
            return _open_unit(u)

    def device(self, x):
        return x.device

    def to_numpy(self, x):
        return x.get()

    # -- fused fast paths ----------------------------------------------------
    def fused_gumbel_softmax(self, logits, tau, hard, axis, rng):
        if not (self.use_fused and _cupy_kernels.applies(logits, axis, tau, rng)):
            return None
        return _cupy_kernels.gumbel_softmax(logits, tau, hard, rng)

    def fused_gumbel_max(self, logits, axis, keepdims, rng):
        if not (self.use_fused and _cupy_kernels.applies(logits, axis, None, rng)):
            return None
        return _cupy_kernels.gumbel_max(logits, keepdims, rng)

    # -- information ---------------------------------------------------------
    def devices(self) -> list[str]:
        out = []
        for i in range(cupy.cuda.runtime.getDeviceCount()):
            name = cupy.cuda.runtime.getDeviceProperties(i)["name"]
            if isinstance(name, bytes):
                name = name.decode()
            out.append(f"cuda:{i} ({name})")
        return out

    def version(self) -> str:
        return cupy.__version__


BACKEND = CupyBackend()
