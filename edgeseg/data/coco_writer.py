"""Write rendered frames as COCO files: instances, keypoints, panoptic (JSON + PNG), semantic PNG, captions.

One `SplitWriter` per split name. Still images use the split name itself ("train"); video frames use
the prefix "video_" so they land in parallel files (annotations/video_instances_train.json,
panoptic/video_train/...).
PNG bytes depend only on the pixels, so a fixed seed gives byte-identical files.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from edgeseg.data.captions import region_captions
from edgeseg.data.categories import PERSON_ID, coco_categories
from edgeseg.data.render import Frame, stuff_ids

STUFF_SEGMENT_BASE = 1000  # panoptic segment id of a stuff region = base + its category id
# zlib level and strategy (3 = Z_RLE) for the RGB PNGs: noisy images barely compress, speed matters more.
IMAGE_PNG_OPTIONS: dict[str, Any] = {"compress_level": 1, "compress_type": 3}
LABEL_PNG_OPTIONS: dict[str, Any] = {"compress_level": 1}


def panoptic_ids(frame: Frame) -> np.ndarray:
    """(H, W) int32 panoptic segment ids: things 1..n (their order), stuff STUFF_SEGMENT_BASE + id."""
    return np.where(frame.ids > 0, frame.ids, STUFF_SEGMENT_BASE + frame.stuff.astype(np.int32))


def ids_to_rgb(ids: np.ndarray) -> np.ndarray:
    """COCO panoptic PNG encoding: id = R + 256 * G + 256^2 * B."""
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], axis=-1).astype(np.uint8)


def rgb_to_ids(rgb: np.ndarray) -> np.ndarray:
    """Inverse of `ids_to_rgb`."""
    wide = rgb.astype(np.int64)
    ids: np.ndarray = wide[..., 0] + 256 * wide[..., 1] + 65536 * wide[..., 2]
    return ids


def _bbox(x: np.ndarray) -> list[float]:
    return [float(v) for v in x]


class SplitWriter:
    """Accumulates one split's annotations and writes PNGs as frames arrive; `close()` writes the JSONs."""

    def __init__(self, root: Path, split: str, info: dict[str, Any], prefix: str = "") -> None:
        self.root, self.split, self.prefix, self.info = root, split, prefix, info
        self.name = prefix + split  # PNG folder name: "train", or "video_train" for clip frames
        for sub in ("annotations", f"panoptic/{self.name}", f"semantic/{self.name}"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self.images: list[dict[str, Any]] = []
        self.instances: list[dict[str, Any]] = []
        self.keypoints: list[dict[str, Any]] = []
        self.panoptic: list[dict[str, Any]] = []
        self.captions: list[dict[str, Any]] = []
        self._next_ann = 1

    def add(self, frame: Frame, image_id: int, file_name: str, stem: str, **extra: Any) -> None:
        """Record `frame` as image `image_id`; `stem` names its panoptic/semantic PNGs."""
        height, width = frame.ids.shape
        image = {"id": image_id, "file_name": file_name, "height": height, "width": width, **extra}
        self.images.append(image)
        rles = mask_utils.encode(frame.masks()) if frame.things else []
        areas = [int(a) for a in mask_utils.area(rles)] if frame.things else []
        boxes = mask_utils.toBbox(rles) if frame.things else np.zeros((0, 4))
        texts = region_captions(frame, areas)
        regions, segments = [], []
        for k, thing in enumerate(frame.things):
            ann = {"id": self._next_ann, "image_id": image_id, "category_id": thing.category_id,
                   "bbox": _bbox(boxes[k]), "area": areas[k], "iscrowd": 0,
                   "segmentation": {"size": [height, width], "counts": rles[k]["counts"].decode("ascii")}}
            self._next_ann += 1
            self.instances.append(ann)
            if thing.category_id == PERSON_ID:
                kp = frame.keypoints[k]
                self.keypoints.append({**ann, "keypoints": [round(float(v), 2) for v in kp.ravel()],
                                       "num_keypoints": int(np.count_nonzero(kp[:, 2]))})
            regions.append({"annotation_id": ann["id"], "bbox": ann["bbox"], "caption": texts[k]})
            segments.append({"id": k + 1, "category_id": thing.category_id, "iscrowd": 0,
                             "bbox": ann["bbox"], "area": areas[k]})
        segments += self._stuff_segments(frame)
        pan_name = f"{stem}.png"
        self.panoptic.append({"image_id": image_id, "file_name": pan_name, "segments_info": segments})
        self.captions.append({"image_id": image_id, "file_name": file_name, "regions": regions})
        pan_png, sem_png = Image.fromarray(ids_to_rgb(panoptic_ids(frame))), Image.fromarray(frame.semantic())
        pan_png.save(self.root / "panoptic" / self.name / pan_name, **LABEL_PNG_OPTIONS)
        sem_png.save(self.root / "semantic" / self.name / pan_name, **LABEL_PNG_OPTIONS)

    @staticmethod
    def _stuff_segments(frame: Frame) -> list[dict[str, Any]]:
        segments = []
        for cid in stuff_ids(frame.stuff):
            mask = (frame.stuff == cid) & (frame.ids == 0)
            if not mask.any():
                continue
            rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
            segments.append({"id": STUFF_SEGMENT_BASE + int(cid), "category_id": int(cid), "iscrowd": 0,
                             "bbox": _bbox(mask_utils.toBbox(rle)), "area": int(mask_utils.area(rle))})
        return segments

    def close(self) -> None:
        """Write the split's JSON files (COCO instances, keypoints, panoptic; DenseCap-like captions)."""
        cats = coco_categories()
        person_cat = [c for c in cats if c["id"] == PERSON_ID]
        ann_dir = self.root / "annotations"
        files: dict[str, dict[str, Any]] = {
            "instances": {"annotations": self.instances, "categories": cats},
            "person_keypoints": {"annotations": self.keypoints, "categories": person_cat},
            "panoptic": {"annotations": self.panoptic, "categories": cats},
            "captions": {"annotations": self.captions, "categories": cats},
        }
        for kind, body in files.items():
            doc = {"info": self.info, "images": self.images, **body}
            text = json.dumps(doc, separators=(",", ":"))
            (ann_dir / f"{self.prefix}{kind}_{self.split}.json").write_text(text, encoding="utf-8")

