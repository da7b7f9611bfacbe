"""The explicit Q/DQ graph for TensorRT: symmetric INT8 from measured ranges.

TensorRT's rules (notes in docs/calibration.md): INT8 only, zero point 0, constant positive scales,
per-tensor activations, per-channel weights on the output-channel axis. We quantize the inputs of
the ops TensorRT runs in INT8 (convolutions and matrix products) and leave biases in FP32 (TensorRT
does not take an INT32 DequantizeLinear); plugin nodes and the layers in `keep_fp32` get no Q/DQ.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from edgeseg.calibration.ortquant import quantize_graph
from edgeseg.calibration.ranges import TensorRange

TRT_OP_TYPES = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def quantizable_nodes(model: Any, op_types: Collection[str] = TRT_OP_TYPES) -> list[str]:
    """Names of the nodes a Q/DQ pass would quantize: the units of the precision map."""
    return [n.name for n in model.graph.node if n.op_type in op_types]


def trt_qdq_graph(
    model: Any, ranges: Mapping[str, TensorRange], keep_fp32: Collection[str] = (), only: Collection[str] = ()
) -> Any:
    """`model` with symmetric S8 Q/DQ nodes, ready for TensorRT's ONNX parser."""
    return quantize_graph(
        model,
        ranges,
        symmetric=True,
        op_types=TRT_OP_TYPES,
        exclude=keep_fp32,
        only=only,
        quantize_bias=False,
    )
