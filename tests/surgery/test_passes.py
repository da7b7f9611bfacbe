"""Every pass twice equals once; plugins writes what the parser expects; normalize folds only when exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from surgery_helpers import conv_relu_model, make_model

from edgeseg.errors import EdgesegError
from edgeseg.surgery.graphs import op_counts
from edgeseg.surgery.registry import PASSES, apply


def _edgeseg_model(extra_attr: bool = False) -> onnx.ModelProto:
    """features -> edgeseg::RoIAlign, boxes/scores -> edgeseg::NMS, as export emits them."""
    attrs = {"output_height": 7, "spatial_scales": [0.25, 0.125], "canonical_scale": 224.0}
    if extra_attr:
        attrs["not_a_field"] = 1
    nodes = [
        helper.make_node(
            "RoIAlign", ["f0", "f1", "rois", "bidx"], ["pooled"], domain="edgeseg", name="ra", **attrs
        ),
        helper.make_node(
            "NMS",
            ["boxes", "scores"],
            ["db", "ds", "dc", "di", "n"],
            domain="edgeseg",
            name="nms",
            iou_threshold=0.6,
            max_detections=50,
        ),
    ]
    f = TensorProto.FLOAT
    inputs = [
        helper.make_tensor_value_info(n, t, s)
        for n, t, s in [
            ("f0", f, [1, 4, 16, 16]),
            ("f1", f, [1, 4, 8, 8]),
            ("rois", f, [5, 4]),
            ("bidx", TensorProto.INT32, [5]),
            ("boxes", f, [1, 10, 4]),
            ("scores", f, [1, 10, 3]),
        ]
    ]
    outputs = [
        helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None)
        for n in ["pooled", "db", "ds", "dc", "di", "n"]
    ]
    return make_model(nodes, inputs, outputs, domains=("edgeseg",))


def test_plugins_pass_writes_parser_attributes() -> None:
    patched, _ = apply(_edgeseg_model(), ["plugins"])
    nodes = {n.name: n for n in patched.graph.node}
    ra, nms = nodes["ra"], nodes["nms"]
    assert (ra.op_type, ra.domain, nms.op_type, nms.domain) == (
        "EdgesegRoIAlign",
        "edgeseg",
        "EdgesegNMS",
        "edgeseg",
    )
    attrs = {a.name: a for a in ra.attribute}
    AP = onnx.AttributeProto
    assert attrs["plugin_version"].s == b"1" and attrs["plugin_namespace"].s == b"edgeseg"
    assert attrs["output_height"].type == AP.INT and attrs["output_height"].i == 7
    assert attrs["output_width"].i == 7  # spec default filled in
    assert attrs["spatial_scales"].type == AP.FLOATS and list(attrs["spatial_scales"].floats) == [0.25, 0.125]
    assert attrs["canonical_scale"].type == AP.FLOAT
    nms_attrs = {a.name: onnx.helper.get_attribute_value(a) for a in nms.attribute}
    assert nms_attrs["max_detections"] == 50 and nms_attrs["pre_nms_top_k"] == 1000
    assert np.isclose(nms_attrs["iou_threshold"], 0.6)
    allowed = {AP.INT, AP.INTS, AP.FLOAT, AP.FLOATS, AP.STRING}
    assert all(a.type in allowed for n in (ra, nms) for a in n.attribute)


def test_plugins_pass_rejects_unknown_attribute() -> None:
    with pytest.raises(EdgesegError, match="not_a_field"):
        apply(_edgeseg_model(extra_attr=True), ["plugins"])


def _normalize_model(pads: int, mean: list[float]) -> onnx.ModelProto:
    rng = np.random.default_rng(1)
    std = [0.229, 0.224, 0.225]
    inits = [
        helper.make_tensor("mean", TensorProto.FLOAT, [1, 3, 1, 1], mean),
        helper.make_tensor("std", TensorProto.FLOAT, [1, 3, 1, 1], std),
        helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], rng.standard_normal(108).astype(np.float32)),
        helper.make_tensor("b", TensorProto.FLOAT, [4], rng.standard_normal(4).astype(np.float32)),
    ]
    nodes = [
        helper.make_node("Sub", ["x", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "std"], ["n"]),
        helper.make_node("Conv", ["n", "w", "b"], ["y"], pads=[pads] * 4, name="conv"),
    ]
    return make_model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 10, 10])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x}
    )[0]


@pytest.mark.parametrize(
    ("pads", "mean", "folds"),
    [(0, [0.485, 0.456, 0.406], True), (1, [0.0, 0.0, 0.0], True), (1, [0.485, 0.456, 0.406], False)],
)
def test_normalize_folds_when_exact_else_collapses(pads: int, mean: list[float], folds: bool) -> None:
    model = _normalize_model(pads, mean)
    patched, notes = apply(model, ["normalize"])
    x = np.random.default_rng(2).uniform(0, 1, (1, 3, 10, 10)).astype(np.float32)
    np.testing.assert_allclose(_run(patched, x), _run(model, x), rtol=1e-5, atol=1e-5)
    counts = op_counts(patched)
    assert counts["Sub"] + counts["Div"] == 0  # folded away, or collapsed into one conv
    assert counts["Conv"] == (1 if folds else 2)
    if not folds:
        assert any("zero-pads" in n and "collapsed" in n for n in notes)


@pytest.mark.parametrize("cast_first", [True, False])
def test_normalize_walks_through_the_uint8_nhwc_input_of_an_edgeseg_export(cast_first: bool) -> None:
    """Cast -> Transpose -> Div 255 -> Sub mean -> Div std -> padded Conv, as DeployModel writes it
    (TensorRT takes no uint8 Transpose), and the older Transpose -> Cast order."""
    float_model = _normalize_model(1, [0.485, 0.456, 0.406])
    graph = float_model.graph
    first, second = ("Cast", "Transpose") if cast_first else ("Transpose", "Cast")
    attrs = {"Cast": {"to": TensorProto.FLOAT}, "Transpose": {"perm": [0, 3, 1, 2]}}
    nodes = [
        helper.make_node(first, ["frame"], ["a"], **attrs[first]),
        helper.make_node(second, ["a"], ["f"], **attrs[second]),
        helper.make_node("Div", ["f", "k255"], ["x"]),
        *graph.node,
    ]
    inits = [*graph.initializer, helper.make_tensor("k255", TensorProto.FLOAT, [], [255.0])]
    model = make_model(
        nodes,
        [helper.make_tensor_value_info("frame", TensorProto.UINT8, [1, 10, 10, 3])],
        list(graph.output),
        inits,
    )
    patched, _ = apply(model, ["normalize"])
    assert op_counts(patched)["Conv"] == 2 and op_counts(patched)["Div"] == 0
    frame = np.random.default_rng(3).integers(0, 256, (1, 10, 10, 3), dtype=np.uint8)
    run = [
        ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        for m in (model, patched)
    ]
    np.testing.assert_allclose(*(s.run(None, {"frame": frame})[0] for s in run), rtol=1e-5, atol=1e-4)


def _models(tv: tuple[Path, np.ndarray], name: str) -> list[onnx.ModelProto]:
    """The torchvision export too, except for `fold` (a minute on it: see the slow test below)."""
    small = [_edgeseg_model(), _normalize_model(0, [0.5, 0.4, 0.3]), conv_relu_model()]
    return small if name == "fold" else [onnx.load(str(tv[0])), *small]


@pytest.mark.parametrize("name", sorted(PASSES))
def test_every_pass_twice_equals_once(name: str, tv_maskrcnn: tuple[Path, np.ndarray]) -> None:
    for model in _models(tv_maskrcnn, name):
        once, _ = apply(model, [name])
        twice, _ = apply(once, [name])
        assert twice.SerializeToString() == once.SerializeToString(), name


@pytest.mark.slow
def test_all_passes_twice_equals_once(tv_maskrcnn: tuple[Path, np.ndarray]) -> None:
    order = ["foreign", "plugins", "normalize", "fold"]
    once, _ = apply(onnx.load(str(tv_maskrcnn[0])), order)
    twice, _ = apply(once, order)
    assert twice.SerializeToString() == once.SerializeToString()


@pytest.mark.slow
def test_fold_keeps_torchvision_outputs(tv_maskrcnn: tuple[Path, np.ndarray]) -> None:
    path, image = tv_maskrcnn
    model = onnx.load(str(path))
    folded, _ = apply(model, ["fold"])
    assert len(folded.graph.node) < len(model.graph.node)
    run = [
        ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(
            None, {"image": image}
        )
        for m in (model, folded)
    ]
    for ref, got in zip(*run, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
