"""Test support for ``tests/``, ``conformance/`` and ``gumbelxp check``.

* :data:`CAPABILITIES`: what each backend supports, the one table that the
  test markers and the README's backend matrix are both read from
  (:func:`backend_matrix` writes the latter).
* :class:`Target`: a backend as the tests see it, possibly a variant: a
  read-only NumPy (``numpy:readonly``, so that a path writing into user
  memory fails) or array-api-strict on a non-default device
  (``array_api_strict:device1``, so device propagation is tested on the
  CPU). It converts from and to NumPy and takes gradients.
* :func:`selected_targets`: the backends to run, from ``$GUMBELXP_BACKENDS``
  (comma-separated ids, e.g. ``numpy,torch``); unset means every backend
  that can run here, with the variants. Naming one that cannot run is an
  error, not a silent skip.
* :data:`TOLERANCES` and :func:`assert_close`.

This module imports frameworks on purpose, when a test asks for them.
"""

# pyright: standard
# (test support and benchmarks: not strict, see [tool.mypy.overrides] in pyproject.toml)

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gumbelxp.backends import BACKEND_NAMES, Backend, backend_of, get_backend, installed_backends

ENV_VAR = "GUMBELXP_BACKENDS"

#: (rtol, atol) by dtype name: the one tolerance table of the test suites
TOLERANCES: dict[str, tuple[float, float]] = {
    "float16": (2e-3, 1e-3),
    "bfloat16": (1.6e-2, 8e-3),
    "float32": (1e-5, 1e-6),
    "float64": (1e-12, 1e-14),
}


@dataclass(frozen=True)
class Capabilities:
    """What a backend supports; each field is a row of the README's matrix."""

    arrays: str
    namespace: str
    rng_none: str
    int_seed: str
    native: str
    autograd: str = "-"
    compiled: str = "-"
    half: str = "-"
    float64: str = "yes"
    tested: str = "CI"
    #: the feature names tests may require (``@pytest.mark.needs(...)``)
    features: frozenset[str] = field(default_factory=frozenset)


CAPABILITIES: dict[str, Capabilities] = {
    "numpy": Capabilities(
        "`ndarray`", "array-api-compat", "module-level `Generator` (reseeded in forked children)",
        "`PortableRNG(seed)`", "`numpy.random.Generator` (any bit generator)",
        half="float16", features=frozenset({"float16", "in_place", "global_rng"})),
    "torch": Capabilities(
        "`Tensor` (CPU, CUDA)", "array-api-compat", "the device's default generator "
        "(`torch.manual_seed`)", "`torch.Generator` on the device", "`torch.Generator`",
        autograd="autograd", compiled="`torch.compile`", half="both",
        features=frozenset({"autograd", "float16", "bfloat16", "in_place", "global_rng"})),
    "jax": Capabilities(
        "`jax.Array`, tracers, sharded arrays", "`jax.numpy`", "`ValueError`: pass a key",
        "`jax.random.key`", "key (typed or raw)", autograd="`grad`, `vjp`",
        compiled="`jit`, `vmap`", half="both", float64="with `jax_enable_x64`",
        features=frozenset({"autograd", "float16", "bfloat16", "tracing"})),
    "tensorflow": Capabilities(
        "`tf.Tensor`, `tf.Variable`", "gumbelxp's own, on TF ops",
        "the global seed's sequence (`tf.random.set_seed`)",
        "stateless Philox (same in eager, graph, XLA)",
        "`tf.random.Generator`, stateless seed pairs", autograd="`GradientTape`",
        compiled="`tf.function`, `jit_compile=True`", half="both",
        features=frozenset({"autograd", "float16", "bfloat16", "tracing", "global_rng"})),
    "cupy": Capabilities(
        "`ndarray` (GPU)", "array-api-compat", "the device's default generator",
        "`PortableRNG(seed)` (fused kernels)", "`cupy.random.Generator`",
        compiled="fused kernels", half="float16",
        tested="not yet run: no GPU here (its tests skip)",
        features=frozenset({"float16", "global_rng"})),
    "array_api_strict": Capabilities(
        "its `Array`, on any of its devices", "itself", "NumPy's module-level one",
        "`PortableRNG(seed)`", "`numpy.random.Generator`",
        features=frozenset({"global_rng"})),
    "dask": Capabilities(
        "`dask.array.Array` (lazy)", "array-api-compat", "a fresh Philox key",
        "`PortableRNG(seed)`", "NumPy/Dask `Generator` (draws a key)",
        compiled="lazy graph", half="float16 (computed in float32)",
        tested="CI, 2-process cluster", features=frozenset({"lazy", "global_rng"})),
}

