"""Command line: ``gumbelxp info | demo | check | bench`` (also ``python -m gumbelxp``).

The CLI, like the tests, imports frameworks on purpose: it is where the user
asks for them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from . import __version__
from .backends import BACKEND_NAMES, get_backend, installed_backends

SEED_LOGITS = [1.0, 2.0, 3.0, 4.0]


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
    print(f"gumbelxp {__version__}  (python {sys.version.split()[0]}, numpy {np.__version__})")
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


def demo_backend(name: str, draws: int, seed: int) -> dict[str, Any]:
    """The seed example on one backend: softmax vs Gumbel-max frequencies,
    a chi-square p-value, and Gumbel-Softmax samples at three temperatures."""
    import gumbelxp as gx

    from .conformance.checks import chi2_sf as _chi2_sf
    from .conformance.support import from_numpy, to_numpy

    be = get_backend(name)
    xp = be.namespace
    logits = from_numpy(be, np.asarray(SEED_LOGITS, dtype=np.float32))
    p = np.exp(np.asarray(SEED_LOGITS) - max(SEED_LOGITS))
    p /= p.sum()
    batch = xp.broadcast_to(xp.reshape(logits, (1, 4)), (draws, 4))
    idx = to_numpy(gx.gumbel_max(batch, rng=seed))
    counts = np.bincount(idx.astype(np.int64), minlength=4)
    expected = draws * p
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    soft = {tau: to_numpy(gx.gumbel_softmax(logits, tau=tau, rng=seed + 1))
            for tau in (0.1, 1.0, 10.0)}
    return {"p": p, "freq": counts / draws, "chi2": chi2, "pvalue": _chi2_sf(chi2, 3),
            "soft": soft}


def cmd_demo(args: argparse.Namespace) -> int:
    print(f"logits {SEED_LOGITS}; Gumbel-max over {args.draws:,} draws (seed {args.seed}) "
          "should match softmax(logits)\n")
    failed = 0
    for name in _backend_list(args.backends):
        try:
            r = demo_backend(name, args.draws, args.seed)
        except Exception as e:
            failed += 1
            print(f"[{name}] failed: {type(e).__name__}: {e}\n")
            continue
        print(f"[{name}]")
        print(f"  {'index':<10}" + "".join(f"{i:>9}" for i in range(4)))
        print(f"  {'softmax':<10}" + "".join(f"{v:9.4f}" for v in r["p"]))
        print(f"  {'frequency':<10}" + "".join(f"{v:9.4f}" for v in r["freq"]))
        print(f"  chi-square {r['chi2']:.2f} (3 dof), p-value {r['pvalue']:.3f}")
        for tau, y in r["soft"].items():
            print(f"  gumbel_softmax tau={tau:<5}" + "".join(f"{v:9.4f}" for v in y))
        print()
    return 1 if failed else 0


def cmd_check(args: argparse.Namespace) -> int:
    from .conformance.checks import main as check_main

    return check_main(args)


def cmd_bench(args: argparse.Namespace) -> int:
    from .conformance.bench.speed import main as bench_main

    return bench_main(args)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="gumbelxp", description=__doc__.splitlines()[0])
    ap.add_argument("--version", action="version", version=f"gumbelxp {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="backends found, their versions and devices")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("demo", help="the seed example on every installed backend")
    p.add_argument("--backends", help="comma-separated backend names (default: all installed)")
    p.add_argument("--draws", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("check", help="the conformance suite as a table")
    p.add_argument("--backends", help="comma-separated backend names (default: all installed)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="time each backend and list every failure")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("bench", help="benchmarks against each framework's native code")
    p.add_argument("--backends", help="comma-separated backend names (default: all installed)")
    from .conformance.bench.speed import add_arguments as bench_arguments

    bench_arguments(p)
    p.set_defaults(func=cmd_bench)
    return ap


def main(argv: list[str] | None = None) -> int:
    import os

    # TensorFlow's C++ start-up notices (oneDNN, CPU features) would drown the
    # tables; the user's own setting wins
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
