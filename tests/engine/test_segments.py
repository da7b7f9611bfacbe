"""Cutting a graph at its plugin nodes: hand-made graphs with known segments, then a zoo R-CNN whose
segments (with the plugin nodes) must cover every node exactly once and reproduce its outputs."""

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edgeseg.engine.segment_check import at_batch_one, with_boundary_shapes
from edgeseg.engine.segments import is_split_node, one_node_graph, split_nodes, split_segments
from edgeseg.errors import EdgesegError

ROOT = Path(__file__).resolve().parents[2]
F = TensorProto.FLOAT


def info(name, shape, elem=F):
    return helper.make_tensor_value_info(name, elem, shape)


def chain_with_plugin(typed_plugin_output=True):
    """x -> Relu -> a -> [Plugin] -> b -> Neg -> y, and a -> Abs -> z (a graph output)."""
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="relu"),
        helper.make_node("EdgesegNMS", ["a"], ["b"], name="plugin", domain="edgeseg"),
        helper.make_node("Neg", ["b"], ["y"], name="neg"),
        helper.make_node("Abs", ["a"], ["z"], name="abs"),
    ]
    value_info = [info("b", [2, 3])] if typed_plugin_output else []
    graph = helper.make_graph(
        nodes, "g", [info("x", [2, 3])], [info("y", [2, 3]), info("z", [2, 3])], value_info=value_info
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("edgeseg", 1)]
    return helper.make_model(graph, opset_imports=opsets)


def test_segments_stop_at_plugins_and_name_their_boundaries():
    segments = split_segments(chain_with_plugin())
    got = [(s.inputs, s.outputs, s.num_nodes) for s in segments]
    assert got == [(("x",), ("a", "z"), 2), (("b",), ("y",), 1)]
    for segment in segments:
        onnx.checker.check_model(segment.model, full_check=True)  # each is a valid model on its own


def test_a_graph_without_plugins_is_one_segment_equal_to_itself():
    model = chain_with_plugin()
    del model.graph.node[1:3]
    del model.graph.output[0]
    (segment,) = split_segments(model)
    assert segment.inputs == ("x",) and segment.outputs == ("z",) and segment.num_nodes == 2


def test_untyped_boundary_is_a_clear_error():
    with pytest.raises(EdgesegError, match="tensor\\(s\\) b have no recorded type"):
        split_segments(chain_with_plugin(typed_plugin_output=False))


def test_split_ops_are_custom_domains_and_what_tensorrt_for_rtx_cannot_build():
    make = helper.make_node
    assert is_split_node(make("EdgesegRoIAlign", ["a"], ["b"], domain="edgeseg"))
    assert is_split_node(make("RoiAlign", ["a", "r", "i"], ["b"]))
    assert is_split_node(make("NonMaxSuppression", ["a", "s"], ["b"]))
    assert not is_split_node(make("Conv", ["a", "w"], ["b"]))


def test_one_node_graph_keeps_attributes_and_types():
    model = chain_with_plugin()
    model.graph.node[1].attribute.append(helper.make_attribute("iou_threshold", 0.5))
    one = one_node_graph(model, split_nodes(model)[0])
    assert [n.op_type for n in one.graph.node] == ["EdgesegNMS"]
    assert one.graph.node[0].attribute[0].f == pytest.approx(0.5)
    assert [(v.name, v.type.tensor_type.elem_type) for v in [*one.graph.input, *one.graph.output]] == [
        ("a", F), ("b", F)
    ]


@pytest.fixture(scope="module")
def mask_rcnn(tmp_path_factory):
    from edgeseg.surgery.registry import patch_file

    patched = patch_file(ROOT / "edgeseg/zoo/mask_rcnn.onnx", tmp_path_factory.mktemp("seg") / "m.trt.onnx")
    return with_boundary_shapes(onnx.load(str(patched)))


def test_zoo_rcnn_segments_and_plugins_cover_every_node_once(mask_rcnn):
    segments = split_segments(mask_rcnn)
    plugins = split_nodes(mask_rcnn)
    names = [n.name for s in segments for n in s.model.graph.node] + [n.name for n in plugins]
    assert sorted(names) == sorted(n.name for n in mask_rcnn.graph.node)
    assert len(plugins) == 4 and len(segments) >= 2
    for segment in segments:  # every boundary has a static shape: a segment builds without a profile
        for value in [*segment.model.graph.input, *segment.model.graph.output]:
            assert all(d.HasField("dim_value") for d in value.type.tensor_type.shape.dim), value.name


def test_segments_run_in_order_reproduce_the_whole_graph(mask_rcnn):
    """Segments and plugin nodes run one by one on ONNX Runtime give the graph's own outputs."""
    from edgeseg.calibration.session import make_session

    frame = np.random.default_rng(0).integers(0, 255, (1, 320, 320, 3), dtype=np.uint8)
    whole = make_session(mask_rcnn, threads=1)
    want = dict(zip([o.name for o in whole.get_outputs()], whole.run(None, {"images": frame}), strict=True))
    tensors = {"images": frame}
    segments = split_segments(mask_rcnn)
    parts = [(min(_index(mask_rcnn, n) for n in s.model.graph.node), s.model) for s in segments]
    parts += [(_index(mask_rcnn, n), one_node_graph(mask_rcnn, n)) for n in split_nodes(mask_rcnn)]
    pending = [model for _, model in sorted(parts, key=lambda p: p[0])]
    while pending:  # run whatever has its inputs (segments may read later plugins' outputs)
        ready = next(m for m in pending if all(i.name in tensors for i in m.graph.input))
        pending.remove(ready)
        session = make_session(ready, threads=1)
        feed = {i.name: tensors[i.name] for i in ready.graph.input}
        tensors.update(zip([o.name for o in session.get_outputs()], session.run(None, feed), strict=True))
    for name, value in want.items():
        np.testing.assert_allclose(tensors[name], value, rtol=1e-5, atol=1e-4, err_msg=name)


def _index(model, node):
    return next(i for i, n in enumerate(model.graph.node) if n.name == node.name)


def test_at_batch_one_fixes_symbolic_io_dims_only():
    model = chain_with_plugin()
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    fixed = at_batch_one(model)
    assert fixed.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"  # a copy


def test_plugin_node_tool_makes_one_file_per_plugin_node(tmp_path):
    spec = importlib.util.spec_from_file_location("rtx_plugin_nodes", ROOT / "tools/rtx_plugin_nodes.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    nodes = tool.plugin_nodes(ROOT / "edgeseg/zoo/faster_rcnn.onnx", tmp_path)
    assert [name for name, _ in nodes] == ["/rpn/NMS", "/RoIAlign", "/detector/NMS"]
    for _, path in nodes:
        (node,) = onnx.load(str(path)).graph.node
        assert node.op_type in ("EdgesegNMS", "EdgesegRoIAlign") and node.domain == "edgeseg"


def test_a_segment_input_used_as_a_shape_gets_its_measured_value():
    """A cut through a computed Reshape shape leaves a shape-tensor input: it builds only with its value."""
    from edgeseg.engine.segment_check import build_bytes
    from edgeseg.trt.compat import load_tensorrt

    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["y"])],
        "reshape",
        [info("x", [1, 6]), info("shape", [2], TensorProto.INT64)],
        [info("y", [2, 3])],
    )
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    trt, caps = load_tensorrt("rtx")
    parsed, built, _, message = build_bytes(trt, caps, data, 86)
    assert parsed and not built and "shape input(s) shape have no measured value" in message
    parsed, built, size, message = build_bytes(trt, caps, data, 86, {"shape": [2, 3]})
    assert parsed and built and size > 0, message
