"""Benchmark: Gumbel-max sampling beyond one process, on a Dask cluster.

``python -m gumbelxp.conformance.bench.dask [--draws 1e9]``, or from Python::

    from gumbelxp.conformance.bench.dask import bench_dask, format_record
    print(format_record(bench_dask(n_draws=10**8)))

``n_draws`` categorical samples over the ``k`` categories of the seed example
(logits ``log([1, 2, 3, 4])`` by default, broadcast lazily: the logits take no
memory) are drawn with :func:`gumbelxp.gumbel_max` on a
``dask.distributed.LocalCluster`` of ``workers`` processes with one thread each
(loopback only), in chunks of ``chunk`` samples. The samples are never
gathered: each chunk is reduced to its ``k`` counts, so what a worker holds is
bounded by one chunk's noise and indices, whatever ``n_draws`` is. The counts
are checked against ``softmax(logits)`` (the Gumbel-max theorem).

The reference is NumPy on one core (one process, NumPy's elementwise loops
are single-threaded): ``gumbel_max`` on an in-memory array of
``numpy_draws`` samples, with an ``int`` seed (NumPy's own generator) and with
``PortableRNG`` (the Philox stream the Dask chunks compute, so the same
arithmetic). Throughput is samples per second; the cluster's time is the
wall time of the computation, its start-up excluded.
"""

# pyright: standard
# (test support and benchmarks: not strict, see [tool.mypy.overrides] in pyproject.toml)

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any, cast


def _counts(idx: Any, k: int) -> Any:
    """One chunk of indices -> its counts, shape ``(1, k)``."""
    import numpy as np

    return np.bincount(idx, minlength=k)[None, :k]


def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _warm_up() -> None:
    """Import and run the chunk code once in a worker, outside the timing."""
    import numpy as np

    import gumbelxp as gx

    gx.gumbel_max(np.zeros((4, 4), dtype=np.float32), rng=gx.PortableRNG(0))
    from gumbelxp.backends._dask import chunk_words

    chunk_words((0, 0), 0, 1, (4, 4), [(0, 4), (0, 4)])


def _numpy_rate(n: int, probs: list[float], seed: int, repeats: int = 3) -> dict[str, float]:
    import numpy as np
    from gumbelxp.backends import _philox_numpy

    import gumbelxp as gx

    x = np.broadcast_to(np.log(np.asarray(probs, dtype=np.float32)), (n, len(probs)))
    out = {}
    threads = _philox_numpy.PHILOX_THREADS
    _philox_numpy.PHILOX_THREADS = 1  # one core: the batched Philox may use threads
    try:
        for label, rng in (("numpy_generator", lambda: np.random.default_rng(seed)),
                           ("numpy_portable", lambda: gx.PortableRNG(seed))):
            best = math.inf
            for _ in range(repeats):
                t0 = time.perf_counter()
                gx.gumbel_max(x, rng=rng())
                best = min(best, time.perf_counter() - t0)
            out[label] = n / best
    finally:
        _philox_numpy.PHILOX_THREADS = threads
    return out


