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
    assert lines[0].split() == ["stage", "frames", "wait", "p50", "ms", "wait", "p95", "ms",
                                "mean", "ms", "p50", "ms", "p95", "ms", "p99", "ms"]
    infer = next(line.split() for line in lines if line.startswith("infer"))
    assert infer[2:4] == ["-", "-"] and infer[4:] == ["2.00"] * 4  # no waits recorded: shown as '-'
    assert "dropped 50" in lines[-1] and "reconnects 2" in lines[-1]


def test_queue_wait_is_kept_apart_from_processing():
    rec = StatsRecorder()
    rec.start()
    rec.stage("infer", 0.010, frames=2, waits=[0.030, 0.050])  # a batch of two, each waited its own time
    rec.stage("preprocess", 0.001, waits=[0.0])
    rec.stage("decode", 0.002)  # decode reads the source: no queue before it
    rec.stop()
    stats = rec.snapshot()
    assert stats.stages["infer"].count == 2 and stats.stages["infer"].p50_ms == pytest.approx(10.0)
    assert stats.queue_wait["infer"].count == 2
    assert stats.queue_wait["infer"].mean_ms == pytest.approx(40.0)
    assert stats.queue_wait["infer"].p50_ms == pytest.approx(40.0)
    assert stats.queue_wait["preprocess"].p95_ms == pytest.approx(0.0)
    assert "decode" not in stats.queue_wait
    rows = {line.split()[0]: line.split()[1:] for line in stats.table().splitlines()[2:-1]}
    assert rows["infer"] == ["2", "40.00", "49.00", "10.00", "10.00", "10.00", "10.00"]
    assert rows["decode"][1:3] == ["-", "-"] and rows["end-to-end"][1:3] == ["-", "-"]


def test_runtime_imports_no_torch():
    modules = ["edgeseg.runtime.pipeline", "edgeseg.runtime.resolve", "edgeseg.runtime.command",
               "edgeseg.runtime.sources", "edgeseg.runtime.sinks",
               "edgeseg.runtime.overlays", "edgeseg.runtime.postprocess", "edgeseg.runtime.results",
               "edgeseg.runtime.stats", "edgeseg.runtime.adapters"]
    code = ("import sys, importlib\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "import edgeseg.runtime.sources as s\n"
            "list(s.open_source('shapes://?fps=0&size=32x32&frames=2'))\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
