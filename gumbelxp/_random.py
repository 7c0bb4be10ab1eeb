"""Where every function's randomness comes from: ``rng=`` or ``noise=``.

An ``rng`` (checked by :func:`gumbelxp._checks.check_rng`) is drawn from in
one of two ways. A :class:`~gumbelxp.PortableRNG`, or whatever the backend
says stands for one (an int seed on NumPy; everything on Dask), gives the
portable Philox stream through the adapter's ``portable_draw``; anything else
gives the framework's own open-interval uniforms (``uniform``), from which
Gumbel noise is ``-log(-log(u))``.
"""

from __future__ import annotations

from typing import Any

from ._checks import Input, check_rng, same_backend, same_shape, work_dtype
from ._philox import PhiloxStream
from .backends import Backend


def portable(be: Backend, rng: Any) -> PhiloxStream | None:
    """The PortableRNG that a checked ``rng`` stands for on ``be``, or None."""
    if isinstance(rng, PhiloxStream):
        return rng
    seed = be.portable_seed(rng)
    return None if seed is None else PhiloxStream(seed)


def draw(be: Backend, rng: Any, kind: str, shape: tuple[Any, ...], dtype: Any, device: Any,
         like: Any = None) -> Any:
    """``kind`` (``"uniform"`` on the open interval (0, 1), or standard
    ``"gumbel"``) values of ``shape`` in float32 or float64 from a checked
    ``rng``; ``like``, the array they are for, lends its layout."""
    p = portable(be, rng)
    if p is not None:
        return p.draw_on(be, kind, shape, dtype, device, like)
    u = be.uniform(rng, shape, dtype, device, like)
    if kind == "uniform":
        return u
    xp = be.namespace
    return -xp.log(-xp.log(u))


def gumbel_noise(inp: Input[Any], rng: Any, noise: Any,
                 shape: tuple[Any, ...] | None = None) -> Any:
    """Standard Gumbel noise for ``inp`` (of ``shape``, default the input's),
    in the dtype computed in: from ``rng``, or ``noise`` itself, checked."""
    return _noise(inp, rng, noise, "gumbel", inp.shape if shape is None else shape)


def logistic_noise(inp: Input[Any], rng: Any, noise: Any) -> Any:
    """Standard logistic noise ``log(u) - log(1 - u)`` for ``inp``, one
    open-interval uniform per element, or ``noise`` itself, checked."""
    if noise is not None:
        return _noise(inp, rng, noise, "logistic", inp.shape)
    xp = inp.xp
    u = _noise(inp, rng, None, "uniform", inp.shape)
    return xp.log(u) - xp.log1p(-u)


def _noise(inp: Input[Any], rng: Any, noise: Any, kind: str, shape: tuple[Any, ...]) -> Any:
    be, xp = inp.be, inp.xp
    if noise is None:
        return draw(be, check_rng(be, rng), kind, shape, inp.wdt, inp.device, like=inp.x)
    if rng is not None:
        raise TypeError("give either rng= or noise=, not both")
    same_backend(be, noise, "noise")
    ns = tuple(be.shape(noise))
    if not same_shape(ns, shape):
        raise ValueError(f"noise has shape {ns}, expected {tuple(shape)}")
    work_dtype(xp, noise.dtype, "noise")
    return noise if noise.dtype == inp.wdt else xp.astype(noise, inp.wdt)
