"""Test support shared by ``tests/``, ``conformance/`` and ``gumbelxp check``.

Which backends to run is read from the environment variable
``GUMBELXP_BACKENDS`` (comma-separated names, e.g. ``numpy,torch``); unset
means every installed backend that can run here (CuPy only with a GPU).
Naming a backend that cannot run is an error, not a silent skip.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .backends import BACKEND_NAMES, Backend, get_backend, installed_backends

ENV_VAR = "GUMBELXP_BACKENDS"

#: (rtol, atol) by dtype name: the one tolerance table of the test suites
TOLERANCES: dict[str, tuple[float, float]] = {
    "float16": (2e-3, 1e-3),
    "bfloat16": (1.6e-2, 8e-3),
    "float32": (1e-5, 1e-6),
    "float64": (1e-12, 1e-14),
}


def unavailable_reason(name: str) -> str | None:
    """Why backend ``name`` cannot run here, or None if it can."""
    if name not in BACKEND_NAMES:
        return f"unknown backend {name!r} (known: {', '.join(BACKEND_NAMES)})"
    if name not in installed_backends():
        return f"{name} is not installed"
    try:
        be = get_backend(name)
    except Exception as e:  # a broken install
        return f"{name} failed to import: {e}"
    if name == "cupy":
        try:
            import cupy

            if cupy.cuda.runtime.getDeviceCount() < 1:
                return "CuPy is installed but no CUDA device is present"
        except Exception as e:
            return f"CuPy is installed but no CUDA device can be used ({type(e).__name__})"
    del be
    return None


def selected_backends() -> list[str]:
    """The backend names to test: ``$GUMBELXP_BACKENDS`` or all runnable ones."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        names = [n.strip() for n in env.split(",") if n.strip()]
        for n in names:
            why = unavailable_reason(n)
            if why:
                raise RuntimeError(f"{ENV_VAR} names {n!r}, which cannot run: {why}")
        return names
    return [n for n in BACKEND_NAMES if unavailable_reason(n) is None]


def float_dtypes(be: Backend) -> list[str]:
    """The floating dtype names this backend supports, half precision first."""
    xp = be.namespace
    out = []
    for name in ("float16", "bfloat16", "float32", "float64"):
        dt = getattr(xp, name, None)
        if dt is None:
            continue
        try:
            x = xp.astype(xp.asarray([1.0]), dt)
        except Exception:
            continue
        if dtype_name(x) != name:  # str(tf.float32) is "<dtype: 'float32'>"
            continue  # e.g. JAX without x64 silently gives float32 for float64
        out.append(name)
    return out


def from_numpy(be: Backend, a: Any, dtype: str | None = None, device: Any = None) -> Any:
    """A NumPy array as an array of ``be`` (optionally cast to ``dtype``)."""
    xp = be.namespace
    a = np.asarray(a)
    x = xp.asarray(a, device=device) if device is not None else xp.asarray(a)
    if dtype is not None:
        x = xp.astype(x, getattr(xp, dtype))
    return x


def to_numpy(x: Any) -> np.ndarray:
    """Any supported array as a NumPy array (bfloat16 becomes float32)."""
    from .backends import backend_of

    return np.asarray(backend_of(x).to_numpy(x))


def dtype_name(x: Any) -> str:
    return str(x.dtype).split(".")[-1].replace("'>", "").replace("<dtype: '", "")


def assert_close(actual: Any, expected: Any, dtype: str | None = None,
                 rtol: float | None = None, atol: float | None = None) -> None:
    """Compare an array of any backend with a NumPy reference, using the
    tolerance of ``dtype`` (default: ``actual``'s dtype)."""
    dtype = dtype or dtype_name(actual)
    r, a = TOLERANCES.get(dtype, TOLERANCES["float32"])
    np.testing.assert_allclose(
        to_numpy(actual).astype(np.float64), np.asarray(expected, dtype=np.float64),
        rtol=r if rtol is None else rtol, atol=a if atol is None else atol,
    )
