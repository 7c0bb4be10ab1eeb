"""Command line: ``gumbelxp info | demo | check | bench`` (also ``python -m gumbelxp``).

The CLI, like the tests, imports frameworks on purpose: it is where the user
asks for them. What their native code writes to stderr while they load
(TensorFlow's oneDNN notices, ...) is kept out of the output.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from typing import Any

import numpy as np

from . import __version__
from .backends import BACKEND_NAMES, get_backend, installed_backends

SEED_LOGITS = [1.0, 2.0, 3.0, 4.0]
#: the temperatures of the demo's sweep (falling)
DEMO_TAUS = (10.0, 1.0, 0.5, 0.1)
_NAME_W = 19  # the framework column of demo's tables


def _backend_list(arg: str | None) -> list[str]:
    if not arg:
        from .conformance.support import unavailable_reason

        return [n for n in installed_backends() if unavailable_reason(n) is None]
    names = [n.strip() for n in arg.split(",") if n.strip()]
    for n in names:
        if n not in BACKEND_NAMES:
            raise SystemExit(f"unknown backend {n!r}; choose from {', '.join(BACKEND_NAMES)}")
    return names


def cmd_info(args: argparse.Namespace) -> int:
    print(f"gumbelxp {__version__}  (python {sys.version.split()[0]}, numpy {importlib.metadata.version('numpy')})")
    print(f"{'backend':<18}{'status':<12}{'version':<16}devices")
    for name in BACKEND_NAMES:
        from .conformance.support import unavailable_reason

        why = unavailable_reason(name)
        if why is not None:
            print(f"{name:<18}{'-':<12}{'':<16}{why}")
            continue
        info = get_backend(name).info()
        print(f"{name:<18}{'available':<12}{info['version']:<16}{', '.join(info['devices'])}")
    return 0


# ---------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------
def seed_softmax() -> np.ndarray:
    """softmax of the seed example's logits, in float64."""
    a = np.asarray(SEED_LOGITS, dtype=np.float64)
    e: np.ndarray = np.exp(a - a.max())
    e /= e.sum()
    return e


def demo_backend(name: str, draws: int, seed: int) -> dict[str, Any]:
    """The seed example on one backend: the sample of ``PortableRNG(seed)``
    (Gumbel-Softmax at ``tau = 1`` and the Gumbel-max index of the same
    noise), and ``draws`` Gumbel-max draws from the framework's own
    generator seeded with ``seed`` (their frequencies, chi-square statistic
    and p-value against softmax)."""
    import gumbelxp as gx

    from .conformance.checks import chi2_sf
    from .conformance.support import from_numpy, to_numpy

    be = get_backend(name)
    logits = from_numpy(be, np.asarray(SEED_LOGITS, dtype=np.float32))
    sample = to_numpy(gx.gumbel_softmax(logits, tau=1.0, rng=gx.PortableRNG(seed)))
    index = int(to_numpy(gx.gumbel_max(logits, rng=gx.PortableRNG(seed))))
    idx = to_numpy(gx.gumbel_max(logits, num_samples=draws, rng=seed))
    counts = np.bincount(idx.astype(np.int64), minlength=len(SEED_LOGITS))
    expected = draws * seed_softmax()
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    return {"sample": np.asarray(sample, dtype=np.float64), "index": index,
            "freq": counts / draws, "chi2": chi2, "pvalue": chi2_sf(chi2, len(SEED_LOGITS) - 1)}


def _row(label: str, values: Any, fmt: str = "8.4f") -> str:
    return f"   {label:<{_NAME_W}}" + "".join(f"{v:{fmt}}" for v in values)


