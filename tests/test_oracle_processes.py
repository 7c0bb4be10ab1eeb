"""The defects of issue 10 that need a process of their own:

* fork: with ``rng=None`` on NumPy, processes forked after the parent drew
  (a ``multiprocessing`` pool, a PyTorch ``DataLoader`` with workers) must
  not repeat each other's noise, as NumPy's and PyTorch's own generators do
  not;
* JAX arrays sharded over 4 CPU devices
  (``--xla_force_host_platform_device_count=4``): every call works eagerly
  and under ``jax.jit`` and its result carries the sharding that JAX's own
  ``x + jax.random.gumbel(key, x.shape)`` expression gets;
* TensorFlow: ``tf.random.set_seed`` makes ``rng=None`` repeat in fresh
  processes (``keras.utils.set_random_seed``, which calls it, is checked in
  ``test_oracle_defects.py``), and a fresh process whose first gumbelxp call
  is traced inside ``tf.function`` logs no AutoGraph warning.

The scripts start together (in parallel) the first time a test needs one;
each test reads its part of a script's JSON report.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
TIMEOUT = 300

FORK = r'''
import json, os, multiprocessing as mp
import numpy as np
import gumbelxp as gx

gx.gumbel((3,))  # the parent draws before forking
gx.gumbel_softmax(np.zeros(4), 0.5)

def work(_):
    return {"pid": os.getpid(), "gumbel": gx.gumbel((6,)).tolist(),
            "soft": gx.gumbel_softmax(np.zeros((2, 5)), 0.5).tolist(),
            "max": gx.gumbel_max(np.zeros((16, 5))).tolist()}

out = {}
ctx = mp.get_context("fork")
with ctx.Pool(3, maxtasksperchild=1) as pool:  # a fresh forked worker per task
    out["pool"] = pool.map(work, range(6), chunksize=1)
out["parent_after"] = gx.gumbel((6,)).tolist()

try:
    import torch
    from torch.utils.data import DataLoader, Dataset, get_worker_info
except ImportError:
    out["dataloader"] = None
else:
    class D(Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            return {"worker": get_worker_info().id, "i": i,
                    "np": gx.gumbel((4,)).tolist(),
                    "np_soft": gx.gumbel_softmax(np.zeros(4), 0.5).tolist(),
                    "torch": gx.gumbel_softmax(torch.zeros(4), 0.5).tolist()}

    dl = DataLoader(D(), batch_size=None, num_workers=2, multiprocessing_context="fork",
                    collate_fn=lambda b: b)
    out["dataloader"] = [list(dl), list(dl)]  # two epochs
print("JSON" + json.dumps(out))
'''

JAX_SHARDED = r'''
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
os.environ["JAX_PLATFORMS"] = "cpu"
import json
import numpy as np
import jax, jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec as P
import gumbelxp as gx

assert len(jax.devices()) == 4, jax.devices()
mesh = jax.sharding.Mesh(np.array(jax.devices()), ("b",))
sh = NamedSharding(mesh, P("b", None))
data = np.random.default_rng(0).normal(size=(8, 5)).astype(np.float32)
x = jax.device_put(jnp.asarray(data), sh)
x1 = jnp.asarray(data)  # on one device
key = jax.random.key(0)
noise = jax.device_put(jax.random.gumbel(jax.random.key(1), (8, 5)), sh)

def soft_ref(x):
    return jax.nn.softmax((x + jax.random.gumbel(key, x.shape)) / 0.5, axis=-1)

def max_ref(x):
    return jnp.argmax(x + jax.random.gumbel(key, x.shape), axis=-1)

def topk_ref(x):
    return jax.lax.top_k(x + jax.random.gumbel(key, x.shape), 2)[1]

def like_ref(x):  # an array like x, in JAX's own terms
    return jnp.zeros_like(x) + jax.random.gumbel(key, x.shape)

cases = {
    "gumbel_softmax": (lambda x: gx.gumbel_softmax(x, 0.5, rng=key), soft_ref),
    "gumbel_softmax_tau1": (lambda x: gx.gumbel_softmax(x, 1.0, rng=key), soft_ref),
    "gumbel_softmax_hard": (lambda x: gx.gumbel_softmax(x, 0.5, hard=True, rng=key), soft_ref),
    "gumbel_softmax_noise": (lambda x: gx.gumbel_softmax(x, 0.5, noise=noise), soft_ref),
    "gumbel_softmax_int_seed": (lambda x: gx.gumbel_softmax(x, 0.5, rng=3), soft_ref),
    "gumbel_max": (lambda x: gx.gumbel_max(x, rng=key), max_ref),
    "gumbel_topk": (lambda x: gx.gumbel_topk(x, 2, rng=key), topk_ref),
    "gumbel_like": (lambda x: gx.gumbel(x.shape, like=x, rng=key), like_ref),
}
out = {}
for name, (f, ref) in cases.items():
    for mode in ("eager", "jit"):
        run = f if mode == "eager" else jax.jit(f)
        rref = ref if mode == "eager" else jax.jit(ref)
        try:
            y = run(x)
            want = run(x1)  # the same call on one device
            r = rref(x)
            problems = []
            if not y.sharding.is_equivalent_to(r.sharding, y.ndim):
                problems.append(f"sharding {y.sharding} but jax.random's expression has {r.sharding}")
            if not np.allclose(np.asarray(y), np.asarray(want), atol=1e-6):
                problems.append("values differ from the same call on one device")
            out[f"{name}-{mode}"] = "; ".join(problems) or "ok"
        except Exception as e:
            out[f"{name}-{mode}"] = f"{type(e).__name__}: {str(e)[:300]}"
print("JSON" + json.dumps(out))
'''

TF_SEED = r'''
import json, sys
import numpy as np
import tensorflow as tf
import gumbelxp as gx

out = {}

def attempt(name, f):
    try:
        out[name] = f()
    except Exception as e:
        out[name] = f"ERROR {type(e).__name__}: {str(e)[:300]}"

x = tf.constant(np.zeros((4, 6)), tf.float32)
y = tf.fill((4, 6), 1 / 6)
t = tf.constant([0.5, 1.0, 2.0, 3.0])
if sys.argv[1] == "first":
    # a fresh process whose first gumbelxp call is traced by AutoGraph
    # (tf.function's default), every public function
    def everything(x, y, t):
        return (gx.gumbel_softmax(x, t, rng=1), gx.gumbel_softmax(x, 0.5, hard=True, rng=1),
                gx.gumbel_softmax(x, 1.0, rng=2), gx.gumbel_max(x, rng=2),
                gx.gumbel_topk(x, 2, rng=3), gx.straight_through(y),
                gx.relaxed_log_prob(y, x, 0.5), gx.gumbel((3,), like=x, rng=4),
                gx.gumbel_softmax(x, t, rng=gx.PortableRNG(5)))

    attempt("autograph-run", lambda: len(tf.function(everything)(x, y, t)))
    attempt("autograph-jit", lambda: len(tf.function(everything, jit_compile=True)(x, y, t)))

def eager():
    return [gx.gumbel_softmax(x, 0.5).numpy().tolist(),
            gx.gumbel_softmax(x, 0.5, hard=True).numpy().tolist(),
            gx.gumbel_max(x).numpy().tolist(),
            gx.gumbel((3,), like=x).numpy().tolist()]

@tf.function
def traced(x):
    return (gx.gumbel_softmax(x, 0.5), gx.gumbel_softmax(x, 0.5, hard=True), gx.gumbel_max(x))

tf.random.set_seed(5)
attempt("set_seed-eager", eager)
tf.random.set_seed(5)
attempt("set_seed-tf.function", lambda: [v.numpy().tolist() for v in traced(x)])
print("JSON" + json.dumps(out))
'''

SCRIPTS = {"fork": (FORK,), "jax": (JAX_SHARDED,), "tf1": (TF_SEED, "first"),
           "tf2": (TF_SEED, "second")}
NEEDS = {"fork": "numpy", "jax": "jax", "tf1": "tensorflow", "tf2": "tensorflow"}
_procs: dict[str, subprocess.Popen] = {}
_results: dict[str, tuple[dict | None, str, str]] = {}


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("CUDA_VISIBLE_DEVICES", "")
    env["PYTHONHASHSEED"] = "0"
    return env


def _start_all():
    import importlib.util

    for name, (script, *args) in SCRIPTS.items():
        if name in _procs or importlib.util.find_spec(NEEDS[name]) is None:
            continue
        _procs[name] = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(script), *args], cwd=str(ROOT), env=_env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result(name):
    """(report, stdout, stderr) of script ``name``."""
    if name not in _results:
        import importlib.util

        if importlib.util.find_spec(NEEDS[name]) is None:
            pytest.skip(f"{NEEDS[name]} is not installed")
        _start_all()
        p = _procs[name]
        try:
            out, err = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        report = None
        for line in out.splitlines():
            if line.startswith("JSON"):
                report = json.loads(line[4:])
        _results[name] = (report, out, err)
    report, out, err = _results[name]
    assert report is not None, f"script {name} failed:\n{err[-3000:]}"
    return report, out, err


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    for p in _procs.values():
        if p.poll() is None:
            p.kill()
            p.communicate()


# ---------------------------------------------------------------------------
# fork
# ---------------------------------------------------------------------------
@pytest.mark.slow
def test_forked_pool_workers_draw_different_noise():
    report, _, _ = result("fork")
    pool = report["pool"]
    assert len({r["pid"] for r in pool}) == len(pool), "tasks did not run in fresh workers"
    for key in ("gumbel", "soft", "max"):
        values = [json.dumps(r[key]) for r in pool]
        assert len(set(values)) == len(values), \
            f"{key}: forked workers repeat each other's noise ({len(set(values))} distinct of {len(values)})"
    assert all(json.dumps(r["gumbel"]) != json.dumps(report["parent_after"]) for r in pool), \
        "a forked worker drew the parent's next values"


@pytest.mark.slow
def test_dataloader_workers_draw_different_noise():
    report, _, _ = result("fork")
    epochs = report["dataloader"]
    if epochs is None:
        pytest.skip("torch is not installed")
    for key in ("np", "np_soft", "torch"):
        for epoch in epochs:
            by_worker = {}
            for item in epoch:
                by_worker.setdefault(item["worker"], []).append(json.dumps(item[key]))
            assert len(by_worker) == 2
            a, b = by_worker.values()
            assert not set(a) & set(b), f"{key}: the two DataLoader workers drew the same noise"
        first = [json.dumps(i[key]) for i in epochs[0]]
        second = [json.dumps(i[key]) for i in epochs[1]]
        assert first != second, f"{key}: the second epoch repeats the first"


# ---------------------------------------------------------------------------
# JAX sharded over 4 devices
# ---------------------------------------------------------------------------
JAX_CASES = [f"{c}-{m}" for c in ("gumbel_softmax", "gumbel_softmax_tau1", "gumbel_softmax_hard",
                                  "gumbel_softmax_noise", "gumbel_softmax_int_seed",
                                  "gumbel_max", "gumbel_topk", "gumbel_like")
             for m in ("eager", "jit")]


@pytest.mark.slow
@pytest.mark.parametrize("case", JAX_CASES)
def test_jax_sharded_input(case):
    report, _, _ = result("jax")
    assert report[case] == "ok", report[case]


# ---------------------------------------------------------------------------
# TensorFlow seeding and AutoGraph
# ---------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("part", ["set_seed-eager", "set_seed-tf.function"])
def test_tf_global_seed_repeats_in_fresh_processes(part):
    a, _, _ = result("tf1")
    b, _, _ = result("tf2")
    assert not str(a[part]).startswith("ERROR"), a[part]
    assert a[part] == b[part], f"{part}: two fresh processes seeded alike drew different noise"
    if part == "set_seed-eager":
        soft = a[part][0]
        assert soft[0] != soft[1], "every row drew the same noise"


@pytest.mark.slow
def test_tf_function_traces_without_autograph_warning():
    report, out, err = result("tf1")
    assert report["autograph-run"] == 9, report["autograph-run"]
    assert report["autograph-jit"] == 9, report["autograph-jit"]
    text = out + err
    for needle in ("Please report this to the TensorFlow team", "AutoGraph could not transform",
                   "could not be transformed"):
        assert needle not in text, f"{needle!r} was logged:\n" + "\n".join(
            line for line in text.splitlines() if "AutoGraph" in line or needle in line)[:2000]
