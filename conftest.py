"""One backend fixture for tests/ and conformance/, narrowed by $GUMBELXP_BACKENDS."""

import pytest

from gumbelxp.backends import get_backend
from gumbelxp.testing import selected_backends

BACKENDS = selected_backends()


@pytest.fixture(params=BACKENDS)
def backend(request):
    """The adapter of each selected backend (``backend.namespace`` is ``xp``)."""
    return get_backend(request.param)


@pytest.fixture
def xp(backend):
    return backend.namespace
