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
