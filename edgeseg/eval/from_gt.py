"""Ground truth turned into predictions (score 1.0): the `--pred gt` sanity check.

Scoring the truth against itself must give AP, mIoU and PQ of exactly 1.0; anything less means the
dataset files disagree with themselves (e.g. a mask area that is not the `area` field, an annotation
on a missing image) or the evaluator is wrong. Semantic and panoptic maps are reused directly by
their evaluators; this module covers the COCO results-format tasks.
"""
from __future__ import annotations

from typing import Any

from pycocotools.coco import COCO


def results_from_gt(gt: COCO, task: str) -> list[dict[str, Any]]:
    """COCO results for `task` (bbox, segm, keypoints) copied from non-crowd ground-truth annotations.

    Persons without labelled keypoints are skipped for keypoints: COCOeval ignores them as ground truth.
    """
    out: list[dict[str, Any]] = []
    for ann in gt.dataset["annotations"]:
        if ann.get("iscrowd", 0):
            continue
        entry: dict[str, Any] = {"image_id": ann["image_id"], "category_id": ann["category_id"], "score": 1.0}
        if task == "bbox":
            entry["bbox"] = list(ann["bbox"])
        elif task == "segm":
            rle = gt.annToRLE(ann)
            counts = rle["counts"]
            text = counts.decode("ascii") if isinstance(counts, bytes) else counts
            entry["segmentation"] = {"size": list(rle["size"]), "counts": text}
        else:
            if ann.get("num_keypoints", 0) == 0:
                continue
            entry["keypoints"] = list(ann["keypoints"])
        out.append(entry)
    return out
