"""The op specs, the generated C++ field tables, the plugin READMEs and the exported ONNX attributes agree.

edgeseg/ops/specs/<op>.yaml is the one source. The TensorRT creators take their field list from
plugins/<op>/<op>_fields.h (generated); here we check that header is current, compile it and read
its table back, parse the README tables, and export real ONNX nodes to read their attributes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgeseg.ops.spec import OPS, load_spec

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "plugins"
GENERATOR = PLUGINS / "common" / "gen_fields.py"
SPEC_DIR = REPO / "edgeseg" / "ops" / "specs"

sys.path.insert(0, str(GENERATOR.parent))
import gen_fields  # noqa: E402


def _spec_fields(op: str) -> list[tuple[str, str, object]]:
    return [(f.name, f.type, f.default) for f in load_spec(op).fields]


@pytest.mark.parametrize("op", OPS)
def test_generated_header_is_current(op: str) -> None:
    header = PLUGINS / op / f"{op}_fields.h"
    out = subprocess.run(
        [sys.executable, str(GENERATOR), str(SPEC_DIR / f"{op}.yaml"), str(header), "--check"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr


@pytest.fixture(scope="module")
def cpp_tables(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """The field tables as the compiled C++ sees them (names, types, defaults, plugin identity)."""
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    exe = tmp_path_factory.mktemp("fields") / "printer"
    src = Path(__file__).with_name("field_table_printer.cpp")
    cmd = [cxx, "-std=c++17", "-Wall", "-Werror", "-I", str(PLUGINS), str(src), "-o", str(exe)]
    subprocess.run(cmd, check=True)
    lines = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("op", OPS)
def test_cpp_field_table_matches_spec(cpp_tables: list[dict], op: str) -> None:
    spec = load_spec(op)
    (head,) = [t for t in cpp_tables if t["op"] == op and "plugin_name" in t]
    assert (head["plugin_name"], head["plugin_version"], head["plugin_namespace"]) == (
        spec.plugin_name,
        spec.plugin_version,
        spec.plugin_namespace,
    )
    assert head["num_fields"] == len(spec.fields)
    rows = [t for t in cpp_tables if t["op"] == op and "name" in t]
    assert [(r["name"], r["type"]) for r in rows] == [(n, t) for n, t, _ in _spec_fields(op)]
    for row, (name, _, default) in zip(rows, _spec_fields(op), strict=True):
        assert row["default"] == pytest.approx(default, rel=1e-7), name


@pytest.mark.parametrize("op", OPS)
def test_creator_fields_come_from_the_generated_table(op: str) -> None:
    """The creator advertises and serialises exactly the generated table, never a hand-written list."""
    source = (PLUGINS / op / f"{op}_plugin.cpp").read_text()
    shared = (PLUGINS / "common" / "plugin_v3.h").read_text()  # the base both plugins and creators use
    assert f'#include "{op}/{op}_fields.h"' in source
    assert '#include "common/plugin_v3.h"' in source
    assert "PluginV3Base<" in source and "PluginCreatorV3<" in source and "spec::Fields>" in source
    assert "field_names_.set(describe_fields(defaults_))" in shared  # getFieldNames
    assert "serialized_.set(describe_fields(fields_))" in shared  # getFieldsToSerialize
    assert "read_fields(fc, fields, error)" in shared  # createPlugin
    for text in (source, shared):
        assert "PluginField(" not in text and "PluginField{" not in text  # no second, manual table


def _readme_fields(op: str) -> list[tuple[str, str, str]]:
    text = (PLUGINS / op / "README.md").read_text()
    rows = re.findall(r"^\|\s*`(\w+)`\s*\|\s*([\w\[\]]+)\s*\|\s*([^|]+?)\s*\|", text, flags=re.M)
    return [(name, kind, default) for name, kind, default in rows]


@pytest.mark.parametrize("op", OPS)
def test_readme_field_table_matches_spec(op: str) -> None:
    rows = _readme_fields(op)
    assert [(n, t) for n, t, _ in rows] == [(n, t) for n, t, _ in _spec_fields(op)]
    for (name, _, text), (_, _, default) in zip(rows, _spec_fields(op), strict=True):
        assert json.loads(text) == pytest.approx(default), name


def test_onnx_export_attributes_match_spec(tmp_path: Path) -> None:
    """Export one RoIAlign and one NMS node and compare their attributes with the spec."""
    torch = pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    from edgeseg.ops import onnx_symbolic, torch_ops

    class Tiny(torch.nn.Module):
        def forward(self, feat, rois, idx, boxes, scores):  # type: ignore[no-untyped-def]
            return torch_ops.roi_align([feat], rois, idx), *torch_ops.nms(boxes, scores)

    onnx_symbolic.register()
    args = (
        torch.rand(1, 2, 8, 8),
        torch.tensor([[0.0, 0.0, 16.0, 16.0]]),
        torch.zeros(1, dtype=torch.int32),
        torch.rand(1, 5, 4),
        torch.rand(1, 5, 3),
    )
    path = tmp_path / "tiny.onnx"
    torch.onnx.export(Tiny(), args, str(path), dynamo=False, opset_version=17)
    kinds = {
        onnx.AttributeProto.INT: "int32",
        onnx.AttributeProto.FLOAT: "float32",
        onnx.AttributeProto.FLOATS: "float32[]",
    }
    nodes = {n.op_type: n for n in onnx.load(str(path)).graph.node if n.domain == "edgeseg"}
    for op in OPS:
        spec = load_spec(op)
        node = nodes[spec.onnx_op_type]
        # attribute order carries no meaning in ONNX (the exporter sorts them): compare by name
        got = {a.name: (kinds[a.type], onnx.helper.get_attribute_value(a)) for a in node.attribute}
        assert sorted(got) == sorted(name for name, _, _ in _spec_fields(op))
        for name, kind, default in _spec_fields(op):
            assert got[name][0] == kind, name
            assert got[name][1] == pytest.approx(default, rel=1e-7), name


def test_generator_rejects_fields_the_parser_cannot_forward() -> None:
    base = {"op": "x", "plugin_name": "X", "plugin_version": "1", "plugin_namespace": "ns", "outputs": []}

    def render(field: dict) -> str:
        return gen_fields.render({**base, "fields": [field]}, "x.yaml")

    with pytest.raises(ValueError, match="unsupported type"):
        render({"name": "a", "type": "int64", "default": 1})
    with pytest.raises(ValueError, match="integer"):
        render({"name": "a", "type": "int32", "default": 1.5})
    text = render({"name": "s", "type": "float32[]", "default": [0.5, 2]})
    assert "std::vector<float> s = {0.5f, 2.0f};" in text and 'visit("s", fields.s);' in text
