"""What TensorRT's ONNX parser takes: the uint8 frame Cast first, uint8 only from float, a bounded NMS.

The type rules are checked on ONNX shape inference's types (independent of edgeseg's lint); where
TensorRT for RTX's parser is installed, the FCN graph must also parse in full.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from export_testutil import build
from onnx import TensorProto
from torch import Tensor, nn

from edgeseg.export.deploy_ops import EdgesegOps
from edgeseg.export.onnx_export import deploy_metadata, export_deploy
from edgeseg.export.rcnn_static import StaticDetector
from edgeseg.export.wrappers import wrap
from edgeseg.ops import onnx_symbolic, torch_ops

FLOATS = (TensorProto.FLOAT, TensorProto.FLOAT16)


@pytest.fixture(scope="module", params=["fcn_nearest", "shapes_rcnn"])
def graph(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    model, info = build(request.param, seed=2)
    deploy = wrap(model, info, "edgeseg")
    path = tmp_path_factory.mktemp("typing") / f"{request.param}.onnx"
    return export_deploy(deploy, path, deploy_metadata(deploy, info, "edgeseg"))


def _types(model: onnx.ModelProto) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    types = {v.name: v.type.tensor_type.elem_type for v in [*g.input, *g.output, *g.value_info]}
    types.update({t.name: t.data_type for t in g.initializer})
    return types


def test_uint8_frame_is_cast_to_float_before_anything_else(graph: Path) -> None:
    """TensorRT takes uint8 only as network I/O into a Cast: a Transpose of uint8 fails at node 0."""
    model = onnx.load(str(graph))
    readers = [n for n in model.graph.node if "images" in n.input]
    assert readers and all(n.op_type == "Cast" for n in readers), [n.op_type for n in readers]
    assert all(a.i == TensorProto.FLOAT for n in readers for a in n.attribute if a.name == "to")


def test_uint8_comes_only_from_float(graph: Path) -> None:
    """TensorRT casts to uint8 only from float/half (not from ArgMax's int64)."""
    model = onnx.load(str(graph))
    types = _types(model)
    to_uint8 = [n for n in model.graph.node if n.op_type == "Cast"
                and any(a.name == "to" and a.i == TensorProto.UINT8 for a in n.attribute)]
    if "semantic" in [o.name for o in model.graph.output]:
        assert to_uint8, "the label map is uint8 and must come from a Cast"
    assert all(types[n.input[0]] in FLOATS for n in to_uint8), [types[n.input[0]] for n in to_uint8]


def test_nms_nodes_are_capped_at_the_plugin_limit(graph: Path) -> None:
    """pre_nms_top_k = min(candidates, 16384): the RPN's level-as-class layout has N candidates (one
    level each), the detector N proposals x C classes (background excluded)."""
    model = onnx.load(str(graph))
    nodes = {n.name: n for n in model.graph.node if n.domain == "edgeseg" and n.op_type == "NMS"}
    if not nodes:
        pytest.skip("no NMS in an FCN")
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
    classes = len(json.loads({p.key: p.value for p in model.metadata_props}["edgeseg.classes"]))
    top_k = {name: {a.name: a.i for a in n.attribute}["pre_nms_top_k"] for name, n in nodes.items()}
    rpn_n = shapes[nodes["/rpn/NMS"].input[1]][1]
    proposals = {a.name: a.i for a in nodes["/rpn/NMS"].attribute}["max_detections"]  # RPN slots
    assert top_k == {"/rpn/NMS": min(rpn_n, 16384), "/detector/NMS": min(proposals * classes, 16384)}
    assert min(top_k.values()) > 0 and max(top_k.values()) <= 16384


def test_rtx_parser_takes_the_fcn_graph(graph: Path) -> None:
    trt = pytest.importorskip("tensorrt_rtx_bindings")
    if "fcn" not in graph.stem:
        pytest.skip("R-CNN graphs stop at their first plugin node without the plugin library")
    logger = trt.Logger(trt.Logger.ERROR)
    network = trt.Builder(logger).create_network(0)
    parser = trt.OnnxParser(network, logger)
    ok = parser.parse_from_file(str(graph))
    errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
    assert ok and not errors, errors


class _Head(nn.Module):
    """A COCO-sized detection head (1000 proposals, 90 classes + background) in its static form."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models.detection._utils import BoxCoder

        self.detector = StaticDetector(BoxCoder((10.0, 10.0, 5.0, 5.0)), 0.05, 0.5, 100, (320, 320))

    def forward(self, logits: Tensor, deltas: Tensor, proposals: Tensor, valid: Tensor) -> tuple[Tensor, ...]:
        return self.detector(EdgesegOps(), logits, deltas, proposals, valid)


def _head_inputs() -> tuple[Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(1, 1000, 2, generator=g) * 250
    proposals = torch.cat([xy, xy + 10 + torch.rand(1, 1000, 2, generator=g) * 60], 2)
    logits = torch.randn(1000, 91, generator=g) * 3
    deltas = torch.randn(1000, 91 * 4, generator=g) * 0.1
    return logits, deltas, proposals, torch.ones(1, 1000, dtype=torch.bool)


def test_coco_sized_head_exports_a_cap_the_plugin_takes(tmp_path: Path) -> None:
    """1000 x 90 = 90,000 candidates: a cap of 0 (keep all) would fail the plugin's configurePlugin."""
    head, inputs = _Head().eval(), _head_inputs()
    onnx_symbolic.register(17)
    path = tmp_path / "head.onnx"
    with torch.no_grad():
        torch.onnx.export(head, inputs, str(path), opset_version=17, dynamo=False,
                          input_names=["logits", "deltas", "proposals", "valid"])
    (node,) = [n for n in onnx.load(str(path)).graph.node if n.op_type == "NMS"]
    assert {a.name: a.i for a in node.attribute}["pre_nms_top_k"] == 16384


def test_cap_is_exact_when_fewer_candidates_pass() -> None:
    """With <= 16384 candidates over the score threshold, the capped head equals keep-all NMS."""
    head, inputs = _Head().eval(), _head_inputs()
    with torch.no_grad():
        capped = head(*inputs)
        d = head.detector
        batch, p = inputs[2].shape[:2]
        boxes = d.box_coder.decode_single(inputs[1], inputs[2].reshape(-1, 4)).reshape(batch, p, 91, 4)
        from edgeseg.export.rcnn_static import clip

        boxes = clip(boxes[:, :, 1:], d.clip_hw)
        scores = torch.softmax(inputs[0], -1).reshape(batch, p, 91)[:, :, 1:]
        passing = int((scores > d.score_thresh).sum())
        assert 0 < passing <= 16384
        every = torch_ops.nms(boxes, scores, score_threshold=d.score_thresh, iou_threshold=d.nms_thresh,
                              pre_nms_top_k=0, max_detections=d.detections)
    np.testing.assert_allclose(capped[0].numpy(), every[0].numpy())
    np.testing.assert_array_equal(capped[2].numpy(), every[2].numpy() + (every[2].numpy() >= 0))
    assert int(capped[4]) == int(every[4]) > 0
