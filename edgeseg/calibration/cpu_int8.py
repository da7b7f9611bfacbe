"""The INT8 graph for ONNX Runtime CPU: U8 activations, S8 per-channel weights, INT32 biases.

Why not the TensorRT graph: ONNX Runtime's CPU kernels fuse U8-activation Q/DQ patterns into
QLinearConv/QLinearMatMul with VNNI, while symmetric S8/S8 runs slowly (measured: 3.1x vs 1.17x
over FP32 for ResNet-18). Same measured ranges, asymmetric use of them (`lo`, `hi`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
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
    """`model` quantized for ORT CPU: convolutions, matrix products and pooling in U8/S8."""
    return quantize_normalized(normalize_input(model), ranges, keep_fp32, only)


def normalize_input(model: Any) -> Any:
    """`model` with its input normalisation folded or collapsed into one conv (surgery's `normalize`
    pass): in ORT's NHWC layout for QLinearConv, per-channel Sub/Div ops cost more than some quantized
    convolutions. The pass keeps tensor names, so ranges measured on `model` still apply. Callers that
    quantize one graph many times (the accuracy budget) run this once."""
    return apply(model, ["normalize"])[0]


def quantize_normalized(
    normalized: Any,
    ranges: Mapping[str, TensorRange],
    keep_fp32: Collection[str] = (),
    only: Collection[str] = (),
) -> Any:
    """The U8/S8 quantization of a graph that `normalize_input` has already prepared."""
    return quantize_graph(
        normalized,
        ranges,
        symmetric=False,
        op_types=CPU_OP_TYPES,
        exclude=keep_fp32,
        only=only,
        quantize_bias=True,
    )


# ONNX Runtime's U8/S8 convolutions outrun FP32 only with one of these (AVX2 alone: measured 0.74-0.79x
# for ResNet-18, benchmarks/bench_int8_control.py).
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def cpu_int8_flags(cpuinfo: str | None = None) -> list[str]:
    """The CPU's VNNI/AMX flags, from `cpuinfo` text or Linux /proc/cpuinfo (empty when unknown)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8") if cpuinfo is None else cpuinfo
    except OSError:
        return []
    flags = next(
        (line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []
    )
    return [f for f in VNNI_FLAGS if f in flags]