#: the backend variants run besides the plain backends: id -> why
VARIANTS: dict[str, str] = {
    "numpy:readonly": "inputs are read-only arrays: no path may write into user memory",
    "array_api_strict:device1": "inputs live on a non-default device: outputs must follow",
}


def unavailable_reason(name: str) -> str | None:
    """Why backend ``name`` cannot run here, or None if it can."""
    if name not in BACKEND_NAMES:
        return f"unknown backend {name!r} (known: {', '.join(BACKEND_NAMES)})"
    if name not in installed_backends():
        return f"{name} is not installed"
    try:
        get_backend(name)
    except Exception as e:  # a broken install
        return f"{name} failed to import: {e}"
    if name == "cupy":
        try:
            import cupy  # pyright: ignore[reportMissingImports]  (only with a GPU)

            if cupy.cuda.runtime.getDeviceCount() < 1:
                return "CuPy is installed but no CUDA device is present"
        except Exception as e:
            return f"CuPy is installed but no CUDA device can be used ({type(e).__name__})"
    return None


def runnable_backends(names: list[str] | None = None) -> list[str]:
    """The backend names (no variants) that can run here, of ``names`` or all."""
    return [n for n in (names or BACKEND_NAMES) if unavailable_reason(n) is None]


def selected_targets(env: str | None = None) -> list[str]:
    """Target ids to test: ``$GUMBELXP_BACKENDS``, or every runnable backend
    and its variants."""
    env = os.environ.get(ENV_VAR, "") if env is None else env
    names = [n.strip() for n in env.split(",") if n.strip()]
    if names:
        for n in names:
            why = unavailable_reason(n.split(":")[0])
            if why is None and ":" in n and n not in VARIANTS:
                why = f"unknown variant (known: {', '.join(VARIANTS)})"
            if why:
                raise RuntimeError(f"{ENV_VAR} names {n!r}, which cannot run: {why}")
        return names
    out = runnable_backends()
    return out + [v for v in VARIANTS if v.split(":")[0] in out]


def selected_backends() -> list[str]:
    """The plain backend names among the selected targets."""
    return list(dict.fromkeys(t.split(":")[0] for t in selected_targets()))


@dataclass(frozen=True)
class Target:
    """A backend as the tests see it: ``id`` is ``name`` or ``name:variant``.
    Attributes it does not have come from the adapter (``namespace``, ...)."""

    id: str

    @property
    def name(self) -> str:
        return self.id.split(":")[0]

    @property
    def variant(self) -> str | None:
        return self.id.split(":")[1] if ":" in self.id else None

    @property
    def adapter(self) -> Backend:
        return get_backend(self.name)

    @property
    def xp(self) -> Any:
        return self.adapter.namespace

    @property
    def caps(self) -> Capabilities:
        return CAPABILITIES[self.name]

    def has(self, feature: str) -> bool:
        return feature in self.caps.features

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self.adapter, attr)

    @property
    def input_device(self) -> Any:
        """The device inputs are created on (None: the default)."""
        if self.id == "array_api_strict:device1":
            import array_api_strict

            return array_api_strict.Device("device1")
        return None

    def asarray(self, a: Any, dtype: str | None = None) -> Any:
        """A NumPy array (or nested list) as an array of this target."""
        a = np.asarray(a)
        if self.variant == "readonly":
            a = np.array(a, dtype=dtype) if dtype else a.copy()
            a.flags.writeable = False
            return a
        xp = self.xp
        dev = self.input_device
        x = xp.asarray(a, device=dev) if dev is not None else xp.asarray(a)
        return x if dtype is None else xp.astype(x, getattr(xp, dtype))

    def dtypes(self) -> list[str]:
        """The floating dtype names this backend supports, half precision first."""
        xp = self.xp
        out: list[str] = []
        for name in ("float16", "bfloat16", "float32", "float64"):
            dt = getattr(xp, name, None)
            if dt is None:
                continue
            try:
                x = xp.astype(xp.asarray([1.0]), dt)
            except Exception:
                continue
            if dtype_name(x) == name:  # JAX without x64 gives float32 for float64
                out.append(name)
        return out

    def vjp(self, f: Any, args: tuple[Any, ...], cotangent: Any) -> tuple[Any, tuple[Any, ...]]:
        """``(f(*args), grads)``: the gradient of ``sum(f(*args) * cotangent)``
        for each array in ``args``; TypeError where there is no autograd."""
        return vjp(self.name, f, args, cotangent)

    def native_generator(self, seed: int) -> Any:
        """A native generator seeded with ``seed`` (JAX: a key)."""
        return native_generator(self.name, seed)


