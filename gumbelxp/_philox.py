"""Philox-4x32-10, the stream behind PortableRNG, written once against the array API.

Philox-4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy
as 1, 2, 3", SC'11) is a counter-based generator: block ``b`` of four 32-bit
words is a pure function of ``(key, b)``. That is what makes it portable and
splittable: word ``w`` of the stream is word ``w % 4`` of block ``w // 4``,
whoever computes it, on whatever backend, in whatever order.

Stream layout (shared with every fast path, e.g. a fused GPU kernel):

* key ``(k0, k1)`` = low and high 32 bits of the seed;
* block counter ``(c0, c1, c2, c3)`` = ``(b & 0xffffffff, b >> 32, 0, 0)``;
* the generator's state is ``(seed, counter)``, ``counter`` counting 32-bit
  words already used; a draw of ``n`` words takes words ``counter .. counter
  + n - 1`` and advances ``counter`` by ``n``.
* float32 values use one word per element, float64 values two (words
  ``2i`` and ``2i + 1`` of the draw for element ``i``).

Integer arithmetic runs in the dtype the backend's adapter chooses: a 64-bit
one (``uint64``, or ``int64`` where unsigned ops are missing: the wrapping
product still holds the exact low 64 bits) or ``uint32`` (JAX without x64),
where the 32x32 -> 64 bit product is assembled from 16-bit limbs.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any, cast

_M0, _M1 = 0xD2511F53, 0xCD9E8D57  # round multipliers
_W0, _W1 = 0x9E3779B9, 0xBB67AE85  # Weyl key increments
_MASK = 0xFFFFFFFF
_MIN_BLOCKS = 64  # 256 words: the smallest number of blocks a draw computes


def _const(xp: Any, v: int, like: Any) -> Any:
    """``v`` (< 2**32) as a 0-d array of ``like``'s dtype: JAX refuses Python
    ints above 2**31 next to uint32 arrays."""
    import array_api_compat

    # (array_api_compat's annotation names CuPy's array, unknown without CuPy)
    device = array_api_compat.device(like)  # pyright: ignore[reportUnknownMemberType]
    return xp.asarray(v, dtype=like.dtype, device=device)


def _shr(xp: Any, x: Any, k: int) -> Any:
    """``x >> k`` through the namespace's ``bitwise_right_shift``: not every
    array type has the ``>>`` operator (arithmetic on signed dtypes, as ``>>``)."""
    return xp.bitwise_right_shift(x, k)


def _mulhilo(xp: Any, m: int, x: Any, wide: bool) -> tuple[Any, Any]:
    """(hi, lo) 32-bit halves of the 64-bit product ``m * x`` (x < 2**32)."""
    if wide:
        p = x * m
        return _shr(xp, p, 32) & _MASK, p & _MASK
    # uint32: four 16x16 -> 32 bit partial products, carries by hand.
    m_lo, m_hi = m & 0xFFFF, m >> 16
    x_lo, x_hi = x & 0xFFFF, _shr(xp, x, 16)
    ll = x_lo * m_lo
    lh = x_lo * m_hi
    hl = x_hi * m_lo
    hh = x_hi * m_hi
    mid = _shr(xp, ll, 16) + (lh & 0xFFFF) + (hl & 0xFFFF)  # < 3 * 2**16, no overflow
    lo = x * _const(xp, m, x)  # wraps mod 2**32: exactly the low word
    hi = hh + _shr(xp, lh, 16) + _shr(xp, hl, 16) + _shr(xp, mid, 16)
    return hi, lo


def philox4x32(xp: Any, ctr: tuple[Any, Any, Any, Any], key: tuple[int, int]) -> list[Any]:
    """Philox-4x32-10 on arrays of counters (each a 32-bit value held in an
    integer dtype of 32 or 64 bits); returns the four output word arrays."""
    c0, c1, c2, c3 = ctr
    wide = xp.iinfo(c0.dtype).bits >= 64
    k0, k1 = key
    for r in range(10):
        if r:
            k0, k1 = (k0 + _W0) & _MASK, (k1 + _W1) & _MASK
        hi0, lo0 = _mulhilo(xp, _M0, c0, wide)
        hi1, lo1 = _mulhilo(xp, _M1, c2, wide)
        if wide:
            c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        else:
            c0, c1, c2, c3 = (hi1 ^ c1 ^ _const(xp, k0, c1), lo1,
                              hi0 ^ c3 ^ _const(xp, k1, c3), lo0)
    return [c0, c1, c2, c3]


def block_words(xp: Any, key: tuple[int, int], blocks: Any) -> list[Any]:
    """The four words of each block index in ``blocks`` (a non-negative int
    array; in uint32 mode a pair (lo, hi) of arrays)."""
    if isinstance(blocks, tuple):
        lo, hi = cast("tuple[Any, Any]", blocks)
    else:
        lo, hi = blocks & _MASK, _shr(xp, blocks, 32)
    zero = xp.zeros_like(lo)
    return philox4x32(xp, (lo, hi, zero, zero), key)


class PhiloxStream:
    """The state of a Philox-4x32-10 stream: a 64-bit key (the seed) and a
    counter of the 32-bit words already used. :class:`gumbelxp.PortableRNG`
    is this with the user's draws; the adapters need only this."""


    def __init__(self, seed: int, counter: int = 0) -> None:
        self.seed = check_seed(seed, f"{type(self).__name__} seed")
        counter = check_seed(counter, "counter")
        if counter >= 2**62:
            raise ValueError(f"counter must be in [0, 2**62), got {counter}")
        self.counter = counter

    @property
    def key(self) -> tuple[int, int]:
        return self.seed & _MASK, self.seed >> 32

    def get_state(self) -> dict[str, int]:
        """The generator's whole state: ``{"seed": ..., "counter": ...}``."""
        return {"seed": self.seed, "counter": self.counter}

    def set_state(self, state: dict[str, int]) -> None:
        """Restore a state returned by :meth:`get_state`."""
        self.__init__(state["seed"], state["counter"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed}, counter={self.counter})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PhiloxStream) and self.get_state() == other.get_state()

    __hash__ = None  # type: ignore[assignment]  # mutable

    # -- words -------------------------------------------------------------
    def _take(self, n: int) -> int:
        start = self.counter
        self.counter += n
        return start

    def draw_on(self, be: Any, kind: str, shape: tuple[Any, ...], dtype: Any, device: Any,
                like: Any = None) -> Any:
        """``kind`` (``"bits"``, ``"uniform"`` or ``"gumbel"``) values of
        ``shape`` (float32 or float64 ``dtype`` but for bits) on backend
        ``be``, advancing the counter by the words they take."""
        for d in shape:
            if not isinstance(d, int):
                raise ValueError(
                    "gumbelxp.PortableRNG needs every dimension known (its counter cannot "
                    "advance by an unknown amount); inside tf.function give an "
                    "input_signature with known dimensions, or use an int seed or a "
                    "native generator")
        per = 1 if kind == "bits" else words_per_value(be.namespace, dtype)
        n = per * math.prod(shape)
        return be.portable_draw(self.key, self._take(n), kind, shape, dtype, device, like)


