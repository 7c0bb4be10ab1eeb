"""Benchmarks: gumbelxp against each framework's own Gumbel-Softmax.

``gumbelxp bench`` on the command line; :func:`run` for scripts::

    from gumbelxp.conformance.bench.speed import run
    records = run(backends=["torch"], shapes=[(256, 1000)], repeats=5)

For every installed backend, shape, dtype and mode, gumbelxp and the
reference(s) run interleaved in the same process (one call of each per round,
the order rotating from round to round), after warm-up; the time of each is
the median over the rounds, and ``ratio = gumbelxp / reference`` (below 1:
gumbelxp is faster). Compare ratios, not absolute times, on a shared machine.

References, each in the same mode as gumbelxp:

* PyTorch: ``torch.nn.functional.gumbel_softmax`` (eager).
* NumPy: the best hand-written in-place version (``out=`` everywhere), and
  the seeds' recipe ``-np.log(-np.log(rng.random(shape)))`` plus softmax.
* JAX: ``jax.random.gumbel`` plus ``jax.nn.softmax``, both sides in ``jax.jit``.
* TensorFlow: uniform, two logs and ``tf.nn.softmax``, both sides in
  ``tf.function``.

Peak extra memory of one call (output included) is measured after all the
timings: with ``tracemalloc`` for NumPy (exact), and elsewhere as the peak
resident set size above the current one (Linux: ``/proc/self/clear_refs``),
with glibc told to return freed blocks to the system (``mallopt``), so it is
approximate (page granularity, the framework's own caches); ``None`` where it
cannot be measured. ``mem_x`` is the same in units of the input's size.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from gumbelxp.backends import installed_backends

SHAPES: tuple[tuple[int, int], ...] = ((8, 16), (256, 1000), (4096, 1024), (64, 50257))
MODES: tuple[str, ...] = ("soft", "hard", "hard_fwd_bwd")
BENCH_BACKENDS: tuple[str, ...] = ("numpy", "torch", "jax", "tensorflow")
#: wall time each timed sample aims for: tiny calls are looped that often
_SAMPLE_S = 2e-3
#: the per-call overhead goal on the smallest shape, microseconds
OVERHEAD_GOAL_US = 20.0


def goal_for(backend: str, reference: str, mode: str) -> float:
    """The issue's target for ``ratio`` (gumbelxp / reference)."""
    if backend == "torch":
        return 0.6 if mode == "hard_fwd_bwd" else 0.5
    if backend == "numpy":
        return 0.7 if reference.startswith("seeds") else 1.0
    return 1.1


# ---------------------------------------------------------------------------
# cases: (label, callable) pairs per backend, dtype, shape and mode
# ---------------------------------------------------------------------------
class Case:
    def __init__(self, backend: str, variant: str, dtype: str, shape: tuple, mode: str,
                 ours: Callable[[], Any], refs: dict[str, Callable[[], Any]],
                 nbytes: int) -> None:
        self.backend, self.variant, self.dtype = backend, variant, dtype
        self.shape, self.mode, self.ours, self.refs, self.nbytes = shape, mode, ours, refs, nbytes


def _numpy_cases(shape, modes):
    import numpy as np

    import gumbelxp as gx

    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    gen = np.random.default_rng(1)

    def inplace(hard):
        g = gen.random(shape, dtype=np.float32)
        np.log(g, out=g)
        np.negative(g, out=g)
        np.log(g, out=g)
        np.subtract(x, g, out=g)  # x + Gumbel noise
        if hard:  # Gumbel-max: the one-hot needs no softmax
            y = np.zeros(shape, dtype=np.float32)
            np.put_along_axis(y, np.argmax(g, axis=-1, keepdims=True), 1.0, axis=-1)
            return y
        np.subtract(g, g.max(axis=-1, keepdims=True), out=g)
        np.exp(g, out=g)
        return np.divide(g, g.sum(axis=-1, keepdims=True), out=g)

    def seeds(hard):
        g = -np.log(-np.log(gen.random(shape)))
        z = x + g
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        y = e / e.sum(axis=-1, keepdims=True)
        if hard:
            y = (y == y.max(axis=-1, keepdims=True)).astype(x.dtype)
        return y

    for mode in modes:
        if mode == "hard_fwd_bwd":
            continue
        hard = mode == "hard"
        yield Case("numpy", "eager", "float32", shape, mode,
                   lambda hard=hard: gx.gumbel_softmax(x, hard=hard, rng=gen),
                   {"numpy in-place": lambda hard=hard: inplace(hard),
                    "seeds' recipe": lambda hard=hard: seeds(hard)}, x.nbytes)


