"""``gumbelxp demo --plot FILE``: the temperature sweep, and the estimators'
gradient quality where the gradient benchmark is installed, as one figure.

Needs matplotlib (``pip install "gumbelxp[plot]"``); it uses matplotlib's
object interface only (no pyplot, no window), so it runs on a machine without
a display. Noise comes from :class:`gumbelxp.PortableRNG`, so the picture is
the same on every computer.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

#: the seed example
SEED_LOGITS = (1.0, 2.0, 3.0, 4.0)
#: the temperatures of the bar panels (falling)
BAR_TAUS = (10.0, 1.0, 0.5, 0.1)
#: the temperatures of the simplex panels (falling)
SIMPLEX_TAUS = (5.0, 1.0, 0.5, 0.1)
#: where the gradient records come from, if that module is installed
GRADIENTS_MODULE = "gumbelxp.conformance.bench.gradients"

INSTALL_HINT = 'pip install "gumbelxp[plot]"  (or: pip install matplotlib)'
_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")


class PlotUnavailable(RuntimeError):
    """matplotlib is missing: the message says how to install it."""


def require_matplotlib() -> Any:
    """matplotlib's ``Figure`` class, or :class:`PlotUnavailable` saying how
    to install it."""
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise PlotUnavailable(
            f"drawing a figure needs matplotlib, which is not installed ({e}); "
            f"install it with: {INSTALL_HINT}") from None
    return Figure


def _softmax(x: Sequence[float]) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    e: np.ndarray = np.exp(a - a.max())
    e /= e.sum()
    return e


def gradient_run() -> Callable[..., Any] | None:
    """``gumbelxp.conformance.bench.gradients.run``, or None where that
    benchmark is not installed."""
    try:
        run: Callable[..., Any] = importlib.import_module(GRADIENTS_MODULE).run
    except (ImportError, AttributeError):
        return None
    return run


def gradient_records(run: Callable[..., Any] | None = None) -> list[dict[str, Any]] | None:
    """The gradient-quality records of ``gumbelxp.conformance.bench.gradients.run()``
    (or of ``run``), or None where that benchmark is not installed. Each
    record has ``estimator``, ``tau``, ``cosine`` (of the mean estimate with
    the true gradient) and ``variance`` (``cos`` / ``var`` are read too),
    and optionally ``samples`` and ``problem``."""
    if run is None:
        run = gradient_run()
        if run is None:
            return None
    kwargs: dict[str, Any] = {}
    try:
        if "progress" in inspect.signature(run).parameters:
            kwargs["progress"] = False
    except (TypeError, ValueError):
        pass
    return list(run(**kwargs))


def _field(rec: dict[str, Any], *names: str) -> Any:
    for n in names:
        if n in rec:
            return rec[n]
    raise KeyError(f"a gradient record has none of {names}: {sorted(rec)}")


def _simplex_xy(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric points of the 3-category simplex in the plane: corners at
    (0, 0), (1, 0) and (1/2, sqrt(3)/2)."""
    return y[:, 1] + 0.5 * y[:, 2], (math.sqrt(3) / 2) * y[:, 2]


def sweep_data(draws: int = 100_000, seed: int = 0,
               simplex_samples: int = 600) -> dict[str, Any]:
    """What the sweep panels show, computed on NumPy with PortableRNG (the
    same numbers on every framework)."""
    import gumbelxp as gx

    logits = np.asarray(SEED_LOGITS, dtype=np.float32)
    idx = np.asarray(gx.gumbel_max(logits, num_samples=draws, rng=gx.PortableRNG(seed)))
    freq = np.bincount(idx.astype(np.int64), minlength=len(SEED_LOGITS)) / draws
    bars = {t: np.asarray(gx.gumbel_softmax(logits, tau=t, rng=gx.PortableRNG(seed)))
            for t in BAR_TAUS}
    three = np.broadcast_to(logits[:3], (simplex_samples, 3))
    simplex = {}
    for t in SIMPLEX_TAUS:
        # the same noise at every temperature: each point moves as tau falls
        y = np.asarray(gx.gumbel_softmax(three, tau=t, rng=gx.PortableRNG(seed + 1)),
                       dtype=np.float64)
        simplex[t] = y
    return {"softmax": _softmax(SEED_LOGITS), "freq": freq, "draws": draws, "seed": seed,
            "bars": bars, "simplex": simplex, "simplex_p": _softmax(SEED_LOGITS[:3])}


def _draw_law(ax: Any, d: dict[str, Any]) -> None:
    k = np.arange(len(d["softmax"]))
    ax.bar(k, d["softmax"], color="#bbbbbb", label="softmax(logits)")
    ax.plot(k, d["freq"], "o", color="black", ms=5,
            label=f"Gumbel-max frequency\n({d['draws']:,} draws)")
    ax.set_title("the categorical law", fontsize=10)
    ax.set_ylabel("probability; sample value")
    ax.set_xticks(k)
    ax.set_ylim(0, 1)
    ax.set_xlabel("index")
    ax.legend(fontsize=7, loc="upper left", frameon=False)


def _draw_bars(ax: Any, y: np.ndarray, tau: float, first: bool) -> None:
    k = np.arange(y.size)
    ax.bar(k, y, color=_COLOURS[: y.size])
    ax.set_title(f"tau = {tau:g}", fontsize=10)
    ax.set_xticks(k)
    ax.set_ylim(0, 1)
    ax.set_xlabel("index")
    if not first:
        ax.set_yticklabels([])


