"""Panoptic fusion (numpy): hand-built cases for score order, overlap and area thresholds, stuff fill."""
from __future__ import annotations

import subprocess
import sys

import numpy as np

from edgeseg.labels import COCO_PANOPTIC, SHAPESWORLD, LabelSet
from edgeseg.runtime.panoptic_fusion import STUFF_ID_BASE, FusionParams, fuse

SKY, GRASS = 5, 6  # semantic labels (indices into ShapesWorld's categories) of sky (id 6) and grass (id 7)


def box_mask(h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    m = np.zeros((h, w), np.float32)
    m[y0:y1, x0:x1] = 0.9
    return m


def test_things_over_stuff_in_score_order() -> None:
    semantic = np.full((20, 20), SKY)
    semantic[10:, :] = GRASS
    masks = np.stack([box_mask(20, 20, 0, 8, 0, 8), box_mask(20, 20, 4, 12, 4, 12)])
    ids, segs = fuse(masks, np.array([0.6, 0.9]), np.array([1, 2]), semantic,
                     FusionParams(stuff_min_area=10, thing_min_area=1), SHAPESWORLD)
    # the higher-scored square (category 2) is pasted first and keeps its full 8x8
    assert segs[0].category_id == 2 and (ids == segs[0].id).sum() == 64
    # the circle keeps its 64 - 16 free pixels (75 % free >= 50 % overlap threshold)
    assert segs[1].category_id == 1 and (ids == segs[1].id).sum() == 48
    stuff = {s.category_id: s.id for s in segs if not s.isthing}
    assert stuff == {6: STUFF_ID_BASE + 6, 7: STUFF_ID_BASE + 7}
    expected_sky = np.zeros((20, 20), bool)
    expected_sky[:10, :] = True
    expected_sky[0:8, 0:8] = expected_sky[4:12, 4:12] = False
    assert np.array_equal(ids == stuff[6], expected_sky)
    assert (ids == 0).sum() == 0


def test_overlap_score_and_area_thresholds() -> None:
    semantic = np.full((20, 20), SKY)
    masks = np.stack([box_mask(20, 20, 0, 10, 0, 10), box_mask(20, 20, 0, 10, 2, 12),
                      box_mask(20, 20, 15, 20, 15, 20), box_mask(20, 20, 12, 14, 0, 2)])
    scores = np.array([0.9, 0.8, 0.3, 0.95])
    ids, segs = fuse(masks, scores, np.array([1, 2, 3, 4]), semantic,
                     FusionParams(score_threshold=0.5, thing_min_area=5, stuff_min_area=1000), SHAPESWORLD)
    # mask 1 is 80 % covered by mask 0 (free 20 % < 50 %): dropped; mask 2 below the score threshold;
    # mask 3 (score 0.95) has 4 pixels < thing_min_area; sky (400 - 100 px) is under stuff_min_area: void
    assert [s.category_id for s in segs] == [1]
    assert (ids == segs[0].id).sum() == 100 and (ids == 0).sum() == 300


def test_boolean_masks_and_empty_input() -> None:
    semantic = np.full((8, 8), 0)  # label 0 is a thing (circle): never used as stuff
    ids, segs = fuse(np.zeros((0, 8, 8), bool), np.zeros(0), np.zeros(0, int), semantic,
                     label_set=SHAPESWORLD)
    assert segs == [] and (ids == 0).all()
    masks = np.zeros((1, 8, 8), bool)
    masks[0, :4, :4] = True
    ids, segs = fuse(masks, np.array([0.7]), np.array([5]), semantic, FusionParams(thing_min_area=1),
                     SHAPESWORLD)
    assert len(segs) == 1 and (ids == 1).sum() == 16


def test_module_imports_without_torch() -> None:
    code = ("import sys; sys.modules['torch'] = None; import edgeseg.runtime.panoptic_fusion; "
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def naive_fuse(masks: np.ndarray, scores: np.ndarray, category_ids: np.ndarray, semantic: np.ndarray,
               params: FusionParams, label_set: LabelSet = SHAPESWORLD
               ) -> tuple[np.ndarray, list[tuple[int, int, bool]]]:
    """The fusion rules written plainly over full-frame masks, one instance and one class at a time."""

    pan = np.zeros(semantic.shape, np.int64)
    segs = []
    for i in sorted(range(len(scores)), key=lambda j: -scores[j]):
        if scores[i] < params.score_threshold:
            break
        mask = masks[i] >= params.mask_threshold
        free = mask & (pan == 0)
        if mask.sum() == 0 or free.sum() / mask.sum() < params.overlap_threshold \
                or free.sum() < params.thing_min_area:
            continue
        pan[free] = len(segs) + 1
        segs.append((len(segs) + 1, int(category_ids[i]), True))
    unclaimed = pan == 0
    for label, cat in enumerate(label_set.categories):
        region = unclaimed & (semantic == label)
        if not cat.isthing and region.sum() >= params.stuff_min_area:
            pan[region] = STUFF_ID_BASE + cat.id
            segs.append((STUFF_ID_BASE + cat.id, cat.id, False))
    return pan, segs


def test_fuse_matches_naive_rules_on_random_scenes() -> None:
    rng = np.random.default_rng(3)
    params = FusionParams(score_threshold=0.4, thing_min_area=20, stuff_min_area=150)
    for _ in range(15):
        h, w, n = 48, 64, 12
        semantic = rng.integers(0, 10, (h // 8, w // 8)).repeat(8, 0).repeat(8, 1).astype(np.uint8)
        semantic[rng.uniform(size=(h, w)) < 0.05] = 255
        masks = np.zeros((n, h, w), np.float32)
        for i in range(n):
            y0, x0 = rng.integers(-5, h), rng.integers(-5, w)
            masks[i, max(y0, 0):y0 + rng.integers(2, 30), max(x0, 0):x0 + rng.integers(2, 30)] = \
                rng.uniform(0.3, 1.0)
        scores, cats = rng.uniform(0, 1, n), rng.integers(1, 6, n)
        ids, segs = fuse(masks, scores, cats, semantic, params, SHAPESWORLD)
        ref_ids, ref_segs = naive_fuse(masks, scores, cats, semantic, params)
        np.testing.assert_array_equal(ids, ref_ids)
        assert [(s.id, s.category_id, s.isthing) for s in segs] == ref_segs


def test_stuff_comes_from_the_models_label_set() -> None:
    """COCO panoptic's stuff (ids 92..200) for a COCO model; no stuff at all for a model without labels."""
    semantic = np.full((20, 20), 80, np.uint8)  # index 80: COCO panoptic's first stuff class (banner, 92)
    semantic[10:] = 0  # person, a thing: never stuff
    params = FusionParams(stuff_min_area=10)
    none = (np.zeros((0, 20, 20), bool), np.zeros(0), np.zeros(0, int))
    _, segs = fuse(*none, semantic, params, COCO_PANOPTIC)
    assert [(s.id, s.category_id, s.isthing) for s in segs] == [(STUFF_ID_BASE + 92, 92, False)]
    _, segs = fuse(*none, semantic, params, SHAPESWORLD)
    assert segs == []  # ShapesWorld has no index 80 and index 0 is its circle
    ids, segs = fuse(*none, np.full((20, 20), 5), params)
    assert segs == [] and (ids == 0).all()  # no label set: sky (5) is not known to be stuff
