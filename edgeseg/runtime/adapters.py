"""The task adapter: the small object that knows how one graph wants its frames and what its outputs mean.

The pipeline is model-agnostic: it asks the adapter to turn a frame into input tensors (and keep any
per-frame metadata, such as the letterbox), batches those for the backend, then hands each frame's
slice of the outputs back to the adapter to fill a `FrameResult`. Any ONNX graph (or TensorRT engine)
plugs in by writing one adapter; export provides them for the zoo models.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from edgeseg.runtime.results import FrameResult


@runtime_checkable
class TaskAdapter(Protocol):
    def preprocess(self, image: np.ndarray) -> tuple[dict[str, np.ndarray], Any]:
        """One RGB uint8 frame [H,W,3] -> (graph inputs with a leading batch dimension of 1, metadata)."""
        ...

    def postprocess(self, outputs: Mapping[str, np.ndarray], meta: Any, result: FrameResult) -> None:
        """Fill `result` (boxes, masks, ...) from this frame's outputs (batch dimension removed) and the
        metadata `preprocess` returned. Coordinates must be frame pixels."""
        ...