def bench_dask(n_draws: int = 10**8, *, probs: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0),
               workers: int = 2, chunk: int = 1_000_000, seed: int = 0,
               numpy_draws: int | None = 10**7, client: Any = None,
               progress: bool = True) -> dict[str, Any]:
    """Time ``n_draws`` Gumbel-max samples on a Dask cluster against NumPy.

    Parameters
    ----------
    n_draws : int
        Categorical samples to draw (each uses ``len(probs)`` float32 noise
        values).
    probs : tuple of float
        Unnormalised probabilities; the logits are their logarithms.
    workers : int
        Worker processes of the LocalCluster started here (one thread each).
    chunk : int
        Samples per chunk (per task).
    seed : int
        The seed (on Dask an int seed means ``PortableRNG(seed)``).
    numpy_draws : int or None
        Samples for the one-core NumPy reference (None: skip it).
    client : dask.distributed.Client, optional
        Run on this cluster instead of starting a LocalCluster.
    progress : bool
        Print what is being done.

    Returns
    -------
    dict
        ``draws``, ``k``, ``chunk``, ``tasks``, ``workers``, ``seconds``,
        ``draws_per_s``, the NumPy rates ``numpy_generator`` and
        ``numpy_portable`` (samples/s, one core), ``speedup`` and
        ``speedup_generator`` (cluster over each), ``max_freq_error`` (largest deviation of a
        frequency from ``softmax(logits)``), ``chunk_mib`` (one chunk's
        float32 noise), ``worker_peak_rss_mib`` (per worker) and
        ``startup_s``.
    """
    import dask.array as da
    import distributed
    import numpy as np

    import gumbelxp as gx

    def say(msg: str) -> None:
        if progress:
            print(f"[bench dask] {msg}", file=sys.stderr, flush=True)

    k = len(probs)
    p = np.asarray(probs, dtype=np.float64)
    p = p / p.sum()
    rec: dict[str, Any] = {"draws": n_draws, "k": k, "chunk": chunk,
                           "chunk_mib": chunk * k * 4 / 2**20}
    t0 = time.perf_counter()
    own = None
    if client is None:
        say(f"starting a LocalCluster: {workers} worker processes x 1 thread, loopback")
        own = distributed.LocalCluster(n_workers=workers, processes=True, threads_per_worker=1,
                                       host="127.0.0.1",
                                       dashboard_address=None,  # pyright: ignore[reportArgumentType]  (None: no dashboard)
                                       memory_limit=0, silence_logs=40)
        client = distributed.Client(own)
    try:
        rec["startup_s"] = time.perf_counter() - t0
        rec["workers"] = len(client.scheduler_info()["workers"])
        client.run(_warm_up)
        p32 = da.from_array(np.log(np.asarray(probs, dtype=np.float32)))
        # (dask is unannotated: say what broadcast_to returns)
        logits = cast("da.Array", da.broadcast_to(p32, (n_draws, k), chunks=(chunk, k)))
        idx = gx.gumbel_max(logits, rng=seed)
        nb = idx.numblocks[0]
        parts = da.map_blocks(_counts, idx, k, chunks=((1,) * nb, (k,)), new_axis=1,
                              dtype=np.int64)
        rec["tasks"] = nb
        say(f"{n_draws:.0e} samples in {nb} chunks of {chunk} on {rec['workers']} workers")
        t1 = time.perf_counter()
        c, done, step = np.zeros(k, dtype=np.int64), 0, max(1, nb // 10)
        for fut in distributed.as_completed(client.compute(list(parts.to_delayed().ravel()))):
            c += fut.result()[0]
            done += 1
            if done % step == 0 or done == nb:
                say(f"{done}/{nb} chunks, {time.perf_counter() - t1:.1f} s")
        rec["seconds"] = time.perf_counter() - t1
        rec["draws_per_s"] = n_draws / rec["seconds"]
        rec["max_freq_error"] = float(np.abs(c / n_draws - p).max())
        rec["worker_peak_rss_mib"] = sorted(client.run(_peak_rss_mib).values())
    finally:
        if own is not None:
            client.close()
            own.close()
    if numpy_draws:  # after the cluster: its workers must not inherit this peak RSS
        say(f"NumPy, one core: {numpy_draws:.0e} samples")
        rec.update(_numpy_rate(numpy_draws, list(probs), seed))
        rec["speedup"] = rec["draws_per_s"] / rec["numpy_portable"]
        rec["speedup_generator"] = rec["draws_per_s"] / rec["numpy_generator"]
    return rec


def format_record(rec: dict[str, Any]) -> str:
    lines = [
        f"Dask Gumbel-max: {rec['draws']:.3g} samples x {rec['k']} categories, "
        f"{rec['tasks']} chunks of {rec['chunk']} ({rec['chunk_mib']:.0f} MiB of float32 noise "
        f"each), {rec['workers']} workers",
        f"  cluster: {rec['seconds']:.2f} s = {rec['draws_per_s']:.3g} samples/s "
        f"(start-up {rec['startup_s']:.1f} s, not counted)",
    ]
    if "numpy_portable" in rec:
        lines.append(f"  NumPy, one core: {rec['numpy_generator']:.3g} samples/s (NumPy's Generator), "
                     f"{rec['numpy_portable']:.3g} samples/s (PortableRNG)")
        lines.append(f"  cluster / NumPy: {rec['speedup']:.2f}x (PortableRNG), "
                     f"{rec['speedup_generator']:.2f}x (NumPy's Generator)")
    lines.append("  worker peak RSS: " + ", ".join(f"{m:.0f} MiB"
                                                   for m in rec["worker_peak_rss_mib"]))
    lines.append(f"  largest |frequency - softmax|: {rec['max_freq_error']:.2e}")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--draws", type=float, default=1e8,
                   help="Gumbel-max samples on the cluster (default 1e8; e.g. 1e9)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--chunk", type=float, default=1e6, help="samples per chunk (default 1e6)")
    p.add_argument("--numpy-draws", type=float, default=1e7,
                   help="samples for the one-core NumPy reference (0: skip)")
    p.add_argument("--scheduler", default=None,
                   help="address of a running dask scheduler instead of a LocalCluster")


def main(args: argparse.Namespace) -> int:
    client = None
    if args.scheduler:
        import distributed

        client = distributed.Client(args.scheduler)
    rec = bench_dask(int(args.draws), workers=args.workers, chunk=int(args.chunk),
                     numpy_draws=int(args.numpy_draws) or None, client=client)
    print(format_record(rec))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m gumbelxp.conformance.bench.dask", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    raise SystemExit(main(parser.parse_args()))
