"""Backend adapters: everything that differs between array frameworks.

Rules (after einops' ``_backends.py`` and array-api-compat):

* Importing this package imports no framework. An adapter module is imported
  only once its framework is already in ``sys.modules`` (an array of it
  exists), or when the user names the framework explicitly (``xp="torch"``).
* The adapter for an array is found from ``type(x)`` and cached per type, so
  the lookup costs one dictionary access after the first call.
* A broken or missing framework never breaks the library: its adapter is
  simply not found.

Adding a framework is adding one module here with a :class:`Backend`
subclass and one line in ``_ADAPTERS``.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import sys
from collections.abc import Callable, Generator
from types import ModuleType
from typing import Any

from ._base import Backend

__all__ = [
    "Backend",
    "BACKEND_NAMES",
    "backend_of",
    "get_backend",
    "backend_of_namespace",
    "loaded_backends",
    "installed_backends",
    "resolve",
    "fast_path",
    "generic_only",
]

# name -> (adapter module, framework root module). Order matters for
# detection: wrappers (dask, cupy) are tried before numpy.
_ADAPTERS: dict[str, tuple[str, str]] = {
    "dask": ("._dask", "dask"),
    "cupy": ("._cupy", "cupy"),
    "torch": ("._torch", "torch"),
    "tensorflow": ("._tensorflow", "tensorflow"),
    "jax": ("._jax", "jax"),
    "array_api_strict": ("._array_api_strict", "array_api_strict"),
    "numpy": ("._numpy", "numpy"),
}
BACKEND_NAMES: tuple[str, ...] = (
    "numpy", "torch", "jax", "tensorflow", "cupy", "array_api_strict", "dask",
)

_instances: dict[str, Backend] = {}
_by_type: dict[type, Backend] = {}


def _load(name: str) -> Backend:
    be = _instances.get(name)
    if be is None:
        module, _ = _ADAPTERS[name]
        be = importlib.import_module(module, __name__).BACKEND
        _instances[name] = be
    return be


def loaded_backends() -> list[Backend]:
    """Adapters whose framework is already imported (nothing new is imported)."""
    out: list[Backend] = []
    for name, (_, root) in _ADAPTERS.items():
        if root in sys.modules:
            try:
                out.append(_load(name))
            except Exception:  # a broken install must not break the library
                continue
    return out


def backend_of(x: object) -> Backend:
    """The adapter that owns array ``x``.

    Raises
    ------
    TypeError
        If no adapter knows the type of ``x``; the message lists the
        supported backends.
    """
    t = type(x)
    be = _by_type.get(t)
    if be is not None:
        return be
    reject_unsupported(x)
    for candidate in loaded_backends():
        if candidate.handles(x):
            _by_type[t] = candidate
            return candidate
    raise TypeError(
        f"gumbelxp does not know arrays of type {t.__module__}.{t.__qualname__}; "
        f"supported backends: {', '.join(BACKEND_NAMES)}"
    )


def reject_unsupported(x: object) -> None:
    """TypeError for array types that look supported but are not: NumPy's
    ``matrix``, whose ``*`` and ``**`` are matrix products."""
    np = sys.modules.get("numpy")
    if np is not None and isinstance(x, np.matrix):
        raise TypeError("numpy.matrix is not supported (its * and ** are matrix products, "
                        "not the array API's elementwise ones): pass np.asarray(x)")


def get_backend(name: str) -> Backend:
    """The adapter named ``name``, importing its framework if needed."""
    if name not in _ADAPTERS:
        raise ValueError(
            f"unknown backend {name!r}; supported backends: {', '.join(BACKEND_NAMES)}"
        )
    try:
        return _load(name)
    except ImportError as e:
        raise ImportError(
            f"backend {name!r} needs its framework installed: "
            f"pip install 'gumbelxp[{name.replace('array_api_strict', 'strict')}]'"
        ) from e


def backend_of_namespace(xp: ModuleType | str) -> Backend:
    """The adapter for a namespace given as a module (``numpy``, ``torch``,
    ``jax.numpy``, ``array_api_compat.numpy``, ...) or as a backend name."""
    if isinstance(xp, str):
        return get_backend(xp)
    modname = getattr(xp, "__name__", "")
    if modname.startswith("array_api_compat."):
        modname = modname[len("array_api_compat."):]
    root = modname.split(".")[0]
    for name, (_, fw_root) in _ADAPTERS.items():
        if root == fw_root:
            return get_backend(name)
    for be in loaded_backends():  # e.g. our own TensorFlow namespace object
        if be.namespace is xp:
            return be
    raise TypeError(
        f"unknown array namespace {xp!r}; supported backends: {', '.join(BACKEND_NAMES)}"
    )


def installed_backends() -> list[str]:
    """Names of the backends whose framework can be imported (imports nothing)."""
    import importlib.util

    return [n for n in BACKEND_NAMES if importlib.util.find_spec(_ADAPTERS[n][1]) is not None]


def resolve(like: Any = None, xp: Any = None, device: Any = None,
            dtype: Any = None) -> tuple[Backend, Any, Any]:
    """``(backend, device, dtype)`` for creating an array: the backend of
    ``like`` (an array) or of ``xp`` (a namespace or a backend name), NumPy if
    neither; ``device`` and ``dtype`` default to ``like``'s, else the
    namespace's default device (None) and default float. A ``dtype`` may be a
    name (``"float32"``) and must be real floating (else TypeError)."""
    if like is not None:
        be = backend_of(like)
        if xp is not None and backend_of_namespace(xp) is not be:
            raise TypeError(f"like= is a {be.name} array but xp= names another namespace")
        if device is None:
            device = be.device(like)
        if dtype is None:
            dtype = like.dtype
    else:
        be = backend_of_namespace(xp) if xp is not None else get_backend("numpy")
    ns = be.namespace
    if dtype is None:
        dtype = ns.asarray(0.0).dtype
    elif isinstance(dtype, str):
        name = dtype
        dtype = getattr(ns, name, None)
        if dtype is None:
            raise TypeError(f"{be.name} has no dtype {name!r}")
    if not ns.isdtype(dtype, "real floating"):
        raise TypeError(f"dtype must be real floating, got {dtype}")
    return be, device, dtype


_GENERIC_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "gumbelxp_generic_only", default=False)


def fast_path(be: Backend, name: str) -> Callable[..., Any] | None:
    """The adapter's whole-call fast path for public function ``name``, or
    None (none, or turned off by :func:`generic_only`)."""
    if _GENERIC_ONLY.get():
        return None
    return be.fast_paths.get(name)


@contextlib.contextmanager
def generic_only() -> Generator[None, None, None]:
    """Within this context (thread, task), every call takes the generic path:
    the reference each fast path is compared with."""
    token = _GENERIC_ONLY.set(True)
    try:
        yield
    finally:
        _GENERIC_ONLY.reset(token)