def _torch_cases(shape, modes):
    import torch
    import torch.nn.functional as F

    import gumbelxp as gx

    for dtype in ("float32", "bfloat16"):
        dt = getattr(torch, dtype)
        x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(dt)
        w = torch.randn(shape).to(dt)
        for mode in modes:
            if mode == "hard_fwd_bwd":
                xg = x.clone().requires_grad_(True)

                def ours(xg=xg, w=w):
                    return torch.autograd.grad(gx.gumbel_softmax(xg, hard=True), xg, w)[0]

                def ref(xg=xg, w=w):
                    return torch.autograd.grad(F.gumbel_softmax(xg, hard=True), xg, w)[0]
            else:
                hard = mode == "hard"

                def ours(x=x, hard=hard):
                    return gx.gumbel_softmax(x, hard=hard)

                def ref(x=x, hard=hard):
                    return F.gumbel_softmax(x, hard=hard)
            yield Case("torch", "eager", dtype, shape, mode, ours,
                       {"F.gumbel_softmax": ref}, x.numel() * x.element_size())


def _jax_cases(shape, modes):
    import jax
    import jax.numpy as jnp

    import gumbelxp as gx

    x = jax.random.normal(jax.random.key(0), shape, dtype=jnp.float32)
    w = jax.random.normal(jax.random.key(1), shape, dtype=jnp.float32)
    key = jax.random.key(2)

    def hand(x, k, hard):
        y = jax.nn.softmax(x + jax.random.gumbel(k, x.shape, x.dtype), axis=-1)
        if hard:
            y_hard = jax.nn.one_hot(jnp.argmax(y, axis=-1), x.shape[-1], dtype=y.dtype)
            y = y_hard + (y - jax.lax.stop_gradient(y))
        return y

    def ours_fn(x, k, hard):
        return gx.gumbel_softmax(x, hard=hard, rng=k)

    for mode in modes:
        hard = mode != "soft"
        fns = []
        for f in (ours_fn, hand):
            if mode == "hard_fwd_bwd":
                def g(x, k, w, f=f):
                    return jax.vjp(lambda x: f(x, k, True), x)[1](w)[0]
                jf = jax.jit(g)
                fns.append(lambda jf=jf: jf(x, key, w).block_until_ready())
            else:
                jf = jax.jit(lambda x, k, f=f, hard=hard: f(x, k, hard))
                fns.append(lambda jf=jf: jf(x, key).block_until_ready())
        yield Case("jax", "jit", "float32", shape, mode, fns[0],
                   {"jax.random.gumbel + jax.nn.softmax": fns[1]}, x.size * 4)


def _tensorflow_cases(shape, modes):
    import tensorflow as tf
    from gumbelxp.backends import get_backend

    import gumbelxp as gx

    get_backend("tensorflow")  # fails early, with the reason, if TensorFlow cannot run
    x = tf.random.stateless_normal(shape, seed=(0, 0), dtype=tf.float32)
    w = tf.random.stateless_normal(shape, seed=(0, 1), dtype=tf.float32)
    gen = tf.random.Generator.from_seed(2)
    tiny = float(tf.experimental.numpy.finfo(tf.float32).tiny)

    def hand(x, hard):
        u = gen.uniform(tf.shape(x), minval=tiny, maxval=1.0, dtype=x.dtype)
        y = tf.nn.softmax(x - tf.math.log(-tf.math.log(u)), axis=-1)
        if hard:
            y_hard = tf.one_hot(tf.argmax(y, axis=-1), tf.shape(x)[-1], dtype=y.dtype)
            y = y_hard + (y - tf.stop_gradient(y))
        return y

    def ours_fn(x, hard):
        return gx.gumbel_softmax(x, hard=hard, rng=gen)

    for mode in modes:
        hard = mode != "soft"
        fns = []
        for f in (ours_fn, hand):
            if mode == "hard_fwd_bwd":
                @tf.function
                def tf_f(x, w, f=f):
                    with tf.GradientTape() as tape:
                        tape.watch(x)
                        y = f(x, True)
                    return tape.gradient(y, x, output_gradients=w)
                fns.append(lambda tf_f=tf_f: tf_f(x, w).numpy())
            else:
                tf_f = tf.function(lambda x, f=f, hard=hard: f(x, hard))
                fns.append(lambda tf_f=tf_f: tf_f(x).numpy())
        yield Case("tensorflow", "tf.function", "float32", shape, mode, fns[0],
                   {"hand-written tf.nn.softmax": fns[1]}, int(x.shape.num_elements()) * 4)


_CASES = {"numpy": _numpy_cases, "torch": _torch_cases, "jax": _jax_cases,
          "tensorflow": _tensorflow_cases}


# ---------------------------------------------------------------------------
# timing and memory
# ---------------------------------------------------------------------------
def _loops(f: Callable[[], Any]) -> int:
    """Calls per timed sample: enough that one sample takes ~2 ms."""
    t0 = time.perf_counter()
    f()
    dt = time.perf_counter() - t0
    return max(1, min(2000, int(_SAMPLE_S / max(dt, 1e-7))))


