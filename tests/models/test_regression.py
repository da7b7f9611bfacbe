"""Regression guard: every zoo model still reaches >= 90 % of its recorded metric on the first 50
val images (ShapesWorld val, seed 2, regenerated here: the generator is deterministic per image).

The reference numbers are `metrics_val50` in edgeseg/zoo/zoo.json, measured with the same code on
the same 50 images when the weights were committed; the 500-image figures are in `metrics`.
By default one detector view and the best FCN run; the rest is marked slow.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from edgeseg.data.shapes import generate_dataset
from edgeseg.models import zoo
from edgeseg.models.evaluate import evaluate

INDEX = zoo.load_index()
GUARDED = sorted(n for n, e in INDEX.items() if e.get("metrics_val50"))
DEFAULT = {"shapes_rcnn", max((n for n in GUARDED if n.startswith("fcn_")),
                              key=lambda n: INDEX[n]["metrics_val50"]["semantic.mIoU"], default="")}


@pytest.fixture(scope="module")
def val50(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("val50") / "val", "val", 50, seed=2, progress=False)


def flatten(metrics: dict) -> dict[str, float]:
    out = {}
    for task, values in metrics.items():
        if isinstance(values, dict):
            for key, value in values.items():
                if isinstance(value, dict):
                    out.update({f"{task}.{key}.{k}": v for k, v in value.items() if isinstance(v, float)})
                elif isinstance(value, float):
                    out[f"{task}.{key}"] = value
    return out


@pytest.mark.parametrize("name", [n if n in DEFAULT else pytest.param(n, marks=pytest.mark.slow)
                                  for n in GUARDED])
def test_reaches_90_percent_of_recorded_metric(name: str, val50: Path, tmp_path: Path) -> None:
    got = flatten(evaluate(name, None, val50, "val", tmp_path / "pred", progress=False))
    for key, recorded in INDEX[name]["metrics_val50"].items():
        assert got[key] >= 0.9 * recorded, f"{name} {key}: {got[key]:.4f} < 90 % of {recorded:.4f}"
