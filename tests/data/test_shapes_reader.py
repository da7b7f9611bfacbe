"""load_split returns what the COCO files say, as training-ready arrays."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from shapes_testutil import IMAGES, SIZE, load_json

from edgeseg.data.shapes import load_split
from edgeseg.errors import EdgesegError


def test_records_match_the_annotation_files(shapes_dir: Path) -> None:
    records = load_split(shapes_dir, "train")
    inst = load_json(shapes_dir, "instances_train.json")
    persons = load_json(shapes_dir, "person_keypoints_train.json")["annotations"]
    kps = {a["id"]: a["keypoints"] for a in persons}
    assert [r.image_id for r in records] == list(range(1, IMAGES + 1))
    for rec in records:
        anns = [a for a in inst["annotations"] if a["image_id"] == rec.image_id]
        assert rec.image_path.is_file() and rec.semantic_path.is_file() and rec.panoptic_path.is_file()
        assert rec.annotation_ids.tolist() == [a["id"] for a in anns]
        assert rec.category_ids.tolist() == [a["category_id"] for a in anns]
        masks = rec.masks
        assert masks.shape == (len(anns), SIZE, SIZE) and masks.dtype == np.uint8
        for k, ann in enumerate(anns):
            x, y, w, h = ann["bbox"]
            assert rec.boxes[k].tolist() == [x, y, x + w, y + h]
            assert np.array_equal(masks[k], mask_utils.decode(ann["segmentation"]))
            expected = np.array(kps.get(ann["id"], [0] * 51), dtype=np.float32).reshape(17, 3)
            assert np.array_equal(rec.keypoints[k], expected)


def test_missing_split_is_a_clear_error(shapes_dir: Path) -> None:
    with pytest.raises(EdgesegError, match="val.json not found"):
        load_split(shapes_dir, "val")
