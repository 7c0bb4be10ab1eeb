"""Type annotations of the public API.

The functions are generic in the array type: ``ArrayT`` is bound by a
protocol that every supported framework's array satisfies, so a type checker
sees a ``torch.Tensor`` in give a ``torch.Tensor`` out (likewise for NumPy,
JAX, TensorFlow, CuPy, Dask and array-api-strict arrays).
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar


class ArrayLike(Protocol):
    """What gumbelxp needs to see of an array statically: a shape and a dtype."""

    @property
    def shape(self) -> Any: ...

    @property
    def dtype(self) -> Any: ...


#: the array type of a call's first argument, which its result has too
ArrayT = TypeVar("ArrayT", bound=ArrayLike)
#: an array of any supported framework (the same framework as the call's input)
Array = ArrayLike
#: ``None``, an int seed, a native generator (``numpy.random.Generator``,
#: ``torch.Generator``, ``tf.random.Generator``, a JAX key, ...), a
#: TensorFlow stateless seed pair, or a :class:`gumbelxp.PortableRNG`
RNG = Any
