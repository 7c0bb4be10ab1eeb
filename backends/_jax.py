"""JAX adapter: no global state, so ``rng`` must be a key (or an int seed)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._base import Backend, check_seed


class JaxBackend(Backend):
    name = "jax"
    module = "jax"
    has_autograd = True
    has_global_rng = False
    namespace_module = "jax.numpy"
    generator_name = "JAX PRNG key"
    # JAX is 32-bit unless jax_enable_x64: Philox uses 16-bit limb products.
    philox_int = "uint32"

    def array_types(self):
        return (jax.Array,)

    def is_generator(self, obj: Any) -> bool:
        if not isinstance(obj, jax.Array):
            return False
        if jnp.issubdtype(obj.dtype, jax.dtypes.prng_key):
            return True
        # legacy raw keys: uint32[..., 2] from jax.random.PRNGKey
        return obj.dtype == jnp.uint32 and obj.ndim >= 1 and obj.shape[-1] == 2

    def default_generator(self, device=None):
        raise ValueError(
            "JAX has no global random state: pass rng=jax.random.key(seed), "
            "an int seed or gumbelxp.PortableRNG(seed)"
        )

    def uniform(self, rng, shape, dtype, device):
        if rng is None:
            self.default_generator()
        if isinstance(rng, int):
            seed = check_seed(rng)
            rng = jax.random.key(seed % 2**32)  # 32-bit keys unless jax_enable_x64:
            if seed >> 32:  # fold the high word in, so seeds >= 2**32 do not collide
                rng = jax.random.fold_in(rng, seed >> 32)
        # jax.random.uniform draws from [minval, maxval): with minval = tiny
        # the interval is open at both ends.
        u = jax.random.uniform(rng, tuple(shape), dtype=dtype,
                               minval=jnp.finfo(dtype).tiny, maxval=1.0)
        if device is not None and not isinstance(u, jax.core.Tracer):
            u = jax.device_put(u, device)
        return u

    def stop_gradient(self, x):
        return jax.lax.stop_gradient(x)

    def needs_grad(self, *xs):
        # a concrete array is never differentiated; a tracer may be
        return any(isinstance(x, jax.core.Tracer) for x in xs)

    def vjp(self, f, args, cotangent):
        out, pull = jax.vjp(f, *args)
        return out, tuple(pull(cotangent))

    def is_concrete(self, x) -> bool:
        return not isinstance(x, jax.core.Tracer)

    def device(self, x):
        if isinstance(x, jax.core.Tracer):
            return None
        return next(iter(x.devices()))

    def to_numpy(self, x):
        x = np.asarray(x)
        return x.astype(np.float32) if x.dtype.name == "bfloat16" else x

    def devices(self) -> list[str]:
        return [str(d) for d in jax.devices()]

    def version(self) -> str:
        return jax.__version__


BACKEND = JaxBackend()
