"""The one place that drives onnxruntime's QDQ quantizer, from ranges we measured ourselves.

Why onnxruntime's quantizer (see docs/calibration.md for the comparison with ModelOpt): it takes
externally measured ranges (`tensors_range`), writes both the symmetric S8 form TensorRT needs
and the U8/S8 form ONNX Runtime's CPU kernels fuse, honours per-node exclusion lists (our
precision map), and leaves ops it does not know (our plugin nodes) untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any

from edgeseg.calibration.ranges import TensorRange
from edgeseg.errors import EdgesegError, missing_extra


def is_custom(node: Any) -> bool:
    """A node outside the standard ONNX domain: our plugins (EdgesegRoIAlign/NMS) or any other custom op."""
    return node.domain not in ("", "ai.onnx") or node.op_type.startswith("Edgeseg")


def quantize_graph(
    model: Any,
    ranges: Mapping[str, TensorRange],
    *,
    symmetric: bool,
    op_types: Collection[str],
    exclude: Collection[str] = (),
    only: Collection[str] = (),
    quantize_bias: bool,
) -> Any:
    """A Q/DQ copy of `model`: S8 symmetric activations (`symmetric`) or U8 asymmetric ones; S8
    per-channel symmetric weights either way. `exclude` keeps those nodes in FP32; `only`, when
    given, quantizes just those nodes."""
    try:
        from onnxruntime.quantization import QuantType
        from onnxruntime.quantization.calibrate import CalibrationMethod, TensorData, TensorsData
        from onnxruntime.quantization.qdq_quantizer import QDQQuantizer
        from onnxruntime.quantization.quant_utils import update_opset_version
    except ImportError as exc:
        raise missing_extra(exc.name or "onnxruntime", "ort") from None
    import numpy as np
    import onnx

    if symmetric:
        data = {
            k: TensorData(lowest=np.float32(-r.amax), highest=np.float32(r.amax)) for k, r in ranges.items()
        }
    else:
        data = {
            k: TensorData(lowest=np.float32(min(r.lo, 0.0)), highest=np.float32(max(r.hi, 0.0)))
            for k, r in ranges.items()
        }
    activation = QuantType.QInt8 if symmetric else QuantType.QUInt8
    custom = [n.name for n in model.graph.node if is_custom(n)]
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    copy = update_opset_version(copy, QuantType.QInt8, activation)
    typed = type_custom_outputs(copy, ranges)
    extra = {
        "ActivationSymmetric": symmetric,
        "WeightSymmetric": True,
        "QuantizeBias": quantize_bias,
        "QDQKeepRemovableActivations": symmetric,
        # TensorRT: no Q/DQ on the outputs of weighted ops (the consumer quantizes its input if it is INT8)
        "OpTypesToExcludeOutputQuantization": list(op_types) if symmetric else [],
    }
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs a pre-processing advice on every call
    try:
        quantizer = QDQQuantizer(
            copy,
            True,
            False,
            QuantType.QInt8,
            activation,
            TensorsData(CalibrationMethod.MinMax, data),
            list(only),
            [*exclude, *custom],
            list(op_types),
            extra,
        )
        quantizer.quantize_model()
        quantizer.model.topological_sort()
        out = quantizer.model.model
    except (ValueError, KeyError, RuntimeError) as exc:
        raise EdgesegError(
            f"onnxruntime's quantizer failed on this graph ({exc}): check that the ranges come "
            "from this same graph"
        ) from None
    finally:
        root.setLevel(level)
    drop_value_info(out, typed)
    read_float_inputs(
        out, {n.name: list(n.input) for n in model.graph.node if is_custom(n) or n.name in exclude}
    )
    return out


def type_custom_outputs(model: Any, ranges: Mapping[str, TensorRange]) -> set[str]:
    """Declare custom nodes' measured float outputs as float (returns their names): shape inference
    cannot type them, and the quantizer skips untyped inputs (the mask head after RoIAlign would stay
    FP32). The declarations have no shape, so `drop_value_info` removes them afterwards."""
    import onnx

    known = {v.name for v in [*model.graph.value_info, *model.graph.output]}
    added = {o for n in model.graph.node if is_custom(n) for o in n.output if o in ranges and o not in known}
    model.graph.value_info.extend(
        onnx.helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None) for o in added
    )
    return added


def drop_value_info(model: Any, names: set[str]) -> None:
    """Remove the shapeless value_info entries of `names` (onnx.checker requires a shape on each)."""
    kept = [
        v
        for v in model.graph.value_info
        if not (v.name in names and not v.type.tensor_type.HasField("shape"))
    ]
    del model.graph.value_info[:]
    model.graph.value_info.extend(kept)


def read_float_inputs(model: Any, original_inputs: Mapping[str, list[str]]) -> None:
    """Custom nodes and FP32 layers read the float tensor itself, never the Q->DQ copy the quantizer
    shares among all readers of a tensor when one of them is INT8 (plugin I/O and kept layers stay FP32).

    `original_inputs`: those nodes' inputs before quantization. An input is rewired only to the tensor
    it read before (where the U8 quantizer folded a ReLU into the Q, the Q reads the pre-ReLU tensor, and
    the node keeps the DQ copy rather than reading wrong values)."""
    producers = {o: n for n in model.graph.node for o in n.output}
    for node in model.graph.node:
        before = original_inputs.get(node.name)
        if before is None or len(before) != len(node.input):
            continue
        for i, name in enumerate(node.input):
            dq = producers.get(name)
            q = producers.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
            if q is not None and q.op_type == "QuantizeLinear" and q.input[0] == before[i]:
                node.input[i] = before[i]
