"""ONNX export of the custom ops as `edgeseg` domain nodes carrying the spec's fields as attributes.

`register()` installs symbolics for the TorchScript-based exporter (`torch.onnx.export(...,
dynamo=False)`, the path `edgeseg export` uses). Node names, domain and attribute names come from
the spec files, so export, surgery and the plugins cannot drift apart.
"""
from __future__ import annotations

from typing import Any

import torch

from edgeseg.ops import torch_ops  # noqa: F401  (registers torch.ops.edgeseg.*)
from edgeseg.ops.spec import load_spec

_SUFFIX = {"int32": "i", "float32": "f", "float32[]": "f"}
_PARSE: dict[str, Any] = {"int32": "i", "float32": "f", "float32[]": "fs"}
_registered: set[int] = set()


def _attrs(op: str, values: list[Any]) -> dict[str, Any]:
    """The fields as `name_<i|f>` keyword arguments for `g.op`, parsed from the graph constants."""
    from torch.onnx import symbolic_helper as sh

    spec = load_spec(op)
    out = {}
    for field, value in zip(spec.fields, values, strict=True):
        out[f"{field.name}_{_SUFFIX[field.type]}"] = sh._parse_arg(value, _PARSE[field.type])
    return out


def _roi_align_symbolic(g: Any, features: Any, rois: Any, batch_idx: Any, *fields: Any) -> Any:
    from torch.onnx import symbolic_helper as sh

    spec = load_spec("roi_align")
    maps = sh._unpack_list(features)
    attrs = _attrs("roi_align", list(fields))
    out = g.op(f"{spec.onnx_domain}::{spec.onnx_op_type}", *maps, rois, batch_idx, **attrs)
    channels = sh._get_tensor_dim_size(maps[0], 1)
    pooled_size = [None, channels, attrs["output_height_i"], attrs["output_width_i"]]
    out.setType(maps[0].type().with_sizes(pooled_size))
    return out


def _nms_symbolic(g: Any, boxes: Any, scores: Any, *fields: Any) -> Any:
    from torch.onnx import symbolic_helper as sh

    spec = load_spec("nms")
    attrs = _attrs("nms", list(fields))
    outs = g.op(f"{spec.onnx_domain}::{spec.onnx_op_type}", boxes, scores, outputs=5, **attrs)
    k = attrs["max_detections_i"]
    batch = sh._get_tensor_dim_size(scores, 0)
    int_type = scores.type().with_dtype(torch.int32)
    outs[0].setType(boxes.type().with_sizes([batch, k, 4]))
    outs[1].setType(scores.type().with_sizes([batch, k]))
    outs[2].setType(int_type.with_sizes([batch, k]))
    outs[3].setType(int_type.with_sizes([batch, k]))
    outs[4].setType(int_type.with_sizes([batch]))
    return outs


def register(opset_version: int = 17) -> None:
    """Make `torch.onnx.export(..., dynamo=False)` emit edgeseg::RoIAlign / edgeseg::NMS nodes."""
    if opset_version in _registered:
        return
    torch.onnx.register_custom_op_symbolic("edgeseg::roi_align", _roi_align_symbolic, opset_version)
    torch.onnx.register_custom_op_symbolic("edgeseg::nms", _nms_symbolic, opset_version)
    _registered.add(opset_version)
