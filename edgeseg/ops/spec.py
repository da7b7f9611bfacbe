"""The two custom ops' specs (fields, inputs, outputs), read from the YAML files shipped in the package.

`edgeseg/ops/specs/<op>.yaml` is the one source of truth: export writes the fields as node
attributes, surgery and the TensorRT plugin creators use the same names, docs list them. The files
live inside the package so an installed wheel reads them too; `plugins/<op>/spec.yaml` is a
symlink for the C++ side. Torch-free.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from edgeseg.errors import EdgesegError

OPS = ("roi_align", "nms")


@dataclass(frozen=True)
class Field:
    """One op attribute: int32, float32 or float32[] (what the TensorRT ONNX parser forwards)."""

    name: str
    type: str
    default: Any
    doc: str

    def coerce(self, value: Any, op: str) -> int | float | list[float]:
        """The value as the field's Python type; EdgesegError when it cannot be one."""
        try:
            if self.type == "int32":
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                return int(value)
            if self.type == "float32":
                return float(value)
            if self.type == "float32[]":
                return [float(v) for v in value]
        except (TypeError, ValueError):
            raise EdgesegError(
                f"{op}: field {self.name!r} must be {self.type}, got {value!r}: pass a value of that type"
            ) from None
        raise ValueError(f"unknown field type {self.type!r} in the {op} spec")


@dataclass(frozen=True)
class OpSpec:
    """A custom op: its ONNX node name, its TensorRT plugin name and its fields."""

    op: str
    onnx_domain: str
    onnx_op_type: str
    plugin_name: str
    plugin_version: str
    plugin_namespace: str
    fields: tuple[Field, ...]
    inputs: tuple[dict[str, Any], ...]
    outputs: tuple[dict[str, Any], ...]

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def resolve(self, values: dict[str, Any]) -> dict[str, Any]:
        """All fields, defaults filled in, typed; unknown names are an EdgesegError."""
        unknown = sorted(set(values) - set(self.field_names))
        if unknown:
            raise EdgesegError(
                f"{self.op}: unknown field(s) {', '.join(unknown)}; "
                f"the fields are {', '.join(self.field_names)}"
            )
        out: dict[str, Any] = {}
        for f in self.fields:
            out[f.name] = f.coerce(values.get(f.name, f.default), self.op)
            if f.type != "float32[]" and isinstance(out[f.name], float) and not math.isfinite(out[f.name]):
                raise EdgesegError(f"{self.op}: field {f.name!r} must be finite, got {out[f.name]}")
        return out

    def markdown_table(self) -> str:
        """The fields as a Markdown table (docs/ops.md and the plugin READMEs show this)."""
        rows = ["| field | type | default | meaning |", "|---|---|---|---|"]
        rows += [f"| `{f.name}` | {f.type} | {f.default} | {f.doc} |" for f in self.fields]
        return "\n".join(rows)


@cache
def load_spec(op: str) -> OpSpec:
    """The spec of `op` ("roi_align" or "nms")."""
    if op not in OPS:
        raise EdgesegError(f"unknown custom op {op!r}; the edgeseg ops are {', '.join(OPS)}")
    text = resources.files("edgeseg.ops").joinpath("specs").joinpath(f"{op}.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    return OpSpec(
        op=raw["op"],
        onnx_domain=raw["onnx_domain"],
        onnx_op_type=raw["onnx_op_type"],
        plugin_name=raw["plugin_name"],
        plugin_version=str(raw["plugin_version"]),
        plugin_namespace=raw["plugin_namespace"],
        fields=tuple(Field(f["name"], f["type"], f["default"], f.get("doc", "")) for f in raw["fields"]),
        inputs=tuple(raw["inputs"]),
        outputs=tuple(raw["outputs"]),
    )
