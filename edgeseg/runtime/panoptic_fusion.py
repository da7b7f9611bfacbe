"""Panoptic fusion in numpy (no torch): instance masks over a semantic stuff map, as Panoptic FPN does.

Things are pasted in descending score order; an instance is dropped when its score is low, when
too much of it is already covered by better instances (overlap threshold) or when what is left
is too small. Stuff fills the remaining pixels from the semantic map, region by region, and a stuff
region smaller than the minimum area becomes void (0). Thing pixels predicted by the semantic head
are not used as stuff. Segment ids: things 1..n in paste order, stuff 1000 + category id.

Things are fused from box-sized crops (`fuse_crops`), so each costs its box's area, not the frame's;
`fuse` accepts full-frame masks and crops them to their bounding boxes first.

Which semantic labels are stuff, and their category ids, come from the model's label set (semantic
label k is `label_set.categories[k]`); without one no stuff is known and only things are fused.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeseg.labels import IDS, LabelSet
from edgeseg.runtime.postprocess import MaskCrop
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
         params: FusionParams = FusionParams(), label_set: LabelSet | None = None
         ) -> tuple[np.ndarray, list[Segment]]:
    """Panoptic id map (H, W) int32 and its segments.

    masks: (N, H, W) probabilities or booleans (pasted at image size); scores: (N,); category_ids:
    (N,) category ids of things; semantic: (H, W) labels indexing `label_set.categories` (255 = ignore).
    """
    h, w = semantic.shape
    if masks.shape[1:] != (h, w) and len(masks):
        raise ValueError(f"masks are {masks.shape[1:]} but the semantic map is {(h, w)}")
    usable = np.asarray(scores) >= params.score_threshold
    crops: list[MaskCrop | None] = [None] * len(masks)
    for i in np.flatnonzero(usable):
        mask = masks[i] >= params.mask_threshold if masks.dtype != bool else masks[i]
        crops[i] = MaskCrop.bounding(mask)
    return fuse_crops(crops, scores, category_ids, semantic, params, label_set)


def fuse_crops(crops: Sequence[MaskCrop | None], scores: np.ndarray, category_ids: np.ndarray,
               semantic: np.ndarray, params: FusionParams = FusionParams(),
               label_set: LabelSet | None = None) -> tuple[np.ndarray, list[Segment]]:
    """As `fuse`, from thresholded box crops (postprocess.mask_crops); None = an instance not pasted.

    Instances below `params.score_threshold` are never looked at, so callers need not paste them.
    """
    h, w = semantic.shape
    panoptic = np.full((h, w), VOID, dtype=np.int32)
    segments: list[Segment] = []
    for i in np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable"):
        if scores[i] < params.score_threshold:
            break
        crop = crops[i]
        if crop is None:
            continue
        area = int(np.count_nonzero(crop.mask))
        if area == 0:
            continue
        window = panoptic[crop.slices]
        free = crop.mask & (window == VOID)
        free_area = int(np.count_nonzero(free))
        if free_area / area < params.overlap_threshold or free_area < params.thing_min_area:
            continue
        seg_id = len(segments) + 1
        window[free] = seg_id
        segments.append(Segment(seg_id, int(category_ids[i]), True, float(scores[i])))
    _fill_stuff(panoptic, semantic, params.stuff_min_area, segments, label_set or IDS)
    return panoptic, segments


def _fill_stuff(panoptic: np.ndarray, semantic: np.ndarray, min_area: int, segments: list[Segment],
                label_set: LabelSet) -> None:
    """Unclaimed pixels take their stuff label's segment when that region is large enough (a few
    passes over the frame for all stuff classes together: areas by bincount, ids by lookup table)."""
    labels = np.asarray(semantic)
    if labels.dtype != np.uint8:
        labels = np.where((labels >= 0) & (labels < 256), labels, 255).astype(np.uint8)
    unclaimed = np.where(panoptic == VOID, labels, np.uint8(255))  # label of each unclaimed pixel
    areas = np.bincount(unclaimed.ravel(), minlength=256)
    fill = np.zeros(256, dtype=np.int32)  # label -> stuff segment id; 0 for things, small regions, 255
    for label, cat in enumerate(label_set.categories[:255]):
        if not cat.isthing and areas[label] >= min_area:
            fill[label] = STUFF_ID_BASE + cat.id
            segments.append(Segment(int(fill[label]), cat.id, False, 1.0))
    panoptic += np.take(fill, unclaimed)  # claimed pixels look up label 255, i.e. add 0
