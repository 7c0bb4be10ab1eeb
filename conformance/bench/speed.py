"""Benchmarks: gumbelxp against each framework's own Gumbel-Softmax.

``gumbelxp bench`` on the command line; :func:`run` for scripts::

    from gumbelxp.conformance.bench.speed import run
    records = run(backends=["torch"], shapes=[(256, 1000)], repeats=5)

For every installed backend, shape, dtype and mode, gumbelxp and the
reference(s) run interleaved in the same process (one call of each per round,
the order rotating from round to round), after warm-up; the time of each is
the median over the rounds, and ``ratio = gumbelxp / reference`` (below 1:
gumbelxp is faster). Compare ratios, not absolute times, on a shared machine.

References, each in the same mode as gumbelxp, named in the output as here:

* PyTorch: ``torch.nn.functional.gumbel_softmax`` (eager).
* NumPy: ``hand-written NumPy (in place)``, the fastest NumPy version we
  could write (``out=`` everywhere; the Gumbel-max one-hot for ``hard``),
  and ``-log(-log(rng.random())) + softmax``, the recipe as usually written.
* JAX: ``jax.random.gumbel + jax.nn.softmax``, both sides in ``jax.jit``.
* TensorFlow: ``-log(-log(gen.uniform())) + tf.nn.softmax`` (a
  ``tf.random.Generator``), both sides in ``tf.function``.

Peak extra memory of one call (output included) is measured after all the
timings: with ``tracemalloc`` for NumPy (exact, at every shape), elsewhere as
the peak resident set size above the current one (Linux:
``/proc/self/clear_refs``), with glibc told to return freed blocks to the
system (``mallopt``): approximate (page granularity, the framework's own
caches), so only from :data:`RSS_MIN_ELEMENTS` elements up. Where memory is
not measured, the record's ``memory_note`` says why.

A timing's spread is ``(max - min) / median`` over the rounds; a large one
says something else was using the machine (:func:`busy_cases`), and
``gumbelxp bench`` then warns on stderr.
"""

# pyright: standard
# (test support and benchmarks: not strict, see [tool.mypy.overrides] in pyproject.toml)

from __future__ import annotations

import argparse
import gc
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

SHAPES: tuple[tuple[int, int], ...] = ((8, 16), (256, 1000), (4096, 1024), (64, 50257))
MODES: tuple[str, ...] = ("soft", "hard", "hard_fwd_bwd")
BENCH_BACKENDS: tuple[str, ...] = ("numpy", "torch", "jax", "tensorflow")
#: wall time each timed sample aims for: tiny calls are looped that often
_SAMPLE_S = 2e-3
#: up to this many elements a call is timed for what it adds per call (us)
SMALL = 1024
#: a spread of the timings above this says the machine is busy (twice this
#: for calls of at most SMALL elements, whose times jitter more)
BUSY_SPREAD = 0.3
#: the smallest input whose memory is measured through the resident set size
RSS_MIN_ELEMENTS = 2**18

REF_NUMPY_INPLACE = "hand-written NumPy (in place)"
REF_NUMPY_RECIPE = "-log(-log(rng.random())) + softmax"
REF_TORCH = "torch.nn.functional.gumbel_softmax"
REF_JAX = "jax.random.gumbel + jax.nn.softmax"
REF_TF = "-log(-log(gen.uniform())) + tf.nn.softmax"


