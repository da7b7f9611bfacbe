"""Pipeline statistics: per-stage latency percentiles, end-to-end latency, FPS, drops.

Each stage reports two series per frame: its processing time (inside the stage) and its queue wait
(from the previous stage finishing the frame to this stage taking it, including any time the hand-over
blocked on a full queue). Kept apart because they answer different questions: a long wait before
`infer` means inference is the bottleneck; a long `infer` processing time means the model is slow.
Stages record from their own threads, so the recorder is locked. Samples are kept in bounded
windows (the most recent `window` frames) so a robot running for days does not grow memory.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

STAGES = ("decode", "preprocess", "infer", "postprocess", "sink")


@dataclass(frozen=True)
class Latency:
    """Percentiles of one latency series, in milliseconds."""

    count: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @classmethod
    def of(cls, seconds: list[float] | deque[float]) -> Latency:
        if not seconds:
            return cls(0, float("nan"), float("nan"), float("nan"), float("nan"))
        ms = np.asarray(seconds, dtype=np.float64) * 1000.0
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        return cls(len(ms), float(ms.mean()), float(p50), float(p95), float(p99))


@dataclass(frozen=True)
class Stats:
    """A snapshot of a pipeline run; `table()` is what the CLI prints at the end.

    `stages`: processing time per stage; `queue_wait`: per stage, the time frames waited before the
    stage took them (no entry for decode, which reads the source and has no queue before it).
    """

    stages: dict[str, Latency]
    end_to_end: Latency
    frames_in: int
    frames_out: int
    dropped: int
    reconnects: int
    wall_s: float
    batches: int = 0
    queue_wait: dict[str, Latency] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """Delivered frames per second of wall time."""
        return self.frames_out / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def in_flight(self) -> int:
        """Frames neither delivered nor dropped (only non-zero when a run is stopped early)."""
        return self.frames_in - self.frames_out - self.dropped

    def table(self) -> str:
        """Per stage: frames, queue wait (p50, p95) then processing (mean, p50, p95, p99), in ms."""
        none = Latency.of([])
        rows = [("stage", "frames", "wait p50 ms", "wait p95 ms", "mean ms", "p50 ms", "p95 ms", "p99 ms")]
        for name, lat in [*self.stages.items(), ("end-to-end", self.end_to_end)]:
            wait = self.queue_wait.get(name, none)
            rows.append((name, str(lat.count), _ms(wait.p50_ms), _ms(wait.p95_ms), f"{lat.mean_ms:.2f}",
                         f"{lat.p50_ms:.2f}", f"{lat.p95_ms:.2f}", f"{lat.p99_ms:.2f}"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                           for i, (cell, w) in enumerate(zip(row, widths, strict=True))) for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.append(f"frames in {self.frames_in}, out {self.frames_out}, dropped {self.dropped}, "
                     f"reconnects {self.reconnects}, batches {self.batches}, "
                     f"{self.fps:.1f} FPS over {self.wall_s:.2f} s")
        return "\n".join(lines)


def _ms(value: float) -> str:
    """A table cell: '-' where a stage has no samples of that kind (decode's wait, end-to-end's)."""
    return "-" if value != value else f"{value:.2f}"  # NaN != NaN


class StatsRecorder:
    """Thread-safe collector the pipeline stages write into."""

    def __init__(self, window: int = 10000) -> None:
        self._lock = threading.Lock()
        self._stage: dict[str, deque[float]] = {s: deque(maxlen=window) for s in STAGES}
        self._wait: dict[str, deque[float]] = {s: deque(maxlen=window) for s in STAGES[1:]}
        self._e2e: deque[float] = deque(maxlen=window)
        self.frames_in = 0
        self.frames_out = 0
        self.dropped = 0
        self.batches = 0
        self._start: float | None = None
        self._end: float | None = None

    def start(self) -> None:
        with self._lock:
            self._start = time.monotonic()

    def stop(self) -> None:
        with self._lock:
            if self._end is None:
                self._end = time.monotonic()

    def stage(self, name: str, seconds: float, frames: int = 1, waits: Sequence[float] = ()) -> None:
        """`seconds` of processing for each of `frames` frames (a batch's time counts for each of its
        frames), and each frame's queue wait before the stage took it."""
        with self._lock:
            self._stage.setdefault(name, deque(maxlen=self._e2e.maxlen)).extend([seconds] * frames)
            if waits:
                self._wait.setdefault(name, deque(maxlen=self._e2e.maxlen)).extend(waits)

    def produced(self) -> None:
        with self._lock:
            self.frames_in += 1

    def drop(self, count: int = 1) -> None:
        with self._lock:
            self.dropped += count

    def batch(self) -> None:
        with self._lock:
            self.batches += 1

    def delivered(self, end_to_end_s: float) -> None:
        with self._lock:
            self.frames_out += 1
            self._e2e.append(end_to_end_s)

    def snapshot(self, reconnects: int = 0) -> Stats:
        with self._lock:
            end = self._end if self._end is not None else time.monotonic()
            wall = end - self._start if self._start is not None else 0.0
            return Stats({k: Latency.of(v) for k, v in self._stage.items()}, Latency.of(self._e2e),
                         self.frames_in, self.frames_out, self.dropped, reconnects, wall, self.batches,
                         {k: Latency.of(v) for k, v in self._wait.items()})
