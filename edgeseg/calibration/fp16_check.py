"""Compare an FP16 graph's detections with the FP32 graph's: match them first, then measure.

Why matching: FP16 rounding reorders detections whose scores are close, so comparing the padded
outputs index by index reports a whole box size as the error of a detection that merely moved.
Used by the FP16 tests and benchmarks/fp16_precision.py. Torch-free (numpy only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DetectionAgreement:
    """How well one image's FP16 detections reproduce the FP32 ones."""

    reference: int  # FP32 detections
    matched: int  # of those, found in FP16 with the same class and IoU >= the threshold
    max_box_error: float  # largest coordinate difference over matched pairs (pixels)
    max_score_error: float  # largest score difference over matched pairs
    max_mask_error: float  # largest mask value difference over matched pairs (0 without masks)

    @property
    def match_rate(self) -> float:
        return self.matched / self.reference if self.reference else 1.0


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a [N, 4] with every box in b [M, 4] (x1, y1, x2, y2)."""
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def compare_detections(
    ref: dict[str, np.ndarray], got: dict[str, np.ndarray], image: int = 0, iou: float = 0.9
) -> DetectionAgreement:
    """Greedy match in reference score order: each FP32 detection takes the unmatched FP16 detection
    of its class with the highest IoU, if that IoU >= `iou`. Outputs as `edgeseg export` names them."""
    n_ref, n_got = int(ref["num_dets"][image]), int(got["num_dets"][image])
    ref_boxes, got_boxes = ref["boxes"][image, :n_ref], got["boxes"][image, :n_got]
    ious = box_iou(ref_boxes.astype(np.float64), got_boxes.astype(np.float64))
    same_class = ref["classes"][image, :n_ref, None] == got["classes"][image, None, :n_got]
    ious = np.where(same_class, ious, -1.0)
    taken: set[int] = set()
    pairs = []
    for i in np.argsort(-ref["scores"][image, :n_ref], kind="stable"):
        order = [j for j in np.argsort(-ious[i], kind="stable") if j not in taken]
        if order and ious[i, order[0]] >= iou:
            taken.add(int(order[0]))
            pairs.append((int(i), int(order[0])))

    def worst(key: str) -> float:
        if key not in ref or not pairs:
            return 0.0
        r = np.stack([ref[key][image, i] for i, _ in pairs]).astype(np.float64)
        g = np.stack([got[key][image, j] for _, j in pairs]).astype(np.float64)
        return float(np.abs(r - g).max())

    return DetectionAgreement(n_ref, len(pairs), worst("boxes"), worst("scores"), worst("masks"))
