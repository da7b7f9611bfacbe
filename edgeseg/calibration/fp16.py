"""FP16 precision pass: an FP32 ONNX graph -> an FP16 graph that TensorRT builds strongly typed.

Why: TensorRT 11 has no FP16 builder flag; the precision must be in the graph. The conversion itself
is ONNX Runtime's float16 converter (already an `ort` dependency); `fp16_plan` decides which nodes
stay FP32 (our plugin ops, whose ONNX Runtime kernels are FP32, and numerically sensitive ops) and
this module adds what the converter lacks: output types for our custom ops, folding of the lossy
FP32 -> FP16 -> FP32 cast pairs it leaves between two FP32 nodes, and a type check of the result.
Graph inputs and outputs keep their types (a uint8 image input stays uint8). Works on ONNX files only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import onnx
from onnx import TensorProto

from edgeseg.calibration.fp16_plan import (
    DEFAULT_KEEP_FP32_OPS,
    annotate_custom_outputs,
    name_nodes,
    plan,
    tensor_types,
)
from edgeseg.errors import EdgesegError, missing_extra
from edgeseg.surgery.io import load_model, save_model

METADATA_KEY = "edgeseg.fp16"


def convert_fp16(
    src: str | Path,
    dst: str | Path,
    keep_fp32_ops: Iterable[str] = DEFAULT_KEEP_FP32_OPS,
    keep_io_types: bool = True,
) -> Path:
    """Write the FP16 version of the FP32 graph `src` to `dst` and return `dst`.

    keep_fp32_ops: op types that stay FP32 (edgeseg-domain nodes always do); keep_io_types: float
    graph inputs and outputs stay float32 with Cast nodes inside the graph.
    """
    model = load_model(src)
    _refuse_non_fp32(model, Path(src))
    converted = to_fp16(model, frozenset(keep_fp32_ops), keep_io_types)
    save_model(converted, dst)
    return Path(dst)


def to_fp16(model: onnx.ModelProto, keep_fp32_ops: frozenset[str], keep_io_types: bool) -> onnx.ModelProto:
    """The in-memory pass behind `convert_fp16` (the input model is modified)."""
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError:
        raise missing_extra("onnxruntime", "ort") from None
    name_nodes(model.graph)
    annotate_custom_outputs(model)
    model = onnx.shape_inference.infer_shapes(model)
    decided = plan(model, keep_fp32_ops, keep_io_types)
    converted = convert_float_to_float16(
        model,
        keep_io_types=keep_io_types,
        disable_shape_infer=True,
        op_block_list=[],
        node_block_list=sorted(decided.fp32_nodes),
    )
    fold_round_trip_casts(converted.graph, tensor_types(converted))
    _drop_stale_value_info(converted.graph)
    topological_sort(converted.graph)
    _check_types(converted)
    record = {"keep_fp32_ops": sorted(keep_fp32_ops), "fp32_nodes": len(decided.fp32_nodes)}
    entry = converted.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(record)
    return converted


def _refuse_non_fp32(model: onnx.ModelProto, path: Path) -> None:
    graph = model.graph
    if any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in graph.node):
        raise EdgesegError(f"{path} is an INT8 Q/DQ graph: the FP16 pass takes an FP32 graph (NAME.trt.onnx)")
    tensors = [*graph.input, *graph.output, *graph.value_info]
    if any(t.data_type == TensorProto.FLOAT16 for t in graph.initializer) or any(
        v.type.tensor_type.elem_type == TensorProto.FLOAT16 for v in tensors
    ):
        raise EdgesegError(f"{path} already has float16 tensors: build it as it is or pass its FP32 original")
    if not any(t.data_type == TensorProto.FLOAT for t in graph.initializer) and not any(
        v.type.tensor_type.elem_type == TensorProto.FLOAT for v in tensors
    ):
        raise EdgesegError(f"{path} has no float32 tensors: there is nothing to convert to FP16")


def _cast_to(node: onnx.NodeProto) -> int | None:
    if node.op_type != "Cast" or node.domain not in ("", "ai.onnx"):
        return None
    return next((a.i for a in node.attribute if a.name == "to"), None)


def fold_round_trip_casts(graph: onnx.GraphProto, types: dict[str, int]) -> int:
    """Replace Cast(to FP32) of Cast(to FP16) of an FP32 tensor by that tensor; returns how many.

    The converter leaves such pairs between two FP32 nodes (and before FP32 graph outputs produced by
    an FP32 node); the pair only rounds the value to FP16.
    """
    producers = {out: node for node in graph.node for out in node.output}
    graph_outputs = {o.name for o in graph.output}
    renames: dict[str, str] = {}
    folded = 0
    for node in graph.node:
        first = producers.get(node.input[0]) if _cast_to(node) == TensorProto.FLOAT else None
        if first is None or _cast_to(first) != TensorProto.FLOAT16:
            continue
        if types.get(first.input[0]) != TensorProto.FLOAT:
            continue
        folded += 1
        if node.output[0] in graph_outputs:
            node.op_type = "Identity"
            del node.attribute[:]
            node.input[0] = first.input[0]
        else:
            renames[node.output[0]] = first.input[0]
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
    _drop_dead_casts(graph)
    return folded


def _drop_dead_casts(graph: onnx.GraphProto) -> None:
    """Remove Cast nodes whose output is no longer used (the folded pairs), until nothing changes."""
    while True:
        used = {t for n in graph.node for t in n.input} | {o.name for o in graph.output}
        dead = [n for n in graph.node if n.op_type == "Cast" and n.output[0] not in used]
        if not dead:
            return
        for node in dead:
            graph.node.remove(node)


def topological_sort(graph: onnx.GraphProto) -> None:
    """Reorder nodes so each comes after its producers (the converter appends its casts at the end)."""
    available = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        ready = [n for n in pending if all(t in available for t in n.input)]
        if not ready:
            raise EdgesegError(f"the graph has a cycle or an unproduced input at node {pending[0].name!r}")
        for node in ready:
            available.update(node.output)
        ordered += ready
        ready_ids = {id(n) for n in ready}
        pending = [n for n in pending if id(n) not in ready_ids]
    copies = [onnx.NodeProto.FromString(n.SerializeToString()) for n in ordered]
    del graph.node[:]
    graph.node.extend(copies)


def _drop_stale_value_info(graph: onnx.GraphProto) -> None:
    produced = {t for n in graph.node for t in n.output} | {i.name for i in graph.input}
    keep = [v for v in graph.value_info if v.name in produced]
    del graph.value_info[:]
    graph.value_info.extend(keep)


def _check_types(model: onnx.ModelProto) -> None:
    """Fail here, naming the node, rather than in TensorRT's parser on the user's Jetson."""
    try:
        onnx.checker.check_model(model)
        onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as err:
        first = str(err).strip().splitlines()[0]
        raise EdgesegError(
            f"the FP16 pass produced an inconsistent graph ({first}): keep that op FP32 with "
            "keep_fp32_ops=DEFAULT_KEEP_FP32_OPS | {'OpType'} and report the model"
        ) from None
