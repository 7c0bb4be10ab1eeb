"""JAX adapter: ``jax.Array`` and tracers (``jit``, ``vmap``, ``grad``).

JAX has no global random state: ``rng`` must be a key (typed,
``jax.random.key``, or raw, ``jax.random.PRNGKey``), an int seed or a
PortableRNG; ``rng=None`` raises ``ValueError`` asking for one. Noise is
placed as the input is: on its device, or with its sharding when the input
is spread over several devices (as ``x + jax.random.gumbel(key, x.shape)``
would be).
"""

from __future__ import annotations

from typing import Any, cast

import jax
import jax.core
import jax.numpy as jnp
import numpy as np

from ._base import Backend


def _is_tracer(x: Any) -> bool:
    return isinstance(x, jax.core.Tracer)


def _place(u: Any, device: Any, like: Any) -> Any:
    """``u`` on ``device``, or laid out as ``like`` when that is spread over
    several devices and has ``u``'s shape (else left for JAX to place, as it
    places ``like + u``)."""
    if _is_tracer(u):
        return u
    if device is None and like is not None and not _is_tracer(like) and len(
            like.devices()) > 1 and tuple(like.shape) == tuple(u.shape):
        device = like.sharding
    if device is None:
        return u
    return jax.device_put(u, device)  # pyright: ignore[reportUnknownMemberType]  (JAX's annotation)


class JaxBackend(Backend):
    name = "jax"
    namespace_module = "jax.numpy"
    generator_name = "JAX PRNG key"
    # JAX is 32-bit unless jax_enable_x64: Philox uses 16-bit limb products.
    philox_int = "uint32"

    def handles(self, x: Any) -> bool:
        return isinstance(x, jax.Array)

    def is_generator(self, obj: Any) -> bool:
        if not isinstance(obj, jax.Array):
            return False
        if jnp.issubdtype(obj.dtype, jax.dtypes.prng_key):
            return True
        # legacy raw keys: uint32[..., 2] from jax.random.PRNGKey
        return obj.dtype == jnp.uint32 and obj.ndim >= 1 and obj.shape[-1] == 2

    def uniform(self, rng: Any, shape: tuple[int, ...], dtype: Any, device: Any,
                like: Any = None) -> Any:
        if rng is None:
            raise ValueError("JAX has no global random state: pass rng=jax.random.key(seed), "
                             "an int seed or gumbelxp.PortableRNG(seed)")
        if isinstance(rng, int):
            seed = rng
            rng = jax.random.key(seed % 2**32)  # 32-bit keys unless jax_enable_x64:
            if seed >> 32:  # fold the high word in, so seeds >= 2**32 do not collide
                rng = jax.random.fold_in(rng, seed >> 32)
        # jax.random.uniform draws from [minval, maxval): with minval = tiny
        # the interval is open at both ends
        u = jax.random.uniform(rng, tuple(shape), dtype=dtype,
                               minval=float(np.finfo(np.dtype(dtype)).tiny), maxval=1.0)
        return _place(u, device, like)

    def portable_draw(self, key: tuple[int, int], start: int, kind: str,
                      shape: tuple[int, ...], dtype: Any, device: Any, like: Any) -> Any:
        return _place(super().portable_draw(key, start, kind, shape, dtype, None, like), device,
                      like)

    def stop_gradient(self, x: Any) -> Any:
        return jax.lax.stop_gradient(x)

    def needs_grad(self, *xs: Any) -> bool:
        # a concrete array is never differentiated; a tracer may be
        return any(_is_tracer(x) for x in xs)

    def is_concrete(self, x: Any) -> bool:
        return not _is_tracer(x)

    def device(self, x: Any) -> Any:
        """The input's device; None for a tracer, or for an array spread over
        several devices, whose layout JAX gives to what is combined with it
        (and a draw for it takes, see ``_place``)."""
        if _is_tracer(x):
            return None
        devs = x.devices()
        return next(iter(devs)) if len(devs) == 1 else None

    def info(self) -> dict[str, Any]:
        devices = cast("list[object]", jax.devices())  # pyright: ignore[reportUnknownMemberType]  (JAX's annotation)
        return {"version": jax.__version__, "devices": [str(d) for d in devices]}


BACKEND = JaxBackend()
