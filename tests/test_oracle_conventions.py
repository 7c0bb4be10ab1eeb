"""Conventions users bring from their framework (API.md):

* a call written for ``torch.nn.functional.gumbel_softmax`` with keywords
  (``logits=, tau=, hard=, eps=, dim=``) runs unchanged;
* ``dim=`` is an alias of ``axis=`` on every function with an axis;
* no input is ever modified: read-only NumPy arrays (``np.broadcast_to``
  views included) work, the bytes of every NumPy input stay the same, a
  PyTorch tensor keeps its values and its version counter (which counts
  in-place writes), a NumPy array behind a Dask or array-api-strict array
  is untouched.
"""

from __future__ import annotations

import _oracle_support as S
import numpy as np
import pytest

import gumbelxp as gx

BACKENDS = S.backends()


# ---------------------------------------------------------------------------
# PyTorch's keywords
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("be", BACKENDS)
def test_pytorch_keyword_call_runs_unchanged(be):
    r = np.random.default_rng(0)
    logits, g = r.normal(size=(5, 4)), r.gumbel(size=(5, 4))
    dtype = "float32"
    x, noise = S.asarray(be, logits, dtype), S.asarray(be, g, dtype)
    g = S.to_np(noise).astype(np.float64)
    want = S.ref_gumbel_softmax(logits.astype(np.float32), g, 0.5)
    y = gx.gumbel_softmax(logits=x, tau=0.5, hard=False, eps=1e-10, dim=-1, noise=noise)
    np.testing.assert_allclose(S.to_np(y), want, rtol=1e-5, atol=1e-6)
    y = gx.gumbel_softmax(logits=x, tau=0.5, hard=True, eps=1e-10, dim=-1, noise=noise)
    np.testing.assert_array_equal(S.to_np(y), S.one_hot(np.argmax(logits + g, -1), 4))
    # with a generator: eps changes nothing
    y = S.to_np(gx.gumbel_softmax(logits=x, tau=0.5, eps=1e-10, dim=0, rng=3))
    np.testing.assert_array_equal(y, S.to_np(gx.gumbel_softmax(x, 0.5, axis=0, rng=3)))


