"""Compare two backends' outputs on the same inputs, and time a backend (Polygraphy-style).

Why: the last rung of the test ladder (engine == ONNX Runtime CPU within tolerance) is run by
`edgeseg doctor` on hardware; the comparison itself is plain numpy and tested here.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OutputDiff:
    name: str
    max_abs: float
    mean_abs: float
    ok: bool
    note: str = ""


def compare_outputs(
    reference: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray], atol: float, rtol: float
) -> list[OutputDiff]:
    """Per-output errors; integer outputs (classes, indices, counts) must match exactly."""
    diffs = []
    for name, ref in reference.items():
        got = candidate.get(name)
        if got is None:
            diffs.append(OutputDiff(name, float("inf"), float("inf"), False, "missing"))
            continue
        if got.shape != ref.shape:
            note = f"shape {got.shape} != {ref.shape}"
            diffs.append(OutputDiff(name, float("inf"), float("inf"), False, note))
            continue
        if ref.size == 0:
            diffs.append(OutputDiff(name, 0.0, 0.0, True))
            continue
        err = np.abs(got.astype(np.float64) - ref.astype(np.float64))
        if np.issubdtype(ref.dtype, np.integer) or ref.dtype == np.bool_:
            ok = bool(np.array_equal(got, ref))
        else:
            ok = bool(np.all(err <= atol + rtol * np.abs(ref.astype(np.float64))))
        diffs.append(OutputDiff(name, float(err.max()), float(err.mean()), ok))
    return diffs


def median_latency_ms(run: Callable[[], object], warmup: int = 5, iterations: int = 50) -> float:
    """Median wall time of `run()` in milliseconds, after warm-up runs."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)
