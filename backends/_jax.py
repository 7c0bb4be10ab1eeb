"""JAX adapter: ``jax.Array`` and tracers (``jit``, ``vmap``, ``grad``).

PortableRNG's stream is a jitted Philox on XLA's 32-bit multiply-high,
fused with its transform (the generic Philox is its reference).

JAX has no global random state: ``rng`` must be a key (typed,
``jax.random.key``, or raw, ``jax.random.PRNGKey``), an int seed or a
PortableRNG; ``rng=None`` raises ``ValueError`` asking for one. Noise is
placed as the input is: on its device, or with its sharding when the input
is spread over several devices (as ``x + jax.random.gumbel(key, x.shape)``
would be).
"""

from __future__ import annotations

import functools
import math
from typing import Any, cast

import jax
import jax.core
import jax.numpy as jnp
import numpy as np

from ._base import Backend

# ---------------------------------------------------------------------------
# PortableRNG: Philox-4x32-10 with XLA's 32-bit multiply-high, one fusion
# ---------------------------------------------------------------------------
_M0, _M1 = np.uint32(0xD2511F53), np.uint32(0xCD9E8D57)
_W0, _W1 = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)


def _philox4x32(k0: Any, k1: Any, c0: Any, c1: Any, c2: Any,
                c3: Any) -> tuple[Any, Any, Any, Any]:
    """Philox-4x32-10 on uint32 arrays: ``lax.mulhi`` gives the high word of
    the 32 x 32 bit product, which XLA computes in one 64-bit multiply (the
    generic path builds it from four 16-bit products)."""
    for r in range(10):
        if r:
            k0, k1 = k0 + _W0, k1 + _W1
        hi0, lo0 = jax.lax.mulhi(c0, jnp.uint32(_M0)), c0 * _M0
        hi1, lo1 = jax.lax.mulhi(c2, jnp.uint32(_M1)), c2 * _M1
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return c0, c1, c2, c3


def _stream_words(state: Any, n: int) -> Any:
    """Words ``start .. start + n - 1`` (uint32), ``state`` = uint32
    ``[k0, k1, first block lo, first block hi, start % 4]``.

    Each word computes the Philox block it belongs to and keeps its lane:
    four times the arithmetic of one block per four words, but elementwise,
    so XLA fuses it with whatever consumes the words; interleaving four
    lane arrays instead (stack + reshape) costs XLA's CPU backend 20x more
    than the arithmetic."""
    # opaque to constant folding: under an outer jit the state is a constant,
    # and XLA would otherwise evaluate the whole draw at compile time
    state = jax.lax.optimization_barrier(state)  # type: ignore[no-untyped-call]
    k0, k1, first_lo, first_hi, off = (state[i] for i in range(5))
    j = jax.lax.iota(jnp.uint32, n) + off
    q = j >> 2
    lo = first_lo + q
    hi = first_hi + (lo < q).astype(jnp.uint32)  # carry into the block's high word
    zero = jnp.zeros_like(lo)  # pyright: ignore[reportUnknownMemberType]  (jax's stubs)
    w = _philox4x32(k0, k1, lo, hi, zero, zero)
    lane = j & 3
    return jnp.where(lane == 0, w[0], jnp.where(lane == 1, w[1],
                                                jnp.where(lane == 2, w[2], w[3])))


def _state(key: tuple[int, int], start: int) -> np.ndarray[Any, Any]:
    first = start // 4
    return np.array([key[0], key[1], first & 0xFFFFFFFF, first >> 32, start - 4 * first],
                    dtype=np.uint32)


@functools.partial(jax.jit, static_argnums=(1,))  # pyright: ignore[reportUnknownMemberType]  (jax's stubs)
def _words_jit(state: Any, n: int) -> Any:
    return _stream_words(state, n)


@functools.partial(jax.jit, static_argnums=(1, 2))  # pyright: ignore[reportUnknownMemberType]  (jax's stubs)
def _noise_jit(state: Any, n: int, dtype: str) -> Any:
    from .._philox import gumbel_from_words

    per = 1 if dtype == "float32" else 2
    w = _stream_words(state, per * n).reshape(n, per)
    return gumbel_from_words(jnp, w, jnp.dtype(dtype))


#: the most words one fused draw takes (word indices stay below 2**32)
_MAX_WORDS = 2**32 - 4


def philox_words(key: tuple[int, int], start: int, n: int) -> jax.Array:
    """PortableRNG's words ``start .. start + n - 1`` as a uint32 array (the
    values of ``PortableRNG.words``), jitted; compiled once per ``n``."""
    return cast(jax.Array, _words_jit(_state(key, start), n))


def portable_noise(key: tuple[int, int], start: int, n: int, dtype: Any) -> jax.Array:
    """``n`` Gumbel values of ``dtype`` (float32: one word each, float64: two)
    from the words at ``start`` on, as ``gumbel_from_words`` computes them,
    fused with the Philox rounds into one XLA loop; compiled once per ``n``
    and dtype (the key and counter are arguments, not constants)."""
    name = str(np.dtype(dtype))  # "float32" or "float64"
    return cast(jax.Array, _noise_jit(_state(key, start), n, name))


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
        """A jitted Philox with ``lax.mulhi``, fused with the transform
        (compiled once per size; key and counter are arguments)."""
        per = 1 if kind == "bits" else (2 if jnp.dtype(dtype) == jnp.float64 else 1)
        if not 0 < per * math.prod(shape) <= _MAX_WORDS:
            out = super().portable_draw(key, start, kind, shape, dtype, None, like)
        else:
            from gumbelxp._philox import draw_from

            out = draw_from(self.namespace, kind, shape, dtype,
                            lambda n: philox_words(key, start, n),
                            lambda n: portable_noise(key, start, n, dtype))
        return _place(out, device, like)

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