def test_pytorch_keyword_call_runs_as_torch_runs_it():
    """The very call of PyTorch's docs, on the same tensor: same shapes, same
    kind of result (rows on the simplex; exact one-hot with hard=True)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    logits = torch.randn(20, 32, generator=torch.Generator().manual_seed(0))
    for hard in (False, True):
        kw = dict(logits=logits, tau=1, hard=hard, eps=1e-10, dim=-1)
        ours, theirs = gx.gumbel_softmax(**kw), F.gumbel_softmax(**kw)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        torch.testing.assert_close(ours.sum(-1), torch.ones(20))
        if hard:
            assert set(ours.unique().tolist()) == {0.0, 1.0}


# ---------------------------------------------------------------------------
# dim= everywhere
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("be", BACKENDS)
def test_dim_is_an_alias_of_axis_everywhere(be):
    r = np.random.default_rng(1)
    logits, g = r.normal(size=(4, 6)), r.gumbel(size=(4, 6))
    y = r.dirichlet(np.ones(4), size=6).T  # the simplex along axis 0
    dtype = "float32"
    x, noise, yy = (S.asarray(be, a, dtype) for a in (logits, g, y))
    s = logits.astype(np.float32).astype(np.float64) + S.to_np(noise)
    pairs = {
        "gumbel_softmax": (lambda **k: gx.gumbel_softmax(x, 0.5, noise=noise, **k),
                           S.ref_gumbel_softmax(logits, S.to_np(noise), 0.5, axis=0)),
        "gumbel_softmax hard": (lambda **k: gx.gumbel_softmax(x, 0.5, hard=True, noise=noise, **k),
                                S.one_hot(np.argmax(s, 0), 4, axis=0)),
        "gumbel_max": (lambda **k: gx.gumbel_max(x, noise=noise, **k), np.argmax(s, 0)),
        "gumbel_topk": (lambda **k: gx.gumbel_topk(x, 2, noise=noise, **k),
                        np.argsort(-s, axis=0, kind="stable")[:2]),
        "straight_through": (lambda **k: gx.straight_through(yy, **k),
                             S.one_hot(np.argmax(y, 0), 4, axis=0)),
        "relaxed_log_prob": (lambda **k: gx.relaxed_log_prob(yy, x, 0.5, **k),
                             S.concrete_log_prob64(y, logits, 0.5, axis=0)),
    }
    for name, (f, want) in pairs.items():
        got = S.to_np(f(dim=0))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=name)
        np.testing.assert_array_equal(got, S.to_np(f(axis=0)), err_msg=name)
    m = gx.gumbel_max(x, dim=0, num_samples=3, rng=1)
    assert tuple(m.shape) == (3, 6)


# ---------------------------------------------------------------------------
# no input is modified
# ---------------------------------------------------------------------------
def _numpy_calls(shape):
    """(name, function of the inputs dict) for every public function."""
    n = shape[-1]
    return {
        "soft": lambda a, rng: gx.gumbel_softmax(a["x"], 0.5, rng=rng),
        "soft tau=1": lambda a, rng: gx.gumbel_softmax(a["x"], 1.0, rng=rng),
        "soft tau array": lambda a, rng: gx.gumbel_softmax(a["x"], a["tau"], rng=rng),
        "hard": lambda a, rng: gx.gumbel_softmax(a["x"], 0.5, hard=True, rng=rng),
        "hard tau=1": lambda a, rng: gx.gumbel_softmax(a["x"], 1.0, hard=True, rng=rng),
        "soft noise": lambda a, rng: gx.gumbel_softmax(a["x"], 0.5, noise=a["g"]),
        "soft tau=1 noise": lambda a, rng: gx.gumbel_softmax(a["x"], 1.0, noise=a["g"]),
        "hard noise": lambda a, rng: gx.gumbel_softmax(a["x"], 0.5, hard=True, noise=a["g"]),
        "max": lambda a, rng: gx.gumbel_max(a["x"], rng=rng),
        "max noise": lambda a, rng: gx.gumbel_max(a["x"], noise=a["g"]),
        "max axis 0": lambda a, rng: gx.gumbel_max(a["x"], axis=0, rng=rng),
        "topk": lambda a, rng: gx.gumbel_topk(a["x"], min(2, n), rng=rng),
        "topk noise": lambda a, rng: gx.gumbel_topk(a["x"], min(2, n), noise=a["g"]),
        "straight_through": lambda a, rng: gx.straight_through(a["y"]),
        "relaxed_log_prob": lambda a, rng: gx.relaxed_log_prob(a["y"], a["x"], a["tau"]),
        "gumbel loc scale": lambda a, rng: gx.gumbel(shape, like=a["x"], loc=a["x"],
                                                     scale=a["scale"], rng=rng),
    }


def _numpy_inputs(shape, dtype):
    r = np.random.default_rng(2)
    return {"x": r.normal(size=shape).astype(dtype), "g": r.gumbel(size=shape).astype(dtype),
            "y": r.dirichlet(np.ones(shape[-1]), size=shape[:-1]).astype(dtype),
            "tau": r.uniform(0.5, 2.0, size=shape[:-1]).astype(dtype),
            "scale": r.uniform(0.5, 2.0, size=shape).astype(dtype)}


RNGS = {"None": lambda: None, "int": lambda: 3, "PortableRNG": lambda: gx.PortableRNG(3),
        "Generator": lambda: np.random.default_rng(3),
        "MT19937": lambda: np.random.Generator(np.random.MT19937(3))}


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("shape", [(3, 5), (1500, 4)], ids=["small", "above-4096"])
@pytest.mark.parametrize("read_only", [False, True], ids=["writeable", "read-only"])
def test_numpy_inputs_are_never_modified(dtype, shape, read_only):
    inputs = _numpy_inputs(shape, dtype)
    for a in inputs.values():
        a.flags.writeable = not read_only
    before = {k: a.tobytes() for k, a in inputs.items()}
    failures = []
    for name, call in _numpy_calls(shape).items():
        for rng_name, rng in RNGS.items():
            if "noise" in name and rng_name != "None":
                continue
            try:
                call(inputs, rng())
            except Exception as e:
                failures.append(f"{name} rng={rng_name}: {type(e).__name__}: {e}")
                continue
            for k, a in inputs.items():
                if a.tobytes() != before[k]:
                    failures.append(f"{name} rng={rng_name} modified input {k}")
                    a.flags.writeable = True
                    a[...] = np.frombuffer(before[k], dtype=a.dtype).reshape(a.shape)
                    a.flags.writeable = not read_only
    assert not failures, "; ".join(failures[:8])


def test_numpy_broadcast_views_work():
    """np.broadcast_to gives read-only views with zero strides: every call
    takes them (a user's one-logits-row-for-a-batch)."""
    row = np.log(np.array([0.1, 0.2, 0.3, 0.4]))
    for dtype in ("float32", "float64"):
        x = np.broadcast_to(row.astype(dtype), (3000, 4))
        g = np.broadcast_to(np.random.default_rng(0).gumbel(size=4).astype(dtype), (3000, 4))
        for call in _numpy_calls((3000, 4)).values():
            call({"x": x, "g": g, "y": np.broadcast_to(np.full(4, 0.25, dtype), (3000, 4)),
                  "tau": np.broadcast_to(np.asarray(0.5, dtype), (3000,)),
                  "scale": np.broadcast_to(np.asarray(1.0, dtype), (3000, 4))},
                 np.random.default_rng(1))
        assert (x == row.astype(dtype)).all()


@pytest.mark.slow
def test_torch_inputs_are_never_modified():
    torch = pytest.importorskip("torch")
    failures = []
    for dtype in (torch.float32, torch.float16):
        for shape in ((3, 5), (1500, 4)):
            for grad in (False, True):
                np_inputs = _numpy_inputs(shape, "float64")
                inputs = {k: torch.tensor(v, dtype=dtype) for k, v in np_inputs.items()}
                if grad:
                    for t in inputs.values():
                        t.requires_grad_(True)
                before = {k: (t.detach().clone(), t._version) for k, t in inputs.items()}
                rngs = {"None": lambda: None,
                        "Generator": lambda: torch.Generator().manual_seed(3),
                        "PortableRNG": lambda: gx.PortableRNG(3)}
                for name, call in _numpy_calls(shape).items():
                    for rng_name, rng in rngs.items():
                        if "noise" in name and rng_name != "None":
                            continue
                        where = f"{dtype} {shape} grad={grad} {name} rng={rng_name}"
                        try:
                            call(inputs, rng())
                        except Exception as e:
                            failures.append(f"{where}: {type(e).__name__}: {e}")
                            continue
                        for k, t in inputs.items():
                            if t._version != before[k][1] or not torch.equal(t.detach(),
                                                                             before[k][0]):
                                failures.append(f"{where}: modified input {k}")
                                return pytest.fail("; ".join(failures[:8]))
    assert not failures, "; ".join(failures[:8])


@pytest.mark.parametrize("be", S.backends("dask", "array_api_strict"))
def test_numpy_arrays_behind_other_arrays_are_never_modified(be):
    shape = (1500, 4)
    inputs = _numpy_inputs(shape, "float64")
    before = {k: a.copy() for k, a in inputs.items()}
    if be == "dask":
        import dask.array as da

        wrap = {k: da.from_array(a, chunks=(500,) + a.shape[1:]) for k, a in inputs.items()}
    else:
        import array_api_strict as xps

        wrap = {k: xps.asarray(a, copy=False) for k, a in inputs.items()}
    for name, call in _numpy_calls(shape).items():
        for rng in (None, 3, gx.PortableRNG(3)):
            if "noise" in name and rng is not None:
                continue
            S.to_np(call(wrap, rng))
            for k, a in inputs.items():
                np.testing.assert_array_equal(a, before[k], err_msg=f"{name}: input {k}")
