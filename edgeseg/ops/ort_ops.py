"""ONNX Runtime custom ops for the edgeseg nodes (exported or plugin-named), calling `edgeseg._C`.

ONNX Runtime's C headers come in no installable package, so the ops go through
onnxruntime-extensions' Python custom-op API. That API has three limits we work around in
`prepare_model`, which rewrites an in-memory copy of the graph (never the file):
- inputs are a fixed count per op type: RoIAlign with L feature maps becomes op type
  `<op_type>__L<L>`, registered for L = 1..MAX_LEVELS;
- attributes can only be int, float (printed with 6 digits) or string: every node gets one string
  attribute `edgeseg_fields`, the JSON of its spec fields, exactly as stored in the graph;
- tensors are float32 here (the API has no float16);
- its package __init__ imports torch when installed (for converters we do not use) and flips
  protobuf to its slow pure-Python mode: `_extensions()` imports it with torch hidden and the
  environment restored, so the runtime stays torch-free;
- its stock invocation hook hands outputs back as Python lists (`tolist()`), about 10x slower
  than the kernel for a Mask R-CNN RoIAlign; `_array_hook` returns the arrays themselves.
Torch-free: this runs in the runtime install.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError, missing_extra
from edgeseg.ops import cpu
from edgeseg.ops.spec import load_spec

MAX_LEVELS = 8
FIELDS_ATTR = "edgeseg_fields"


@dataclass(frozen=True)
class OpNames:
    """Where the two ops live in a graph: one ONNX domain and an op type for each."""

    domain: str
    roi_align: str
    nms: str


def exported_names() -> OpNames:
    """Names in graphs written by `edgeseg export`: edgeseg::RoIAlign, edgeseg::NMS."""
    ra, nms = load_spec("roi_align"), load_spec("nms")
    return OpNames(ra.onnx_domain, ra.onnx_op_type, nms.onnx_op_type)


def plugin_names(domain: str | None = None) -> OpNames:
    """Names of the TensorRT plugin nodes (EdgesegRoIAlign, EdgesegNMS) in `domain` (default: the spec's)."""
    ra, nms = load_spec("roi_align"), load_spec("nms")
    return OpNames(domain or ra.plugin_namespace, ra.plugin_name, nms.plugin_name)


def default_names() -> tuple[OpNames, ...]:
    return (exported_names(), plugin_names())


def _extensions() -> ModuleType:
    """onnxruntime_extensions, imported without dragging torch in (see the module docstring)."""
    if "onnxruntime_extensions" in sys.modules and sys.modules["onnxruntime_extensions"] is not None:
        return sys.modules["onnxruntime_extensions"]
    hide_torch = "torch" not in sys.modules
    saved_env = os.environ.get("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION")
    if hide_torch:
        sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` raise ImportError
    try:
        import onnxruntime_extensions
    except ImportError:
        raise missing_extra("onnxruntime-extensions", "ort") from None
    finally:
        if hide_torch:
            del sys.modules["torch"]
        if saved_env is None:
            os.environ.pop("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", None)
        else:
            os.environ["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = saved_env
    return onnxruntime_extensions


def _level_op_type(op_type: str, levels: int) -> str:
    return f"{op_type}__L{levels}"


def _run_roi_align(*inputs: np.ndarray, **attrs: str) -> np.ndarray:
    *features, rois, batch_idx = inputs
    return cpu.roi_align(features, rois, batch_idx, **json.loads(attrs[FIELDS_ATTR]))


def _run_nms(boxes: np.ndarray, scores: np.ndarray, **attrs: str) -> tuple[np.ndarray, ...]:
    return cpu.nms(boxes, scores, **json.loads(attrs[FIELDS_ATTR]))


_registered: set[tuple[str, str]] = set()


def _array_hook(op_id: int, feed: list[np.ndarray], attributes: dict[str, str]) -> tuple[Any, ...]:
    """The extensions' invocation hook, for every Python op, without converting outputs to lists."""
    opdef = _extensions().Opdef._odlist[op_id]
    result = opdef.body(*feed, **opdef.cast_attributes(attributes))
    reply: list[Any] = [op_id]
    for array in result if isinstance(result, tuple) else (result,):
        contiguous = np.ascontiguousarray(array)
        reply += [contiguous.shape, contiguous.reshape(-1)]
    return tuple(reply)


def register(names: OpNames) -> None:
    """Register the ops under `names` with onnxruntime-extensions (once per process per name)."""
    ext = _extensions()
    D, onnx_op = ext.PyCustomOpDef, ext.onnx_op
    cpu.native()  # fail now, with the fix, rather than inside a session run
    D.install_hooker(_array_hook)
    attrs = {FIELDS_ATTR: D.dt_string}
    for levels in range(1, MAX_LEVELS + 1):
        op_type = _level_op_type(names.roi_align, levels)
        if (names.domain, op_type) not in _registered:
            onnx_op(
                op_type=f"{names.domain}::{op_type}",
                inputs=[D.dt_float] * levels + [D.dt_float, D.dt_int32],
                outputs=[D.dt_float],
                attrs=attrs,
            )(_run_roi_align)
            _registered.add((names.domain, op_type))
    if (names.domain, names.nms) not in _registered:
        onnx_op(
            op_type=f"{names.domain}::{names.nms}",
            inputs=[D.dt_float, D.dt_float],
            outputs=[D.dt_float, D.dt_float, D.dt_int32, D.dt_int32, D.dt_int32],
            attrs=attrs,
        )(_run_nms)
        _registered.add((names.domain, names.nms))


def library_path() -> str:
    """The shared library to pass to `SessionOptions.register_custom_ops_library`."""
    return str(_extensions().get_library_path())


def _fields_json(op: str, node: Any) -> str:
    import onnx

    names = set(load_spec(op).field_names)
    values = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute if a.name in names}
    return json.dumps(values)


def _subgraphs(graph: Any) -> Any:
    """`graph` and every graph nested in its nodes' attributes (If branches, Loop and Scan bodies)."""
    import onnx

    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _subgraphs(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    yield from _subgraphs(sub)


def prepare_model(model: Any, names: tuple[OpNames, ...] | None = None) -> tuple[Any, list[str]]:
    """A copy of `model` (onnx.ModelProto) runnable with the registered ops, and the ops it uses.

    Nodes inside subgraphs are rewritten too: torchvision's exports put NMS inside If branches.
    """
    import onnx

    names = names or default_names()
    roi_types = {(n.domain, n.roi_align) for n in names}
    nms_types = {(n.domain, n.nms) for n in names}
    out = onnx.ModelProto()
    out.CopyFrom(model)
    used: list[str] = []
    nodes = [node for graph in _subgraphs(out.graph) for node in graph.node]
    for node in nodes:
        key = (node.domain, node.op_type)
        if key in roi_types:
            levels = len(node.input) - 2
            if not 1 <= levels <= MAX_LEVELS:
                raise EdgesegError(
                    f"node {node.name or node.op_type}: RoIAlign takes 1..{MAX_LEVELS} maps + rois "
                    f"+ batch_idx, got {len(node.input)} inputs: re-export the model"
                )
            node.attribute.append(onnx.helper.make_attribute(FIELDS_ATTR, _fields_json("roi_align", node)))
            node.op_type = _level_op_type(node.op_type, levels)
            used.append(f"{key[0]}::{key[1]}")
        elif key in nms_types:
            node.attribute.append(onnx.helper.make_attribute(FIELDS_ATTR, _fields_json("nms", node)))
            used.append(f"{key[0]}::{key[1]}")
    return out, sorted(set(used))
