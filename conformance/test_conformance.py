"""The conformance suite: every selected backend x dtype x case against the
NumPy float64 reference of :mod:`gumbelxp.conformance.checks` (the same checks
``gumbelxp check`` prints as a table). Narrow it with ``GUMBELXP_BACKENDS``.
"""

# pyright: standard
# (test support and benchmarks: not strict, see [tool.mypy.overrides] in pyproject.toml)

import math

import numpy as np
import pytest
from gumbelxp.conformance import checks as C
from gumbelxp.conformance import reference as R
from gumbelxp.conformance.support import selected_backends

BACKENDS = selected_backends()
BACKEND_DTYPES = [(b, dt) for b in BACKENDS for dt in R.dtypes_of(b)]


def _ids(params):
    return ["-".join(getattr(p, "name", p) for p in ps) for ps in params]


def _assert_ok(results):
    failed = [f"{r.check}: {r.detail}" for r in results if not r.ok]
    assert results and not failed, "\n".join(failed)


# -- the reference checks itself (each of these can fail) ------------------------
@pytest.mark.parametrize("ctr,key,expected", R.KAT)
def test_reference_philox_known_answers(ctr, key, expected):
    assert R.philox_ref(ctr, key) == expected


def test_reference_stream_layout():
    # word w of the stream is word w % 4 of block w // 4 (counter (b, 0, 0, 0))
    seed = 0x0123456789ABCDEF
    block5 = R.philox_ref((5, 0, 0, 0), (seed & 0xFFFFFFFF, seed >> 32))
    assert R.stream_ref(seed, 21, 3).tolist() == list(block5[1:])


def test_reference_compare_fails_outside_tolerance():
    ref = np.array([1.0, 2.0, np.nan])
    assert R.compare(ref * (1 + 5e-6), ref, "float32") == pytest.approx(5e-6, rel=1e-6)
    with pytest.raises(R.Mismatch, match="outside"):
        R.compare(ref * (1 + 2e-5), ref, "float32")
    with pytest.raises(R.Mismatch, match="NaN"):
        R.compare(np.array([1.0, 2.0, 3.0]), ref, "float64")


def test_reference_law_rejects_a_wrong_law():
    g = np.random.default_rng(0).gumbel(size=C.LAW_DRAWS)
    assert min(C.law_pvalues(g).values()) > R.P_MIN
    assert C.law_pvalues(g + 0.03)["mean"] < R.P_MIN
    assert C.law_pvalues(g * 1.03)["var"] < R.P_MIN


def test_reference_softmax_and_gradient():
    logits, g = np.array([[0.5, -np.inf, 1.0]]), np.array([[0.1, 0.2, -0.3]])
    y = R.softmax_ref(logits, g, 0.5, 1, False)
    e = np.exp(np.array([1.2, 0.0, 1.4]))
    e[1] = 0.0
    np.testing.assert_allclose(y[0], e / e.sum(), rtol=1e-15)
    assert R.softmax_ref(logits, g, 0.5, 1, True).tolist() == [[0.0, 0.0, 1.0]]
    # the analytic gradient against central differences
    cot, tau = np.array([[0.3, -1.0, 2.0]]), np.array([0.7])
    d_logits, d_tau = R.grads_ref(logits, g, tau, 1, cot)
    assert d_tau is not None
    h = 1e-6
    for j in (0, 2):
        dl = np.zeros_like(logits)
        dl[0, j] = h
        fd = ((R.softmax_ref(logits + dl, g, tau, 1, False)
               - R.softmax_ref(logits - dl, g, tau, 1, False)) * cot).sum() / (2 * h)
        assert d_logits[0, j] == pytest.approx(fd, rel=1e-6)
    fd = ((R.softmax_ref(logits, g, tau + h, 1, False)
           - R.softmax_ref(logits, g, tau - h, 1, False)) * cot).sum() / (2 * h)
    assert d_tau[0] == pytest.approx(fd, rel=1e-6)
    assert d_logits[0, 1] == 0.0