def check_seed(seed: Any, what: str = "seed") -> int:
    """``seed`` as a Python int in ``[0, 2**64)``: any integer (NumPy's
    included), else TypeError; out of range, ValueError."""
    if isinstance(seed, bool) or not hasattr(seed, "__index__"):
        raise TypeError(f"{what} must be an int, got {type(seed).__name__}")
    s = operator.index(seed)
    if not 0 <= s < 2**64:
        raise ValueError(f"{what} must be an integer in [0, 2**64), got {s}")
    return s


def words_per_value(xp: Any, dtype: Any) -> int:
    """Stream words per value: one for float32 (and below), two for float64."""
    return 1 if xp.finfo(dtype).bits <= 32 else 2


def words(xp: Any, int_dtype: Any, device: Any, key: tuple[int, int],
          start: int, n: int) -> Any:
    """Words ``start .. start + n - 1`` of the stream of ``key``, as a
    1-D array of ``int_dtype`` (values < 2**32) on ``device``."""
    first, last = start // 4, (start + n - 1) // 4 if n else start // 4
    # Small draws compute at least _MIN_BLOCKS blocks (then slice): one
    # array shape for all of them, so frameworks that compile per shape
    # (eager JAX) compile Philox once, not once per draw size.
    nb = max(last - first + 1, _MIN_BLOCKS)
    j = xp.arange(nb, dtype=int_dtype, device=device)
    if xp.iinfo(int_dtype).bits >= 64:
        blocks = j + first
    else:
        base_lo = _const(xp, first & _MASK, j)
        lo = j + base_lo  # wraps mod 2**32
        carry = xp.astype(lo < base_lo, int_dtype)
        blocks = (lo, carry + _const(xp, (first >> 32) & _MASK, j))
    w = xp.stack(block_words(xp, key, blocks), axis=-1)
    off = start - 4 * first
    return xp.reshape(w, (-1,))[off:off + n]