def _draw_simplex(ax: Any, y: np.ndarray, tau: float, p: np.ndarray) -> None:
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2], [0.0, 0.0]])
    ax.plot(corners[:, 0], corners[:, 1], color="#888888", lw=0.8)
    x, h = _simplex_xy(y)
    colour = np.asarray(_COLOURS)[np.argmax(y, axis=1)]
    ax.scatter(x, h, s=4, c=colour, alpha=0.5, linewidths=0)
    for i, (cx, cy, ha, va) in enumerate(((0.0, 0.0, "right", "top"), (1.0, 0.0, "left", "top"),
                                           (0.5, math.sqrt(3) / 2, "center", "bottom"))):
        ax.annotate(f"{i}: p={p[i]:.2f}", (cx, cy), fontsize=7, ha=ha, va=va,
                    xytext=(0, -2 if va == "top" else 2), textcoords="offset points")
    near = float(np.count_nonzero(np.max(y, axis=1) > 0.99)) / len(y)
    ax.set_title(f"tau = {tau:g}: {near:.0%} have max > 0.99", fontsize=10)
    ax.set_xlim(-0.15, 1.15)
    ax.set_ylim(-0.1, 0.95)
    ax.set_aspect("equal")
    ax.axis("off")


def _draw_gradients(sf: Any, records: list[dict[str, Any]]) -> int:
    """Cosine and variance against tau, a line per estimator, a column per
    problem (at most 3), into the subfigure ``sf``. Returns the number of
    axes drawn."""
    from matplotlib.ticker import NullFormatter

    problems = list(dict.fromkeys(r.get("problem", "") for r in records))[:3]
    axes = sf.subplots(2, len(problems), sharex=True, squeeze=False)
    for j, pb in enumerate(problems):
        rs = [r for r in records if r.get("problem", "") == pb]
        ax_c, ax_v = axes[0, j], axes[1, j]
        for e in dict.fromkeys(str(r["estimator"]) for r in rs):
            pts = sorted((float(r["tau"]), float(_field(r, "cosine", "cos")),
                          float(_field(r, "variance", "var"))) for r in rs
                         if str(r["estimator"]) == e)
            taus = [t for t, _, _ in pts]
            ax_c.plot(taus, [c for _, c, _ in pts], "o-", ms=3, label=e)
            ax_v.plot(taus, [v for _, _, v in pts], "o-", ms=3, label=e)
        ax_c.set_xscale("log")
        ax_v.set_yscale("log")
        ticks = sorted({float(r["tau"]) for r in rs})
        ax_v.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax_v.xaxis.set_minor_formatter(NullFormatter())
        if pb:
            ax_c.set_title(pb, fontsize=10)
        ax_v.set_xlabel("tau")
        if j == 0:
            ax_c.set_ylabel("cosine with the\ntrue gradient", fontsize=9)
            ax_v.set_ylabel("variance of one\nestimate / |true|^2", fontsize=9)
        if j == len(problems) - 1:
            ax_c.legend(fontsize=7, frameon=False)
    return 2 * len(problems)


def draw(path: str, data: dict[str, Any] | None = None,
         gradients: list[dict[str, Any]] | None = None, dpi: int = 110) -> Any:
    """Draw the figure into ``path`` (the format from its suffix: .png, .svg,
    .pdf, ...) and return the matplotlib ``Figure``. ``gradients``: records
    for the gradient-quality panel (none: the panel is left out)."""
    Figure = require_matplotlib()
    d = sweep_data() if data is None else data
    rows = [1.0, 1.1] + ([1.7] if gradients else [])
    fig = Figure(figsize=(12, 2.7 * sum(rows)), layout="constrained")
    subs = fig.subfigures(len(rows), 1, height_ratios=rows)
    logits = ", ".join(f"{v:g}" for v in SEED_LOGITS)

    subs[0].suptitle(f"Logits [{logits}]: one Gumbel-Softmax sample (noise from "
                     f"gx.PortableRNG({d['seed']})) at four temperatures, next to the "
                     "categorical law", fontsize=11)
    axes = subs[0].subplots(1, 1 + len(d["bars"]))
    _draw_law(axes[0], d)
    for i, (tau, y) in enumerate(d["bars"].items()):
        _draw_bars(axes[i + 1], y, tau, i == 0)

    n = len(next(iter(d["simplex"].values())))
    three = ", ".join(f"{v:g}" for v in SEED_LOGITS[:3])
    subs[1].suptitle(f"{n:,} samples of logits [{three}] on the simplex, the same noise at "
                     "each tau: from the centre to the corners as tau falls", fontsize=11)
    axes = subs[1].subplots(1, len(d["simplex"]))
    for ax, (tau, y) in zip(axes, d["simplex"].items(), strict=True):
        _draw_simplex(ax, y, tau, d["simplex_p"])
    if gradients:
        subs[2].suptitle("Gradient estimators against tau: bias (the cosine of the mean "
                         "estimate with the true gradient; 1 is unbiased) and variance",
                         fontsize=11)
        _draw_gradients(subs[2], gradients)
    fig.savefig(path, dpi=dpi)
    return fig
