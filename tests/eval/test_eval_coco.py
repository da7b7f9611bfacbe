"""Box, mask and keypoint AP: ground truth as predictions, and perturbations whose AP is worked out by hand.

COCOeval's AP at one IoU threshold is the mean, over the 101 recall points 0.00, 0.01, ..., 1.00, of
the best precision reached at that recall or beyond (0 where the recall is never reached). With
every detection correct and recall r, that is (number of points <= r) / 101 = (100 r + 1) / 101.
AP is the mean over the 10 IoU thresholds 0.50, 0.55, ..., 0.95 (a match needs IoU >= threshold).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from edgeseg.data.categories import PERSON_ID, coco_categories
from edgeseg.errors import EdgesegError
from edgeseg.eval.coco import coco_from_dict, evaluate_coco, image_sizes
from edgeseg.eval.from_gt import results_from_gt
from edgeseg.eval.readers import load_json
from edgeseg.eval.results import validate_results

THRESHOLDS = [0.5 + 0.05 * i for i in range(10)]
# The standard COCO keypoint sigmas (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles),
# written out here as the independent reference for the OKS that COCOeval computes.
COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62,
                        1.07, 1.07, .87, .87, .89, .89]) / 10


def _gt(annotations: list[dict[str, Any]], size: int = 100):
    anns = [{"id": i + 1, "image_id": 1, "iscrowd": 0, **a} for i, a in enumerate(annotations)]
    return coco_from_dict({"images": [{"id": 1, "height": size, "width": size, "file_name": "000001.png"}],
                           "annotations": anns, "categories": coco_categories()}, "test")


def _box_gt(boxes: list[list[float]]):
    return _gt([{"category_id": 1, "bbox": b, "area": b[2] * b[3]} for b in boxes])


def _dets(boxes_scores: list[tuple[list[float], float]]) -> list[dict[str, Any]]:
    return [{"image_id": 1, "category_id": 1, "bbox": b, "score": s} for b, s in boxes_scores]


@pytest.mark.parametrize("task", ["bbox", "segm", "keypoints"])
def test_ground_truth_as_predictions_gives_ap_one(gt_dir: Path, task: str) -> None:
    name = "person_keypoints_val.json" if task == "keypoints" else "instances_val.json"
    gt = coco_from_dict(load_json(gt_dir / "annotations" / name, "gt"), name)
    stats = evaluate_coco(gt, results_from_gt(gt, task), task)
    assert stats["AP"] == pytest.approx(1.0, abs=1e-9)
    assert stats["AP50"] == pytest.approx(1.0, abs=1e-9)
    # every area range is either perfect or has no ground truth at all (-1)
    assert all(v == pytest.approx(1.0, abs=1e-9) or v == -1.0 for v in stats.values())


def test_one_box_at_iou_two_thirds_and_one_missing() -> None:
    # GT A = [10,10,20,20], B = [50,50,20,20]; one detection [14,10,20,20] on A, nothing on B.
    # IoU = (16*20) / (400 + 400 - 320) = 320/480 = 2/3: a match at 0.50, 0.55, 0.60, 0.65 (4 thresholds).
    # There recall = 1/2 with precision 1: points 0.00..0.50 -> 51 of 101, so AP_t = 51/101; elsewhere 0.
    gt = _box_gt([[10, 10, 20, 20], [50, 50, 20, 20]])
    stats = evaluate_coco(gt, _dets([([14, 10, 20, 20], 0.9)]), "bbox")
    assert stats["AP50"] == pytest.approx(51 / 101)
    assert stats["AP75"] == pytest.approx(0.0)
    assert stats["AP"] == pytest.approx(4 * (51 / 101) / 10)
    assert stats["AR100"] == pytest.approx(4 * 0.5 / 10)  # recall 1/2 at 4 of 10 thresholds
    assert stats["APs"] == pytest.approx(stats["AP"])  # both boxes are small (area 400 < 32^2)
    assert stats["APm"] == -1.0 and stats["APl"] == -1.0  # no medium or large ground truth


def test_false_positive_ranked_first() -> None:
    # Detections by score: FP (0.9), A exact (0.8), B exact (0.7). Precision 0, 1/2, 2/3 at recall 0, 1/2, 1.
    # Interpolated precision (best at this recall or beyond) is 2/3 at every recall point: AP = 2/3.
    gt = _box_gt([[10, 10, 20, 20], [50, 50, 20, 20]])
    stats = evaluate_coco(gt, _dets([([80, 80, 10, 10], 0.9), ([10, 10, 20, 20], 0.8),
                                     ([50, 50, 20, 20], 0.7)]), "bbox")
    for key in ("AP", "AP50", "AP75"):
        assert stats[key] == pytest.approx(2 / 3)
    assert stats["AR100"] == pytest.approx(1.0)
    assert stats["AR1"] == pytest.approx(0.0)  # the single top-scored detection is the false positive


@pytest.mark.parametrize("dropped", [0, 1, 2, 3])
def test_dropped_instances_lower_recall(dropped: int) -> None:
    # 4 GT boxes, exact detections for 4 - dropped: recall r = (4 - dropped)/4 at every threshold,
    # precision 1, so AP = (100 r + 1)/101 and AR = r.
    boxes = [[10, 10, 10, 10], [30, 10, 10, 10], [50, 10, 10, 10], [70, 10, 10, 10]]
    gt = _box_gt(boxes)
    stats = evaluate_coco(gt, _dets([(b, 0.5) for b in boxes[: 4 - dropped]]), "bbox")
    recall = (4 - dropped) / 4
    assert stats["AP"] == pytest.approx((100 * recall + 1) / 101)
    assert stats["AR100"] == pytest.approx(recall)


def test_no_detections_is_ap_zero_not_a_crash() -> None:
    stats = evaluate_coco(_box_gt([[10, 10, 10, 10]]), [], "bbox")
    assert stats["AP"] == 0.0 and stats["AR100"] == 0.0


def _rle(mask: np.ndarray) -> dict[str, Any]:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(rle["size"]), "counts": rle["counts"].decode("ascii")}


def test_mask_iou_072() -> None:
    # GT mask 10x10 (100 px); predicted mask an 8x9 block inside it (72 px): IoU = 72/100 = 0.72,
    # matched at 0.50 .. 0.70 (5 thresholds) with recall 1 -> AP_t = 1 there, 0 above: AP = 5/10.
    gt_mask = np.zeros((40, 40), bool)
    gt_mask[10:20, 10:20] = True
    pred_mask = np.zeros((40, 40), bool)
    pred_mask[10:18, 10:19] = True
    gt = _gt([{"category_id": 2, "segmentation": _rle(gt_mask), "area": 100, "bbox": [10, 10, 10, 10]}],
             size=40)
    dets = [{"image_id": 1, "category_id": 2, "segmentation": _rle(pred_mask), "score": 0.8}]
    stats = evaluate_coco(gt, dets, "segm")
    assert stats["AP"] == pytest.approx(0.5)
    assert stats["AP50"] == pytest.approx(1.0)
    assert stats["AP75"] == pytest.approx(0.0)


def test_keypoints_shifted_by_4px() -> None:
    # 17 visible keypoints, area 2000 (medium); every predicted keypoint 4 px below its ground truth.
    # OKS = mean_i exp(-d^2 / (2 * area * (2 sigma_i)^2)) with d = 4, computed below from the COCO sigmas.
    area = 2000.0
    xy = np.stack([np.linspace(20, 60, 17), np.linspace(10, 80, 17)], axis=1)
    gt_kpts = np.concatenate([xy, np.full((17, 1), 2.0)], axis=1).ravel().tolist()
    pred_kpts = np.concatenate([xy + [0, 4], np.ones((17, 1))], axis=1).ravel().tolist()
    oks = float(np.mean(np.exp(-16.0 / (2 * area * (2 * COCO_SIGMAS) ** 2))))
    assert min(abs(oks - t) for t in THRESHOLDS) > 0.005  # not on a threshold: the count below is robust
    matched = sum(oks >= t for t in THRESHOLDS)  # 0.69: 0.50 .. 0.65 -> 4
    assert matched == 4
    gt = _gt([{"category_id": PERSON_ID, "keypoints": gt_kpts, "num_keypoints": 17, "area": area,
               "bbox": [15, 5, 50, 80]}])
    dets = [{"image_id": 1, "category_id": PERSON_ID, "keypoints": pred_kpts, "score": 0.9}]
    stats = evaluate_coco(gt, dets, "keypoints")
    assert stats["AP"] == pytest.approx(matched / 10)
    assert stats["AP50"] == pytest.approx(1.0)
    assert stats["AP75"] == pytest.approx(0.0)
    assert stats["APm"] == pytest.approx(stats["AP"])
    assert stats["APl"] == -1.0


def _validate(data: Any, task: str = "bbox"):
    gt = _box_gt([[10, 10, 10, 10]])
    return validate_results(data, task, "preds.json", image_sizes(gt), gt.getCatIds())


@pytest.mark.parametrize(("data", "task", "message"), [
    ({"annotations": []}, "bbox", "not a list"),
    ("hello", "bbox", "not a list"),
    ([{"image_id": 1, "category_id": 1, "score": 0.5}], "bbox", "lacks 'bbox'"),
    ([{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3], "score": 0.5}], "bbox", "[x, y, width, height]"),
    ([{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": "high"}], "bbox", "non-numeric score"),
    ([{"image_id": 1, "category_id": 1, "segmentation": [[1, 2, 3, 4, 5, 6]], "score": 0.5}], "segm", "RLE"),
    ([{"image_id": 1, "category_id": 1, "keypoints": [1, 2, 2], "score": 0.5}], "keypoints", "51 numbers"),
    ([{"image_id": 1, "category_id": 99, "bbox": [1, 2, 3, 4], "score": 0.5}], "bbox", "category_id 99"),
    ([{"image_id": 7, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5}], "bbox", "different image sets"),
    # NaN and Infinity are valid to Python's json and were scored (AP 0.042 on a NaN-box file)
    ([{"image_id": 1, "category_id": 1, "bbox": [math.nan, 2, 3, 4], "score": 0.5}], "bbox", "NaN or inf"),
    ([{"image_id": 1, "category_id": 1, "bbox": [1, 2, math.inf, 4], "score": 0.5}], "bbox", "NaN or inf"),
    ([{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": math.nan}], "bbox", "infinite score"),
    ([{"image_id": 1, "category_id": 1, "keypoints": [math.nan] * 51, "score": 0.5}], "keypoints",
     "NaN or infinite"),
])
def test_bad_results_are_one_line_errors(data: Any, task: str, message: str) -> None:
    with pytest.raises(EdgesegError) as info:
        _validate(data, task)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_validation_keeps_only_the_task_fields() -> None:
    # loadRes would score masks with box areas if a 'bbox' rode along with a segmentation
    clean = _validate([{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1, "extra": True}])
    assert clean == [{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1.0}]
