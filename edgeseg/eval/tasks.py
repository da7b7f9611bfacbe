"""One entry point per task: find the files, validate, score. Used by the CLI and by Python callers.

`pred=None` means "the ground truth itself as predictions" (`--pred gt`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError
from edgeseg.eval.coco import coco_from_dict, evaluate_coco, image_sizes
from edgeseg.eval.densecap import evaluate_regions, ground_truth_regions, prediction_regions
from edgeseg.eval.from_gt import results_from_gt
from edgeseg.eval.layout import TASKS, GroundTruth, prediction_path
from edgeseg.eval.panoptic import evaluate_panoptic
from edgeseg.eval.readers import load_json
from edgeseg.eval.results import validate_results
from edgeseg.eval.semantic import evaluate_semantic_folders


def evaluate_coco_task(
    gt: GroundTruth, task: str, pred: Path | None, verbose: bool = False
) -> dict[str, float]:
    """Box, mask or keypoint AP of a COCO results file against the split's instance annotations."""
    return evaluate_coco_file(gt.require(gt.coco_json(task)), task, pred, verbose)


def evaluate_coco_file(gt_path: Path, task: str, pred: Path | None,
                       verbose: bool = False) -> dict[str, float]:
    """Box, mask or keypoint AP of a COCO results file against one COCO annotation file."""
    coco_gt = coco_from_dict(load_json(gt_path, f"{task} ground truth"), str(gt_path), verbose)
    if pred is None:
        results = results_from_gt(coco_gt, task)
    else:
        path = prediction_path(pred, task)
        results = validate_results(load_json(path, f"{task} predictions"), task, str(path),
                                   image_sizes(coco_gt), coco_gt.getCatIds())
    return evaluate_coco(coco_gt, results, task, verbose)


def evaluate_densecap(gt: GroundTruth, pred: Path | None) -> dict[str, Any]:
    """Dense-captioning mAP of a densecap.json results list against the split's captions file."""
    path = gt.require(gt.captions)
    truth = ground_truth_regions(load_json(path, "captions ground truth"), str(path))
    if pred is None:
        return evaluate_regions(truth, truth)
    pred_path = prediction_path(pred, "densecap")
    return evaluate_regions(prediction_regions(load_json(pred_path, "densecap predictions"), str(pred_path)),
                            truth)


def evaluate_task(gt: GroundTruth, task: str, pred: Path | None, verbose: bool = False) -> dict[str, Any]:
    """Metrics of one task as a JSON-ready dict (see docs/eval.md for the keys)."""
    if task not in TASKS:
        raise EdgesegError(f"unknown task {task!r}: choose one of {', '.join(TASKS)} or all")
    gt.check()
    if task == "semantic":
        pred_dir = None if pred is None else prediction_path(pred, task)
        return evaluate_semantic_folders(gt.require(gt.semantic_pngs), pred_dir).as_dict()
    if task == "densecap":
        return evaluate_densecap(gt, pred)
    if task == "panoptic":
        pred_json = None if pred is None else prediction_path(pred, task)
        return evaluate_panoptic(gt.require(gt.panoptic_json), gt.require(gt.panoptic_pngs), pred_json)
    return evaluate_coco_task(gt, task, pred, verbose)
