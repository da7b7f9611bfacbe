"""A tiny hand-made ShapesWorld-layout dataset (2 images, 40x40) for the evaluation tests.

Built from explicit rectangles so every area, box and label is known; it stands in for the generator
and also pins down the layout the evaluator reads.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from edgeseg.data.categories import (
    CATEGORY_BY_ID,
    IGNORE_LABEL,
    KEYPOINT_NAMES,
    PERSON_ID,
    coco_categories,
    semantic_index,
)

SIZE = 40
# (image id, panoptic segment id, category id, iscrowd, (row0, row1, col0, col1) half-open box)
# Stuff first; later rectangles paint over earlier ones, as objects occlude background.
LAYOUT: dict[int, list[tuple[int, int, int, tuple[int, int, int, int]]]] = {
    1: [(1, 6, 0, (0, 20, 0, 40)), (2, 7, 0, (20, 39, 0, 40)),          # sky over grass, row 39 void
        (3, 1, 0, (5, 15, 5, 15)), (4, 2, 0, (22, 34, 20, 36)),          # circle 10x10, square 12x16
        (5, PERSON_ID, 0, (12, 38, 26, 34))],                             # person 26x8 (over the square)
    2: [(1, 10, 0, (0, 36, 0, 40)),                                       # wall, rows 36..39 void
        (2, 4, 0, (4, 20, 4, 20)), (3, 3, 1, (24, 34, 10, 30)),          # star 16x16, crowd of triangles
        (4, 3, 0, (24, 34, 32, 38))],                                     # one triangle 10x6
}
PERSON_KEYPOINTS = {  # keypoint index -> (x, y, visibility) for the person of image 1; others unlabelled
    0: (30, 14, 2), 5: (28, 18, 2), 6: (32, 18, 2), 11: (28, 28, 1), 12: (32, 28, 2), 15: (28, 36, 2),
}


def _paint(image_id: int) -> np.ndarray:
    ids = np.zeros((SIZE, SIZE), dtype=np.int64)
    for seg_id, _, _, (r0, r1, c0, c1) in LAYOUT[image_id]:
        ids[r0:r1, c0:c1] = seg_id
    return ids


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _instance(ann_id: int, image_id: int, cat: int, crowd: int, mask: np.ndarray) -> dict[str, Any]:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    rows, cols = np.nonzero(mask)
    x0, y0 = int(cols.min()), int(rows.min())
    box = [x0, y0, int(cols.max()) - x0 + 1, int(rows.max()) - y0 + 1]
    return {"id": ann_id, "image_id": image_id, "category_id": cat, "iscrowd": crowd, "segmentation": rle,
            "area": int(mask.sum()), "bbox": box}


def make_dataset(root: Path, split: str = "val") -> Path:
    """Write the tiny dataset under `root` in the layout of `edgeseg data shapes`."""
    cats = coco_categories()
    images = [{"id": i, "file_name": f"{i:06d}.png", "height": SIZE, "width": SIZE} for i in LAYOUT]
    instances: list[dict[str, Any]] = []
    persons: list[dict[str, Any]] = []
    panoptic: list[dict[str, Any]] = []
    for image_id in LAYOUT:
        ids = _paint(image_id)
        name = f"{image_id:06d}.png"
        Image.fromarray(np.full((SIZE, SIZE, 3), 128, np.uint8)).save(_mk(root / "images" / split) / name)
        rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)
        Image.fromarray(rgb).save(_mk(root / "panoptic" / split) / name)
        semantic = np.full((SIZE, SIZE), IGNORE_LABEL, dtype=np.uint8)
        segments = []
        for seg_id, cat, crowd, _ in LAYOUT[image_id]:
            mask = ids == seg_id
            semantic[mask] = semantic_index(cat)
            segments.append({"id": seg_id, "category_id": cat, "iscrowd": crowd, "area": int(mask.sum())})
            if CATEGORY_BY_ID[cat].isthing:  # things are instances too
                ann = _instance(len(instances) + 1, image_id, cat, crowd, mask)
                instances.append(ann)
                if cat == PERSON_ID:
                    flat = [0] * (3 * len(KEYPOINT_NAMES))
                    for k, (x, y, v) in PERSON_KEYPOINTS.items():
                        flat[3 * k:3 * k + 3] = [x, y, v]
                    persons.append({**ann, "keypoints": flat, "num_keypoints": len(PERSON_KEYPOINTS)})
        Image.fromarray(semantic).save(_mk(root / "semantic" / split) / name)
        panoptic.append({"image_id": image_id, "file_name": name, "segments_info": segments})
    ann_dir = root / "annotations"
    person_cats = [c for c in cats if c["id"] == PERSON_ID]
    _write_json(ann_dir / f"instances_{split}.json",
                {"images": images, "annotations": instances, "categories": cats})
    _write_json(ann_dir / f"person_keypoints_{split}.json",
                {"images": images, "annotations": persons, "categories": person_cats})
    _write_json(ann_dir / f"panoptic_{split}.json",
                {"images": images, "annotations": panoptic, "categories": cats})
    return root


def _mk(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def gt_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("shapes"))