def cmd_demo(args: argparse.Namespace) -> int:
    from ._console import Progress
    from .conformance.support import TOLERANCES

    if args.plot:
        from ._plot import PlotUnavailable, require_matplotlib

        try:
            require_matplotlib()
        except PlotUnavailable as e:
            print(f"gumbelxp demo: error: {e}", file=sys.stderr)
            return 2
    names = _backend_list(args.backends)
    bar = Progress(len(names) + (1 if args.plot else 0), "gumbelxp demo",
                   enabled=not args.quiet)
    results: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    for name in names:
        bar.update(f"{name}: {args.draws:,} draws")
        try:
            results[name] = demo_backend(name, args.draws, args.seed)
        except Exception as e:
            failed[name] = f"{type(e).__name__}: {e}"
        bar.step()
    records = None
    if args.plot:
        from . import _plot

        if not args.no_gradients:
            bar.update("the gradient-quality benchmark")
            try:
                records = _plot.gradient_records()
            except Exception as e:  # the sweep is still worth drawing
                print(f"gumbelxp demo: the gradient-quality benchmark failed, so the figure "
                      f"leaves its panel out: {type(e).__name__}: {e}", file=sys.stderr)
        bar.update(f"drawing {args.plot}")
        _plot.draw(args.plot, _plot.sweep_data(args.draws, args.seed), records)
        bar.step()
    bar.close()

    p = seed_softmax()
    logits = ", ".join(f"{v:g}" for v in SEED_LOGITS)
    print(f"gumbelxp demo: logits = [{logits}], "
          f"softmax(logits) = [{', '.join(f'{v:.3f}' for v in p)}]\n")
    k = range(len(SEED_LOGITS))
    rng = f"gx.PortableRNG({args.seed})"
    print("1. The same sample on every framework:\n"
          f"   y = gx.gumbel_softmax(logits, tau=1, rng={rng})\n"
          f"   i = gx.gumbel_max(logits, rng={rng})\n")
    print(f"   {'framework':<{_NAME_W}}" + "".join(f"{f'y[{i}]':>8}" for i in k) + f"{'i':>5}")
    for name, r in results.items():
        print(_row(name, r["sample"]) + f"{r['index']:5d}")
    rtol, atol = TOLERANCES["float32"]
    agree = True
    if results:
        ref = next(iter(results.values()))
        diff = max(float(np.abs(r["sample"] - ref["sample"]).max()) for r in results.values())
        agree = all(np.allclose(r["sample"], ref["sample"], rtol=rtol, atol=atol)
                    and r["index"] == ref["index"] for r in results.values())
        n = len(results)
        if n == 1:
            print("   One framework ran: nothing to compare it with (install more, or name "
                  "them in --backends).")
        elif agree:
            print(f"   The {n} frameworks agree to within float32 tolerance, "
                  f"|a - b| <= {atol:g} + {rtol:g} |b|\n"
                  f"   (largest difference {diff:.1e}), and draw the same i.")
        else:
            print(f"   MISMATCH: the frameworks differ by up to {diff:.1e}, more than float32 "
                  f"tolerance\n   (|a - b| <= {atol:g} + {rtol:g} |b|), or draw different i.")

    print(f"\n2. The Gumbel-max law: over {args.draws:,} draws of "
          f"gx.gumbel_max(logits, rng={args.seed}), the frequency\n"
          "   of each index tends to softmax(logits)\n")
    print(f"   {'':<{_NAME_W}}" + "".join(f"{i:>8}" for i in k)
          + f"{'chi-square':>12}{'p-value':>9}")
    print(_row("softmax(logits)", p))
    for name, r in results.items():
        print(_row(name, r["freq"]) + f"{r['chi2']:12.2f}{r['pvalue']:9.3f}")
    print(f"   chi-square: the counts against softmax, {len(SEED_LOGITS) - 1} degrees of "
          "freedom; where the law holds,\n"
          "   the p-value is uniform on (0, 1). An int seed seeds each framework's own "
          "generator\n   (NumPy, array-api-strict and Dask: PortableRNG; hence their equal "
          "rows).")

    if results:
        import gumbelxp as gx

        x = np.asarray(SEED_LOGITS, dtype=np.float32)
        print("\n3. Temperature: the sample of part 1 as tau falls\n"
              f"   y = gx.gumbel_softmax(logits, tau, rng={rng})\n")
        print(f"   {'tau':<{_NAME_W}}" + "".join(f"{f'y[{i}]':>8}" for i in k))
        for tau in DEMO_TAUS:
            y = np.asarray(gx.gumbel_softmax(x, tau=tau, rng=gx.PortableRNG(args.seed)))
            print(_row(f"{tau:g}", y))
        print("   Large tau: towards uniform; tau -> 0: the one-hot of i, a sample of the "
              "categorical law.")
        if args.plot:
            from ._plot import gradient_run

            what = "the temperature sweep"
            if records:
                what += " and the estimators' gradient quality"
            elif args.no_gradients:
                what += " (no gradient panel: --no-gradients)"
            elif records == []:
                what += " (no gradient panel: its benchmark gave no records)"
            elif gradient_run() is None:
                what += " (no gradient panel: its benchmark is not installed)"
            else:
                what += " (no gradient panel: its benchmark failed, see above)"
            print(f"\nDrew {what} into {args.plot}")
        else:
            print("   gumbelxp demo --plot FILE draws it.")
    for name, why in failed.items():
        print(f"\n[{name}] failed: {why}")
    return 1 if failed or not agree else 0


