"""Regression guard: every zoo model reproduces its committed metric on a fixed split, within TOL.

The split: the first 50 images of ShapesWorld val, seed 2, regenerated here (the generator is
deterministic per image, and `test_the_split_is_the_committed_one` pins its instance counts). The
reference: `metrics_val50` in edgeseg/zoo/zoo.json, committed with the weights. The four views of
`shapes_rcnn` (faster/mask/keypoint/panoptic_rcnn) are checked against its figures for the heads
they keep, which also checks that dropping a head leaves the other heads' outputs alone.

TOL = 0.005, from the split size: the split holds 265 thing instances, the rarest class 40. One
detection that changes its match moves that class's AP by at most 1/40 and the COCO AP (mean of
5 classes) by at most 1/(5 x 40) = 0.005, so TOL allows float noise between CPUs (a flipped
detection near a threshold) but not two lost objects of the rarest class; mIoU and PQ over 5.1 M
pixels move far less per flipped detection or boundary. The committed figures are rounded to 4
decimals (5e-5); re-runs here differed by at most 5e-5.

By default the multi-task `shapes_rcnn` (every head, 30 s) and the best FCN run; the rest is slow.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from edgeseg.data.shapes import generate_dataset
from edgeseg.models import zoo
from edgeseg.models.evaluate import evaluate

TOL = 0.005
SPLIT_IMAGES, SPLIT_SEED = 50, 2
SPLIT_INSTANCES = {1: 54, 2: 48, 3: 54, 4: 40, 5: 69}  # per thing category id: 265, rarest 40
HEAD_KEYS = {"box": ["bbox.AP"], "mask": ["segm.AP"], "keypoint": ["keypoints.AP"],
             "semantic": ["semantic.mIoU"]}

INDEX = zoo.load_index()
GUARDED = sorted(n for n, e in INDEX.items() if e.get("metrics_val50") or e.get("base"))
BEST_FCN = max((n for n in INDEX if n.startswith("fcn_")),
               key=lambda n: INDEX[n]["metrics_val50"]["semantic.mIoU"])
DEFAULT = {"shapes_rcnn", BEST_FCN}


@pytest.fixture(scope="module")
def val50(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("val50") / "val"
    return generate_dataset(root, "val", SPLIT_IMAGES, seed=SPLIT_SEED, progress=False)


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


def reference(name: str) -> dict[str, float]:
    """The committed split figures: the entry's own, or its base's for the heads a view keeps."""
    entry = INDEX[name]
    if "base" not in entry:
        return dict(entry["metrics_val50"])
    heads = entry["heads"]
    keys = [k for h in heads for k in HEAD_KEYS[h]]
    if "mask" in heads and "semantic" in heads:
        keys.append("panoptic.All.PQ")
    return {k: INDEX[entry["base"]]["metrics_val50"][k] for k in keys}


def test_the_split_is_the_committed_one(val50: Path) -> None:
    annotations = json.loads((val50 / "annotations" / "instances_val.json").read_text())
    assert len(annotations["images"]) == SPLIT_IMAGES
    assert Counter(a["category_id"] for a in annotations["annotations"]) == SPLIT_INSTANCES


@pytest.mark.parametrize("name", [n if n in DEFAULT else pytest.param(n, marks=pytest.mark.slow)
                                  for n in GUARDED])
def test_reproduces_committed_metric_on_the_fixed_split(name: str, val50: Path, tmp_path: Path) -> None:
    got = flatten(evaluate(name, None, val50, "val", tmp_path / "pred", progress=False))
    expected = reference(name)
    assert expected, f"{name}: no committed split figures to guard"
    for key, committed in expected.items():
        assert key in got, f"{name}: evaluation gave no {key} (got {sorted(got)})"
        assert abs(got[key] - committed) <= TOL, (
            f"{name} {key}: {got[key]:.4f} vs committed {committed:.4f} (tolerance {TOL})")
