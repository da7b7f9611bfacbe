"""Stats percentiles against numpy, the printed table, and the runtime's torch-free imports."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edgeseg.runtime.stats import Latency, StatsRecorder


def test_latency_percentiles_match_numpy():
    rng = np.random.default_rng(0)
    seconds = rng.exponential(0.01, 1000)
    lat = Latency.of(list(seconds))
    ms = seconds * 1000
    assert lat.count == 1000
    assert lat.p50_ms == pytest.approx(np.median(ms))
    assert lat.p95_ms == pytest.approx(np.sort(ms)[949] + 0.05 * (np.sort(ms)[950] - np.sort(ms)[949]))
    assert lat.p99_ms == pytest.approx(np.percentile(ms, 99))
    assert lat.mean_ms == pytest.approx(ms.mean())
    assert Latency.of([]).count == 0


def test_recorder_counts_and_table():
    rec = StatsRecorder(window=100)
    rec.start()
    for i in range(150):
        rec.produced()
        rec.stage("infer", 0.002, frames=2)
        if i % 3 == 0:
            rec.drop()
        else:
            rec.delivered(0.010)
    rec.stop()
    stats = rec.snapshot(reconnects=2)
    assert (stats.frames_in, stats.frames_out, stats.dropped, stats.reconnects) == (150, 100, 50, 2)
    assert stats.in_flight == 0
    assert stats.stages["infer"].count == 100  # bounded window
    assert stats.stages["infer"].p99_ms == pytest.approx(2.0)
    assert stats.fps == pytest.approx(100 / stats.wall_s)
    table = stats.table()
    lines = table.splitlines()
    assert lines[0].split() == ["stage", "frames", "mean", "ms", "p50", "ms", "p95", "ms", "p99", "ms"]
    assert any(line.startswith("infer") and "2.00" in line for line in lines)
    assert "dropped 50" in lines[-1] and "reconnects 2" in lines[-1]


def test_runtime_imports_no_torch():
    modules = ["edgeseg.runtime.pipeline", "edgeseg.runtime.sources", "edgeseg.runtime.sinks",
               "edgeseg.runtime.overlays", "edgeseg.runtime.postprocess", "edgeseg.runtime.results",
               "edgeseg.runtime.stats", "edgeseg.runtime.adapters"]
    code = ("import sys, importlib\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "import edgeseg.runtime.sources as s\n"
            "list(s.open_source('shapes://?fps=0&size=32x32&frames=2'))\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
