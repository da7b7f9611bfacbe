"""The evaluator on real ShapesWorld output: the sanity check, a dropped category, and no torch."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edgeseg.eval.coco import coco_from_dict, evaluate_coco
from edgeseg.eval.from_gt import results_from_gt
from edgeseg.eval.layout import TASKS, GroundTruth
from edgeseg.eval.readers import load_json
from edgeseg.eval.tasks import evaluate_task


@pytest.fixture(scope="module")
def shapes_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from edgeseg.data.shapes import generate_dataset

    out = tmp_path_factory.mktemp("gen") / "shapes"
    return generate_dataset(out, "val", 4, size=320, seed=3, progress=False)


HEADLINE = {"bbox": ("AP",), "segm": ("AP",), "keypoints": ("AP",), "semantic": ("mIoU",),
            "panoptic": ("All", "PQ"), "densecap": ("mAP",)}


@pytest.mark.parametrize("task", TASKS)
def test_generated_ground_truth_scores_one(shapes_dir: Path, task: str) -> None:
    value = evaluate_task(GroundTruth(shapes_dir, "val"), task, None)
    for key in HEADLINE[task]:
        value = value[key]
    assert value == pytest.approx(1.0, abs=1e-9)


def test_dropping_one_category_costs_its_share_of_ap(shapes_dir: Path) -> None:
    # AP is averaged over the categories with (non-crowd) ground truth; a category with no
    # detection has AP 0 and the others stay 1, so AP = (K - 1) / K.
    gt = coco_from_dict(load_json(shapes_dir / "annotations" / "instances_val.json", "gt"), "gt")
    present = sorted({a["category_id"] for a in gt.dataset["annotations"] if not a.get("iscrowd", 0)})
    assert len(present) >= 2
    dropped = present[0]
    results = [r for r in results_from_gt(gt, "bbox") if r["category_id"] != dropped]
    stats = evaluate_coco(gt, results, "bbox")
    assert stats["AP"] == pytest.approx((len(present) - 1) / len(present), abs=1e-9)


def test_eval_verb_imports_no_torch() -> None:
    code = ("import sys; from edgeseg.cli import build_parser; build_parser('eval'); "
            "import edgeseg.eval.tasks; sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
