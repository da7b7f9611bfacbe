"""The TensorRT Q/DQ graph and the CPU INT8 graph: valid, runnable, quantized the way each target needs."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeseg.calibration.cpu_int8 import cpu_int8_graph
from edgeseg.calibration.evaluate import load_held_out, run_graph
from edgeseg.calibration.images import GraphInput, iter_feeds, list_images
from edgeseg.calibration.qdq import trt_qdq_graph
from edgeseg.calibration.ranges import TensorRange, collect_ranges


@pytest.fixture(scope="module")
def fcn(calib_set):
    model = onnx.load(str(calib_set.fcn))
    files = list_images(calib_set.frames)
    ranges = collect_ranges(model, iter_feeds(GraphInput.of(model), files), "entropy", progress=False)
    return model, ranges


def _inits(model):
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def _agreement(calib_set, a, b) -> float:
    held = load_held_out(calib_set.held_out, "val")
    idx = range(len(held.records))
    out_a, out_b = run_graph(a, held, idx), run_graph(b, held, idx)
    return float(
        np.mean([(x["semantic"] == y["semantic"]).mean() for x, y in zip(out_a, out_b, strict=True)])
    )


def test_trt_graph_is_valid_onnx_and_runs_close_to_fp32(calib_set, fcn):
    model, ranges = fcn
    qdq = trt_qdq_graph(model, ranges)
    onnx.checker.check_model(qdq, full_check=True)
    assert sum(n.op_type == "QuantizeLinear" for n in qdq.graph.node) >= 3
    # an INT8 graph of a colour segmenter agrees with FP32 on nearly every pixel
    assert _agreement(calib_set, model, qdq) > 0.97


def test_trt_graph_is_symmetric_int8_per_channel_weights(fcn):
    model, ranges = fcn
    qdq = trt_qdq_graph(model, ranges)
    inits = _inits(qdq)
    fp32_weights = {
        i.name: numpy_helper.to_array(i) for i in model.graph.initializer if i.dims and len(i.dims) == 4
    }
    checked_weights = checked_acts = 0
    for node in qdq.graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        scale, zero = inits[node.input[1]], inits[node.input[2]]
        assert zero.dtype == np.int8 and not zero.any(), f"{node.name}: zero point must be int8 zeros"
        assert scale.dtype == np.float32 and (scale > 0).all(), f"{node.name}: scales must be positive float"
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        data = node.input[0]
        if node.op_type == "DequantizeLinear" and data in inits:  # a weight stored as int8
            q = inits[data]
            w = fp32_weights[data.removesuffix("_quantized")]
            assert q.dtype == np.int8 and axis == 0 and scale.shape == (w.shape[0],)
            reference = np.abs(w).reshape(w.shape[0], -1).max(1) / 127.0
            np.testing.assert_allclose(scale, reference, rtol=1e-6)
            assert np.abs(q.astype(int)).max() <= 127
            dequant = q * scale[:, None, None, None]
            assert np.abs(dequant - w).max() <= scale.max() / 2 + 1e-7
            checked_weights += 1
        elif node.op_type == "QuantizeLinear":  # an activation: per-tensor, amax/127
            assert scale.ndim == 0
            np.testing.assert_allclose(scale, ranges[data].amax / 127.0, rtol=1e-6)
            checked_acts += 1
    assert checked_weights == 3 and checked_acts == 3


def test_trt_graph_keeps_listed_layers_in_fp32(fcn):
    model, ranges = fcn
    qdq = trt_qdq_graph(model, ranges, keep_fp32=["/classifier/Conv"])
    producers = {o: n for n in qdq.graph.node for o in n.output}
    classifier = next(n for n in qdq.graph.node if n.name == "/classifier/Conv")
    assert all(
        producers.get(i) is None or producers[i].op_type != "DequantizeLinear" for i in classifier.input
    )
    conv2 = next(n for n in qdq.graph.node if n.name == "/conv2/Conv")
    assert producers[conv2.input[0]].op_type == "DequantizeLinear"


def test_custom_op_inputs_and_outputs_stay_float():
    """A plugin node between convs: Q/DQ feed the INT8 convs, never the plugin or a kept layer, even
    where they read the same tensor as an INT8 conv."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.normal(size=(4, 4, 1, 1)).astype(np.float32), "w2")
    w3 = numpy_helper.from_array(rng.normal(size=(4, 4, 1, 1)).astype(np.float32), "w3")
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], name="conv_a", pads=[1, 1, 1, 1]),
        helper.make_node("EdgesegRoIAlign", ["a"], ["p"], name="plugin", domain="edgeseg"),
        helper.make_node("Conv", ["p", "w2"], ["y"], name="conv_b"),
        helper.make_node("Conv", ["a", "w2"], ["z"], name="conv_c"),
        helper.make_node("Conv", ["a", "w3"], ["k"], name="conv_kept"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4, 8, 8]) for n in ("y", "z", "k")],
        [w1, w2, w3],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("edgeseg", 1)]
    )
    ranges = {n: TensorRange(-2.0, 3.0, 3.0) for n in ("x", "a", "p")}
    qdq = trt_qdq_graph(model, ranges, keep_fp32=["conv_kept"])
    onnx.checker.check_model(qdq)
    plugin = next(n for n in qdq.graph.node if n.name == "plugin")
    assert list(plugin.input) == ["a"] and list(plugin.output) == ["p"]
    producers = {o: n for n in qdq.graph.node for o in n.output}
    for name in ("conv_b", "conv_c"):
        conv = next(n for n in qdq.graph.node if n.name == name)
        assert producers[conv.input[0]].op_type == "DequantizeLinear", f"{name} input should be quantized"
    kept = next(n for n in qdq.graph.node if n.name == "conv_kept")  # shares `a` with INT8 conv_c
    assert list(kept.input) == ["a", "w3"]


