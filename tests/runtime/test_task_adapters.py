"""The exported-graph adapter's panoptic step: fused from box crops of only the instances fusion can
use, with the same result as fusing every instance pasted at full frame."""
from __future__ import annotations

import numpy as np

import edgeseg.runtime.task_adapters as task_adapters
from edgeseg.labels import SHAPESWORLD
from edgeseg.runtime.panoptic_fusion import FusionParams, fuse
from edgeseg.runtime.postprocess import paste_masks
from edgeseg.runtime.results import FrameResult


def random_panoptic_result(rng: np.random.Generator, n: int = 14, height: int = 60, width: int = 80
                           ) -> FrameResult:
    x0, y0 = rng.uniform(-10, width, n), rng.uniform(-10, height, n)
    boxes = np.stack([x0, y0, x0 + rng.uniform(4, 40, n), y0 + rng.uniform(4, 40, n)], axis=1)
    semantic = rng.integers(0, 10, (height // 10, width // 10)).repeat(10, 0).repeat(10, 1).astype(np.uint8)
    return FrameResult(0, height, width, boxes=boxes, scores=rng.uniform(0, 1, n),
                       classes=rng.integers(1, 6, n), semantic=semantic,
                       box_masks=rng.uniform(0, 1, (n, 14, 14)).astype(np.float32), mask_threshold=0.45)


def test_fusion_pastes_only_usable_instances_and_matches_full_frame_fusion(monkeypatch):
    pasted: list[int] = []
    real = task_adapters.mask_crops

    def counting(box_masks, boxes, *args):
        pasted.append(len(boxes))
        return real(box_masks, boxes, *args)

    monkeypatch.setattr(task_adapters, "mask_crops", counting)
    rng = np.random.default_rng(5)
    params = FusionParams(score_threshold=0.5, thing_min_area=4, stuff_min_area=50)
    for _ in range(10):
        result = random_panoptic_result(rng)
        task_adapters.fuse_result(result, params, SHAPESWORLD)
        usable = int((result.scores >= params.score_threshold).sum())
        assert pasted[-1] == usable < result.num_instances
        assert result.masks is None  # nothing was pasted at full frame
        full = paste_masks(result.box_masks, result.boxes, result.height, result.width, result.mask_threshold)
        ref_ids, ref_segs = fuse(full, result.scores, result.classes, result.semantic, params, SHAPESWORLD)
        np.testing.assert_array_equal(result.panoptic, ref_ids)
        assert result.segments == ref_segs