def from_numpy(be: Any, a: Any, dtype: str | None = None, device: Any = None) -> Any:
    """A NumPy array as an array of ``be`` (a target, adapter or name)."""
    if isinstance(be, Target):
        return be.asarray(a, dtype)
    name = be if isinstance(be, str) else be.name
    xp = get_backend(name).namespace
    a = np.asarray(a)
    x = xp.asarray(a, device=device) if device is not None else xp.asarray(a)
    return x if dtype is None else xp.astype(x, getattr(xp, dtype))


def to_numpy(x: Any) -> np.ndarray:
    """Any supported array as a NumPy array (bfloat16 becomes float32)."""
    name = backend_of(x).name
    if name == "torch":
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":
            x = x.float()
        return x.numpy()
    if name == "tensorflow":
        import tensorflow as tf

        if x.dtype == tf.bfloat16:
            x = tf.cast(x, tf.float32)
        return np.asarray(x.numpy())
    if name == "cupy":
        return x.get()
    if name == "dask":
        return np.asarray(x.compute())
    if name == "array_api_strict":
        import array_api_strict

        x = x.to_device(array_api_strict.Device("CPU_DEVICE"))
    out = np.asarray(x)
    return out.astype(np.float32) if out.dtype.name == "bfloat16" else out


def vjp(name: str, f: Any, args: tuple[Any, ...], cotangent: Any) -> tuple[Any, tuple[Any, ...]]:
    """``(f(*args), grads)`` on backend ``name`` (see :meth:`Target.vjp`)."""
    if name == "torch":
        import torch

        args = tuple(a.detach().requires_grad_(True) for a in args)
        out = f(*args)
        grads = torch.autograd.grad(out, args, cotangent, allow_unused=True)
        return out.detach(), tuple(grads)
    if name == "jax":
        import jax

        out, pull = jax.vjp(f, *args)
        return out, tuple(pull(cotangent))
    if name == "tensorflow":
        import tensorflow as tf

        args = tuple(tf.convert_to_tensor(a) for a in args)
        with tf.GradientTape() as tape:
            for a in args:
                tape.watch(a)
            out = f(*args)
        return out, tuple(tape.gradient(out, list(args), output_gradients=cotangent))
    raise TypeError(f"{name} has no automatic differentiation")


def native_generator(name: str, seed: int) -> Any:
    """A native generator of backend ``name`` seeded with ``seed``."""
    if name in ("numpy", "array_api_strict", "dask"):
        return np.random.default_rng(seed)
    if name == "torch":
        import torch

        return torch.Generator().manual_seed(seed)
    if name == "jax":
        import jax

        return jax.random.key(seed)
    if name == "tensorflow":
        import tensorflow as tf

        return tf.random.Generator.from_seed(seed)
    if name == "cupy":
        import cupy  # pyright: ignore[reportMissingImports]  (only with a GPU)

        return cupy.random.default_rng(seed)
    raise ValueError(name)


def dtype_name(x: Any) -> str:
    return str(x.dtype).split(".")[-1].replace("'>", "").replace("<dtype: '", "")


def float_dtypes(be: Any) -> list[str]:
    """The floating dtype names backend ``be`` supports, half precision first."""
    return Target(be if isinstance(be, str) else be.name).dtypes()


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


def backend_matrix() -> str:
    """The README's backend matrix, as a Markdown table, from :data:`CAPABILITIES`."""
    names = list(CAPABILITIES)
    titles = {"numpy": "NumPy", "torch": "PyTorch", "jax": "JAX", "tensorflow": "TensorFlow",
              "cupy": "CuPy", "array_api_strict": "array-api-strict", "dask": "Dask"}
    rows = [("arrays", "arrays"), ("namespace", "namespace"), ("`rng=None`", "rng_none"),
            ("`int` seed", "int_seed"), ("native generator", "native"),
            ("gradients", "autograd"), ("compiled", "compiled"),
            ("float16 / bfloat16", "half"), ("float64", "float64"), ("tested", "tested")]
    out = ["| | " + " | ".join(titles[n] for n in names) + " |",
           "|---|" + "---|" * len(names)]
    for title, attr in rows:
        out.append(f"| {title} | " + " | ".join(getattr(CAPABILITIES[n], attr)
                                                 for n in names) + " |")
    return "\n".join(out)
