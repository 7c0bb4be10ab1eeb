# pyright: standard
"""PortableRNG against each framework's own generator, per backend and shape.

``python -m gumbelxp.conformance.bench.portable`` prints the table; :func:`run` returns
the records (for a PortableRNG column in ``gumbelxp bench``)::

    from gumbelxp.conformance.bench.portable import run, format_table
    print(format_table(run(backends=["numpy"], shapes=[(4096, 1024)])))

For each backend and shape three things are timed, PortableRNG against the
native generator, in the same process, interleaved (each round calls both
once, the order alternating), after warm-up:

``call``
    ``gx.gumbel_softmax(x, rng=...)`` (tau = 1, soft), the issue's measure.
``noise``
    ``gx.gumbel(shape, like=x, rng=...)``: the Gumbel noise alone.
``words``
    The random numbers alone: PortableRNG's 32-bit words (one per float32
    value: ``PortableRNG.random_bits``) against the native generator's
    float32 uniforms of the same shape.

Native generators, each in the mode gumbelxp is judged in: NumPy
``np.random.default_rng``, PyTorch ``torch.Generator`` (eager), JAX a key
under ``jax.jit`` (PortableRNG: a generator made inside the jitted function,
its counter read at trace time), TensorFlow ``tf.random.Generator`` inside
``tf.function``.

``ratio`` is the median over the rounds of (PortableRNG time / native time)
in that round, so that a slow moment of a shared machine hits both sides;
``portable_ms`` and ``native_ms`` are the medians of the times. The goal is
``ratio <= 1.5`` for ``call``.

NumPy's batched Philox (behind NumPy and CPU PyTorch tensors) splits large
draws over threads (``--philox-threads``); the native generators are
single-threaded. Where other processes hold the cores, extra threads buy
nothing, and PyTorch's parallel ops can stall for a scheduler time slice
each (both sides; run to run the native PyTorch call varied 19-90 ms on a
busy 2-core machine). ``--clock cpu --single-thread`` measures the work
instead: CPU time of all threads, one thread per framework (JAX's XLA keeps
its threads, whose time is counted), i.e. the single-core ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

SHAPES: tuple[tuple[int, int], ...] = ((4096, 1024), (64, 50257))
BACKENDS: tuple[str, ...] = ("numpy", "torch", "jax", "tensorflow")
KINDS: tuple[str, ...] = ("call", "noise", "words")
GOAL = 1.5

Pair = tuple[Callable[[], Any], Callable[[], Any]]  # (portable, native)


# ---------------------------------------------------------------------------
# cases: kind -> (portable, native) callables, per backend and shape
# ---------------------------------------------------------------------------
def _numpy_cases(shape: tuple[int, ...]) -> Iterator[tuple[str, str, Pair]]:
    import numpy as np

    import gumbelxp as gx

    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    gen, rng = np.random.default_rng(1), gx.PortableRNG(1)
    yield "call", "eager", (lambda: gx.gumbel_softmax(x, rng=rng),
                            lambda: gx.gumbel_softmax(x, rng=gen))
    yield "noise", "eager", (lambda: gx.gumbel(shape, like=x, rng=rng),
                             lambda: gx.gumbel(shape, like=x, rng=gen))
    yield "words", "eager", (lambda: rng.random_bits(shape, like=x),
                             lambda: gen.random(shape, dtype=np.float32))


def _torch_cases(shape: tuple[int, ...]) -> Iterator[tuple[str, str, Pair]]:
    import torch

    import gumbelxp as gx

    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    gen, rng = torch.Generator().manual_seed(1), gx.PortableRNG(1)
    yield "call", "eager", (lambda: gx.gumbel_softmax(x, rng=rng),
                            lambda: gx.gumbel_softmax(x, rng=gen))
    yield "noise", "eager", (lambda: gx.gumbel(shape, like=x, rng=rng),
                             lambda: gx.gumbel(shape, like=x, rng=gen))
    yield "words", "eager", (lambda: rng.random_bits(shape, like=x),
                             lambda: torch.rand(shape, generator=gen))


def _jax_cases(shape: tuple[int, ...]) -> Iterator[tuple[str, str, Pair]]:
    import jax
    import jax.numpy as jnp

    import gumbelxp as gx

    x = jax.random.normal(jax.random.key(0), shape, dtype=jnp.float32)
    key = jax.random.key(1)

    def pair(portable: Callable[..., Any], native: Callable[..., Any]) -> Pair:
        fp, fn = jax.jit(portable), jax.jit(native)
        return (lambda: fp(x).block_until_ready(), lambda: fn(x, key).block_until_ready())

    yield "call", "jit", pair(lambda x: gx.gumbel_softmax(x, rng=gx.PortableRNG(1)),
                              lambda x, k: gx.gumbel_softmax(x, rng=k))
    yield "noise", "jit", pair(lambda x: gx.gumbel(shape, like=x, rng=gx.PortableRNG(1)),
                               lambda x, k: gx.gumbel(shape, like=x, rng=k))
    yield "words", "jit", pair(lambda x: gx.PortableRNG(1).random_bits(shape, like=x),
                               lambda x, k: jax.random.uniform(k, shape, dtype=jnp.float32))


def _tensorflow_cases(shape: tuple[int, ...]) -> Iterator[tuple[str, str, Pair]]:
    import tensorflow as tf

    import gumbelxp as gx

    x = tf.random.stateless_normal(shape, seed=(0, 0), dtype=tf.float32)
    gen = tf.random.Generator.from_seed(1)

    def pair(portable: Callable[..., Any], native: Callable[..., Any]) -> Pair:
        fp, fn = tf.function(portable), tf.function(native)
        return (lambda: fp(x).numpy(), lambda: fn(x).numpy())

    yield "call", "tf.function", pair(lambda x: gx.gumbel_softmax(x, rng=gx.PortableRNG(1)),
                                      lambda x: gx.gumbel_softmax(x, rng=gen))
    yield "noise", "tf.function", pair(lambda x: gx.gumbel(shape, like=x, rng=gx.PortableRNG(1)),
                                       lambda x: gx.gumbel(shape, like=x, rng=gen))
    yield "words", "tf.function", pair(
        lambda x: gx.PortableRNG(1).random_bits(shape, like=x),
        lambda x: gen.uniform(shape, dtype=tf.float32))


_CASES = {"numpy": _numpy_cases, "torch": _torch_cases, "jax": _jax_cases,
          "tensorflow": _tensorflow_cases}


# ---------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_pair(portable: Callable[[], Any], native: Callable[[], Any], repeats: int,
              warmup: int = 2, clock: str = "wall") -> tuple[float, float, float]:
    """``(portable_s, native_s, ratio)``: median seconds per call of each, and
    the median over rounds of their ratio. Each round calls both once, the
    order alternating. ``clock="cpu"`` counts the CPU time of all the
    process's threads instead of wall time."""
    now = CLOCKS[clock]
    for _ in range(warmup):
        portable()
        native()
    tp: list[float] = []
    tn: list[float] = []
    for r in range(repeats):
        for f, acc in ((portable, tp), (native, tn))[:: 1 if r % 2 == 0 else -1]:
            t0 = now()
            f()
            acc.append(now() - t0)
    ratio = statistics.median(a / b for a, b in zip(tp, tn, strict=True))
    return statistics.median(tp), statistics.median(tn), ratio


