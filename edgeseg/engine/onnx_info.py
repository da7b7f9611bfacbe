"""What the builder needs to know about an ONNX graph before TensorRT sees it.

Why: the precision a strongly typed build gives is decided by the graph (float16 tensors, Q/DQ
nodes), the optimization profile by its inputs, and the sidecar by the model facts export
recorded. Reading these with `onnx` (no TensorRT) keeps the decisions testable here.

Model facts are read from the graph's `metadata_props` under these keys, written by export:
`edgeseg.model` (name), `edgeseg.task`, `edgeseg.classes` (JSON list of names), and the input
size from `edgeseg.input` (JSON with `height`/`width`) or `edgeseg.input_size` (JSON [h, w]).
Missing keys are simply unknown (the size is not guessed from shapes: layouts differ).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeseg.engine.profiles import Dim, InputInfo
from edgeseg.errors import EdgesegError, missing_extra
from edgeseg.labels import labels_from_metadata
from edgeseg.trt.compat import GraphPrecision

QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})


@dataclass(frozen=True)
class ModelFacts:
    name: str | None
    task: str | None
    classes: list[str] | None
    input_size: list[int] | None
    labels: dict[str, Any] | None = None  # the graph's label set (edgeseg.labels), as JSON
    vocabulary: list[str] | None = None  # dense captioning: the graph's token strings (edgeseg.vocabulary)


@dataclass(frozen=True)
class OnnxSummary:
    inputs: tuple[InputInfo, ...]
    precision: GraphPrecision
    facts: ModelFacts
    custom_ops: tuple[str, ...]  # op types no ONNX schema defines: plugins (or typos)


def _load(path: Path) -> Any:
    try:
        import onnx
    except ImportError:
        raise missing_extra("onnx", "deploy") from None
    if not path.is_file():
        raise EdgesegError(f"ONNX file {path} does not exist: export the model first (`edgeseg export`)")
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as err:  # onnx raises DecodeError/ValueError subclasses that vary by version
        raise EdgesegError(f"{path} is not a readable ONNX model ({err}): re-export it") from None


def _dims(value_info: Any) -> tuple[Dim, ...]:
    dims: list[Dim] = []
    for d in value_info.type.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        else:
            dims.append(d.dim_param or None)
    return tuple(dims)


def graph_precision(model: Any) -> GraphPrecision:
    """float16 anywhere (inputs, initializers, casts, value infos) and Q/DQ nodes anywhere."""
    float16 = 10  # onnx.TensorProto.FLOAT16
    graph = model.graph
    has_fp16 = any(t.data_type == float16 for t in graph.initializer)
    tensors = list(graph.input) + list(graph.output) + list(graph.value_info)
    has_fp16 = has_fp16 or any(v.type.tensor_type.elem_type == float16 for v in tensors)
    has_qdq = False
    for node in graph.node:
        has_qdq = has_qdq or node.op_type in QDQ_OPS
        if node.op_type == "Cast":
            has_fp16 = has_fp16 or any(a.name == "to" and a.i == float16 for a in node.attribute)
        if node.op_type == "Constant":
            has_fp16 = has_fp16 or any(a.t.data_type == float16 for a in node.attribute if a.name == "value")
    return GraphPrecision(has_fp16=has_fp16, has_qdq=has_qdq)


def _json_prop(props: dict[str, str], key: str, path: Path) -> Any:
    if key not in props:
        return None
    try:
        return json.loads(props[key])
    except json.JSONDecodeError:
        raise EdgesegError(f"{path}: metadata {key!r} is not valid JSON: re-export the model") from None


def summarize(path: Path) -> OnnxSummary:
    model = _load(path)
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    inputs = tuple(InputInfo(v.name, _dims(v)) for v in graph.input if v.name not in initializers)
    props = {p.key: p.value for p in model.metadata_props}
    input_size = _json_prop(props, "edgeseg.input_size", path)
    described = _json_prop(props, "edgeseg.input", path)  # export's input record (layout, height, width)
    if isinstance(described, dict) and "height" in described and "width" in described:
        input_size = [int(described["height"]), int(described["width"])]
    facts = ModelFacts(
        name=props.get("edgeseg.model"),
        task=props.get("edgeseg.task"),
        classes=_json_prop(props, "edgeseg.classes", path),
        input_size=input_size,
        labels=labels_from_metadata(props, str(path)).to_json() if "edgeseg.task" in props else None,
        vocabulary=_json_prop(props, "edgeseg.vocabulary", path),
    )
    import onnx

    custom = sorted({n.op_type for n in graph.node if not onnx.defs.has(n.op_type, n.domain or "")})
    return OnnxSummary(inputs=inputs, precision=graph_precision(model), facts=facts, custom_ops=tuple(custom))
