"""The op specs: one file per op, read from the package, mirrored by plugins/ and docs/ops.md."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edgeseg.errors import EdgesegError
from edgeseg.ops.spec import OPS, load_spec

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("op", OPS)
def test_plugin_spec_path_is_the_package_spec(op):
    plugin = ROOT / "plugins" / op / "spec.yaml"
    assert yaml.safe_load(plugin.read_text()) == yaml.safe_load(
        (ROOT / "edgeseg/ops/specs" / f"{op}.yaml").read_text()
    )


@pytest.mark.parametrize("op", OPS)
def test_docs_list_the_spec_fields(op):
    assert load_spec(op).markdown_table() in (ROOT / "docs" / "ops.md").read_text()


def test_resolve_fills_defaults_and_types():
    fields = load_spec("roi_align").resolve({"aligned": True, "spatial_scales": (0.25, 0.125)})
    assert fields["aligned"] == 1 and isinstance(fields["aligned"], int)
    assert fields["spatial_scales"] == [0.25, 0.125] and fields["output_height"] == 7


@pytest.mark.parametrize(
    "values, message",
    [
        ({"nope": 1}, "unknown field"),
        ({"output_height": 2.5}, "must be int32"),
        ({"canonical_scale": "x"}, "float32"),
    ],
)
def test_resolve_rejects_bad_fields(values, message):
    with pytest.raises(EdgesegError, match=message):
        load_spec("roi_align").resolve(values)