# ---------------------------------------------------------------------------
# cases: (label, callable) pairs per backend, dtype, shape and mode
# ---------------------------------------------------------------------------
class Case:
    """One timed case: ``ours`` (gumbelxp with the framework's own generator),
    the references, and ``portable``: the same gumbelxp call with
    ``gx.PortableRNG``, timed in the same rounds (the PortableRNG column)."""

    def __init__(self, backend: str, variant: str, dtype: str, shape: tuple[int, ...], mode: str,
                 ours: Callable[[], Any], refs: dict[str, Callable[[], Any]],
                 nbytes: int, portable: Callable[[], Any] | None = None) -> None:
        self.backend, self.variant, self.dtype = backend, variant, dtype
        self.shape, self.mode, self.ours, self.refs, self.nbytes = shape, mode, ours, refs, nbytes
        self.portable = portable


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
                   partial(gx.gumbel_softmax, x, hard=hard, rng=gen),
                   {REF_NUMPY_INPLACE: partial(inplace, hard),
                    REF_NUMPY_RECIPE: partial(seeds, hard)}, x.nbytes,
                   partial(gx.gumbel_softmax, x, hard=hard, rng=gx.PortableRNG(0)))


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

                def ours_grad(xg=xg, w=w, rng=None):
                    y = gx.gumbel_softmax(xg, hard=True, rng=rng)
                    return torch.autograd.grad(y, xg, w)[0]

                def ref_grad(xg=xg, w=w):
                    return torch.autograd.grad(F.gumbel_softmax(xg, hard=True), xg, w)[0]

                ours, ref = ours_grad, ref_grad
                portable = partial(ours_grad, rng=gx.PortableRNG(0))
            else:
                hard = mode == "hard"

                def ours_fwd(x=x, hard=hard, rng=None):
                    return gx.gumbel_softmax(x, hard=hard, rng=rng)

                def ref_fwd(x=x, hard=hard):
                    return F.gumbel_softmax(x, hard=hard)

                ours, ref = ours_fwd, ref_fwd
                portable = partial(ours_fwd, rng=gx.PortableRNG(0))
            yield Case("torch", "eager", dtype, shape, mode, ours,
                       {REF_TORCH: ref}, x.numel() * x.element_size(), portable)


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

    def portable_fn(x, k, hard):  # the counter is read when jit traces: a fresh one
        return gx.gumbel_softmax(x, hard=hard, rng=gx.PortableRNG(0))

    for mode in modes:
        hard = mode != "soft"
        fns = []
        for f in (ours_fn, hand, portable_fn):
            if mode == "hard_fwd_bwd":
                def g(x, k, w, f=f):
                    return jax.vjp(lambda x: f(x, k, True), x)[1](w)[0]
                jf = jax.jit(g)
                fns.append(lambda jf=jf: jf(x, key, w).block_until_ready())
            else:
                jf = jax.jit(lambda x, k, f=f, hard=hard: f(x, k, hard))
                fns.append(lambda jf=jf: jf(x, key).block_until_ready())
        yield Case("jax", "jit", "float32", shape, mode, fns[0],
                   {REF_JAX: fns[1]}, x.size * 4, fns[2])


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

    def portable_fn(x, hard):  # the counter is read when tf.function traces
        return gx.gumbel_softmax(x, hard=hard, rng=gx.PortableRNG(0))

    for mode in modes:
        hard = mode != "soft"
        fns = []
        for f in (ours_fn, hand, portable_fn):
            if mode == "hard_fwd_bwd":
                @tf.function
                def tf_f(x, w, f=f):
                    with tf.GradientTape() as tape:
                        tape.watch(x)
                        y = f(x, True)
                    return tape.gradient(y, x, output_gradients=w)
                fns.append(lambda tf_f=tf_f: tf_f(x, w).numpy())
            else:
                tf_g = tf.function(lambda x, f=f, hard=hard: f(x, hard))
                fns.append(lambda tf_g=tf_g: tf_g(x).numpy())
        yield Case("tensorflow", "tf.function", "float32", shape, mode, fns[0],
                   {REF_TF: fns[1]}, int(x.shape.num_elements()) * 4, fns[2])


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


def time_rounds(fns: list[Callable[[], Any]], repeats: int,
                warmup: int = 2) -> list[list[float]]:
    """Seconds per call of each of ``fns`` in every round (each round calls
    every function once, in an order that rotates), after ``warmup`` rounds."""
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
    return samples


def time_interleaved(fns: list[Callable[[], Any]], repeats: int, warmup: int = 2) -> list[float]:
    """Median seconds per call of each of ``fns`` (see :func:`time_rounds`)."""
    return [statistics.median(s) for s in time_rounds(fns, repeats, warmup)]


def spread(samples: list[float]) -> float:
    """``(max - min) / median`` of a timing's rounds (0 for one round)."""
    med = statistics.median(samples)
    return (max(samples) - min(samples)) / med if med > 0 else 0.0


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