def test_reference_midpoint_edges_are_midpoints():
    e = C._midpoint_edges(np.array([-1.1, -0.5, 0.3, 1.0, 2.97]), 8)
    step = 2.0 ** (np.floor(np.log2(np.abs(e))) - 7)
    frac = e / step - np.floor(e / step)
    np.testing.assert_array_equal(frac, 0.5)


# -- the backends ------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_bits(backend):
    _assert_ok([C.check_bits(backend)])


@pytest.mark.parametrize("backend,dtype", BACKEND_DTYPES, ids=_ids(BACKEND_DTYPES))
def test_uniform(backend, dtype):
    _assert_ok([C.check_uniform(backend, dtype)])


@pytest.mark.parametrize("backend,dtype", BACKEND_DTYPES, ids=_ids(BACKEND_DTYPES))
def test_noise(backend, dtype):
    _assert_ok([C.check_noise(backend, dtype)])


CASE_PARAMS = [(b, dt, c) for b, dt in BACKEND_DTYPES for c in C.CASES]


@pytest.mark.parametrize("backend,dtype,case", CASE_PARAMS, ids=_ids(CASE_PARAMS))
def test_case(backend, dtype, case):
    """fwd_seed, fwd_noise, grad (autograd backends), max and topk."""
    results = C.check_case(backend, dtype, case)
    assert {r.check for r in results} >= {"fwd_seed", "fwd_noise", "max", "topk"}
    _assert_ok(results)


ERROR_PARAMS = [(b, dt, n) for b, dt in BACKEND_DTYPES for n in C.BAD_INPUTS]


@pytest.mark.parametrize("backend,dtype,bad", ERROR_PARAMS, ids=_ids(ERROR_PARAMS))
def test_error(backend, dtype, bad):
    _assert_ok([C.check_error(backend, dtype, bad)])


@pytest.mark.parametrize("backend,dtype", BACKEND_DTYPES, ids=_ids(BACKEND_DTYPES))
def test_law(backend, dtype):
    r = C.check_law(backend, dtype)
    _assert_ok([r])
    assert r.kind == "p" and R.P_MIN <= r.error <= 1 and not math.isnan(r.error)


def test_check_command_prints_the_matrix(capsys):
    import argparse

    rc = C.main(argparse.Namespace(backends="numpy", verbose=False))
    out = capsys.readouterr().out
    assert rc == 0, out
    table = out.split("\n\n")[1]
    assert all(c in table for c in C.CHECKS) and "numpy" in table and "FAIL" not in table
    assert "failures:" not in out


# -- the relaxation family and the estimators (gumbelxp.conformance.checks_family) ------
from gumbelxp.conformance import checks_family as F  # noqa: E402

FAMILY_PARAMS = [(b, dt, c) for b, dt in BACKEND_DTYPES for c in F.FAMILY_CASES]


@pytest.mark.parametrize("backend,dtype,case", FAMILY_PARAMS, ids=_ids(FAMILY_PARAMS))
def test_family(backend, dtype, case):
    """The value for the same PortableRNG seed (or inputs) against float64."""
    _assert_ok([F.check_family(backend, dtype, case)])


FAMILY_GRAD_PARAMS = [(b, dt, c) for b, dt, c in FAMILY_PARAMS
                      if c.grad and R._backend(b).has("autograd")]


@pytest.mark.parametrize("backend,dtype,case", FAMILY_GRAD_PARAMS, ids=_ids(FAMILY_GRAD_PARAMS))
def test_family_grad(backend, dtype, case):
    """Gradients against central differences of float64 references, or the
    estimators' published backward formulas."""
    _assert_ok([F.check_family_grad(backend, dtype, case)])


def test_family_reference_detects_a_wrong_value():
    """The family check fails for a perturbed implementation (the reference is
    not vacuous)."""
    import gumbelxp as gx

    case = F.FAMILY_CASES_BY_NAME["log_softmax"]
    original = gx.gumbel_log_softmax
    try:
        gx.gumbel_log_softmax = lambda *a, **k: original(*a, **k) * (1 + 1e-3)
        r = F.check_family("numpy", "float64", case)
    finally:
        gx.gumbel_log_softmax = original
    assert not r.ok and "outside" in r.detail
