"""A dense-captioning engine's sidecar carries the graph's vocabulary, so the runtime reads its tokens
(TensorRT engines have no ONNX metadata); a sidecar without one is refused with one clear line."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edgeseg.errors import EdgesegError
from edgeseg.runtime.backend import TensorSpec
from edgeseg.runtime.resolve import engine_info
from edgeseg.runtime.results import FrameResult
from edgeseg.runtime.task_adapters import decode
from edgeseg.trt.sidecar import EngineMetadata, Target
from edgeseg.vocab import SHAPES_VOCAB


class Engine:
    def inputs(self) -> list[TensorSpec]:
        return [TensorSpec("images", (1, 320, 320, 3), np.dtype(np.uint8))]

    def outputs(self) -> list[TensorSpec]:
        shapes = {"boxes": ((1, 2, 4), np.float32), "scores": ((1, 2), np.float32),
                  "classes": ((1, 2), np.int32), "num_dets": ((1,), np.int32),
                  "tokens": ((1, 2, 11), np.int32)}
        return [TensorSpec(name, shape, np.dtype(dtype)) for name, (shape, dtype) in shapes.items()]


def _meta(vocabulary: list[str] | None) -> EngineMetadata:
    meta = EngineMetadata("densecap", "0" * 64, "fp16", Target("10.3.0", "Orin", (8, 7)), task="densecap",
                          classes=["circle"], vocabulary=vocabulary)
    return EngineMetadata.from_json(json.loads(json.dumps(meta.to_json())))  # through the sidecar file format


def test_engine_tokens_become_phrases() -> None:
    info = engine_info(_meta(list(SHAPES_VOCAB.tokens)), Engine(), "densecap.engine")  # type: ignore[arg-type]
    index = SHAPES_VOCAB.index
    row = [index["small"], index["red"], index["circle"], 2] + [0] * 7
    outputs = {"boxes": np.array([[1, 2, 30, 40], [0, 0, 0, 0]], np.float32), "scores": np.array([0.9, 0.0]),
               "classes": np.array([1, 0]), "num_dets": np.array([1]), "tokens": np.array([row, [0] * 11])}
    result = decode(outputs, info, FrameResult(0, 320, 320))
    assert result.captions == ["small red circle"]


def test_engine_without_vocabulary_is_refused() -> None:
    with pytest.raises(EdgesegError, match="no edgeseg.vocabulary"):
        engine_info(_meta(None), Engine(), "densecap.engine")  # type: ignore[arg-type]


def test_builder_takes_the_vocabulary_from_the_zoo_graph() -> None:
    from pathlib import Path

    from edgeseg.engine.onnx_info import summarize

    graph = Path(__file__).resolve().parents[2] / "edgeseg" / "zoo" / "densecap.onnx"
    if not graph.is_file():
        pytest.skip("no densecap graph in the zoo (edgeseg export --zoo)")
    assert summarize(graph).facts.vocabulary == list(SHAPES_VOCAB.tokens)
