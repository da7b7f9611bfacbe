#!/usr/bin/env python3
"""Generate `<op>_fields.h` (the C++ field table of a plugin) from the op's spec.yaml.

Why: the ONNX exporter, the graph surgery, the README tables and the TensorRT creator must agree on
field names, types and defaults. spec.yaml is the single source; this script turns it into a header
without TensorRT types, so the plugin's creator, its serialisation and the tests all read one table.
The generated headers are committed (a Jetson build needs no Python); a test checks they are current.

Usage: python3 plugins/common/gen_fields.py SPEC.yaml OUT.h   (--check: compare instead of write), e.g.
    python3 plugins/common/gen_fields.py edgeseg/ops/specs/nms.yaml plugins/nms/nms_fields.h
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CPP_TYPES = {"int32": "int32_t", "float32": "float", "float32[]": "std::vector<float>"}


def _literal(kind: str, value: Any) -> str:
    """A C++ literal for a default value of the given spec type."""
    if kind == "int32":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"int32 default must be an integer, got {value!r}")
        return str(value)
    if kind == "float32":
        return f"{float(value)!r}f"
    if kind == "float32[]":
        if not isinstance(value, list) or not value:
            raise ValueError(f"float32[] default must be a non-empty list, got {value!r}")
        return "{" + ", ".join(f"{float(v)!r}f" for v in value) + "}"
    raise ValueError(f"unsupported field type {kind!r}: plugins take int32, float32 and float32[] only")


def render(spec: dict[str, Any], spec_name: str) -> str:
    """The header text for one op spec."""
    op = spec["op"]
    lines = [
        f"// Generated from {spec_name} by plugins/common/gen_fields.py.",
        "// Do not edit: change the spec and re-run the generator (tests/plugins/test_field_specs.py",
        "// fails while this file is stale).",
        "#pragma once",
        "",
        "#include <cstdint>",
        "#include <vector>",
        "",
        f"namespace edgeseg::{op}_fields {{",
        "",
        f'constexpr char const* kPluginName = "{spec["plugin_name"]}";',
        f'constexpr char const* kPluginVersion = "{spec["plugin_version"]}";',
        f'constexpr char const* kPluginNamespace = "{spec["plugin_namespace"]}";',
        f"constexpr int32_t kNumFields = {len(spec['fields'])};",
        f"constexpr int32_t kNumOutputs = {len(spec['outputs'])};",
        "",
        "//! Field values with the spec's defaults.",
        "struct Fields {",
    ]
    for field in spec["fields"]:
        kind = field["type"]
        if kind not in CPP_TYPES:
            raise ValueError(f"{spec_name}: field {field['name']}: unsupported type {kind!r}")
        lines.append(f"  {CPP_TYPES[kind]} {field['name']} = {_literal(kind, field['default'])};")
    lines += [
        "};",
        "",
        "//! Calls visit(name, member) for every field in spec order; works for const and mutable Fields.",
        "template <typename FieldsT, typename Visitor>",
        "void visit_fields(FieldsT& fields, Visitor&& visit) {",
    ]
    lines += [f'  visit("{f["name"]}", fields.{f["name"]});' for f in spec["fields"]]
    lines += ["}", "", f"}}  // namespace edgeseg::{op}_fields", ""]
    return "\n".join(lines)


def _display_name(spec: Path) -> str:
    """The spec's path relative to the repository (never a machine path in a committed file)."""
    resolved = spec.resolve()
    return str(resolved.relative_to(REPO)) if resolved.is_relative_to(REPO) else spec.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--check", action="store_true", help="exit 1 if OUT differs from what SPEC generates")
    args = parser.parse_args(argv)
    text = render(yaml.safe_load(args.spec.read_text()), _display_name(args.spec))
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run gen_fields.py {args.spec} {args.out}", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
