"""PortableRNG: the same random numbers on every framework and device.

The stream is Philox-4x32-10 (:mod:`gumbelxp._philox`); this module adds the
draws a user makes directly, in any framework's arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, overload

from ._philox import PhiloxStream, words, words_at
from ._types import Array, ArrayT, Namespace
from .backends import resolve

if TYPE_CHECKING:
    from ._types import NumpyArray

__all__ = ["PortableRNG"]


class PortableRNG(PhiloxStream):
    """A counter-based generator (Philox-4x32-10) whose bits are identical on
    every backend and device.

    Parameters
    ----------
    seed : int
        Any integer in ``[0, 2**64)``; it is the Philox key.
    counter : int, optional
        Number of 32-bit words already drawn (to resume a saved state).

    Notes
    -----
    Element ``i`` of a draw depends only on ``(seed, counter, i)``, so a draw
    of shape ``(B, K)`` holds the same numbers however it is later split, and
    ``get_state`` / ``set_state`` (or pickling) save and restore a generator.
    The counter advances by the number of words each draw uses: one per
    float32 element, two per float64 element.

    Gumbel noise from it spans exactly ``[-log(33 ln 2), 33 ln 2] =
    [-3.1300, 22.8739]`` in float32 (one word) and ``[-log(65 ln 2), 65 ln 2]
    = [-3.8079, 45.0546]`` in float64 (two words); the frameworks' own
    samplers stop near 16.6 in float32. The upper tail comes from
    ``-log1p(-x)`` on a fine grid near zero instead of ``-log(u)`` near one.
    The lower end is what the bits allow: ``P(G < -4) = exp(-e**4) ~ 2**-79``,
    less than one cell of a 32-bit (or 64-bit) word, whose smallest cell
    already holds all the mass below -3.13 (-3.81). See
    :func:`gumbel_from_words`.

    Inside ``jax.jit`` or ``tf.function`` the counter is read when the
    function is traced: pass a fresh generator (or a seed) per call there.

    Examples
    --------
    >>> import gumbelxp as gx
    >>> rng = gx.PortableRNG(42)
    >>> u = rng.uniform((2, 3), dtype="float32")  # one 32-bit word per float32
    >>> bool(((u > 0) & (u < 1)).all()), rng.counter
    (True, 6)
    """

    #: the stream's words, for code that computes a piece of a draw itself
    words = staticmethod(words)
    words_at = staticmethod(words_at)

    # Each draw's result type, as for gumbelxp.gumbel: like's, NumPy's given
    # neither like nor xp, Any given xp.
    @overload
    def random_bits(self, shape: tuple[int, ...], *, like: ArrayT,
                    xp: Namespace | None = None, device: Any = None) -> ArrayT: ...
    @overload
    def random_bits(self, shape: tuple[int, ...], *, like: None = None, xp: None = None,
                    device: Any = None) -> NumpyArray: ...
    @overload
    def random_bits(self, shape: tuple[int, ...], *, like: None = None, xp: Namespace,
                    device: Any = None) -> Any: ...
    def random_bits(self, shape: tuple[int, ...], *, like: Array | None = None,
                    xp: Namespace | None = None, device: Any = None) -> Any:
        """Raw 32-bit words of ``shape`` (held in the backend's Philox integer
        dtype), advancing the counter by their number."""
        be, device, _ = resolve(like, xp, device)
        return self.draw_on(be, "bits", tuple(shape), None, device, like)

    @overload
    def uniform(self, shape: tuple[int, ...], *, like: ArrayT, xp: Namespace | None = None,
                dtype: Any = None, device: Any = None) -> ArrayT: ...
    @overload
    def uniform(self, shape: tuple[int, ...], *, like: None = None, xp: None = None,
                dtype: Any = None, device: Any = None) -> NumpyArray: ...
    @overload
    def uniform(self, shape: tuple[int, ...], *, like: None = None, xp: Namespace,
                dtype: Any = None, device: Any = None) -> Any: ...
    def uniform(self, shape: tuple[int, ...], *, like: Array | None = None,
                xp: Namespace | None = None, dtype: Any = None, device: Any = None) -> Any:
        """Uniform variates on the open interval (0, 1), of ``shape``.

        float32 from one word ``w``: ``((w >> 9) + 0.5) * 2**-23``; float64
        from two: ``((w0 >> 6) * 2**26 + (w1 >> 6) + 0.5) * 2**-52``. Both are
        exact, so every backend returns the same bits. Namespace, dtype and
        device as for :func:`gumbelxp.gumbel`.
        """
        return self._draw("uniform", shape, like, xp, dtype, device)

    @overload
    def gumbel(self, shape: tuple[int, ...], *, like: ArrayT, xp: Namespace | None = None,
               dtype: Any = None, device: Any = None) -> ArrayT: ...
    @overload
    def gumbel(self, shape: tuple[int, ...], *, like: None = None, xp: None = None,
               dtype: Any = None, device: Any = None) -> NumpyArray: ...
    @overload
    def gumbel(self, shape: tuple[int, ...], *, like: None = None, xp: Namespace,
               dtype: Any = None, device: Any = None) -> Any: ...
    def gumbel(self, shape: tuple[int, ...], *, like: Array | None = None,
               xp: Namespace | None = None, dtype: Any = None, device: Any = None) -> Any:
        """Standard Gumbel noise of ``shape`` (see :func:`gumbel_from_words`),
        the noise every gumbelxp function draws from this generator."""
        return self._draw("gumbel", shape, like, xp, dtype, device)

    def _draw(self, kind: str, shape: tuple[int, ...], like: Any, xp: Any, dtype: Any,
              device: Any) -> Any:
        be, device, dtype = resolve(like, xp, device, dtype)
        ns = be.namespace
        wdt = ns.float32 if ns.finfo(dtype).bits < 32 else dtype
        out = self.draw_on(be, kind, tuple(shape), wdt, device, like)
        if wdt == dtype:
            return out
        if kind == "uniform":  # half precision: round, then keep the interval open
            eps = float(ns.finfo(dtype).eps)
            out = ns.clip(out, eps * 2.0**-11, 1.0 - eps / 2)
        return ns.astype(out, dtype)
