"""Helpers the relaxation-family tests share (on ``sys.path`` through
pytest's ``pythonpath`` setting): backends, dtypes, tolerances, conversions
and TensorFlow Probability's distributions."""

import numpy as np
import pytest
from gumbelxp.conformance.support import (
    TOLERANCES,
    Target,
    float_dtypes,
    from_numpy,
    selected_backends,
    to_numpy,
)

NEG = -np.inf
P_MIN = 1e-4
#: the selected backends that have autograd (the ``ad`` fixture's params)
AUTOGRAD = [n for n in selected_backends() if Target(n).has("autograd")]


def best(be):
    """float64 where the backend has it (not JAX without x64), else float32."""
    return "float64" if "float64" in float_dtypes(be) else "float32"


def tol(dtype, scale=1.0):
    """The tolerance table's ``rtol``/``atol`` for ``dtype``, scaled."""
    r, a = TOLERANCES[dtype]
    return {"rtol": r * scale, "atol": a * scale}


def arr(be, a, dtype="float32"):
    return from_numpy(be, np.asarray(a, dtype=np.float64), dtype)


def back(x):
    return to_numpy(x).astype(np.float64)


def tfd():
    """TensorFlow Probability's distributions (its NumPy substrate: the same
    code, without needing tf-keras; the root conftest imports it before
    TensorFlow loads)."""
    tfp = pytest.importorskip("tensorflow_probability.substrates.numpy")
    return tfp.distributions
