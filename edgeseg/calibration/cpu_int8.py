"""The INT8 graph for ONNX Runtime CPU: U8 activations, S8 per-channel weights, INT32 biases.

Why not the TensorRT graph: ONNX Runtime's CPU kernels fuse U8-activation Q/DQ patterns into
QLinearConv/QLinearMatMul with VNNI, while symmetric S8/S8 runs slowly (measured: 3.1x vs 1.17x
over FP32 for ResNet-18). Same measured ranges, asymmetric use of them (`lo`, `hi`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from edgeseg.calibration.ortquant import quantize_graph
from edgeseg.calibration.ranges import TensorRange
from edgeseg.surgery.registry import apply

# Feature-map ops only. Quantizing every op onnxruntime can (Add, Mul, Concat, Where, ...) also hits
# the in-graph box decoding and score arithmetic of detectors, where a U8 step of a 320-pixel range
# destroys the boxes (measured: Mask R-CNN box AP 2.8 -> 0.0, not recoverable by weighted-layer fallback).
CPU_OP_TYPES = ("Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool")


def cpu_int8_graph(
    model: Any, ranges: Mapping[str, TensorRange], keep_fp32: Collection[str] = (), only: Collection[str] = ()
) -> Any:
    """`model` quantized for ORT CPU: convolutions, matrix products and pooling in U8/S8.

    The input normalisation is folded or collapsed into one conv first (surgery's `normalize` pass):
    in ORT's NHWC layout for QLinearConv its per-channel Sub/Div ops cost more than some quantized
    convolutions. The pass keeps tensor names, so `ranges` still apply."""
    normalized, _ = apply(model, ["normalize"])
    return quantize_graph(
        normalized,
        ranges,
        symmetric=False,
        op_types=CPU_OP_TYPES,
        exclude=keep_fp32,
        only=only,
        quantize_bias=True,
    )