def test_cpu_graph_uses_u8_activations_s8_weights_and_runs(calib_set, fcn):
    model, ranges = fcn
    cpu = cpu_int8_graph(model, ranges, keep_fp32=["/classifier/Conv"])
    onnx.checker.check_model(cpu)
    inits = _inits(cpu)
    act_zero = [inits[n.input[2]] for n in cpu.graph.node if n.op_type == "QuantizeLinear"]
    assert act_zero and all(z.dtype == np.uint8 for z in act_zero)
    weights = [
        inits[n.input[0]] for n in cpu.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits
    ]
    assert {w.dtype for w in weights} >= {np.dtype(np.int8), np.dtype(np.int32)}  # S8 weights, INT32 biases
    for node in cpu.graph.node:
        if node.op_type == "QuantizeLinear":  # asymmetric: lo maps to 0 and hi to 255 (within a step)
            r = ranges[node.input[0]]
            scale, zero = float(inits[node.input[1]]), int(inits[node.input[2]])
            assert (
                abs((min(r.lo, 0.0) / scale + zero) - 0) <= 1
                and abs(max(r.hi, 0.0) / scale + zero - 255) <= 1
            )
    assert _agreement(calib_set, model, cpu) > 0.9  # a broken graph (see the outlier test) agrees on ~10%
    # the input's Div by 255 went into the first conv (surgery's normalize pass) before quantizing
    assert any(n.op_type == "Div" for n in model.graph.node)
    assert not any(n.op_type == "Div" for n in cpu.graph.node)


def test_cpu_int8_flags_read_vnni_from_cpuinfo() -> None:
    from edgeseg.calibration.cpu_int8 import cpu_int8_flags

    zen3 = "processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2 fma\n"
    icelake = "processor\t: 0\nflags\t\t: avx2 avx512f avx512_vnni\n"
    assert cpu_int8_flags(zen3) == []
    assert cpu_int8_flags(icelake) == ["avx512_vnni"]
