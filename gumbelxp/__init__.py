"""gumbelxp: Gumbel sampling, Gumbel-Softmax and the relaxations and gradient
estimators built on them, written once on the Python array API standard, for
NumPy, PyTorch, TensorFlow, JAX, CuPy, Dask and array-api-strict arrays.

>>> import numpy as np, gumbelxp as gx
>>> y = gx.gumbel_softmax(np.array([1.0, 2.0, 3.0, 4.0]), tau=0.5, rng=0)
>>> float(y.sum())
1.0

Importing gumbelxp imports no framework: the backend for an array is found
from its type and loaded on first use.
"""

# ruff: noqa: E402  (the imports follow the source-checkout path fix below)
import os as _os

# A source checkout imported from its root (the current directory first on
# sys.path: ``python -m gumbelxp`` or ``python -c`` there) finds this folder
# without backends/ and conformance/, which an install maps into it
# (setuptools' package-dir): then they are found beside it, in the checkout.
_here = _os.path.dirname(_os.path.abspath(__file__))
if not _os.path.isdir(_os.path.join(_here, "backends")) and _os.path.isfile(
        _os.path.join(_here, _os.pardir, "backends", "__init__.py")):
    __path__.append(_os.path.dirname(_here))
del _here

from ._densities import (
    exp_relaxed_log_prob,
    plackett_luce_log_prob,
    relaxed_bernoulli_log_prob,
    relaxed_log_prob,
)
from ._estimators import gumbel_rao, reinmax
from ._portable import PortableRNG
from ._relaxed import conditional_gumbel, gumbel_log_softmax, gumbel_sigmoid, relaxed_topk
from ._sampling import gumbel, gumbel_max, gumbel_softmax, gumbel_topk, straight_through

__version__ = "0.2.0"

__all__ = [
    "PortableRNG",
    "conditional_gumbel",
    "exp_relaxed_log_prob",
    "gumbel",
    "gumbel_log_softmax",
    "gumbel_max",
    "gumbel_rao",
    "gumbel_sigmoid",
    "gumbel_softmax",
    "gumbel_topk",
    "plackett_luce_log_prob",
    "reinmax",
    "relaxed_bernoulli_log_prob",
    "relaxed_log_prob",
    "relaxed_topk",
    "straight_through",
]
