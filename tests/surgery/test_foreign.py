"""`foreign` on torchvision's own Mask R-CNN export: the rewrite happens and the outputs do not change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from surgery_helpers import conv_relu_model, export_torchvision_maskrcnn, make_model

from edgeseg.surgery.graphs import op_counts
from edgeseg.surgery.io import save_model
from edgeseg.surgery.registry import apply

OUTPUTS = ("boxes", "labels", "scores", "masks")


def _reference(path: Path, image: np.ndarray) -> dict[str, np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return dict(zip(OUTPUTS, session.run(list(OUTPUTS), {"image": image}), strict=True))


def _patched(path: Path, image: np.ndarray, tmp_path: Path) -> dict[str, np.ndarray]:
    from edgeseg.runtime.backends.ort import OrtBackend

    patched, _ = apply(onnx.load(str(path)), ["foreign"])
    out = tmp_path / "patched.onnx"
    save_model(patched, out)
    backend = OrtBackend(out, intra_op_threads=1)
    try:
        return backend.infer({"image": image})
    finally:
        backend.close()


def _assert_same(ref: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> None:
    assert ref["boxes"].shape[0] > 0, "the random model must detect something for the test to mean anything"
    for name in OUTPUTS:
        assert got[name].shape == ref[name].shape, name
    np.testing.assert_array_equal(got["labels"], ref["labels"])
    np.testing.assert_allclose(got["boxes"], ref["boxes"], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(got["scores"], ref["scores"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got["masks"], ref["masks"], rtol=1e-3, atol=1e-4)


def test_foreign_rewrites_torchvision_patterns(tv_maskrcnn: tuple[Path, np.ndarray]) -> None:
    model = onnx.load(str(tv_maskrcnn[0]))
    patched, notes = apply(model, ["foreign"])
    before, after = op_counts(model), op_counts(patched)
    assert (before["RoiAlign"], before["ScatterElements"], before["NonMaxSuppression"]) == (8, 8, 2)
    assert (after["RoiAlign"], after["ScatterElements"], after["NonMaxSuppression"]) == (0, 0, 0)
    assert after["edgeseg::EdgesegRoIAlign"] == 2 and after["edgeseg::EdgesegNMS"] == 2
    assert not any("left untouched" in n for n in notes)
    onnx.checker.check_model(patched)


def test_foreign_keeps_torchvision_outputs(tv_maskrcnn: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, image = tv_maskrcnn
    _assert_same(_reference(path, image), _patched(path, image, tmp_path))


@pytest.mark.slow
def test_foreign_keeps_maskrcnn_resnet50_outputs(tmp_path: Path) -> None:
    path = tmp_path / "maskrcnn_r50.onnx"
    image = export_torchvision_maskrcnn(path, "resnet50")
    _assert_same(_reference(path, image), _patched(path, image, tmp_path))


def _nms_model(slice_end: int | None) -> onnx.ModelProto:
    """boxes [N,4], scores [N] -> NonMaxSuppression (1 image, 1 class) -> column 2 -> keep (-> keep[:k])."""
    ints = {"zero": [0], "axis1": [1], "two": [2], "max": [1 << 40]}
    inits = [helper.make_tensor(k, TensorProto.INT64, [len(v)], v) for k, v in ints.items()]
    inits.append(helper.make_tensor("iou", TensorProto.FLOAT, [], [0.5]))
    nodes = [
        helper.make_node("Unsqueeze", ["boxes", "zero"], ["b3"]),
        helper.make_node("Unsqueeze", ["scores", "zero"], ["s2"]),
        helper.make_node("Unsqueeze", ["s2", "zero"], ["s3"]),
        helper.make_node("NonMaxSuppression", ["b3", "s3", "max", "iou"], ["sel"], name="nms"),
        helper.make_node("Gather", ["sel", "two"], ["col"], axis=1),
        helper.make_node("Squeeze", ["col", "axis1"], ["keep"]),
    ]
    out = "keep"
    if slice_end is not None:
        inits += [helper.make_tensor("k", TensorProto.INT64, [1], [slice_end])]
        nodes.append(helper.make_node("Slice", ["keep", "zero", "k", "zero"], ["top"]))
        out = "top"
    return make_model(
        nodes,
        [
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["N", 4]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N"]),
        ],
        [helper.make_tensor_value_info(out, TensorProto.INT64, None)],
        inits,
    )


def test_nms_without_prefix_is_left_untouched_and_said() -> None:
    model = _nms_model(slice_end=None)
    patched, notes = apply(model, ["foreign"])
    assert op_counts(patched) == op_counts(model)
    assert any("left untouched" in n and "keep[:k]" in n for n in notes), notes


def test_graph_without_patterns_is_untouched(tmp_path: Path) -> None:
    model = conv_relu_model()
    patched, notes = apply(model, ["foreign"])
    assert op_counts(patched) == op_counts(model)
    assert notes == ["[foreign] no foreign RoIAlign/NMS pattern found: graph unchanged"]


def test_nms_prefix_matches_onnx_runtime(tmp_path: Path) -> None:
    """Hand-built single-class NMS + keep[:5] equals EdgesegNMS on random, overlapping boxes."""
    from edgeseg.runtime.backends.ort import OrtBackend

    model = _nms_model(slice_end=5)
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 50, (40, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(5, 30, (40, 2)).astype(np.float32)], axis=1)
    scores = rng.permutation(40).astype(np.float32) / 40  # distinct: no tie-order ambiguity
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"boxes": boxes, "scores": scores}
    )[0]
    patched, _ = apply(model, ["foreign"])
    assert op_counts(patched)["edgeseg::EdgesegNMS"] == 1
    save_model(patched, tmp_path / "p.onnx")
    got = OrtBackend(tmp_path / "p.onnx").infer({"boxes": boxes, "scores": scores})["top"]
    assert len(ref) == 5
    np.testing.assert_array_equal(got, ref)


def test_nms_prefix_output_becomes_fixed_slots_and_a_count(tmp_path: Path) -> None:
    """keep[:30] as a graph output: 30 static slots (-1 padded) + a count output, equal to ORT's result."""
    from edgeseg.runtime.backends.ort import OrtBackend

    model = _nms_model(slice_end=30)
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 20, (40, 2)).astype(np.float32)  # crowded: NMS keeps fewer than 30
    boxes = np.concatenate([xy, xy + rng.uniform(10, 30, (40, 2)).astype(np.float32)], axis=1)
    scores = rng.permutation(40).astype(np.float32) / 40
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"boxes": boxes, "scores": scores}
    )[0]
    patched, notes = apply(model, ["foreign"])
    outputs = {
        o.name: [d.dim_value if d.HasField("dim_value") else None for d in o.type.tensor_type.shape.dim]
        for o in patched.graph.output
    }
    assert outputs == {"top": [30], "keep_num_detections": [1]}, notes
    assert "Slice" not in {n.op_type for n in patched.graph.node if "edgeseg_" in n.name}
    nms = next(n for n in patched.graph.node if n.op_type == "EdgesegNMS")
    assert {a.name: a.i for a in nms.attribute}["pre_nms_top_k"] == 16384  # N is symbolic here
    save_model(patched, tmp_path / "p.onnx")
    got = OrtBackend(tmp_path / "p.onnx").infer({"boxes": boxes, "scores": scores})
    n = int(got["keep_num_detections"][0])
    assert 0 < n == len(ref) < 30
    np.testing.assert_array_equal(got["top"][:n], ref)
    assert (got["top"][n:] == -1).all()


def test_nms_cap_follows_a_static_candidate_count() -> None:
    """pre_nms_top_k = min(N, 16384): N when the plugin can take every candidate, else the plugin's limit."""
    for n, want in ((40, 40), (20000, 16384)):
        model = _nms_model(slice_end=5)
        for vi in model.graph.input:
            vi.type.tensor_type.shape.dim[0].dim_value = n
        patched, _ = apply(model, ["foreign"])
        nms = next(node for node in patched.graph.node if node.op_type == "EdgesegNMS")
        assert {a.name: a.i for a in nms.attribute}["pre_nms_top_k"] == want
