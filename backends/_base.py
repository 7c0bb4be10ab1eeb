"""The adapter interface: what the array API standard lacks, one subclass per
framework, the same names in each.

An adapter answers five questions the standard leaves open, plus one offer:

* **which arrays** are its framework's (:meth:`Backend.handles`), and their
  namespace, device and shape (:attr:`~Backend.namespace`,
  :meth:`~Backend.device`, :meth:`~Backend.shape`);
* **random numbers**: which objects are its native generators, uniforms on
  the open interval (0, 1) from them, and which ``rng`` values stand for a
  portable Philox stream (:meth:`~Backend.is_generator`,
  :meth:`~Backend.uniform`, :meth:`~Backend.portable_seed`,
  :meth:`~Backend.portable_draw`);
* **autograd**: :meth:`~Backend.stop_gradient`, :meth:`~Backend.needs_grad`;
* **execution and layout**: whether values can be read now
  (:meth:`~Backend.is_concrete`, False while tracing), and how to hold an
  axis whole (:meth:`~Backend.whole_axis`, Dask);
* **information** for the command line (:meth:`~Backend.info`);
* and **whole-call fast paths** (:attr:`~Backend.fast_paths`): a framework
  that does a whole public function faster its own way (in place, a fused
  kernel) supplies it, with the generic function of :mod:`gumbelxp` as its
  reference. A fast path may decline a call by returning ``None``.

Everything else, every algorithm, is written once in :mod:`gumbelxp` against
:attr:`~Backend.namespace`. Test-only needs (gradients, conversion to NumPy,
seeded native generators) live in :mod:`gumbelxp.conformance.support`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any


class Backend:
    """Base adapter. Subclasses set :attr:`name`, :attr:`generator_name` and
    :attr:`namespace_module` (or override :attr:`namespace`) and implement
    :meth:`handles`, :meth:`is_generator` and :meth:`uniform`; everything
    else has a generic default."""

    #: the name users pass as ``xp="..."``
    name: str = ""
    #: the native generator type in words, for error messages
    generator_name: str = ""
    #: the module path of the array-API namespace
    namespace_module: str = ""
    #: the integer dtype PortableRNG's Philox rounds run in: a 64-bit one
    #: (``"uint64"``, or ``"int64"`` where unsigned ops are missing: its
    #: wrapping product keeps the low 64 bits) or ``"uint32"`` (16-bit limbs)
    philox_int: str = "uint64"
    #: whole-call fast paths, by public function name (see the module docstring)
    fast_paths: Mapping[str, Callable[..., Any]] = {}

    # -- arrays --------------------------------------------------------------
    def handles(self, x: Any) -> bool:  # required
        """Whether ``x`` is an array of this framework."""
        raise NotImplementedError

    @cached_property
    def namespace(self) -> Any:
        """The array-API namespace for this framework's arrays."""
        import importlib

        return importlib.import_module(self.namespace_module)

    def device(self, x: Any) -> Any:
        """``x``'s device (None where it has none yet, e.g. while tracing)."""
        import array_api_compat

        # (its annotation names CuPy's array, unknown to pyright without CuPy)
        return array_api_compat.device(x)  # pyright: ignore[reportUnknownMemberType]

    def shape(self, x: Any) -> tuple[Any, ...]:
        """``x``'s shape as a tuple; an entry may be symbolic while tracing."""
        return tuple(x.shape)

    def is_concrete(self, x: Any) -> bool:
        """Whether the values of ``x`` can be read now (False while tracing)."""
        return True

    # -- random numbers ------------------------------------------------------
    def is_generator(self, obj: Any) -> bool:  # required
        """Whether ``obj`` is one of this framework's native generators (or
        another ``rng`` form only this framework takes, e.g. a TensorFlow
        stateless seed)."""
        raise NotImplementedError

    def uniform(self, rng: Any, shape: tuple[int, ...], dtype: Any, device: Any,
                like: Any = None) -> Any:
        """Uniform variates on the *open* interval (0, 1), of float ``dtype``
        (float32 or float64) on ``device``, from ``rng``: ``None`` (the
        framework's default source, seeded as its users expect), an ``int``
        seed (a fresh generator) or a native generator (advanced). ``like``
        is the array they are for, or None (as for :meth:`portable_draw`)."""
        raise NotImplementedError  # required

    def portable_seed(self, rng: Any) -> int | None:
        """The :class:`~gumbelxp.PortableRNG` seed that ``rng`` (None, an int
        or a native generator, already checked) stands for on this backend,
        or ``None`` where the framework draws natively (the default)."""
        return None

    def portable_draw(self, key: tuple[int, int], start: int, kind: str,
                      shape: tuple[int, ...], dtype: Any, device: Any, like: Any) -> Any:
        """Values of PortableRNG's stream ``key`` from word ``start`` on:
        ``kind`` is ``"bits"`` (the words, in :attr:`philox_int`),
        ``"uniform"`` or ``"gumbel"`` (see :func:`gumbelxp._philox.draw`).
        ``like`` is the array the values are for, or None: an adapter may
        follow its layout (Dask: its chunks). Generic: the array-API Philox,
        computed whole; an adapter that computes the same stream faster
        overrides this (with :func:`gumbelxp._philox.draw_from`), the
        generic version being its reference."""
        from gumbelxp._philox import draw

        xp = self.namespace
        return draw(xp, getattr(xp, self.philox_int), key, start, kind, shape, dtype, device)

    # -- autograd ------------------------------------------------------------
    def stop_gradient(self, x: Any) -> Any:
        """``x`` with no gradient flowing back through it (identity here)."""
        return x

    def needs_grad(self, *xs: Any) -> bool:
        """Whether a gradient may be taken through any of ``xs`` (arrays or
        numbers); False lets a fast path skip what only the backward pass
        needs. Default: no autograd."""
        return False

    # -- layout --------------------------------------------------------------
    def whole_axis(self, x: Any, axis: int) -> Any:
        """``x`` laid out so that reductions along ``axis`` give the same bits
        however it is split (Dask: one chunk along ``axis``). Identity for
        in-memory arrays."""
        return x

    # -- information ---------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """``{"version": str, "devices": [str, ...]}`` for ``gumbelxp info``."""
        import importlib

        mod = importlib.import_module(self.name)  # every name is its framework's module
        return {"version": str(getattr(mod, "__version__", "?")), "devices": ["cpu"]}

    def __repr__(self) -> str:
        return f"<gumbelxp backend {self.name}>"