def _available(names: list[str] | None) -> list[str]:
    from ..support import unavailable_reason

    names = list(BACKENDS) if names is None else names
    return [n for n in names if n in _CASES and unavailable_reason(n) is None]


def run(backends: list[str] | None = None, shapes: list[tuple[int, ...]] | None = None,
        kinds: list[str] | None = None, repeats: int = 15, progress: bool = False,
        philox_threads: int | None = None, clock: str = "wall") -> list[dict[str, Any]]:
    """One record per backend, shape and kind: ``backend``, ``variant``,
    ``shape``, ``kind`` (call, noise, words), ``portable_ms``,
    ``native_ms``, ``ratio`` (median of per-round ratios), ``goal`` and
    ``met`` (``ratio <= goal``; the goal applies to ``call``, the other
    kinds say where the time goes), ``philox_threads`` (the threads NumPy's
    batched Philox may use, for NumPy and CPU PyTorch; ``philox_threads=``
    sets it for the run) and ``clock`` (``"wall"``, or ``"cpu"``: the CPU
    time of all threads, the work done, which other processes on a shared
    machine disturb less; with the frameworks limited to one thread it is
    the single-core ratio).
    """
    from gumbelxp.backends import _philox_numpy as _numpy

    saved = _numpy.PHILOX_THREADS
    if philox_threads is not None:
        _numpy.PHILOX_THREADS = philox_threads
    try:
        return _run(backends, shapes, kinds, repeats, progress, clock)
    finally:
        _numpy.PHILOX_THREADS = saved


