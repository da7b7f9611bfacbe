"""Typed per-frame results: what a pipeline yields, what sinks write and what overlays draw.

Plain dataclasses of numpy arrays so robot code can use them without knowing the model. Every field a
task does not produce stays None. Coordinates are frame pixels (the letterbox is already undone).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeseg.labels import LabelSet
from edgeseg.runtime.postprocess import paste_masks


@dataclass(frozen=True)
class Segment:
    """One panoptic segment: `id` is its value in the panoptic map."""

    id: int
    category_id: int
    isthing: bool
    score: float = 1.0


@dataclass
class FrameResult:
    """Everything a model said about one frame.

    boxes: [K,4] float32 xyxy; classes: [K] int32 COCO category ids; scores: [K] float32.
    masks: [K,H,W] bool full-frame masks, or box_masks: [K,M,M] float32 probabilities inside each box
    (pasted on demand by `full_masks`, which is what most consumers need but not all pay for).
    keypoints: [K,J,3] float32 (x, y, score). semantic: [H,W] uint8 index into `labels.categories`.
    panoptic: [H,W] int32 segment ids (0 = void) described by `segments`.
    captions: one phrase per box (dense captioning), in box order.
    timestamps: monotonic seconds per stage end ("capture", "decode", ..., "sink").
    labels: the model's label set (set by its adapter), which overlays and `to_json` name ids with;
    None: ids only.
    """

    frame_id: int
    height: int
    width: int
    timestamps: dict[str, float] = field(default_factory=dict)
    pts: float | None = None
    image: np.ndarray | None = None
    boxes: np.ndarray | None = None
    classes: np.ndarray | None = None
    scores: np.ndarray | None = None
    masks: np.ndarray | None = None
    box_masks: np.ndarray | None = None
    mask_threshold: float = 0.5
    keypoints: np.ndarray | None = None
    semantic: np.ndarray | None = None
    panoptic: np.ndarray | None = None
    segments: list[Segment] | None = None
    captions: list[str] | None = None
    labels: LabelSet | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.boxes is not None:
            self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        if self.classes is not None:
            self.classes = np.asarray(self.classes, dtype=np.int32).reshape(-1)
        if self.scores is not None:
            self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)

    @property
    def num_instances(self) -> int:
        return 0 if self.boxes is None else len(self.boxes)

    def full_masks(self) -> np.ndarray | None:
        """[K,H,W] bool masks, pasting the per-box masks once if that is what the model gave."""
        if self.masks is None and self.box_masks is not None and self.boxes is not None:
            self.masks = paste_masks(self.box_masks, self.boxes, self.height, self.width,
                                     self.mask_threshold)
        return self.masks

    def latency(self, start: str = "capture", end: str = "sink") -> float | None:
        """Seconds between two stage timestamps, None if either is missing."""
        if start in self.timestamps and end in self.timestamps:
            return self.timestamps[end] - self.timestamps[start]
        return None

    def _name(self, category_id: int) -> dict[str, str]:
        """{"category_name": ...} when the model's label set knows the id, else {} (ids only)."""
        cat = self.labels.get(category_id) if self.labels is not None else None
        return {"category_name": cat.name} if cat is not None else {}

    def annotations(self) -> list[dict[str, Any]]:
        """One COCO-style dict per instance: xywh `bbox`, `category_id` (then its name when the label
        set knows it), `score`, RLE `segmentation`, flat `keypoints` and `num_keypoints`, each where
        the model gives it. The jsonl records and the COCO results sink both write these."""
        annotations: list[dict[str, Any]] = []
        masks = self.full_masks()
        for k in range(self.num_instances):
            assert self.boxes is not None
            x0, y0, x1, y1 = (float(v) for v in self.boxes[k])
            ann: dict[str, Any] = {"bbox": [x0, y0, x1 - x0, y1 - y0]}
            if self.classes is not None:
                ann["category_id"] = int(self.classes[k])
                ann.update(self._name(int(self.classes[k])))
            if self.scores is not None:
                ann["score"] = float(self.scores[k])
            if masks is not None:
                ann["segmentation"] = rle(masks[k])
            if self.keypoints is not None:
                ann["keypoints"] = [float(v) for v in self.keypoints[k].reshape(-1)]
                ann["num_keypoints"] = int((self.keypoints[k, :, 2] > 0).sum())
            annotations.append(ann)
        return annotations

    def to_json(self) -> dict[str, Any]:
        """A COCO-like record: xywh boxes, RLE masks, flat keypoints, panoptic segments_info; each
        category id is followed by its name when the model carries a label set."""
        record: dict[str, Any] = {"frame_id": self.frame_id, "height": self.height, "width": self.width,
                                  "pts": self.pts, "timestamps": dict(self.timestamps)}
        record["annotations"] = self.annotations()
        if self.semantic is not None:
            record["semantic"] = [{"label": int(label), **self._semantic_name(int(label)),
                                   "segmentation": rle(self.semantic == label)}
                                  for label in np.unique(self.semantic)]
        if self.panoptic is not None:
            record["segments_info"] = [
                {"id": s.id, "category_id": s.category_id, **self._name(s.category_id),
                 "isthing": int(s.isthing), "score": s.score,
                 "area": int((self.panoptic == s.id).sum()), "segmentation": rle(self.panoptic == s.id)}
                for s in self.segments or []]
        if self.captions is not None:
            record["captions"] = list(self.captions)
        return record

    def _semantic_name(self, label: int) -> dict[str, Any]:
        """Category id and name of a semantic index when the label set has that many categories."""
        if self.labels is None or not 0 <= label < len(self.labels.categories):
            return {}
        cat = self.labels.categories[label]
        return {"category_id": cat.id, "category_name": cat.name}


def rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO run-length encoding of one [H,W] bool mask, JSON-ready (counts as str)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}
