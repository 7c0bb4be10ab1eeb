"""The adapter interface: one subclass per framework, the same names in each.

An adapter holds only what the array API standard lacks: which arrays it
owns, its namespace, its native random generators, ``stop_gradient``, and
conversion to NumPy for tests and the command line. Every algorithm lives
once in :mod:`gumbelxp`, written against ``namespace``.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any


class Backend:
    """Base adapter. Subclasses set the class attributes and override the
    methods marked *required*; the others have generic defaults."""

    #: the name users pass as ``xp="..."``
    name: str = ""
    #: the framework's top-level module, looked up in ``sys.modules``
    module: str = ""
    #: whether gradients flow (so straight-through needs ``stop_gradient``)
    has_autograd: bool = False
    #: whether the framework has a global random state (JAX does not)
    has_global_rng: bool = True
    #: human-readable name of the native generator type, for error messages
    generator_name: str = ""

    # -- arrays and namespace ------------------------------------------------
    def array_types(self) -> tuple[type, ...]:  # required
        raise NotImplementedError

    def handles(self, x: Any) -> bool:
        """Whether ``x`` is an array of this framework."""
        return isinstance(x, self.array_types())

    #: module path of the array-API namespace (array-api-compat's wrapper
    #: by default); an adapter may instead override ``namespace``
    namespace_module: str = ""

    @cached_property
    def namespace(self) -> Any:
        """The array-API namespace for this framework's arrays."""
        import importlib

        return importlib.import_module(self.namespace_module)

    def asarray(self, obj: Any, dtype: Any = None, device: Any = None) -> Any:
        return self.namespace.asarray(obj, dtype=dtype, device=device)

    def shape(self, x: Any) -> tuple:
        """``x``'s shape as a tuple (an entry may be symbolic while tracing)."""
        return tuple(x.shape)

    def device(self, x: Any) -> Any:
        import array_api_compat

        return array_api_compat.device(x)

    def default_float(self) -> Any:
        return self.namespace.asarray(0.0).dtype

    def to_numpy(self, x: Any) -> Any:
        import numpy as np

        return np.asarray(x)

    # -- random numbers ------------------------------------------------------
    def is_generator(self, obj: Any) -> bool:  # required
        raise NotImplementedError

    def uniform(self, rng: Any, shape: tuple[int, ...], dtype: Any, device: Any) -> Any:
        """Uniform variates on the *open* interval (0, 1), of ``dtype`` (float32
        or float64) on ``device``, from ``rng``: ``None`` (the framework's
        default generator), an ``int`` seed, or a native generator."""
        raise NotImplementedError  # required

    #: integer dtype name PortableRNG computes Philox in: a 64-bit one
    #: (products of two 32-bit words fit) or "uint32" (16-bit limb products)
    philox_int: str = "uint64"

    def philox_int_dtype(self) -> Any:
        return getattr(self.namespace, self.philox_int)

    def seeded_generator(self, seed: int) -> Any:
        """A *native* generator seeded with ``seed``, for the checks of the
        framework's own sampler (default: the int, where an int seed already
        draws natively)."""
        return seed

    def as_counter_rng(self, rng: Any) -> Any:
        """The :class:`~gumbelxp.PortableRNG` that an already checked ``rng``
        stands for on this backend, or ``rng`` itself where the framework draws
        natively (the default). Dask turns every ``rng`` into one, so that its
        chunks can compute their noise independently."""
        return rng

    def portable_noise(self, rng: Any, shape: tuple[int, ...], dtype: Any, device: Any,
                       like: Any = None) -> Any:
        """Standard Gumbel noise of ``shape`` from PortableRNG ``rng`` (its
        counter advances). ``like`` is the array the noise is for, or None: an
        adapter may follow its layout (Dask: its chunks, each chunk computing
        only its own counter range). The default draws the whole at once."""
        return rng.gumbel_noise(self.namespace, self.philox_int_dtype(), shape, dtype, device)

    # -- layout --------------------------------------------------------------
    def whole_axis(self, x: Any, axis: int) -> Any:
        """``x`` with ``axis`` held whole by every piece of it, so that
        reductions along ``axis`` run piece by piece and give the same bits
        however ``x`` is split (Dask: one chunk along ``axis``, the other axes'
        chunks unchanged). Identity for in-memory arrays."""
        return x

    # -- fused fast paths ----------------------------------------------------
    def fused_gumbel_softmax(self, logits: Any, tau: Any, hard: bool, axis: int,
                             rng: Any) -> Any:
        """A fused ``gumbel_softmax`` for this framework, or ``None`` (the
        default) where there is none and the generic path runs.

        Called after every check, with the user's ``logits`` (input dtype),
        ``axis`` normalised, ``tau`` a Python float or a checked array,
        ``rng`` checked (None, int, native generator or PortableRNG) and no
        ``noise=``. It must return what the generic path returns (namespace,
        device, shape, dtype; within float tolerance) and advance a
        PortableRNG by the words the generic path would use."""
        return None

    def fused_gumbel_max(self, logits: Any, axis: int, keepdims: bool, rng: Any) -> Any:
        """A fused ``gumbel_max``, or ``None``; as :meth:`fused_gumbel_softmax`."""
        return None

    # -- autograd ------------------------------------------------------------
    def stop_gradient(self, x: Any) -> Any:
        """``x`` with no gradient flowing back through it (identity here)."""
        return x

    def vjp(self, f: Any, args: tuple, cotangent: Any) -> tuple[Any, tuple]:
        """``(f(*args), grads)``: the gradient of ``sum(f(*args) * cotangent)``
        with respect to each array in ``args``. For tests, ``gumbelxp check``
        and benchmarks; raises TypeError where there is no autograd."""
        raise TypeError(f"{self.name} has no automatic differentiation")

    def needs_grad(self, *xs: Any) -> bool:
        """Whether a gradient may be taken through any of ``xs`` (arrays or
        Python numbers). False lets the core skip what only the backward pass
        needs (the soft sample under ``hard=True``). Default: whenever the
        framework has autograd, since a tracer cannot tell."""
        return self.has_autograd

    # -- fast paths ----------------------------------------------------------
    # Primitives the core calls instead of plain namespace expressions so that
    # an adapter can do them faster. The generic versions below are the plain
    # expressions; an override must return the same values. The trailing
    # ``_`` ones may overwrite their first argument, which the caller owns (a
    # temporary nothing else refers to) and has the result's shape and dtype.
    def exponential(self, rng: Any, shape: tuple[int, ...], dtype: Any, device: Any) -> Any:
        """Standard exponential variates ``E = -log(u)``, ``u`` from
        :meth:`uniform`: finite and > 0, so that ``exp(-g) = E`` for Gumbel
        noise ``g = -log(E)``."""
        return -self.namespace.log(self.uniform(rng, shape, dtype, device))

    def exp_(self, x: Any) -> Any:
        return self.namespace.exp(x)

    def log_(self, x: Any) -> Any:
        return self.namespace.log(x)

    def neg_(self, x: Any) -> Any:
        return -x

    def sub_(self, a: Any, b: Any) -> Any:
        return a - b

    def div_(self, a: Any, b: Any) -> Any:
        return a / b

    def one_hot(self, idx: Any, like: Any, axis: int, nan: Any = None) -> Any:
        """Exactly one-hot: an array of ``like``'s shape, dtype and device,
        1 where the position along ``axis`` equals ``idx`` (indices with
        ``axis`` kept, size 1), else 0; plus ``nan`` if given (per slice,
        shaped like ``idx``: 0, or NaN to poison the slice)."""
        xp = self.namespace
        shape = self.shape(like)
        ar_shape = [1] * len(shape)
        ar_shape[axis] = shape[axis]
        ar = xp.reshape(xp.arange(shape[axis], dtype=idx.dtype, device=self.device(like)),
                        tuple(ar_shape))
        y = xp.astype(idx == ar, like.dtype)
        return y if nan is None else self.sub_(y, nan)

    def one_hot_argmax(self, scores: Any, like: Any, axis: int) -> Any:
        """Exact one-hot (``like``'s dtype) of ``argmax(scores)`` along
        ``axis``, one index per slice. For straight-through, where a slice of
        ``scores`` holding NaN gives a NaN row anyway, so an adapter may use
        an argmax that skips NaN."""
        return self.one_hot(self.namespace.argmax(scores, axis=axis, keepdims=True), like, axis)

    def softmax(self, z: Any, axis: int) -> Any:
        """``softmax(z)`` along ``axis`` for ``z`` already shifted by its
        maximum (a temporary: it may be overwritten)."""
        e = self.exp_(z)
        return self.div_(e, self.namespace.sum(e, axis=axis, keepdims=True))

    def softmax_exp_noise(self, x: Any, e_noise: Any, axis: int) -> Any:
        """``softmax(x - log(E))`` along ``axis``, ``E = e_noise`` from
        :meth:`exponential` (a temporary: it may be overwritten): the
        Gumbel-Softmax sample at tau = 1, as ``x - log(E) = x + g``.

        Generic: one log fewer than forming ``g``, ``exp(x - max x) / E``
        normalised. ``exp(x - max x) <= 1`` and ``E`` is finite and > 0, so
        valid input cannot overflow (the largest ``x + g`` has
        ``x - max x > -20``, so the sum is > 0); a ``-inf`` logit gives
        exactly 0; a slice with NaN, +inf or only -inf is NaN."""
        xp = self.namespace
        m = self.stop_gradient(xp.max(x, axis=axis, keepdims=True))
        e = self.div_(self.exp_(x - m), e_noise)
        return self.div_(e, xp.sum(e, axis=axis, keepdims=True))

    # -- execution -----------------------------------------------------------
    def is_concrete(self, x: Any) -> bool:
        """Whether the values of ``x`` can be read now (False while tracing)."""
        return True

    # -- information ---------------------------------------------------------
    def version(self) -> str:
        import sys

        return str(getattr(sys.modules[self.module], "__version__", "?"))

    def devices(self) -> list[str]:
        return ["cpu"]

    def __repr__(self) -> str:
        return f"<gumbelxp backend {self.name}>"


def check_seed(seed: int) -> int:
    if seed < 0 or seed >= 2**64:
        raise ValueError(f"a seed must be an integer in [0, 2**64), got {seed}")
    return seed
