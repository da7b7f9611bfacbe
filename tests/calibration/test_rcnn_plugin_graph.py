"""INT8 calibration of a real R-CNN graph with plugin nodes: the zoo's `faster_rcnn`, patched for
TensorRT (EdgesegRoIAlign, EdgesegNMS), calibrated on generated frames through `calibrate_file`
with its accuracy budget on, as `edgeseg calibrate` runs it.

The FCN graphs of the other calibration tests have no custom nodes; here the plugin nodes must come
through untouched: no Q/DQ on their inputs or outputs (TensorRT's plugins take and give FP32, and
the NMS indices/counts are integers), the same fields, and the graph still runs on ONNX Runtime.

Tolerance, against the FP32 patched graph on the same frames (reference: ONNX Runtime, FP32): of
the FP32 detections with score >= 0.5 on 8 ShapesWorld val frames, >= 90 % are found in the INT8
output with the same class at IoU >= 0.8, with scores within 0.15. Measured: 100 % at IoU 0.9,
score error <= 0.08, box error <= 3.7 px; the budget's held-out box AP fell 0.35 points.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx_graphsurgeon")
pytest.importorskip("onnxruntime_extensions")

import onnx  # noqa: E402
from PIL import Image  # noqa: E402

from edgeseg.calibration.calibrate import calibrate_file  # noqa: E402
from edgeseg.calibration.fp16_check import compare_detections  # noqa: E402
from edgeseg.calibration.recipe import Recipe  # noqa: E402
from edgeseg.data.shapes import render_image  # noqa: E402
from edgeseg.runtime.backends.ort import OrtBackend  # noqa: E402
from edgeseg.surgery.registry import patch_file  # noqa: E402

ZOO_GRAPH = Path(__file__).resolve().parents[2] / "edgeseg" / "zoo" / "faster_rcnn.onnx"
PLUGINS = {"EdgesegRoIAlign", "EdgesegNMS"}
MIN_SCORE, MIN_IOU, MIN_MATCH, MAX_SCORE_ERROR = 0.5, 0.8, 0.9, 0.15
RECIPE = Recipe(min_frames=16, held_out_frames=16, sensitivity_frames=4)


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    if not ZOO_GRAPH.is_file():
        pytest.skip("no zoo faster_rcnn graph")
    root = tmp_path_factory.mktemp("rcnn_int8")
    patched = patch_file(ZOO_GRAPH, root / "faster_rcnn.trt.onnx")
    frames = root / "frames"
    frames.mkdir()
    for i in range(RECIPE.min_frames):  # train split, another seed: no frame is also a test frame
        Image.fromarray(render_image(11, i, 320, "train")[0]).save(frames / f"{i:03d}.png")
    outcome = calibrate_file(patched, frames, root / "faster_rcnn.int8.onnx", recipe=RECIPE, progress=False)
    assert outcome.accuracy_vs_fp32 is not None
    return patched, outcome.qdq_path, outcome.accuracy_vs_fp32


def test_plugin_nodes_stay_unquantized_and_unchanged(graphs: tuple[Path, Path, dict]) -> None:
    patched, qdq_path = onnx.load(str(graphs[0])), onnx.load(str(graphs[1]))
    producers = {out: n.op_type for n in qdq_path.graph.node for out in n.output}
    consumers: dict[str, list[str]] = {}
    for n in qdq_path.graph.node:
        for name in n.input:
            consumers.setdefault(name, []).append(n.op_type)
    before = {n.name: n for n in patched.graph.node if n.op_type in PLUGINS}
    after = {n.name: n for n in qdq_path.graph.node if n.op_type in PLUGINS}
    assert {n.op_type for n in before.values()} == PLUGINS
    assert sorted(after) == sorted(before)
    for name, node in after.items():
        assert list(node.attribute) == list(before[name].attribute), f"{name}: fields changed"
        assert not [i for i in node.input if producers.get(i) == "DequantizeLinear"], f"{name}: Q/DQ input"
        quantized_out = [o for o in node.output if "QuantizeLinear" in consumers.get(o, [])]
        assert not quantized_out, f"{name}: Q/DQ on outputs {quantized_out}"
    # not vacuous: the convolutions around them are quantized
    assert sum(n.op_type == "QuantizeLinear" for n in qdq_path.graph.node) >= 10
    conv_inputs = [producers.get(n.input[0]) for n in qdq_path.graph.node if n.op_type == "Conv"]
    assert conv_inputs.count("DequantizeLinear") >= 0.8 * len(conv_inputs)


def test_int8_detections_stay_close_to_fp32_on_onnx_runtime(graphs: tuple[Path, Path, dict]) -> None:
    patched, qdq_path, accuracy = graphs
    assert accuracy["within_budget"] and accuracy["drop"] <= RECIPE.budget
    fp32, int8 = OrtBackend(patched, intra_op_threads=1), OrtBackend(qdq_path, intra_op_threads=1)
    name = fp32.inputs()[0].name
    reference = matched = 0
    worst_score = 0.0
    for i in range(8):
        feed = {name: render_image(3, i, 320, "val")[0][None]}
        ref, got = fp32.infer(feed), int8.infer(feed)
        count = int(ref["num_dets"][0])
        keep = np.flatnonzero(ref["scores"][0, :count] >= MIN_SCORE)
        confident = {k: v[:, keep] for k, v in ref.items() if k != "num_dets"}
        confident["num_dets"] = np.array([len(keep)])
        agree = compare_detections(confident, got, iou=MIN_IOU)
        reference, matched = reference + agree.reference, matched + agree.matched
        worst_score = max(worst_score, agree.max_score_error)
    assert reference >= 20, "too few confident FP32 detections for the check to mean anything"
    assert matched >= MIN_MATCH * reference, f"{matched} of {reference} FP32 detections kept in INT8"
    assert worst_score <= MAX_SCORE_ERROR
