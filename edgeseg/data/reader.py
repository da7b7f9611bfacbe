"""Read a generated ShapesWorld split back as per-image records, for training and evaluation.

Only the small things are loaded eagerly (boxes, ids, keypoints, paths); instance masks are decoded
from RLE when `record.masks` is read, so a 10,000-image split costs little memory.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from edgeseg.errors import EdgesegError


@dataclass
class ShapesRecord:
    """One image of a split. Boxes are xyxy in pixels; keypoints (n, 17, 3) are zero for non-persons."""

    image_id: int
    image_path: Path
    height: int
    width: int
    boxes: np.ndarray  # (n, 4) float32 x0, y0, x1, y1
    category_ids: np.ndarray  # (n,) int64 COCO category ids
    keypoints: np.ndarray  # (n, 17, 3) float32 x, y, v
    annotation_ids: np.ndarray  # (n,) int64, the ids in instances_<split>.json
    semantic_path: Path
    panoptic_path: Path
    segments_info: list[dict[str, Any]]  # COCO panoptic segments of this image
    rles: list[dict[str, Any]] = field(repr=False, default_factory=list)

    @property
    def masks(self) -> np.ndarray:
        """(n, H, W) uint8 instance masks, decoded from the RLEs on each access."""
        if not self.rles:
            return np.zeros((0, self.height, self.width), dtype=np.uint8)
        return np.ascontiguousarray(mask_utils.decode(self.rles).transpose(2, 0, 1))


def _load_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise EdgesegError(f"{path} not found: generate it with `edgeseg data shapes --out DIR --split ...`")
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def load_split(root: str | Path, split: str) -> list[ShapesRecord]:
    """All images of `split` under `root` (a folder written by `edgeseg data shapes`), in id order."""
    root = Path(root)
    ann_dir = root / "annotations"
    instances = _load_json(ann_dir / f"instances_{split}.json")
    person_anns = _load_json(ann_dir / f"person_keypoints_{split}.json")["annotations"]
    keypoints = {a["id"]: a["keypoints"] for a in person_anns}
    panoptic = {a["image_id"]: a for a in _load_json(ann_dir / f"panoptic_{split}.json")["annotations"]}
    by_image: dict[int, list[dict[str, Any]]] = {}
    for ann in instances["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    records = []
    for image in sorted(instances["images"], key=lambda im: im["id"]):
        anns = by_image.get(image["id"], [])
        n = len(anns)
        boxes = np.array([a["bbox"] for a in anns], dtype=np.float32).reshape(n, 4)
        boxes[:, 2:] += boxes[:, :2]
        kps = np.zeros((n, 17, 3), dtype=np.float32)
        for k, ann in enumerate(anns):
            if ann["id"] in keypoints:
                kps[k] = np.array(keypoints[ann["id"]], dtype=np.float32).reshape(17, 3)
        pan = panoptic[image["id"]]
        records.append(ShapesRecord(
            image_id=image["id"], image_path=root / "images" / split / image["file_name"],
            height=image["height"], width=image["width"], boxes=boxes,
            category_ids=np.array([a["category_id"] for a in anns], dtype=np.int64),
            keypoints=kps, annotation_ids=np.array([a["id"] for a in anns], dtype=np.int64),
            semantic_path=root / "semantic" / split / pan["file_name"],
            panoptic_path=root / "panoptic" / split / pan["file_name"],
            segments_info=pan["segments_info"], rles=[a["segmentation"] for a in anns]))
    return records
