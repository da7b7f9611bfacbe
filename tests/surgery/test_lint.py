"""The lint finds planted problems in small hand-built graphs and nothing in a clean one."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from surgery_helpers import conv_relu_model, make_model

from edgeseg.surgery.graphs import import_graph
from edgeseg.surgery.lint import lint

F = TensorProto.FLOAT


def _codes(model: onnx.ModelProto, target: str = "trt10.3") -> set[str]:
    return {f.code for f in lint(import_graph(model), target)}


def _one_node(node: onnx.NodeProto, inputs: list, outputs: list, **kw: object) -> onnx.ModelProto:
    return make_model([node], inputs, outputs, **kw)  # type: ignore[arg-type]


def test_clean_graph_has_no_findings() -> None:
    assert lint(import_graph(conv_relu_model()), "trt10.3") == []
    assert lint(import_graph(conv_relu_model()), "trt11") == []


def test_unsupported_and_data_dependent_ops() -> None:
    x = helper.make_tensor_value_info("x", F, [8])
    model = make_model(
        [helper.make_node("Unique", ["x"], ["u"]), helper.make_node("NonZero", ["x"], ["nz"])],
        [x],
        [
            helper.make_tensor_value_info("u", F, None),
            helper.make_tensor_value_info("nz", TensorProto.INT64, None),
        ],
    )
    assert {"unsupported-op", "data-dependent-shape", "int64-io"} <= _codes(model)


def test_topk_too_large() -> None:
    k = helper.make_tensor("k", TensorProto.INT64, [1], [4000])
    model = make_model(
        [helper.make_node("TopK", ["x", "k"], ["v", "i"])],
        [helper.make_tensor_value_info("x", F, [1, 5000])],
        [helper.make_tensor_value_info("v", F, None)],
        [k],
    )
    assert "topk-too-large" in _codes(model)
    ok = helper.make_tensor("k", TensorProto.INT64, [1], [100])
    model.graph.initializer[0].CopyFrom(ok)
    assert "topk-too-large" not in _codes(model)


def test_unpatched_edgeseg_node_and_name_collision() -> None:
    ins = [helper.make_tensor_value_info(n, F, [1, 4, 4]) for n in ("b", "s")]
    outs = [helper.make_tensor_value_info(n, F, None) for n in ("o1", "o2")]
    model = make_model(
        [
            helper.make_node("NMS", ["b", "s"], ["o1"], domain="edgeseg"),
            helper.make_node("RoiAlign", ["b", "s"], ["o2"], domain="custom"),
        ],
        ins,
        outs,
        domains=("edgeseg", "custom"),
    )
    codes = _codes(model)
    assert {"unpatched-custom-op", "plugin-name-collision"} <= codes


@pytest.mark.parametrize(
    ("op", "target", "code"),
    [
        ("BatchedNMS_TRT", "trt10.3", "plugin-deprecated"),
        ("BatchedNMS_TRT", "trt11", "plugin-removed"),
        ("EfficientNMS_TRT", "trt11", "plugin-deprecated"),
        ("NMS_TRT", "trt11", "plugin-removed"),
    ],
)
def test_stock_plugins_per_target(op: str, target: str, code: str) -> None:
    model = make_model(
        [helper.make_node(op, ["x"], ["y"], domain="trt")],
        [helper.make_tensor_value_info("x", F, [1])],
        [helper.make_tensor_value_info("y", F, None)],
        domains=("trt",),
    )
    assert code in _codes(model, target)
    if op == "EfficientNMS_TRT":
        assert not _codes(model, "trt10.3") & {"plugin-deprecated", "plugin-removed"}


def test_int64_into_plugin_and_constant_subgraph() -> None:
    one = helper.make_tensor("one", F, [1], [1.0])
    model = make_model(
        [
            helper.make_node("Add", ["one", "one"], ["two"]),
            helper.make_node("Add", ["x", "two"], ["y"]),
            helper.make_node("EdgesegNMS", ["y", "idx"], ["o"], domain="edgeseg", plugin_version="1"),
        ],
        [
            helper.make_tensor_value_info("x", F, [1]),
            helper.make_tensor_value_info("idx", TensorProto.INT64, [1]),
        ],
        [helper.make_tensor_value_info("o", F, None)],
        [one],
        domains=("edgeseg",),
    )
    codes = _codes(model)
    assert {"int64-plugin-input", "constant-subgraph"} <= codes


def test_foreign_pattern_is_reported(tv_maskrcnn: tuple) -> None:
    findings = lint(import_graph(onnx.load(str(tv_maskrcnn[0]))), "trt10.3")
    assert sum(f.code == "foreign-pattern" for f in findings) == 4
    assert all(f.fix and f.source for f in findings)
    assert np.all([f.severity in ("error", "warning", "info") for f in findings])


U8 = TensorProto.UINT8


def _frame_model(cast_first: bool) -> onnx.ModelProto:
    """uint8 NHWC frame -> NCHW float, in the order TensorRT refuses (Transpose first) or takes."""
    first, second = ("Cast", "Transpose") if cast_first else ("Transpose", "Cast")
    attrs: dict[str, dict] = {"Cast": {"to": F}, "Transpose": {"perm": [0, 3, 1, 2]}}
    return make_model(
        [
            helper.make_node(first, ["frame"], ["a"], **attrs[first]),
            helper.make_node(second, ["a"], ["f"], **attrs[second]),
        ],
        [helper.make_tensor_value_info("frame", U8, [1, 4, 4, 3])],
        [helper.make_tensor_value_info("f", F, [1, 3, 4, 4])],
    )


def test_uint8_read_by_anything_but_a_cast_to_float() -> None:
    assert "uint8-intermediate" in _codes(_frame_model(cast_first=False))
    assert _codes(_frame_model(cast_first=True)) == set()


def _label_model(via_float: bool) -> onnx.ModelProto:
    """logits -> ArgMax (int64) -> uint8 label map, directly or through float32."""
    nodes = [helper.make_node("ArgMax", ["x"], ["i"], axis=1, keepdims=0)]
    if via_float:
        nodes += [helper.make_node("Cast", ["i"], ["f"], to=F), helper.make_node("Cast", ["f"], ["y"], to=U8)]
    else:
        nodes += [helper.make_node("Cast", ["i"], ["y"], to=U8)]
    return make_model(
        nodes,
        [helper.make_tensor_value_info("x", F, [1, 5, 4, 4])],
        [helper.make_tensor_value_info("y", U8, [1, 4, 4])],
    )


def test_cast_to_uint8_only_from_float() -> None:
    assert "uint8-cast-source" in _codes(_label_model(via_float=False))
    assert _codes(_label_model(via_float=True)) == set()


def _plugin_one_node(typed: bool) -> onnx.ModelProto:
    """A one-node EdgesegNMS graph, its outputs typed as the spec says or left UNDEFINED."""
    types = [F, F, TensorProto.INT32, TensorProto.INT32, TensorProto.INT32]
    names = ["det_boxes", "det_scores", "det_classes", "det_indices", "num_detections"]
    node = helper.make_node(
        "EdgesegNMS", ["boxes", "scores"], names, domain="edgeseg", plugin_version="1",
        plugin_namespace="edgeseg", score_threshold=0.05, iou_threshold=0.5, pre_nms_top_k=100,
        max_detections=10,
    )
    outputs = [
        helper.make_tensor_value_info(n, t if typed else TensorProto.UNDEFINED, None)
        for n, t in zip(names, types, strict=True)
    ]
    inputs = [
        helper.make_tensor_value_info("boxes", F, [1, 100, 4]),
        helper.make_tensor_value_info("scores", F, [1, 100, 3]),
    ]
    return make_model([node], inputs, outputs, domains=("edgeseg",))


def test_graph_outputs_need_an_element_type() -> None:
    untyped = [f for f in lint(import_graph(_plugin_one_node(typed=False))) if f.code == "untyped-output"]
    assert len(untyped) == 5 and all("onnx-tensorrt" in f.source for f in untyped)
    assert "untyped-output" not in _codes(_plugin_one_node(typed=True))


def _keep_model(by_count: bool) -> onnx.ModelProto:
    """indices[:n] with n a runtime count (a data-dependent shape) or a constant 10."""
    inits = [helper.make_tensor("zero", TensorProto.INT64, [1], [0])]
    inputs = [helper.make_tensor_value_info("idx", TensorProto.INT64, [10])]
    if by_count:
        inputs.append(helper.make_tensor_value_info("count", TensorProto.INT64, [1]))
    else:
        inits.append(helper.make_tensor("count", TensorProto.INT64, [1], [10]))
    # a shape-derived bound (dynamic batch graphs are full of these) is not data-dependent
    nodes = [
        helper.make_node("Shape", ["idx"], ["len"]),
        helper.make_node("Slice", ["idx", "zero", "len", "zero"], ["all"]),
        helper.make_node("Slice", ["all", "zero", "count", "zero"], ["keep"]),
    ]
    return make_model(nodes, inputs, [helper.make_tensor_value_info("keep", TensorProto.INT64, None)], inits)


def test_slice_by_a_runtime_count_is_data_dependent() -> None:
    found = [f for f in lint(import_graph(_keep_model(by_count=True))) if f.code == "data-dependent-size"]
    assert len(found) == 1 and "onnx-tensorrt" in found[0].source
    assert "data-dependent-size" not in _codes(_keep_model(by_count=False))


@pytest.mark.parametrize(("n", "c", "top_k", "flagged"), [
    (1000, 90, 0, True),       # a COCO head kept whole: 90,000 candidates
    (1000, 90, 16384, False),  # capped at the plugin's limit
    (1000, 90, 20000, True),   # a cap over the limit
    (100, 5, 0, False),        # small enough to keep whole
])
def test_nms_candidates_over_the_plugin_limit(n: int, c: int, top_k: int, flagged: bool) -> None:
    node = helper.make_node("NMS", ["b", "s"], ["o1", "o2", "o3", "o4", "o5"], domain="edgeseg",
                            pre_nms_top_k=top_k)
    model = make_model(
        [node],
        [helper.make_tensor_value_info("b", F, [1, n, 4]), helper.make_tensor_value_info("s", F, [1, n, c])],
        [helper.make_tensor_value_info(f"o{i}", F, None) for i in range(1, 6)],
        domains=("edgeseg",),
    )
    assert ("nms-candidates" in _codes(model)) == flagged


@pytest.mark.parametrize("with_indices", [True, False])
def test_maxpool_indices_output(with_indices: bool) -> None:
    """TensorRT for RTX refused fcn_max_unpool at its first MaxPool with an indices output."""
    outs = ["y", "idx"] if with_indices else ["y"]
    model = make_model(
        [helper.make_node("MaxPool", ["x"], outs, kernel_shape=[2, 2], strides=[2, 2])],
        [helper.make_tensor_value_info("x", F, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("y", F, [1, 3, 2, 2])]
        + ([helper.make_tensor_value_info("idx", TensorProto.INT64, [1, 3, 2, 2])] if with_indices else []),
    )
    assert ("maxpool-indices" in _codes(model)) == with_indices


def test_rtx_target_flags_plugin_layers_and_what_it_cannot_build() -> None:
    """TensorRT for RTX 1.7 (measured by the ladder): no plugin layers, no RoiAlign, no NMS layer."""
    assert lint(import_graph(conv_relu_model()), "rtx1.7") == []
    x = helper.make_tensor_value_info("x", F, [1, 4])
    y = helper.make_tensor_value_info("y", F, [1, 4])
    plugin = make_model([helper.make_node("EdgesegNMS", ["x"], ["y"], domain="edgeseg")], [x], [y])
    assert "rtx-plugin-layer" in _codes(plugin, "rtx1.7")
    assert "rtx-plugin-layer" not in _codes(plugin, "trt10.3")
    boxes = helper.make_tensor_value_info("b", F, [1, 8, 4])
    scores = helper.make_tensor_value_info("s", F, [1, 1, 8])
    sel = helper.make_tensor_value_info("sel", TensorProto.INT64, None)
    nms = make_model([helper.make_node("NonMaxSuppression", ["b", "s"], ["sel"])], [boxes, scores], [sel])
    assert "rtx-unbuildable-op" in _codes(nms, "rtx1.7")
    assert "rtx-unbuildable-op" not in _codes(nms, "trt11")