def time_interleaved(fns: list[Callable[[], Any]], repeats: int, warmup: int = 2) -> list[float]:
    """Median seconds per call of each of ``fns``, measured round by round
    (each round calls every function once, in an order that rotates)."""
    for _ in range(warmup):
        for f in fns:
            f()
    loops = [_loops(f) for f in fns]
    samples: list[list[float]] = [[] for _ in fns]
    for r in range(repeats):
        for j in range(len(fns)):
            i = (j + r) % len(fns)
            f, n = fns[i], loops[i]
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            samples[i].append((time.perf_counter() - t0) / n)
    return [statistics.median(s) for s in samples]


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


_malloc_tuned = False


def _tune_malloc() -> bool:
    """Make glibc give large freed blocks back to the system, so the resident
    set size follows what is alive (changes timings: called after them)."""
    global _malloc_tuned
    if not _malloc_tuned:
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6")
            libc.mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD
            libc.mallopt(-1, 64 * 1024)  # M_TRIM_THRESHOLD
            _malloc_tuned = True
        except Exception:
            return False
    return True


def peak_extra_bytes(f: Callable[[], Any], backend: str) -> int | None:
    """Peak memory one call of ``f`` adds (its result included), or None."""
    f()  # warm: caches, compiled code
    gc.collect()
    if backend == "numpy":
        import tracemalloc

        tracemalloc.start()
        try:
            out = f()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        del out
        return peak
    if not _tune_malloc():
        return None
    rss = _status_kb("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset the peak RSS (VmHWM) to the current RSS
    except OSError:
        return None
    out = f()
    hwm = _status_kb("VmHWM")
    del out
    if rss is None or hwm is None:
        return None
    return max(0, hwm - rss) * 1024


# ---------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------
def _progress(done: int, total: int, what: str) -> None:
    width = 30
    fill = int(width * done / max(total, 1))
    sys.stderr.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {done}/{total} {what:<48.48}")
    sys.stderr.flush()


def _available(names: list[str] | None) -> list[str]:
    from ..support import unavailable_reason

    names = list(BENCH_BACKENDS) if names is None else names
    return [n for n in names if n in _CASES and unavailable_reason(n) is None]


def run(backends: list[str] | None = None, shapes: list[tuple[int, ...]] | None = None,
        modes: list[str] | None = None, repeats: int = 7, memory: bool = True,
        progress: bool = False) -> list[dict[str, Any]]:
    """Run the benchmarks; one record (a dict) per case and reference.

    Record keys: ``backend``, ``variant`` (eager, jit, tf.function),
    ``dtype``, ``shape`` (tuple), ``mode`` (soft, hard, hard_fwd_bwd),
    ``reference``, ``gumbelxp_us`` and ``reference_us`` (median
    microseconds per call), ``ratio`` (gumbelxp / reference), ``overhead_us``
    (their difference), ``goal`` (the target ratio) and ``met``,
    ``gumbelxp_mem_x`` / ``reference_mem_x`` (peak extra memory in units of
    the input's size, or None) and ``gumbelxp_mem_bytes`` /
    ``reference_mem_bytes``. A backend whose cases cannot be built (e.g. no
    adapter yet) gets no records and a warning on stderr.
    """
    shapes = [tuple(s) for s in (shapes or SHAPES)]
    modes = list(modes or MODES)
    for m in modes:
        if m not in MODES:
            raise ValueError(f"unknown mode {m!r}; choose from {', '.join(MODES)}")
    cases: list[Case] = []
    for name in _available(backends):
        try:
            for shape in shapes:
                cases.extend(_CASES[name](shape, modes))
        except Exception as e:
            sys.stderr.write(f"bench: skipping {name}: {type(e).__name__}: {e}\n")
            cases = [c for c in cases if c.backend != name]
    records = []
    steps = len(cases) * (2 if memory else 1)
    for k, c in enumerate(cases):
        what = f"{c.backend} {c.dtype} {'x'.join(map(str, c.shape))} {c.mode}"
        if progress:
            _progress(k, steps, what)
        names = list(c.refs)
        times = time_interleaved([c.ours] + [c.refs[n] for n in names], repeats)
        for n, t in zip(names, times[1:], strict=True):
            goal = goal_for(c.backend, n, c.mode)
            ratio = times[0] / t
            over = (times[0] - t) * 1e6
            small = math.prod(c.shape) <= 1024
            records.append({
                "backend": c.backend, "variant": c.variant, "dtype": c.dtype,
                "shape": c.shape, "mode": c.mode, "reference": n,
                "gumbelxp_us": times[0] * 1e6, "reference_us": t * 1e6,
                "ratio": ratio, "overhead_us": over,
                "goal": f"+{OVERHEAD_GOAL_US:g} us" if small else f"<= {goal}",
                "met": over <= OVERHEAD_GOAL_US if small else ratio <= goal,
                "gumbelxp_mem_bytes": None, "reference_mem_bytes": None,
                "gumbelxp_mem_x": None, "reference_mem_x": None,
            })
    if memory:  # after all timings: tuning malloc for it slows allocation
        by_case = {}
        for r in records:
            by_case.setdefault((r["backend"], r["dtype"], r["shape"], r["mode"]), []).append(r)
        for k, c in enumerate(cases):
            if progress:
                _progress(len(cases) + k, steps, f"memory {c.backend} {c.mode}")
            rs = by_case[(c.backend, c.dtype, c.shape, c.mode)]
            if math.prod(c.shape) < 2**18:
                continue  # below page-level resolution
            mine = peak_extra_bytes(c.ours, c.backend)
            for r in rs:
                theirs = peak_extra_bytes(c.refs[r["reference"]], c.backend)
                r["gumbelxp_mem_bytes"], r["reference_mem_bytes"] = mine, theirs
                r["gumbelxp_mem_x"] = None if mine is None else mine / c.nbytes
                r["reference_mem_x"] = None if theirs is None else theirs / c.nbytes
    if progress:
        _progress(steps, steps, "done")
        sys.stderr.write("\n")
    return records


def format_table(records: list[dict[str, Any]]) -> str:
    """The records as a Markdown table."""
    def mem(v):
        return "n/a" if v is None else f"{v:.1f}"

    head = ("| backend | dtype | shape | mode | reference | gumbelxp us | reference us "
            "| ratio | goal | met | mem x (gx / ref) |")
    lines = [head, "|" + "---|" * 11]
    for r in records:
        lines.append(
            f"| {r['backend']} ({r['variant']}) | {r['dtype']} | {'x'.join(map(str, r['shape']))} "
            f"| {r['mode']} | {r['reference']} | {r['gumbelxp_us']:.1f} | {r['reference_us']:.1f} "
            f"| {r['ratio']:.2f} | {r['goal']} | {'yes' if r['met'] else 'NO'} "
            f"| {mem(r['gumbelxp_mem_x'])} / {mem(r['reference_mem_x'])} |")
    return "\n".join(lines)


def machine() -> str:
    import os
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``bench`` options (the CLI's parser calls this)."""
    p.add_argument("--shapes", help="comma-separated shapes, e.g. 8x16,4096x1024 "
                   "(default: " + ",".join("x".join(map(str, s)) for s in SHAPES) + ")")
    p.add_argument("--modes", help=f"comma-separated modes (default: {','.join(MODES)})")
    p.add_argument("--repeats", type=int, default=7, help="timed rounds (default 7)")
    p.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    p.add_argument("--json", action="store_true", help="print the records as JSON")
    p.add_argument("--dask-draws", type=float, default=1e8,
                   help="Gumbel-max samples for the Dask cluster case, run when dask is "
                        "installed and selected (default 1e8; 0 skips it)")


def _parse_shapes(arg: str | None) -> list[tuple[int, ...]] | None:
    if not arg:
        return None
    try:
        return [tuple(int(d) for d in s.lower().split("x")) for s in arg.split(",") if s.strip()]
    except ValueError:
        raise SystemExit(f"bad --shapes {arg!r}: write e.g. 8x16,4096x1024") from None


def main(args: argparse.Namespace) -> int:
    backends = None
    if getattr(args, "backends", None):
        backends = [n.strip() for n in args.backends.split(",") if n.strip()]
    # The Dask cluster case first, while no other framework is imported:
    # worker processes inherit the parent's modules (825 MiB each with torch,
    # TensorFlow and JAX loaded, against 156 MiB without).
    dask_rec = None
    draws = int(getattr(args, "dask_draws", 0) or 0)
    if draws and "dask" in (backends or installed_backends()):
        from .dask import bench_dask, format_record

        dask_rec = bench_dask(draws, progress=not getattr(args, "json", False))
    modes = getattr(args, "modes", None)
    records = run(backends=backends, shapes=_parse_shapes(getattr(args, "shapes", None)),
                  modes=[m.strip() for m in modes.split(",")] if modes else None,
                  repeats=getattr(args, "repeats", 7),
                  memory=not getattr(args, "no_memory", False), progress=True)
    if getattr(args, "json", False):
        print(json.dumps({"machine": machine(), "records": records, "dask": dask_rec}, indent=1))
    else:
        print(f"machine: {machine()}")
        print(format_table(records))
        if dask_rec is not None:
            print()
            print(format_record(dask_rec))
    return 0