def cmd_check(args: argparse.Namespace) -> int:
    from .conformance.checks import main as check_main

    return check_main(args)


def cmd_bench(args: argparse.Namespace) -> int:
    from .conformance.bench.speed import main as bench_main

    return bench_main(args)


_BACKENDS_HELP = ("comma-separated backend names, e.g. numpy,torch (default: every "
                  "installed one); known: " + ", ".join(BACKEND_NAMES))


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="gumbelxp",
        description="Gumbel sampling and Gumbel-Softmax written once on the Python array API, "
        "for NumPy, PyTorch, TensorFlow, JAX, CuPy, Dask and array-api-strict arrays. "
        "Also run as: python -m gumbelxp.",
        epilog="gumbelxp COMMAND --help explains the options of each command.")
    ap.add_argument("--version", action="version", version=f"gumbelxp {__version__}",
                    help="print gumbelxp's version and exit")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("info", help="the backends found, their versions and devices",
                       description="List every backend gumbelxp knows: installed or not "
                       "(and why not), its version and its devices.")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "demo", help="the seed example on every installed framework",
        description="The seed example, logits [1, 2, 3, 4]: gx.PortableRNG giving the same "
        "sample on every installed framework, the Gumbel-max law (frequencies against "
        "softmax, with a chi-square p-value), and the sample as the temperature falls.")
    p.add_argument("--backends", metavar="NAMES", help=_BACKENDS_HELP)
    p.add_argument("--draws", type=int, default=100_000, metavar="N",
                   help="Gumbel-max draws per framework for the law (default: 100000)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="the seed of gx.PortableRNG and of each framework's own generator "
                   "(default: 0)")
    p.add_argument("--plot", metavar="FILE",
                   help="also draw the temperature sweep (and the estimators' gradient "
                   "quality, where that benchmark is installed) into FILE; the format "
                   "follows its suffix (.png, .svg, .pdf); needs matplotlib: "
                   'pip install "gumbelxp[plot]"')
    p.add_argument("--no-gradients", action="store_true",
                   help="with --plot: leave out the gradient-quality panel (it runs the "
                   "gradient benchmark first)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar on stderr")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "check", help="the conformance suite as a table; exit 1 on any failure",
        description="Run the conformance suite on every installed (or named) backend and "
        "floating dtype against a NumPy float64 reference, with a progress bar on stderr, "
        "and print a table: a row per backend and dtype, a column per check. Exit status 1 "
        "on any failure or a named backend that cannot run.")
    p.add_argument("--backends", metavar="NAMES", help=_BACKENDS_HELP)
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also print the time of each backend, the warnings the checks "
                   "provoked, and every failure (not only the first 25)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar on stderr")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "bench", help="gumbelxp's speed and memory against each framework's own code",
        description="Time gumbelxp.gumbel_softmax against each framework's own version "
        "(torch.nn.functional.gumbel_softmax, hand-written NumPy, jax.random.gumbel + "
        "jax.nn.softmax, TensorFlow ops), interleaved in one process, and measure the peak "
        "memory of one call. Warns on stderr when the timings vary so much between repeats "
        "that the machine looks busy.")
    p.add_argument("--backends", metavar="NAMES", help=_BACKENDS_HELP)
    from .conformance.bench.speed import add_arguments as bench_arguments

    bench_arguments(p)
    p.set_defaults(func=cmd_bench)
    return ap


def main(argv: list[str] | None = None) -> int:
    import os

    from ._console import native_logs_captured

    # TensorFlow's C++ start-up notices (oneDNN, CPU features) would drown the
    # tables; the user's own setting wins
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    # what the frameworks' native code writes to stderr is held back (and
    # shown only if the command crashes): progress and tables stay readable
    with native_logs_captured():
        return int(args.func(args) or 0)
