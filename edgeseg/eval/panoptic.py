"""Panoptic quality (PQ = SQ x RQ) with the COCO matching rules, written for edgeseg.

Per image, a predicted and a ground-truth segment of the same category match when their IoU > 0.5;
segments do not overlap within a map, so such a match is unique and no assignment step is needed.
- void: ground-truth pixels with id 0 (unlabeled) are removed from a predicted segment's area when
  computing IoU, so predicting over unlabeled pixels costs nothing;
- crowd: ground-truth segments with iscrowd=1 are never matched and never false negatives;
- an unmatched prediction is a false positive unless more than half of it lies on void pixels or on
  crowd regions of its own category.
Per category: SQ = sum of matched IoUs / TP, RQ = TP / (TP + FP/2 + FN/2), PQ = SQ x RQ.
All / Things / Stuff average PQ, SQ and RQ over the categories that have any TP, FP or FN.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.eval.layout import panoptic_png_dir
from edgeseg.eval.readers import load_json, read_panoptic_png
from edgeseg.eval.results import different_image_sets

VOID = 0
OFFSET = 256 ** 3  # larger than any id a 24-bit panoptic PNG can hold


@dataclass
class ClassStat:
    iou: float = 0.0
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: ClassStat) -> None:
        self.iou += other.iou
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn


@dataclass(frozen=True)
class PanopticCategory:
    name: str
    isthing: bool


def _segments_by_id(segments: Sequence[Mapping[str, Any]], categories: Mapping[int, PanopticCategory],
                    source: str) -> dict[int, Mapping[str, Any]]:
    out: dict[int, Mapping[str, Any]] = {}
    for seg in segments:
        if not isinstance(seg, dict) or not isinstance(seg.get("id"), int) \
                or not isinstance(seg.get("category_id"), int):
            raise EdgesegError(f"{source}: every segments_info entry needs integer 'id' and 'category_id'")
        if seg["category_id"] not in categories:
            raise EdgesegError(f"{source}: segment {seg['id']} has category_id {seg['category_id']}, "
                               f"not one of {sorted(categories)}: use the dataset's category ids")
        out[seg["id"]] = seg
    return out


def match_image(
    gt_ids: np.ndarray,
    gt_segments: Sequence[Mapping[str, Any]],
    pred_ids: np.ndarray,
    pred_segments: Sequence[Mapping[str, Any]],
    categories: Mapping[int, PanopticCategory],
    source: str = "prediction",
) -> dict[int, ClassStat]:
    """TP/FP/FN and summed matched IoU per category for one image (id maps of equal shape)."""
    gt_by_id = _segments_by_id(gt_segments, categories, f"{source} (ground truth)")
    pred_by_id = _segments_by_id(pred_segments, categories, source)
    gt_labels, gt_counts = np.unique(gt_ids, return_counts=True)
    pred_labels, pred_counts = np.unique(pred_ids, return_counts=True)
    gt_area = {int(k): int(n) for k, n in zip(gt_labels, gt_counts, strict=True) if k != VOID}
    pred_area = {int(k): int(n) for k, n in zip(pred_labels, pred_counts, strict=True) if k != VOID}
    unknown = sorted(set(gt_area) - set(gt_by_id))
    if unknown:
        raise EdgesegError(f"{source}: ground-truth PNG has segment id {unknown[0]} missing from "
                           "segments_info: regenerate the ground truth")
    unknown = sorted(set(pred_area) - set(pred_by_id))
    if unknown:
        raise EdgesegError(f"{source}: PNG has segment id {unknown[0]} that segments_info does not list: "
                           "list every non-zero id of the PNG (id = R + 256 G + 256^2 B)")
    absent = sorted(set(pred_by_id) - set(pred_area))
    if absent:
        raise EdgesegError(f"{source}: segments_info lists segment id {absent[0]} that the PNG does not "
                           "contain: drop empty segments or fix the PNG colors")

    joint = gt_ids.astype(np.int64) * OFFSET + pred_ids.astype(np.int64)
    pairs, counts = np.unique(joint, return_counts=True)
    void_overlap: dict[int, int] = {}
    crowd_overlap: dict[int, int] = {}
    candidates: list[tuple[int, int, int]] = []
    for pair, n in zip(pairs.tolist(), counts.tolist(), strict=True):
        g, p = divmod(pair, OFFSET)
        if p == VOID:
            continue
        if g == VOID:
            void_overlap[p] = n
            continue
        gt_seg, pred_seg = gt_by_id[g], pred_by_id[p]
        if gt_seg["category_id"] != pred_seg["category_id"]:
            continue
        if gt_seg.get("iscrowd", 0):
            crowd_overlap[p] = crowd_overlap.get(p, 0) + n
        else:
            candidates.append((g, p, n))

    stats: dict[int, ClassStat] = {}
    matched_gt: set[int] = set()
    matched_pred: set[int] = set()
    for g, p, n in candidates:
        union = (pred_area[p] - void_overlap.get(p, 0)) + gt_area[g] - n
        iou = n / union
        if iou > 0.5:
            stat = stats.setdefault(gt_by_id[g]["category_id"], ClassStat())
            stat.tp += 1
            stat.iou += iou
            matched_gt.add(g)
            matched_pred.add(p)
    for g in gt_area:
        if g not in matched_gt and not gt_by_id[g].get("iscrowd", 0):
            stats.setdefault(gt_by_id[g]["category_id"], ClassStat()).fn += 1
    for p, area in pred_area.items():
        if p in matched_pred:
            continue
        if (void_overlap.get(p, 0) + crowd_overlap.get(p, 0)) / area > 0.5:
            continue
        stats.setdefault(pred_by_id[p]["category_id"], ClassStat()).fp += 1
    return stats


def _quality(stat: ClassStat) -> dict[str, float]:
    sq = stat.iou / stat.tp if stat.tp else 0.0
    rq = stat.tp / (stat.tp + 0.5 * stat.fp + 0.5 * stat.fn)
    return {"PQ": sq * rq, "SQ": sq, "RQ": rq}


def summarize(stats: Mapping[int, ClassStat], categories: Mapping[int, PanopticCategory]) -> dict[str, Any]:
    """{"All"|"Things"|"Stuff": {PQ, SQ, RQ, n}, "per_class": {name: {PQ, SQ, RQ, TP, FP, FN}}}.

    A group with no counted category (n = 0) reports 0.0, like COCO's panoptic API.
    """
    per_class: dict[str, dict[str, float]] = {}
    groups: dict[str, list[dict[str, float]]] = {"All": [], "Things": [], "Stuff": []}
    for cat_id in sorted(categories):
        stat = stats.get(cat_id)
        if stat is None or stat.tp + stat.fp + stat.fn == 0:
            continue
        quality = _quality(stat)
        per_class[categories[cat_id].name] = {**quality, "TP": stat.tp, "FP": stat.fp, "FN": stat.fn}
        groups["All"].append(quality)
        groups["Things" if categories[cat_id].isthing else "Stuff"].append(quality)
    out: dict[str, Any] = {}
    for group, qualities in groups.items():
        n = len(qualities)
        out[group] = {key: (sum(q[key] for q in qualities) / n if n else 0.0) for key in ("PQ", "SQ", "RQ")}
        out[group]["n"] = n
    out["per_class"] = per_class
    return out


def _panoptic_annotations(data: Any, source: str) -> dict[int, Mapping[str, Any]]:
    """Per-image annotations of a COCO panoptic JSON, by image id, checking the fields we read."""
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise EdgesegError(f"{source} is not a COCO panoptic JSON (an object with an 'annotations' list of "
                           "{image_id, file_name, segments_info}): write predictions in that format")
    out: dict[int, Mapping[str, Any]] = {}
    for index, ann in enumerate(data["annotations"]):
        if not (isinstance(ann, dict) and isinstance(ann.get("image_id"), int)
                and isinstance(ann.get("file_name"), str) and isinstance(ann.get("segments_info"), list)):
            raise EdgesegError(f"{source}: annotation {index} needs 'image_id' (int), 'file_name' (PNG name) "
                               "and 'segments_info' (list): write predictions in COCO panoptic format")
        out[ann["image_id"]] = ann
    return out


def panoptic_categories(gt_data: Any, source: str) -> dict[int, PanopticCategory]:
    """Category id -> (name, isthing) from a panoptic ground-truth JSON."""
    cats = gt_data.get("categories") if isinstance(gt_data, dict) else None
    if not isinstance(cats, list) or not all(
        isinstance(c, dict) and "id" in c and "isthing" in c for c in cats
    ):
        raise EdgesegError(f"{source} has no 'categories' list with 'id' and 'isthing': pass the panoptic "
                           "ground truth written by `edgeseg data shapes`")
    return {c["id"]: PanopticCategory(str(c.get("name", c["id"])), bool(c["isthing"])) for c in cats}


def evaluate_panoptic(gt_json: Path, gt_png_dir: Path, pred_json: Path | None,
                      pred_png_dir: Path | None = None) -> dict[str, Any]:
    """PQ of a COCO panoptic prediction (JSON + PNG folder) against the ground truth of one split.

    The prediction PNGs default to the folder named like `pred_json` without `.json` (COCO's layout).
    `pred_json=None` scores the ground truth against itself (the `--pred gt` sanity check).
    """
    gt_data = load_json(gt_json, "panoptic ground truth")
    pred_data = None if pred_json is None else load_json(pred_json, "panoptic predictions")
    if pred_json is not None and pred_png_dir is None:
        pred_png_dir = panoptic_png_dir(pred_json)
    categories = panoptic_categories(gt_data, str(gt_json))
    gt_anns = _panoptic_annotations(gt_data, str(gt_json))
    source = str(pred_json) if pred_json is not None else "ground truth as prediction"
    pred_anns = gt_anns if pred_json is None else _panoptic_annotations(pred_data, source)
    foreign = sorted(set(pred_anns) - set(gt_anns))
    if foreign:
        raise different_image_sets(source, len(foreign), foreign[0])
    missing = sorted(set(gt_anns) - set(pred_anns))
    if missing:
        raise EdgesegError(f"{source} has no prediction for {len(missing)} ground-truth image(s) "
                           f"(e.g. image id {missing[0]}): predict every image of the split")
    total: dict[int, ClassStat] = {}
    for image_id, gt_ann in gt_anns.items():
        gt_ids = read_panoptic_png(gt_png_dir / gt_ann["file_name"], "panoptic ground truth")
        pred_ann = pred_anns[image_id]
        if pred_json is None or pred_png_dir is None:
            pred_ids = gt_ids
        else:
            png = pred_png_dir / pred_ann["file_name"]
            pred_ids = read_panoptic_png(png, "panoptic prediction")
            if pred_ids.shape != gt_ids.shape:
                raise EdgesegError(f"panoptic prediction {png} is {pred_ids.shape[1]}x{pred_ids.shape[0]} "
                                   f"but the ground truth is {gt_ids.shape[1]}x{gt_ids.shape[0]}: "
                                   "predict at image size")
        stats = match_image(gt_ids, gt_ann["segments_info"], pred_ids, pred_ann["segments_info"], categories,
                            f"{source} image {image_id}")
        for cat_id, stat in stats.items():
            total.setdefault(cat_id, ClassStat()).add(stat)
    return summarize(total, categories)
