"""Panoptic fusion in numpy (no torch): instance masks over a semantic stuff map, as Panoptic FPN does.

Things are pasted in descending score order; an instance is dropped when its score is low, when
too much of it is already covered by better instances (overlap threshold) or when what is left
is too small. Stuff fills the remaining pixels from the semantic map, region by region, and a stuff
region smaller than the minimum area becomes void (0). Thing pixels predicted by the semantic head
are not used as stuff. Segment ids: things 1..n in paste order, stuff 1000 + category id.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeseg.data.categories import CATEGORIES
from edgeseg.runtime.results import Segment

STUFF_ID_BASE = 1000
VOID = 0


@dataclass(frozen=True)
class FusionParams:
    score_threshold: float = 0.5
    overlap_threshold: float = 0.5  # drop a thing if less than this fraction of it is still free
    thing_min_area: int = 16
    stuff_min_area: int = 256
    mask_threshold: float = 0.5


def fuse(masks: np.ndarray, scores: np.ndarray, category_ids: np.ndarray, semantic: np.ndarray,
         params: FusionParams = FusionParams()) -> tuple[np.ndarray, list[Segment]]:
    """Panoptic id map (H, W) int32 and its segments.

    masks: (N, H, W) probabilities or booleans (pasted at image size); scores: (N,); category_ids:
    (N,) COCO ids of things; semantic: (H, W) labels indexing CATEGORIES (255 = ignore).
    """
    h, w = semantic.shape
    if masks.shape[1:] != (h, w) and len(masks):
        raise ValueError(f"masks are {masks.shape[1:]} but the semantic map is {(h, w)}")
    panoptic = np.full((h, w), VOID, dtype=np.int32)
    segments: list[Segment] = []
    for i in np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable"):
        if scores[i] < params.score_threshold:
            break
        mask = masks[i] >= params.mask_threshold if masks.dtype != bool else masks[i]
        area = int(mask.sum())
        if area == 0:
            continue
        free = mask & (panoptic == VOID)
        free_area = int(free.sum())
        if free_area / area < params.overlap_threshold or free_area < params.thing_min_area:
            continue
        seg_id = len(segments) + 1
        panoptic[free] = seg_id
        segments.append(Segment(seg_id, int(category_ids[i]), True, float(scores[i])))
    unclaimed = panoptic == VOID
    for label, cat in enumerate(CATEGORIES):
        if cat.isthing:
            continue
        region = unclaimed & (semantic == label)
        if int(region.sum()) < params.stuff_min_area:
            continue
        seg_id = STUFF_ID_BASE + cat.id
        panoptic[region] = seg_id
        segments.append(Segment(seg_id, cat.id, False, 1.0))
    return panoptic, segments
