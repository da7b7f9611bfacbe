"""Dense-captioning mean AP (after DenseCap, Johnson et al. 2016), with a pure-Python language score.

DenseCap scores a region as found when its box overlaps a ground-truth box AND its phrase is close
enough to that box's phrase, and averages AP over a grid of both thresholds. DenseCap measures the
phrase with METEOR, which needs Java; here the language score is **token F1**: the clipped count of
shared words c, precision c/len(predicted), recall c/len(reference), F1 = 2PR/(P+R) (0 when nothing
is shared, 1 for the same bag of words). It is deterministic, needs no download, and over the
ShapesWorld vocabulary it rewards each right attribute (size, colour, shape, relation, neighbour).

Definition (per pair of thresholds): predictions of all images are ranked by score; each takes the
ground-truth region of its image with the highest IoU; if that IoU >= the IoU threshold and the
region is not taken yet, the region becomes taken and the prediction counts as a true positive when
its token F1 with the region's phrase >= the language threshold (a false positive otherwise); every
other prediction is a false positive. AP is the area under the precision envelope (all recall
points, as PASCAL VOC 2010+), recall over all ground-truth regions. mAP averages the
IOU_THRESHOLDS x LANGUAGE_THRESHOLDS grid; language threshold 0 ignores the phrase (detection AP).

Also reported: `exact_phrase_accuracy`, the share of predictions matched one-to-one at IoU >= 0.5
(greedy by score) whose phrase equals the region's phrase, and `matched_token_f1`, their mean F1.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError

IOU_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
LANGUAGE_THRESHOLDS = (0.0, 0.25, 0.5, 0.75, 1.0)
MATCH_IOU = 0.5


@dataclass(frozen=True)
class Region:
    """One box (xyxy) with its phrase; `score` ranks predictions (unused for ground truth)."""

    image_id: int
    box: tuple[float, float, float, float]
    phrase: str
    score: float = 1.0


def token_f1(predicted: str, reference: str) -> float:
    """Harmonic mean of word precision and recall with clipped counts (a bag-of-words BLEU-1/recall)."""
    pred, ref = predicted.split(), reference.split()
    shared = sum((Counter(pred) & Counter(ref)).values())
    if shared == 0:
        return 1.0 if not pred and not ref else 0.0
    precision, recall = shared / len(pred), shared / len(ref)
    return 2 * precision * recall / (precision + recall)


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two xyxy boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def average_precision(hits: Sequence[bool], num_gt: int) -> float:
    """Area under the precision envelope of ranked hits (True = true positive)."""
    if num_gt == 0 or not hits:
        return 0.0
    tp = np.cumsum(np.asarray(hits, dtype=np.float64))
    precision = tp / np.arange(1, len(hits) + 1)
    recall = tp / num_gt
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * envelope))


@dataclass(frozen=True)
class _Pairing:
    """Each ranked prediction's best ground-truth region (index or -1), its IoU, token F1 and whether
    the phrases are the same word sequence."""

    gt_index: list[int]
    iou: list[float]
    f1: list[float]
    exact: list[bool]


def _pair(ranked: list[Region], gts: list[Region]) -> _Pairing:
    by_image: dict[int, list[int]] = {}
    for i, g in enumerate(gts):
        by_image.setdefault(g.image_id, []).append(i)
    pairing = _Pairing([], [], [], [])
    for p in ranked:
        candidates = by_image.get(p.image_id, [])
        overlaps = [box_iou(p.box, gts[i].box) for i in candidates]
        j = candidates[int(np.argmax(overlaps))] if overlaps else -1
        pairing.gt_index.append(j)
        pairing.iou.append(max(overlaps) if overlaps else 0.0)
        pairing.f1.append(token_f1(p.phrase, gts[j].phrase) if overlaps else 0.0)
        pairing.exact.append(bool(overlaps) and p.phrase.split() == gts[j].phrase.split())
    return pairing


def _hits(pairing: _Pairing, iou_t: float, lang_t: float) -> list[bool]:
    taken: set[int] = set()
    hits = []
    for j, iou, f1 in zip(pairing.gt_index, pairing.iou, pairing.f1, strict=True):
        ok = j >= 0 and iou >= iou_t and j not in taken
        if ok:
            taken.add(j)
        hits.append(ok and f1 >= lang_t)
    return hits


def evaluate_regions(predictions: list[Region], ground_truth: list[Region]) -> dict[str, object]:
    """mAP over the threshold grid, the AP of each pair, and the matched-region phrase figures."""
    ranked = sorted(predictions, key=lambda r: -r.score)
    pairing = _pair(ranked, ground_truth)
    grid = {f"iou{iou_t:g}_lang{lang_t:g}":
            average_precision(_hits(pairing, iou_t, lang_t), len(ground_truth))
            for iou_t in IOU_THRESHOLDS for lang_t in LANGUAGE_THRESHOLDS}
    matched = [k for k, hit in enumerate(_hits(pairing, MATCH_IOU, 0.0)) if hit]
    return {"mAP": float(np.mean(list(grid.values()))),
            "detection_mAP": float(np.mean([grid[f"iou{t:g}_lang0"] for t in IOU_THRESHOLDS])),
            "exact_phrase_accuracy": float(np.mean([pairing.exact[k] for k in matched])) if matched else 0.0,
            "matched_token_f1": float(np.mean([pairing.f1[k] for k in matched])) if matched else 0.0,
            "matched": len(matched), "predictions": len(predictions), "regions": len(ground_truth),
            "ap": grid}


def _xyxy(bbox: object, where: str) -> tuple[float, float, float, float]:
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
        raise EdgesegError(f"{where}: bbox must be [x, y, width, height] numbers, got {bbox!r}")
    x, y, w, h = (float(v) for v in bbox)
    return x, y, x + w, y + h


def ground_truth_regions(doc: dict[str, Any], source: str) -> list[Region]:
    """Regions of a `captions_<split>.json` (written by `edgeseg data shapes`)."""
    try:
        return [Region(int(entry["image_id"]), _xyxy(r["bbox"], source), str(r["caption"]))
                for entry in doc["annotations"] for r in entry["regions"]]
    except (KeyError, TypeError) as exc:
        raise EdgesegError(f"{source} is not a captions file (missing {exc}): pass a dataset folder written "
                           "by `edgeseg data shapes`") from None


def prediction_regions(doc: object, source: str) -> list[Region]:
    """A `densecap.json` results list: [{"image_id", "bbox": [x, y, w, h], "score", "caption"}, ...]."""
    if not isinstance(doc, list):
        raise EdgesegError(f"{source} must be a JSON list of {{image_id, bbox, score, caption}} records")
    regions = []
    for i, r in enumerate(doc):
        where = f"{source} record {i}"
        if not isinstance(r, dict) or not {"image_id", "bbox", "score", "caption"} <= set(r):
            raise EdgesegError(f"{where} needs image_id, bbox, score and caption")
        if not isinstance(r["caption"], str):
            raise EdgesegError(f"{where}: caption must be a string, got {r['caption']!r}")
        regions.append(Region(int(r["image_id"]), _xyxy(r["bbox"], where), r["caption"], float(r["score"])))
    return regions
