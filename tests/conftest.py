"""Fixtures of tests/ beyond the root conftest's ``backend``."""

import pytest
from _family_support import AUTOGRAD
from gumbelxp.conformance.support import Target


@pytest.fixture(params=AUTOGRAD)
def ad(request):
    """The selected backends that have autograd."""
    return Target(request.param)