def peak_extra_bytes(f: Callable[[], Any], backend: str) -> tuple[int | None, str | None]:
    """Peak memory one call of ``f`` adds (its result included), and None;
    or None and why it cannot be measured here."""
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
        return peak, None
    if not _tune_malloc():
        return None, "glibc's mallopt is not available (not Linux with glibc)"
    rss = _status_kb("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset the peak RSS (VmHWM) to the current RSS
    except OSError:
        return None, "the peak resident set size cannot be reset (/proc/self/clear_refs)"
    out = f()
    hwm = _status_kb("VmHWM")
    del out
    if rss is None or hwm is None:
        return None, "the resident set size cannot be read (/proc/self/status)"
    return max(0, hwm - rss) * 1024, None


def memory_method(backend: str) -> str:
    return "tracemalloc" if backend == "numpy" else "peak RSS"


# ---------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------
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
    ``reference`` (what gumbelxp is compared with, e.g.
    ``torch.nn.functional.gumbel_softmax``), ``gumbelxp_us`` and
    ``reference_us`` (median microseconds per call), ``ratio`` (gumbelxp /
    reference), ``overhead_us`` (their difference), ``gumbelxp_spread`` and
    ``reference_spread`` (``(max - min) / median`` over the rounds),
    ``gumbelxp_mem_x`` / ``reference_mem_x`` (peak extra memory in units of
    the input's size, or None) and ``gumbelxp_mem_bytes`` /
    ``reference_mem_bytes``, ``memory_method`` (``tracemalloc`` or ``peak
    RSS``) and ``memory_note`` (why memory was not measured, or None). A
    backend whose cases cannot be built gets no records and a warning on
    stderr. ``progress``: a progress bar on stderr.
    """
    from gumbelxp._console import Progress

    shapes = [tuple(s) for s in (shapes or SHAPES)]
    modes = list(modes or MODES)
    for m in modes:
        if m not in MODES:
            raise ValueError(f"unknown mode {m!r}; choose from {', '.join(MODES)}")
    names = _available(backends)
    bar = Progress(1, "gumbelxp bench", enabled=progress)
    cases: list[Case] = []
    for name in names:
        bar.update(f"loading {name}")
        try:
            for shape in shapes:
                cases.extend(_CASES[name](shape, modes))
        except Exception as e:
            sys.stderr.write(f"bench: skipping {name}: {type(e).__name__}: {e}\n")
            cases = [c for c in cases if c.backend != name]
    bar.add(len(cases) * (2 if memory else 1) - 1)
    records: list[dict[str, Any]] = []
    for c in cases:
        bar.update(f"{c.backend} {c.dtype} {'x'.join(map(str, c.shape))} {c.mode}")
        refs = list(c.refs)
        extra = [c.portable] if c.portable is not None else []
        rounds = time_rounds([c.ours] + [c.refs[n] for n in refs] + extra, repeats)
        mine = statistics.median(rounds[0])
        portable_ratio = (statistics.median(p / o for p, o in zip(rounds[-1], rounds[0],
                                                                   strict=True))
                          if extra else None)
        for n, theirs in zip(refs, rounds[1:1 + len(refs)], strict=True):
            t = statistics.median(theirs)
            records.append({
                "backend": c.backend, "variant": c.variant, "dtype": c.dtype,
                "shape": c.shape, "mode": c.mode, "reference": n,
                "gumbelxp_us": mine * 1e6, "reference_us": t * 1e6,
                "ratio": mine / t, "overhead_us": (mine - t) * 1e6,
                "gumbelxp_spread": spread(rounds[0]), "reference_spread": spread(theirs),
                "portable_ratio": portable_ratio,
                "gumbelxp_mem_bytes": None, "reference_mem_bytes": None,
                "gumbelxp_mem_x": None, "reference_mem_x": None,
                "memory_method": memory_method(c.backend),
                "memory_note": "not measured (memory=False, --no-memory)",
            })
        bar.step()
    if memory:  # after all timings: tuning malloc for it slows allocation
        by_case: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for r in records:
            by_case.setdefault((r["backend"], r["dtype"], r["shape"], r["mode"]), []).append(r)
        for c in cases:
            bar.update(f"memory: {c.backend} {c.dtype} {'x'.join(map(str, c.shape))} {c.mode}")
            rs = by_case[(c.backend, c.dtype, c.shape, c.mode)]
            if c.backend != "numpy" and math.prod(c.shape) < RSS_MIN_ELEMENTS:
                for r in rs:
                    r["memory_note"] = (f"below {RSS_MIN_ELEMENTS:,} elements: one call is "
                                        "too small for the resident set size to show")
                bar.step()
                continue
            mine_b, why = peak_extra_bytes(c.ours, c.backend)
            for r in rs:
                theirs_b, why_ref = peak_extra_bytes(c.refs[r["reference"]], c.backend)
                r["gumbelxp_mem_bytes"], r["reference_mem_bytes"] = mine_b, theirs_b
                r["gumbelxp_mem_x"] = None if mine_b is None else mine_b / c.nbytes
                r["reference_mem_x"] = None if theirs_b is None else theirs_b / c.nbytes
                r["memory_note"] = why or why_ref
            bar.step()
    bar.close(f"{len(records)} comparisons")
    return records


def busy_cases(records: list[dict[str, Any]],
               threshold: float = BUSY_SPREAD) -> list[tuple[str, float]]:
    """The cases whose timings spread more than ``threshold`` (twice that up
    to :data:`SMALL` elements) between rounds, as ``(label, spread)``: a
    sign that something else was using the machine."""
    out: dict[str, float] = {}
    for r in records:
        limit = threshold * (2 if math.prod(r["shape"]) <= SMALL else 1)
        worst = max(r["gumbelxp_spread"], r["reference_spread"])
        if worst > limit:
            label = (f"{r['backend']} {r['dtype']} {'x'.join(map(str, r['shape']))} "
                     f"{r['mode']}")
            out[label] = max(out.get(label, 0.0), worst)
    return sorted(out.items(), key=lambda kv: -kv[1])


# ---------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------
def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _pivot(records: list[dict[str, Any]]) -> tuple[list[tuple[int, ...]], dict[Any, Any]]:
    """Shapes in order, and {(backend, variant, dtype): {(mode, reference):
    {shape: record}}}."""
    shapes = list(dict.fromkeys(tuple(r["shape"]) for r in records))
    groups: dict[tuple[str, str, str], dict[tuple[str, str], dict[Any, Any]]] = {}
    for r in records:
        g = groups.setdefault((r["backend"], r["variant"], r["dtype"]), {})
        g.setdefault((r["mode"], r["reference"]), {})[tuple(r["shape"])] = r
    return shapes, groups


def _grid(title: str, records: list[dict[str, Any]], shapes: list[tuple[int, ...]],
          cell: Callable[[dict[str, Any]], str], reference: bool = True) -> list[str]:
    """One block per backend, variant and dtype; a row per mode and
    reference (or per mode only); a column per shape."""
    _, groups = _pivot(records)
    mw = max([4] + [len(m) for g in groups.values() for m, _ in g])
    rw = max([9] + [len(ref) for g in groups.values() for _, ref in g]) if reference else -4
    cells = {id(r): cell(r) for r in records}
    cw = max([len(_shape_text(s)) for s in shapes] + [len(v) for v in cells.values()]) + 1
    lines = [title]
    for (backend, variant, dtype), rows in groups.items():
        lines.append("")
        lines.append(f"{f'{backend} {dtype}, {variant}':<{mw + rw + 4}}"
                     + "".join(f"{_shape_text(s):>{cw}}" for s in shapes))
        for (mode, ref), by_shape in rows.items():
            lines.append(f"  {mode:<{mw}}  {ref if reference else '':<{max(rw, 0)}}" + "".join(
                f"{cells[id(by_shape[s])] if s in by_shape else '':>{cw}}" for s in shapes))
    return lines


def format_table(records: list[dict[str, Any]], repeats: int | None = None) -> str:
    """The records as two plain-text tables: time ratios, then memory (with
    the reason wherever it was not measured)."""
    if not records:
        return "no benchmark ran (no backend selected or installed)"
    shapes, _ = _pivot(records)
    rounds = f"median of {repeats} rounds" if repeats else "median over the rounds"
    small = [s for s in shapes if math.prod(s) <= SMALL]

    def time_cell(r: dict[str, Any]) -> str:
        if math.prod(r["shape"]) <= SMALL:
            return f"{r['overhead_us']:+.0f} us"
        return f"{r['ratio']:.2f}"

    lines = _grid(f"Time: gumbelxp / reference, {rounds} (below 1: gumbelxp is faster)",
                  records, shapes, time_cell)
    if small:
        lines += _wrap(f"On {', '.join(_shape_text(s) for s in small)}: the time gumbelxp "
                       "adds per call (+) or saves (-), in microseconds.")

    firsts = [r for r in records if r["portable_ratio"] is not None
              and r["reference"] == next(q["reference"] for q in records
                                         if q["backend"] == r["backend"])]
    if firsts:
        lines.append("")
        lines += _grid("PortableRNG: gumbelxp with gx.PortableRNG(0) / with the framework's "
                       "own generator", firsts, shapes,
                       lambda r: f"{r['portable_ratio']:.2f}", reference=False)
        lines += _wrap("(the same rounds; the price of the same samples on every framework)")

    def mem_cell(r: dict[str, Any]) -> str:
        a, b = r["gumbelxp_mem_x"], r["reference_mem_x"]
        if a is None or b is None:
            return "-"
        return f"{a:.1f}/{b:.1f}"

    measured = [r for r in records if r["gumbelxp_mem_x"] is not None]
    notes = list(dict.fromkeys(r["memory_note"] for r in records
                               if r["gumbelxp_mem_x"] is None and r["memory_note"]))
    lines.append("")
    if measured:
        lines += _grid("Memory: peak extra memory of one call in units of the input's size, "
                       "gumbelxp / reference", records, shapes, mem_cell)
        by_method: dict[str, list[str]] = {}
        for b, m in dict.fromkeys((r["backend"], r["memory_method"]) for r in measured):
            by_method.setdefault(m, []).append(b)
        lines += _wrap("Measured with " + "; ".join(
            f"{m} ({', '.join(bs)})" for m, bs in by_method.items())
            + (": peak RSS is approximate (pages, the framework's caches); 0.0 is below "
               "what it shows." if "peak RSS" in by_method else "."))
        if notes:
            lines += _wrap("-: not measured: " + "; ".join(notes) + ".")
    else:
        lines += _wrap("Memory: not measured: " + ("; ".join(notes) or "no record") + ".")
    return "\n".join(lines)


def _wrap(text: str, width: int = 100) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width, break_on_hyphens=False)


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
    p.add_argument("--shapes", metavar="SHAPES",
                   help="comma-separated shapes of the logits, e.g. 8x16,4096x1024 (default: "
                   + ",".join("x".join(map(str, s)) for s in SHAPES) + ")")
    p.add_argument("--modes", metavar="MODES",
                   help="comma-separated modes: soft (hard=False), hard (hard=True, "
                   "forward only), hard_fwd_bwd (hard=True, forward and backward on the "
                   f"autograd frameworks) (default: {','.join(MODES)})")
    p.add_argument("--repeats", type=int, default=7, metavar="N",
                   help="timed rounds per case; each time is the median over them "
                   "(default: 7)")
    p.add_argument("--no-memory", action="store_true",
                   help="skip the memory measurements (faster)")
    p.add_argument("--json", action="store_true",
                   help="print the machine, the records and the Dask result as JSON "
                   "instead of tables")
    p.add_argument("--dask", type=float, default=0, metavar="N",
                   help="also draw N Gumbel-max samples (e.g. 1e8: about 20 s) on a "
                   "2-process Dask LocalCluster and compare with NumPy on one core; "
                   "needs dask and distributed (default: off)")
    p.add_argument("--gradients", action="store_true",
                   help="instead: the gradient estimators' quality (straight-through, "
                   "ReinMax, Gumbel-Rao with 1, 10, 100 samples, at several temperatures) on "
                   "problems whose exact gradient is known by enumeration: bias (cosine with "
                   "the true gradient), variance and time per gradient, on the first of "
                   "torch, jax, tensorflow installed, checked against the others with the "
                   "same seed (about a minute)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar on stderr")


def _parse_shapes(arg: str | None) -> list[tuple[int, ...]] | None:
    if not arg:
        return None
    try:
        return [tuple(int(d) for d in s.lower().split("x")) for s in arg.split(",") if s.strip()]
    except ValueError:
        raise SystemExit(f"bad --shapes {arg!r}: write e.g. 8x16,4096x1024") from None


def warn_if_busy(records: list[dict[str, Any]], threshold: float = BUSY_SPREAD) -> bool:
    """Write a warning to stderr if :func:`busy_cases` finds any; True if so."""
    busy = busy_cases(records, threshold)
    if not busy:
        return False
    lines = _wrap(
        f"warning: the machine looks busy: in {len(busy)} cases the timings varied between "
        f"rounds by more than {threshold:.0%} of their median ({2 * threshold:.0%} up to "
        f"{SMALL} elements), so their ratios are unreliable; rerun on a quiet machine, or with "
        "more --repeats. The largest spreads, (max - min) / median:")
    lines += [f"  {label} ({s:.0%})" for label, s in busy[:8]]
    if len(busy) > 8:
        lines.append(f"  ... and {len(busy) - 8} more")
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()
    return True


def main(args: argparse.Namespace) -> int:
    backends = None
    if getattr(args, "backends", None):
        from gumbelxp.backends import BACKEND_NAMES

        backends = [n.strip() for n in args.backends.split(",") if n.strip()]
        unknown = [n for n in backends if n not in BACKEND_NAMES]
        if unknown:
            raise SystemExit(f"unknown backend {unknown[0]!r}; choose from "
                             f"{', '.join(BACKEND_NAMES)}")
    as_json = bool(getattr(args, "json", False))
    quiet = bool(getattr(args, "quiet", False))
    if getattr(args, "gradients", False):
        return _gradients(backends, as_json, quiet)
    draws = int(getattr(args, "dask", 0) or 0)
    # The Dask cluster case first, while no other framework is imported:
    # worker processes inherit the parent's modules (825 MiB each with torch,
    # TensorFlow and JAX loaded, against 156 MiB without).
    dask_rec = None
    if draws:
        import importlib.util

        missing = [m for m in ("dask", "distributed") if importlib.util.find_spec(m) is None]
        if missing:
            sys.stderr.write(f"gumbelxp bench: error: --dask needs {' and '.join(missing)}: "
                             'pip install "gumbelxp[dask]"\n')
            return 2
        from .dask import bench_dask

        dask_rec = bench_dask(draws, progress=not (as_json or quiet))
    modes = getattr(args, "modes", None)
    repeats = getattr(args, "repeats", 7)
    records = run(backends=backends, shapes=_parse_shapes(getattr(args, "shapes", None)),
                  modes=[m.strip() for m in modes.split(",")] if modes else None,
                  repeats=repeats, memory=not getattr(args, "no_memory", False),
                  progress=not quiet)
    warn_if_busy(records)
    if as_json:
        print(json.dumps({"machine": machine(), "records": records, "dask": dask_rec}, indent=1))
        return 0
    print(f"gumbelxp bench on {machine()}\n")
    print(format_table(records, repeats))
    others = [b for b in (backends or []) if b not in _CASES and b != "dask"]
    if others:
        print(f"\nNo timing cases for {', '.join(others)}.")
    if dask_rec is not None:
        from .dask import format_record

        print()
        print(format_record(dask_rec))
    elif backends is None or "dask" in backends:
        print("\nThe Dask cluster case is off; --dask 1e8 runs it (about 20 s).")
    return 0


def _gradients(backends: list[str] | None, as_json: bool, quiet: bool) -> int:
    """``bench --gradients``: the gradient-quality table and the papers' claims."""
    from . import gradients as G

    records = G.run(backends=tuple(backends) if backends else None, progress=not quiet)
    if as_json:
        print(json.dumps({"machine": machine(), "gradients": records}, indent=1))
        return 0
    print(f"gumbelxp bench --gradients on {machine()}\n")
    print(G.format_table(records))
    print()
    for claim, holds, evidence in G.claims(records):
        print(f"{'holds' if holds else 'DOES NOT HOLD'}: {claim} ({evidence})")
    return 0
