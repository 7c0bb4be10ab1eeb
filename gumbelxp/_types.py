"""Type annotations of the public API.

The functions are generic in the array type: ``ArrayT`` is bound by a
protocol that every supported framework's array satisfies, so a type checker
sees a ``torch.Tensor`` in give a ``torch.Tensor`` out (likewise for NumPy,
JAX, Dask and array-api-strict arrays, and CuPy's as far as its own
annotations go). TensorFlow ships no type information: its tensors are
``Any`` to mypy, and ``tf.Tensor`` to pyright, which bundles stubs. An
array created from nothing (:func:`gumbelxp.gumbel` without ``like``) is a
NumPy array, or ``Any`` when the namespace is chosen by ``xp``.

This module imports no framework: NumPy's types are named for type checkers
only.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    #: what :func:`gumbelxp.gumbel` returns given neither ``like`` nor ``xp``
    NumpyArray: TypeAlias = NDArray[Any]
    #: the indices :func:`gumbelxp.gumbel_max` and :func:`gumbelxp.gumbel_topk`
    #: return for a NumPy array (int64, whatever the logits' dtype)
    NumpyIndices: TypeAlias = "NDArray[np.int64]"


class ArrayLike(Protocol):
    """What gumbelxp needs to see of an array statically: a shape and a dtype."""

    @property
    def shape(self) -> Any: ...

    @property
    def dtype(self) -> Any: ...


#: the array type of a call's first array argument, which its result has too
ArrayT = TypeVar("ArrayT", bound=ArrayLike)
#: an array of any supported framework (the same framework as the call's input)
Array = ArrayLike
#: a namespace module (``numpy``, ``torch``, ``jax.numpy``, ...) or a backend
#: name (``"torch"``)
Namespace: TypeAlias = "ModuleType | str"
#: ``None``, an int seed, a native generator (``numpy.random.Generator``,
#: ``torch.Generator``, ``tf.random.Generator``, a JAX key, ...), a
#: TensorFlow stateless seed pair, or a :class:`gumbelxp.PortableRNG`
RNG: TypeAlias = Any
