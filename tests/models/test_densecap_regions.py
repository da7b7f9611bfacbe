"""The neighbour a phrase's relation is read from, against a plain-loop reference."""
from __future__ import annotations

import numpy as np
import torch

from edgeseg.models.densecap_regions import SAME_OBJECT_IOU, context_boxes, neighbours


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def _nearest(boxes: np.ndarray, candidate: np.ndarray, i: int) -> int:
    """-1 if box i has no usable neighbour."""
    best, pick = np.inf, -1
    ci = (boxes[i, :2] + boxes[i, 2:]) / 2
    for j in range(len(boxes)):
        if j == i or not candidate[j] or _iou(boxes[i], boxes[j]) >= SAME_OBJECT_IOU:
            continue
        d = float(((ci - (boxes[j, :2] + boxes[j, 2:]) / 2) ** 2).sum())
        if d < best:
            best, pick = d, j
    return pick


def test_neighbours_match_a_plain_loop() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        xy = rng.uniform(0, 280, size=(2, 9, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(4, 60, size=(2, 9, 2))], axis=-1).astype(np.float32)
        boxes[:, 1] = boxes[:, 0] + 1.0  # a near duplicate: the same object, never a neighbour
        candidate = rng.uniform(size=(2, 9)) < 0.7
        index, has = neighbours(torch.from_numpy(boxes), torch.from_numpy(candidate))
        for b in range(2):
            for i in range(9):
                want = _nearest(boxes[b], candidate[b], i)
                assert bool(has[b, i]) == (want >= 0)
                if want >= 0:
                    assert int(index[b, i]) == want


def test_context_box_is_three_times_the_box_clipped_to_the_image() -> None:
    boxes = torch.tensor([[[100.0, 100.0, 120.0, 140.0], [0.0, 0.0, 10.0, 10.0]]])
    got = context_boxes(boxes, (320, 320))
    torch.testing.assert_close(got, torch.tensor([[[80.0, 60.0, 140.0, 180.0], [0.0, 0.0, 20.0, 20.0]]]))
