"""Reading what the builder needs from ONNX graphs built here with onnx.helper."""

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from edgeseg.engine.onnx_info import summarize  # noqa: E402
from edgeseg.engine.profiles import InputInfo  # noqa: E402
from edgeseg.errors import EdgesegError  # noqa: E402


def save(tmp_path, nodes, inputs, outputs, initializers=(), props=None, name="m.onnx"):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    for key, value in (props or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def images(elem=TensorProto.FLOAT, shape=("batch", 3, 32, 32)):
    return helper.make_tensor_value_info("images", elem, list(shape))


def test_fp32_conv_graph(tmp_path):
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    path = save(tmp_path, [helper.make_node("Conv", ["images", "w"], ["y"])], [images()], [out], [w])
    summary = summarize(path)
    assert summary.inputs == (InputInfo("images", ("batch", 3, 32, 32)),)  # the initializer is no input
    assert not summary.precision.has_fp16 and not summary.precision.has_qdq
    assert summary.custom_ops == ()
    assert summary.facts.input_size is None and summary.facts.name is None  # no metadata: unknown


def test_fp16_cast_and_qdq_are_detected(tmp_path):
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)
    cast = helper.make_node("Cast", ["images"], ["y"], to=TensorProto.FLOAT16)
    assert summarize(save(tmp_path, [cast], [images()], [out], name="a.onnx")).precision.has_fp16

    scale = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    zero = numpy_helper.from_array(np.array(0, np.int8), "z")
    q = helper.make_node("QuantizeLinear", ["images", "s", "z"], ["q"])
    dq = helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])
    out32 = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    summary = summarize(save(tmp_path, [q, dq], [images()], [out32], [scale, zero], name="b.onnx"))
    assert summary.precision.has_qdq and not summary.precision.has_fp16


def test_plugin_nodes_and_metadata(tmp_path):
    node = helper.make_node("EdgesegNMS", ["images"], ["y"], plugin_version="1", plugin_namespace="edgeseg")
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    props = {
        "edgeseg.model": "maskrcnn_shapes",
        "edgeseg.task": "instance",
        "edgeseg.classes": json.dumps(["circle", "square"]),
        "edgeseg.input": json.dumps({"name": "images", "layout": "NHWC", "height": 240, "width": 320}),
    }
    summary = summarize(save(tmp_path, [node], [images(shape=(None, 3, "h", "w"))], [out], props=props))
    assert summary.custom_ops == ("EdgesegNMS",)
    assert summary.inputs[0].shape == (None, 3, "h", "w")
    facts = summary.facts
    assert (facts.name, facts.task, facts.classes, facts.input_size) == (
        "maskrcnn_shapes",
        "instance",
        ["circle", "square"],
        [240, 320],
    )


def test_input_size_from_the_older_key(tmp_path):
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    node = helper.make_node("Identity", ["images"], ["y"])
    path = save(tmp_path, [node], [images()], [out], props={"edgeseg.input_size": "[64, 96]"})
    assert summarize(path).facts.input_size == [64, 96]


def test_bad_files(tmp_path):
    with pytest.raises(EdgesegError, match="does not exist"):
        summarize(tmp_path / "none.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01 not a protobuf")
    with pytest.raises(EdgesegError, match="not a readable ONNX model"):
        summarize(junk)
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    bad = save(
        tmp_path,
        [helper.make_node("Identity", ["images"], ["y"])],
        [images()],
        [out],
        props={"edgeseg.classes": "[oops"},
        name="bad.onnx",
    )
    with pytest.raises(EdgesegError, match="not valid JSON"):
        summarize(bad)
