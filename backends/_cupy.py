"""CuPy adapter: arrays, generators and noise on the array's GPU.

* ``rng=None`` is CuPy's default generator of the array's device,
  ``cupy.random.get_random_state()`` (the one ``cupy.random.seed`` seeds);
  an ``int`` seed means ``PortableRNG(seed)``, whose stream the fused
  kernels compute too; a ``cupy.random.Generator`` (or a ``RandomState``)
  is used as is. Uniforms are drawn on the device and moved into the open
  interval there.
* The fast paths ``gumbel_softmax`` and ``gumbel_max`` run the fused kernels
  of :mod:`._cupy_kernels` where they apply (last axis, ``rng`` None, an int
  or a PortableRNG): the noise is Philox made in registers, never written to
  memory; ``None`` draws a fresh key on the device from the default
  generator. ``GUMBELXP_CUPY_FUSED=0`` turns them off.

Importing this module needs CuPy, not a GPU: only using it does.
"""

from __future__ import annotations

import contextlib
from typing import Any

from . import _cupy_kernels
from ._base import Backend

#: CuPy (ImportError without it); ``Any`` to type checkers: no type information
cupy: Any = _cupy_kernels.cupy_module()


def _on(device: Any) -> Any:
    """A context making ``device`` current (no-op for None)."""
    if device is None:
        return contextlib.nullcontext()
    if isinstance(device, int):
        return cupy.cuda.Device(device)
    return device


_open_unit_kernel: Any = None


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


def _gumbel_softmax(x: Any, tau: Any, hard: bool, axis: int, rng: Any) -> Any:
    if not _cupy_kernels.applies(x, axis, tau, rng):
        return None
    return _cupy_kernels.gumbel_softmax(x, tau, hard, rng)


def _gumbel_max(x: Any, axis: int, keepdims: bool, rng: Any) -> Any:
    if not _cupy_kernels.applies(x, axis, None, rng):
        return None
    return _cupy_kernels.gumbel_max(x, keepdims, rng)


class CupyBackend(Backend):
    name = "cupy"
    namespace_module = "array_api_compat.cupy"
    generator_name = "cupy.random.Generator"
    fast_paths = {"gumbel_softmax": _gumbel_softmax, "gumbel_max": _gumbel_max}

    def handles(self, x: Any) -> bool:
        return isinstance(x, cupy.ndarray)

    def _generator_types(self) -> tuple[type, ...]:
        types: list[type] = [cupy.random.RandomState]
        try:  # lazy in CuPy: loads cuRAND
            types.append(cupy.random.Generator)
        except Exception:
            pass
        return tuple(types)

    def is_generator(self, obj: Any) -> bool:
        return isinstance(obj, self._generator_types())

    def portable_seed(self, rng: Any) -> int | None:
        """An int seed is ``PortableRNG(seed)``: the fused kernels' stream."""
        return rng if isinstance(rng, int) else None

    def uniform(self, rng: Any, shape: tuple[int, ...], dtype: Any, device: Any,
                like: Any = None) -> Any:
        shape = tuple(shape)
        with _on(device):
            if rng is None:
                rng = cupy.random.get_random_state()
            if isinstance(rng, cupy.random.RandomState):
                u = rng.random_sample(shape, dtype=dtype)
            else:
                u = rng.random(shape, dtype=dtype)
            return _open_unit(u)

    def device(self, x: Any) -> Any:
        return x.device

    def info(self) -> dict[str, Any]:
        out: list[str] = []
        for i in range(cupy.cuda.runtime.getDeviceCount()):
            name = cupy.cuda.runtime.getDeviceProperties(i)["name"]
            if isinstance(name, bytes):
                name = name.decode()
            out.append(f"cuda:{i} ({name})")
        return {"version": cupy.__version__, "devices": out}


BACKEND = CupyBackend()
