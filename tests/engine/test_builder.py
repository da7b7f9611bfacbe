"""What the builder decides before TensorRT is needed: model names and input checks come first."""

from pathlib import Path

import pytest

from edgeseg.engine.builder import BuildOptions, build_onnx, default_model_name
from edgeseg.engine.onnx_info import ModelFacts, OnnxSummary
from edgeseg.errors import EdgesegError
from edgeseg.trt.compat import GraphPrecision


def summary(name=None):
    facts = ModelFacts(name=name, task=None, classes=None, input_size=None)
    return OnnxSummary(inputs=(), precision=GraphPrecision(False, False), facts=facts, custom_ops=())


@pytest.mark.parametrize(
    "file, recorded, expected",
    [
        ("maskrcnn_shapes.onnx", None, "maskrcnn_shapes"),
        ("maskrcnn_shapes.trt.onnx", None, "maskrcnn_shapes"),
        ("maskrcnn_shapes.trt.int8.onnx", None, "maskrcnn_shapes"),
        ("fcn.v2.fp16.onnx", None, "fcn.v2"),
        ("anything.onnx", "keypoint_rcnn", "keypoint_rcnn"),
    ],
)
def test_default_model_name(file, recorded, expected):
    assert default_model_name(Path(file), summary(recorded)) == expected


def test_shape_problems_are_reported_before_tensorrt_is_looked_for(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Relu", ["images"], ["y"])], "g", [x], [y])
    path = tmp_path / "dyn.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(EdgesegError, match="'images' axis 2 is dynamic"):
        build_onnx(path, BuildOptions(precision="fp16"))