def words_at(xp: Any, key: tuple[int, int], index: Any) -> Any:
    """Words at arbitrary stream positions ``index`` (an integer array of
    a 64-bit dtype), same shape: for computing any piece of a draw on its
    own, e.g. one Dask chunk."""
    w = block_words(xp, key, _shr(xp, index, 2))
    lane = index & 3
    out = w[3]
    for i in (2, 1, 0):
        out = xp.where(lane == i, w[i], out)
    return out


def uniform_from_words(xp: Any, w: Any, dtype: Any) -> Any:
    """Open-interval uniforms from words ``w`` of shape ``(..., 1)`` (float32)
    or ``(..., 2)`` (float64); returns shape ``(...)``: float32
    ``((w >> 9) + 0.5) * 2**-23``, float64
    ``((w0 >> 6) * 2**26 + (w1 >> 6) + 0.5) * 2**-52``, both exact."""
    if w.shape[-1] == 1:
        return (xp.astype(_shr(xp, w[..., 0], 9), dtype) + 0.5) * 2.0**-23
    hi = xp.astype(_shr(xp, w[..., 0], 6), dtype)
    lo = xp.astype(_shr(xp, w[..., 1], 6), dtype)
    return (hi * 2.0**26 + (lo + 0.5)) * 2.0**-52


def draw(xp: Any, int_dtype: Any, key: tuple[int, int], start: int, kind: str,
         shape: tuple[int, ...], dtype: Any, device: Any) -> Any:
    """``kind`` values of ``shape`` from the stream of ``key`` from word
    ``start`` on: ``"bits"`` (the words, in ``int_dtype``), ``"uniform"`` or
    ``"gumbel"`` (float ``dtype``, float32 or float64). Element ``i`` (C
    order) takes words ``start + per * i + j``, ``j < per`` (``per`` from
    :func:`words_per_value`; 1 for bits). The generic version, in the array
    API: the reference of every adapter's faster one."""
    return draw_from(xp, kind, shape, dtype,
                     lambda n: words(xp, int_dtype, device, key, start, n))


def draw_from(xp: Any, kind: str, shape: tuple[int, ...], dtype: Any,
              stream: Callable[[int], Any],
              noise: Callable[[int], Any] | None = None) -> Any:
    """What :func:`draw` returns, from ``stream(n)``, the draw's first ``n``
    words (a 1-D integer array), and optionally ``noise(n)``, ``n`` Gumbel
    values computed another way with the same bits: an adapter's fast path
    supplies these two and keeps this layout."""
    n = math.prod(shape)
    if kind == "gumbel" and noise is not None:
        out = noise(n)
    elif kind == "bits":
        out = stream(n)
    else:
        per = words_per_value(xp, dtype)
        w = xp.reshape(stream(per * n), (n, per))
        out = (gumbel_from_words if kind == "gumbel" else uniform_from_words)(xp, w, dtype)
    return xp.reshape(out, tuple(shape))


def gumbel_from_words(xp: Any, w: Any, dtype: Any) -> Any:
    """Standard Gumbel noise from words ``w`` of shape ``(..., 1)`` (float32)
    or ``(..., 2)`` (float64); returns shape ``(...)``.

    ``g = -log(E)`` with ``E ~ Exp(1)``. The top bit ``b`` of the first word
    picks the half of the unit interval, the other bits give
    ``x`` in ``(0, 1/2]`` on a grid of ``2**-32`` (float32: 31 bits) or
    ``2**-64`` (float64: 63 bits), then ``E = -log1p(-x)`` if ``b`` else
    ``-log(x)``, i.e. ``E = -log(u)`` with ``u = 1 - x`` or ``u = x``, without
    ever forming ``1 - x``. ``x`` is never 0, so ``E > 0`` and ``g`` is finite.
    """
    w0 = w[..., 0]
    b = _shr(xp, w0, 31) == 1
    r = xp.astype(w0 & 0x7FFFFFFF, dtype)
    if w.shape[-1] == 1:
        x = (r + 0.5) * 2.0**-32
    else:
        x = r * 2.0**-32 + (xp.astype(w[..., 1], dtype) + 0.5) * 2.0**-64
    e = xp.where(b, -xp.log1p(-x), -xp.log(x))
    return -xp.log(e)

