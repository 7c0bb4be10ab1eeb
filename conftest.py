"""One backend fixture for tests/ and conformance/, narrowed by $GUMBELXP_BACKENDS.

Markers declare what runs where (no ``if backend.name`` in test bodies):
``@pytest.mark.skip_backend("dask", reason=...)``,
``@pytest.mark.xfail_backend("jax", reason=...)`` (strict) and
``@pytest.mark.needs("autograd")``, read against the capability table
``gumbelxp.conformance.support.CAPABILITIES``.
"""

import importlib.util
import sys

import pytest

# TensorFlow Probability's NumPy substrate (an oracle of the family tests) is
# imported before anything imports TensorFlow (finding the backends does):
# with TensorFlow already loaded, ``import tensorflow_probability`` insists on
# the tf-keras package, which the NumPy substrate never uses and which would
# pull a second TensorFlow distribution in next to tensorflow-cpu.
if "tensorflow" not in sys.modules and importlib.util.find_spec("tensorflow_probability"):
    import tensorflow_probability.substrates.numpy  # noqa: F401

from gumbelxp.conformance.support import Target, selected_targets  # noqa: E402

TARGETS = selected_targets()


def _matches(target, ids):
    return target.id in ids or (target.variant is None and target.name in ids) or (
        target.name in ids and target.variant is not None)


@pytest.fixture(params=TARGETS)
def backend(request):
    """Each selected backend (a :class:`~gumbelxp.conformance.support.Target`:
    ``backend.xp`` is its namespace, ``backend.asarray`` makes inputs)."""
    t = Target(request.param)
    for m in request.node.iter_markers("skip_backend"):
        if _matches(t, m.args):
            pytest.skip(f"{t.id}: {m.kwargs.get('reason', 'not supported')}")
    for m in request.node.iter_markers("needs"):
        missing = [f for f in m.args if not t.has(f)]
        if missing:
            pytest.skip(f"{t.id} has no {', '.join(missing)}")
    for m in request.node.iter_markers("xfail_backend"):
        if _matches(t, m.args):
            request.applymarker(pytest.mark.xfail(reason=m.kwargs.get("reason", ""), strict=True))
    return t


@pytest.fixture
def xp(backend):
    return backend.xp