def _run(backends, shapes, kinds, repeats, progress, clock):
    from gumbelxp.backends import _philox_numpy as _numpy

    shapes = [tuple(s) for s in (shapes or SHAPES)]
    kinds = list(kinds or KINDS)
    records = []
    for name in _available(backends):
        for shape in shapes:
            try:
                cases = [c for c in _CASES[name](shape) if c[0] in kinds]
            except Exception as e:  # a backend that cannot build its cases
                sys.stderr.write(f"bench: skipping {name}: {type(e).__name__}: {e}\n")
                break
            for kind, variant, (portable, native) in cases:
                if progress:
                    sys.stderr.write(f"\r{name} {'x'.join(map(str, shape))} {kind}   ")
                    sys.stderr.flush()
                tp, tn, ratio = time_pair(portable, native, repeats, clock=clock)
                records.append({
                    "backend": name, "variant": variant, "shape": shape, "kind": kind,
                    "portable_ms": tp * 1e3, "native_ms": tn * 1e3, "ratio": ratio,
                    "goal": GOAL, "met": ratio <= GOAL,
                    "philox_threads": _numpy.PHILOX_THREADS if name in ("numpy", "torch") else None,
                    "clock": clock,
                })
    if progress:
        sys.stderr.write("\n")
    return records


def format_table(records: list[dict[str, Any]]) -> str:
    """The records as a Markdown table."""
    lines = ["| backend | shape | measure | PortableRNG ms | native ms | ratio |",
             "|---|---|---|---|---|---|"]
    for r in records:
        mark = "" if r["kind"] != "call" else (" (met)" if r["met"] else " (NOT met)")
        lines.append(f"| {r['backend']} ({r['variant']}) | {'x'.join(map(str, r['shape']))} "
                     f"| {r['kind']} | {r['portable_ms']:.1f} | {r['native_ms']:.1f} "
                     f"| {r['ratio']:.2f}{mark} |")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backends", help=f"comma-separated (default: {','.join(BACKENDS)})")
    p.add_argument("--shapes", help="comma-separated shapes, e.g. 4096x1024 (default: "
                   + ",".join("x".join(map(str, s)) for s in SHAPES) + ")")
    p.add_argument("--kinds", help=f"comma-separated measures (default: {','.join(KINDS)})")
    p.add_argument("--repeats", type=int, default=15, help="timed rounds (default 15)")
    p.add_argument("--philox-threads", type=int, default=None,
                   help="threads of NumPy's batched Philox (NumPy, CPU PyTorch; default: "
                        "$GUMBELXP_PHILOX_THREADS or the usable cores, at most 4)")
    p.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                   help="wall time (default) or cpu: the CPU time of all the process's threads")
    p.add_argument("--single-thread", action="store_true",
                   help="one thread for PyTorch, TensorFlow and NumPy's Philox (with "
                        "--clock cpu: the work of each call on one core)")
    p.add_argument("--json", action="store_true", help="print the records as JSON")


def single_thread() -> None:
    """One intra-op thread for PyTorch and TensorFlow, one thread for NumPy's
    Philox (JAX's XLA has no such switch at run time: under ``clock="cpu"``
    its threads' time is counted all the same)."""
    from gumbelxp.backends import _philox_numpy as _numpy

    _numpy.PHILOX_THREADS = 1
    if _importable("torch"):
        import torch

        torch.set_num_threads(1)
    if _importable("tensorflow"):
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def main(args: argparse.Namespace) -> int:
    def split(s: str | None) -> list[str] | None:
        return [v.strip() for v in s.split(",") if v.strip()] if s else None

    if args.single_thread:
        single_thread()
    shapes = split(args.shapes)
    records = run(backends=split(args.backends),
                  shapes=[tuple(int(d) for d in s.lower().split("x")) for s in shapes]
                  if shapes else None,
                  kinds=split(args.kinds), repeats=args.repeats, progress=not args.json,
                  philox_threads=1 if args.single_thread else args.philox_threads,
                  clock=args.clock)
    if args.json:
        print(json.dumps(records, indent=1))
    else:
        from .speed import machine

        print(f"machine: {machine()}; clock: {args.clock}"
              + ("; one thread per framework" if args.single_thread else ""))
        threads = {r["philox_threads"] for r in records} - {None}
        if threads:
            print(f"NumPy Philox threads: {', '.join(map(str, sorted(threads)))}")
        print(format_table(records))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m gumbelxp.conformance.bench.portable",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    raise SystemExit(main(parser.parse_args()))
