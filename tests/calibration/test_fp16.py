"""The FP16 precision pass on small graphs exported from torch here, run on ONNX Runtime.

References: the FP32 graph on the same backend (outputs within stated tolerances), the graph's own
types read back with ONNX shape inference (which ops stay FP32), and hand-built cases.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeseg.calibration import convert_fp16
from edgeseg.calibration.fp16_check import box_iou, compare_detections
from edgeseg.errors import EdgesegError
from edgeseg.runtime.backends.ort import OrtBackend

torch = pytest.importorskip("torch")
nn = torch.nn

RTOL = 1e-2  # FP16 has 11 significant bits (relative step 1e-3); a few layers stay well inside 1e-2
ROIS = np.array([[0.0, 0.0, 8.3, 8.1], [2.2, 2.1, 12.7, 14.3], [4.1, 1.3, 15.9, 9.7]], np.float32)


class SoftmaxNet(nn.Module):
    """uint8 NHWC frames -> per-pixel class probabilities: convs in FP16, Softmax kept FP32."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 5, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).float() / 255.0
        return torch.softmax(self.conv2(torch.relu(self.conv1(x))), dim=1)


class CustomOpNet(nn.Module):
    """Features -> edgeseg RoIAlign -> conv -> class scores -> edgeseg NMS on the input boxes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Conv2d(8, 3, 1)

    def forward(
        self, images: torch.Tensor, rois: torch.Tensor, batch_idx: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        from edgeseg.ops import torch_ops

        feats = torch.relu(self.conv(images.permute(0, 3, 1, 2).float() / 255.0))
        pooled = torch_ops.roi_align(
            feats, rois, batch_idx, output_height=4, output_width=4, spatial_scales=[1.0]
        )
        scores = torch.softmax(self.head(pooled).mean((2, 3)), dim=-1)
        boxes, kept_scores, classes, _, count = torch_ops.nms(
            rois[None], scores[None], score_threshold=0.0, max_detections=6
        )
        return boxes, kept_scores, classes, count


def _export(
    module: nn.Module, args: tuple[torch.Tensor, ...], path: Path, inputs: list[str], outputs: list[str]
) -> Path:
    from edgeseg.ops import onnx_symbolic

    onnx_symbolic.register(17)
    torch.manual_seed(0)
    torch.onnx.export(
        module.eval(),
        args,
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=inputs,
        output_names=outputs,
    )
    return path


def _images(seed: int, size: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (1, size, size, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def softmax_graph(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("fp16_softmax")
    src = _export(SoftmaxNet(), (torch.from_numpy(_images(0)),), folder / "net.onnx", ["images"], ["probs"])
    return src, convert_fp16(src, folder / "net.fp16.onnx")


@pytest.fixture(scope="module")
def custom_graph(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp("fp16_custom")
    args = (torch.from_numpy(_images(0)), torch.from_numpy(ROIS), torch.zeros(3, dtype=torch.int32))
    src = _export(
        CustomOpNet(),
        args,
        folder / "net.onnx",
        ["images", "rois", "batch_idx"],
        ["boxes", "scores", "classes", "count"],
    )
    return src, convert_fp16(src, folder / "net.fp16.onnx")


def _types(path: Path) -> tuple[onnx.ModelProto, dict[str, int]]:
    """The model with inferred types, and the element type of every typed tensor."""
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    g = model.graph
    types = {v.name: v.type.tensor_type.elem_type for v in [*g.input, *g.output, *g.value_info]}
    types.update({t.name: t.data_type for t in g.initializer})
    return model, types


def _float_initializer_bytes(path: Path, data_type: int) -> int:
    return sum(
        numpy_helper.to_array(t).nbytes
        for t in onnx.load(str(path)).graph.initializer
        if t.data_type == data_type
    )


def test_softmax_net_passes_checker_and_keeps_io_types(softmax_graph):
    src, dst = softmax_graph
    model = onnx.load(str(dst))
    onnx.checker.check_model(model, full_check=True)
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.UINT8
    assert model.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT


def test_softmax_stays_fp32_and_convs_run_fp16(softmax_graph):
    _, dst = softmax_graph
    model, types = _types(dst)
    softmax = [n for n in model.graph.node if n.op_type == "Softmax"]
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert len(softmax) == 1 and len(convs) == 2
    assert (
        types[softmax[0].input[0]] == TensorProto.FLOAT and types[softmax[0].output[0]] == TensorProto.FLOAT
    )
    for conv in convs:
        assert {types[t] for t in conv.input} == {TensorProto.FLOAT16}, conv.name


def test_initializers_are_half_size(softmax_graph):
    src, dst = softmax_graph
    fp32_bytes = _float_initializer_bytes(src, TensorProto.FLOAT)
    assert fp32_bytes > 0
    assert _float_initializer_bytes(dst, TensorProto.FLOAT) == 0
    assert _float_initializer_bytes(dst, TensorProto.FLOAT16) * 2 == fp32_bytes


def test_softmax_net_matches_fp32_on_ort(softmax_graph):
    src, dst = softmax_graph
    ref_backend, fp16_backend = OrtBackend(src, intra_op_threads=1), OrtBackend(dst, intra_op_threads=1)
    for seed in range(3):
        feed = {"images": _images(seed)}
        ref, got = ref_backend.infer(feed)["probs"], fp16_backend.infer(feed)["probs"]
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, ref, rtol=RTOL, atol=1e-4)
        assert not np.array_equal(got, ref)  # the convs really ran on FP16 values


def test_custom_op_io_stays_fp32(custom_graph):
    _, dst = custom_graph
    model, types = _types(dst)
    onnx.checker.check_model(model)
    custom = [n for n in model.graph.node if n.domain == "edgeseg"]
    assert sorted(n.op_type for n in custom) == ["NMS", "RoIAlign"]
    for node in custom:
        floats = [
            t for t in [*node.input, *node.output] if types.get(t) in (TensorProto.FLOAT, TensorProto.FLOAT16)
        ]
        assert floats and all(types[t] == TensorProto.FLOAT for t in floats), node.op_type
    assert any(
        types.get(t) == TensorProto.FLOAT16 for n in model.graph.node if n.op_type == "Conv" for t in n.input
    )


def test_no_lossy_cast_pairs_remain(custom_graph):
    _, dst = custom_graph
    nodes = onnx.load(str(dst)).graph.node
    producer = {t: n for n in nodes for t in n.output}

    def cast_to(node: onnx.NodeProto | None) -> int | None:
        if node is None or node.op_type != "Cast":
            return None
        return next(a.i for a in node.attribute if a.name == "to")

    pairs = [
        n.name
        for n in nodes
        if cast_to(n) == TensorProto.FLOAT and cast_to(producer.get(n.input[0])) == TensorProto.FLOAT16
    ]
    assert pairs == []


def test_custom_op_graph_matches_fp32_on_ort(custom_graph):
    src, dst = custom_graph
    ref_backend, fp16_backend = OrtBackend(src, intra_op_threads=1), OrtBackend(dst, intra_op_threads=1)
    for seed in range(3):
        feed = {"images": _images(seed), "rois": ROIS, "batch_idx": np.zeros(3, np.int32)}
        ref, got = ref_backend.infer(feed), fp16_backend.infer(feed)
        # boxes go input -> NMS -> output in FP32 only: exact, although FP16 cannot hold 8.3 or 12.7
        np.testing.assert_array_equal(got["boxes"], ref["boxes"])
        np.testing.assert_array_equal(got["count"], ref["count"])
        np.testing.assert_allclose(got["scores"], ref["scores"], rtol=RTOL)
        # classes may swap only where two class scores are closer than the FP16 error
        np.testing.assert_array_equal(got["classes"], ref["classes"])


def test_patched_plugin_graph_converts_and_runs(custom_graph, tmp_path):
    from edgeseg.surgery.registry import DEFAULT_PASSES, apply

    src, _ = custom_graph
    patched, _ = apply(onnx.load(str(src)), DEFAULT_PASSES)
    onnx.save(patched, str(tmp_path / "net.trt.onnx"))
    dst = convert_fp16(tmp_path / "net.trt.onnx", tmp_path / "net.fp16.onnx")
    model, types = _types(dst)
    plugins = [n for n in model.graph.node if n.op_type in ("EdgesegRoIAlign", "EdgesegNMS")]
    assert len(plugins) == 2
    assert all(types[n.output[0]] == TensorProto.FLOAT for n in plugins)
    feed = {"images": _images(5), "rois": ROIS, "batch_idx": np.zeros(3, np.int32)}
    ref = OrtBackend(src, intra_op_threads=1).infer(feed)
    got = OrtBackend(dst, intra_op_threads=1).infer(feed)
    np.testing.assert_array_equal(got["boxes"], ref["boxes"])
    np.testing.assert_allclose(got["scores"], ref["scores"], rtol=RTOL)


def test_extra_keep_op_is_honoured(softmax_graph, tmp_path):
    from edgeseg.calibration.fp16_plan import DEFAULT_KEEP_FP32_OPS

    src, _ = softmax_graph
    dst = convert_fp16(src, tmp_path / "relu32.onnx", keep_fp32_ops=DEFAULT_KEEP_FP32_OPS | {"Relu"})
    model, types = _types(dst)
    relu = next(n for n in model.graph.node if n.op_type == "Relu")
    assert types[relu.input[0]] == TensorProto.FLOAT and types[relu.output[0]] == TensorProto.FLOAT


def _tiny_model(path: Path, elem: int, nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto]) -> Path:
    x = helper.make_tensor_value_info("x", elem, [1, 4])
    y = helper.make_tensor_value_info("y", elem, [1, 4])
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_refuses_graphs_that_are_not_fp32(tmp_path):
    half = numpy_helper.from_array(np.ones((1, 4), np.float16), "w")
    fp16 = _tiny_model(
        tmp_path / "h.onnx", TensorProto.FLOAT16, [helper.make_node("Add", ["x", "w"], ["y"])], [half]
    )
    with pytest.raises(EdgesegError, match="already has float16"):
        convert_fp16(fp16, tmp_path / "out.onnx")
    scale = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    qdq = [
        helper.make_node("QuantizeLinear", ["x", "s"], ["q"]),
        helper.make_node("DequantizeLinear", ["q", "s"], ["y"]),
    ]
    with pytest.raises(EdgesegError, match="Q/DQ"):
        convert_fp16(_tiny_model(tmp_path / "q.onnx", TensorProto.FLOAT, qdq, [scale]), tmp_path / "out.onnx")
    with pytest.raises(EdgesegError, match="no such file"):
        convert_fp16(tmp_path / "missing.onnx", tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()


def test_box_iou_hand_computed():
    a = np.array([[0, 0, 2, 2]], np.float64)
    b = np.array([[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]], np.float64)
    np.testing.assert_allclose(box_iou(a, b), [[1 / 7, 1.0, 0.0]])


def test_compare_detections_matches_reordered_boxes():
    ref = {
        "boxes": np.array([[[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 1, 1]]], np.float32),
        "scores": np.array([[0.9, 0.8, 0.1]], np.float32),
        "classes": np.array([[1, 2, 0]], np.int32),
        "num_dets": np.array([2], np.int32),
    }
    got = {
        "boxes": np.array([[[20, 20, 30, 30.5], [0, 0, 10, 10], [7, 7, 8, 8]]], np.float32),
        "scores": np.array([[0.81, 0.9, 0.0]], np.float32),
        "classes": np.array([[2, 1, -1]], np.int32),
        "num_dets": np.array([2], np.int32),
    }
    agree = compare_detections(ref, got)
    assert (agree.reference, agree.matched) == (2, 2)
    assert agree.max_box_error == pytest.approx(0.5) and agree.max_score_error == pytest.approx(
        0.01, abs=1e-6
    )
    got["classes"][0, 0] = 3  # a class change is not a match
    assert compare_detections(ref, got).matched == 1


ZOO = Path(__file__).resolve().parents[2] / "edgeseg" / "zoo"
MIN_MATCH, MAX_BOX_PX, MAX_SCORE, MAX_MASK = 0.9, 0.5, 1e-2, 2e-2


def _check_detection_graph(src: Path, tmp_path: Path, images: int = 2) -> None:
    """FP16 detections vs FP32 on ShapesWorld val images: >= 90% matched at IoU 0.9 (same class),
    matched boxes within 0.5 px, scores within 0.01, mask probabilities within 0.02."""
    from edgeseg.data.shapes import render_image

    dst = convert_fp16(src, tmp_path / "zoo.fp16.onnx")
    ref_backend, fp16_backend = OrtBackend(src, intra_op_threads=1), OrtBackend(dst, intra_op_threads=1)
    spec = ref_backend.inputs()[0]
    for i in range(images):
        feed = {spec.name: render_image(3, i, int(spec.shape[1]), "val")[0][None]}
        agree = compare_detections(ref_backend.infer(feed), fp16_backend.infer(feed))
        assert agree.match_rate >= MIN_MATCH, agree
        assert agree.max_box_error <= MAX_BOX_PX and agree.max_score_error <= MAX_SCORE, agree
        assert agree.max_mask_error <= MAX_MASK, agree


def test_zoo_detection_graph(tmp_path):
    graphs = [ZOO / f"{name}.onnx" for name in ("mask_rcnn", "faster_rcnn", "shapes_rcnn")]
    present = [g for g in graphs if g.is_file()]
    if not present:
        pytest.skip("no zoo detection graph exported yet (edgeseg export --zoo)")
    _check_detection_graph(present[0], tmp_path)


@pytest.mark.slow
def test_random_init_mask_rcnn_export(tmp_path):
    """The zoo's Mask R-CNN deploy graph with untrained weights: every op type the real one has."""
    from edgeseg.export.onnx_export import export

    torch.manual_seed(0)
    _check_detection_graph(export("mask_rcnn", tmp_path / "mask_rcnn.onnx", random_init=True), tmp_path)
