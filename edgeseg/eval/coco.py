"""Box, mask and keypoint AP through pycocotools' COCOeval, the reference everyone reports against.

We only wrap it: build the COCO objects from already-validated dicts, silence its prints unless
asked, and name the summary numbers. Keypoints use COCOeval's default OKS sigmas, which are the
standard COCO values for the 17 keypoints.
"""
from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Iterator
from typing import Any

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from edgeseg.errors import EdgesegError

# Names of COCOeval.stats, in its order (AR1/AR10/AR100: recall with at most 1/10/100 detections per image).
BOX_STAT_NAMES: tuple[str, ...] = ("AP", "AP50", "AP75", "APs", "APm", "APl",
                                   "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
KEYPOINT_STAT_NAMES: tuple[str, ...] = ("AP", "AP50", "AP75", "APm", "APl",
                                        "AR", "AR50", "AR75", "ARm", "ARl")


@contextlib.contextmanager
def _quiet(verbose: bool) -> Iterator[None]:
    """pycocotools prints progress and its summary table to stdout; keep stdout for our table and JSON."""
    if verbose:
        yield
        return
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def coco_from_dict(dataset: dict[str, Any], source: str, verbose: bool = False) -> COCO:
    """A pycocotools COCO object from a parsed ground-truth file, checking the keys COCOeval needs."""
    if not isinstance(dataset, dict) or not all(
        isinstance(dataset.get(k), list) for k in ("images", "annotations", "categories")
    ):
        raise EdgesegError(f"{source} is not a COCO annotation file (needs 'images', 'annotations' and "
                           "'categories' lists): pass the dataset folder written by `edgeseg data shapes`")
    gt = COCO()
    gt.dataset = dataset
    with _quiet(verbose):
        gt.createIndex()
    return gt


def image_sizes(gt: COCO) -> dict[int, tuple[int, int]]:
    """(height, width) of every ground-truth image, by id."""
    return {img["id"]: (img["height"], img["width"]) for img in gt.dataset["images"]}


def _empty_results(gt: COCO) -> COCO:
    """A results object with no detections (`loadRes` cannot take an empty list): AP 0, not a crash."""
    res = COCO()
    res.dataset = {"images": list(gt.dataset["images"]), "annotations": [],
                   "categories": copy.deepcopy(gt.dataset["categories"])}
    res.createIndex()
    return res


def evaluate_coco(
    gt: COCO, results: list[dict[str, Any]], task: str, verbose: bool = False
) -> dict[str, float]:
    """COCOeval summary for `task` (bbox, segm or keypoints) as {stat name: value}.

    `results` must come from `validate_results` (clean copies). Values are fractions in [0, 1];
    -1.0 is COCOeval's marker for "no ground truth in this area range".
    """
    with _quiet(verbose):
        dt = gt.loadRes(results) if results else _empty_results(gt)
        evaluator = COCOeval(gt, dt, iouType=task)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    names = KEYPOINT_STAT_NAMES if task == "keypoints" else BOX_STAT_NAMES
    return {name: float(value) for name, value in zip(names, evaluator.stats, strict=True)}
