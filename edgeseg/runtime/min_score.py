"""One score threshold for the API (`Pipeline(min_score=...)`) and the CLI (`edgeseg run --min-score`):
same default, same validation, same filter, so a script and a command line give the same results."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.runtime.adapters import TaskAdapter
from edgeseg.runtime.results import FrameResult

DEFAULT_MIN_SCORE = 0.0  # keep what the graph returns (the graph applies its own lower threshold)
PER_DETECTION = ("boxes", "scores", "classes", "masks", "keypoints")


def check_min_score(value: float, flag: str = "min_score") -> float:
    """`value` if it is a score in [0, 1]; NaN would silently keep nothing, > 1 would drop everything."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and 0.0 <= value <= 1.0):
        raise EdgesegError(f"{flag} must be a score between 0 and 1, got {value!r}")
    return float(value)


class MinScore:
    """Wraps an exported-graph adapter: detections under `threshold` are removed from the raw outputs,
    so they are neither pasted, fused, drawn nor written (the graph keeps its own lower threshold)."""

    def __init__(self, adapter: TaskAdapter, threshold: float) -> None:
        self.adapter, self.threshold = adapter, threshold
        self.model_path = getattr(adapter, "model_path", None)

    def preprocess(self, image: np.ndarray) -> tuple[dict[str, np.ndarray], Any]:
        return self.adapter.preprocess(image)

    def postprocess(self, outputs: Mapping[str, np.ndarray], meta: Any, result: FrameResult) -> None:
        if "num_dets" in outputs and "scores" in outputs:
            count = np.asarray(outputs["num_dets"])
            n = int(count.reshape(-1)[0])
            keep = np.flatnonzero(np.asarray(outputs["scores"])[:n] >= self.threshold)
            outputs = {k: np.asarray(v)[keep] if k in PER_DETECTION else v for k, v in outputs.items()}
            outputs["num_dets"] = np.full_like(count, len(keep))
        self.adapter.postprocess(outputs, meta, result)


def with_min_score(adapter: TaskAdapter, threshold: float) -> TaskAdapter:
    """`adapter` filtered at `threshold` (itself when the threshold keeps everything)."""
    return MinScore(adapter, threshold) if threshold > 0 else adapter
