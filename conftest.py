"""One backend fixture for tests/ and conformance/, narrowed by $GUMBELXP_BACKENDS.

Markers declare what runs where (no ``if backend.name`` in test bodies):
``@pytest.mark.skip_backend("dask", reason=...)``,
``@pytest.mark.xfail_backend("jax", reason=...)`` (strict) and
``@pytest.mark.needs("autograd")``, read against the capability table
``gumbelxp.conformance.support.CAPABILITIES``.
"""

import pytest
from gumbelxp.conformance.support import Target, selected_targets

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
