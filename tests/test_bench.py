"""Smoke test of the benchmark code: one tiny shape, one round, no timing asserts."""

import math

from gumbelxp._bench import MODES, format_table, run
from gumbelxp.testing import selected_backends

KEYS = {"backend", "variant", "dtype", "shape", "mode", "reference", "gumbelxp_us",
        "reference_us", "ratio", "overhead_us", "goal", "met", "gumbelxp_mem_x",
        "reference_mem_x", "gumbelxp_mem_bytes", "reference_mem_bytes"}


def test_bench_records_structure():
    backends = [b for b in selected_backends() if b in ("numpy", "torch")] or ["numpy"]
    records = run(backends=backends, shapes=[(2, 3)], repeats=1, memory=False)
    assert records
    for r in records:
        assert set(r) == KEYS
        assert r["shape"] == (2, 3) and r["mode"] in MODES
        assert math.isfinite(r["ratio"]) and r["ratio"] > 0
        assert r["gumbelxp_us"] > 0 and r["reference_us"] > 0
    assert "| ratio |" in format_table(records)
