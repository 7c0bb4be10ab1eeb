"""GPU benchmark of the fused CuPy Gumbel-Softmax (``python -m gumbelxp.conformance.bench.gpu``).

For each size (float32 logits) it reports the fused kernel's time, its
achieved bandwidth counting 8 bytes per element (one float32 read, one
written) as a share of the card's peak, the generic CuPy path's time, and
the ratio to PyTorch CUDA ``F.gumbel_softmax`` (when PyTorch with CUDA is
installed). Times are medians of CUDA-event timings after warm-up.

Needs a GPU; frameworks are imported only when it runs.
"""

# pyright: standard
# (test support and benchmarks: not strict, see [tool.mypy.overrides] in pyproject.toml)

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from typing import Any

#: (rows, categories) benchmarked by default
SIZES: list[tuple[int, int]] = [(4096, 1024), (16384, 4096), (64, 50257)]

#: peak HBM bandwidth in bytes/s by device-name fragment (checked in order);
#: other cards: memory clock x bus width from the device attributes
PEAK_BANDWIDTH: list[tuple[str, float]] = [
    ("H200", 4.8e12),
    ("H100 NVL", 3.9e12),
    ("H100 PCIe", 2.0e12),
    ("H100", 3.35e12),  # SXM5
    ("A100-SXM4-80GB", 2.039e12),
    ("A100 80GB PCIe", 1.935e12),
    ("A100", 1.555e12),
    ("L4", 0.3e12),
]


def device_name_and_peak() -> tuple[str, float | None]:
    """The current CUDA device's name and peak memory bandwidth (bytes/s)."""
    import cupy  # pyright: ignore[reportMissingImports]  (only with a GPU)

    dev = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(dev.id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    for frag, peak in PEAK_BANDWIDTH:
        if frag in name:
            return name, peak
    try:
        attrs = dev.attributes
        clock_khz = attrs["MemoryClockRate"]
        bus_bits = attrs["GlobalMemoryBusWidth"]
        return name, 2.0 * clock_khz * 1e3 * bus_bits / 8.0
    except Exception:
        return name, None


def time_cupy(f: Callable[[], Any], warmup: int = 3, repeat: int = 20) -> float:
    """Median seconds of ``f()`` timed with CUDA events on the current stream."""
    import cupy  # pyright: ignore[reportMissingImports]  (only with a GPU)

    for _ in range(warmup):
        f()
    cupy.cuda.Device().synchronize()
    times = []
    for _ in range(repeat):
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        f()
        end.record()
        end.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, end) * 1e-3)
    return statistics.median(times)


def time_torch(f: Callable[[], Any], warmup: int = 3, repeat: int = 20) -> float:
    import torch

    for _ in range(warmup):
        f()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        f()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e-3)
    return statistics.median(times)


def bench_size(rows: int, n: int, repeat: int = 20, hard: bool = False) -> dict[str, Any]:
    """One size: the fused and generic CuPy times and PyTorch's, in seconds."""
    import cupy  # pyright: ignore[reportMissingImports]  (only with a GPU)
    from gumbelxp.backends import generic_only

    import gumbelxp as gx

    x = cupy.random.standard_normal((rows, n), dtype=cupy.float32)
    rng = gx.PortableRNG(0)
    res: dict[str, Any] = {"rows": rows, "n": n, "bytes": 8 * rows * n}
    res["fused_s"] = time_cupy(lambda: gx.gumbel_softmax(x, hard=hard, rng=rng), repeat=repeat)
    with generic_only():  # the same call through the generic functions
        res["generic_s"] = time_cupy(lambda: gx.gumbel_softmax(x, hard=hard, rng=rng),
                                     repeat=repeat)
    try:
        import torch
        import torch.nn.functional as F

        if torch.cuda.is_available():
            xt = torch.randn(rows, n, device="cuda", dtype=torch.float32)
            res["torch_s"] = time_torch(lambda: F.gumbel_softmax(xt, tau=1.0, hard=hard),
                                        repeat=repeat)
    except ImportError:
        pass
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gumbelxp.conformance.bench.gpu", description=__doc__)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--hard", action="store_true", help="hard=True (one-hot output)")
    p.add_argument("--sizes", default=",".join(f"{b}x{n}" for b, n in SIZES),
                   help="comma-separated ROWSxN (default: %(default)s)")
    args = p.parse_args(argv)
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",") if s]
    name, peak = device_name_and_peak()
    peak_txt = f"{peak / 1e12:.2f} TB/s" if peak else "unknown"
    print(f"device: {name}  (peak memory bandwidth {peak_txt}); float32, hard={args.hard}")
    print(f"{'size':>12} {'fused':>10} {'GB/s':>8} {'% peak':>7} {'generic':>10} "
          f"{'torch':>10} {'torch/fused':>11}")
    for rows, n in sizes:
        r = bench_size(rows, n, args.repeat, args.hard)
        bw = r["bytes"] / r["fused_s"]
        pct = f"{100 * bw / peak:6.1f}%" if peak else "      ?"
        t = r.get("torch_s")
        t_txt = f"{t * 1e3:8.3f}ms" if t else "         -"
        ratio = f"{t / r['fused_s']:10.2f}x" if t else "          -"
        print(f"{rows:>6}x{n:<5} {r['fused_s'] * 1e3:8.3f}ms {bw / 1e9:8.1f} {pct:>7} "
              f"{r['generic_s'] * 1e3:8.3f}ms {t_txt} {ratio}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
