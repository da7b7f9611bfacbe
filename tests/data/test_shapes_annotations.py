"""ShapesWorld files are self-consistent: every check recomputes a field from the pixels it describes.

The references are independent of the generator: pycocotools decodes the RLEs, numpy recomputes
areas and boxes, the panoptic PNG is decoded by hand (id = R + 256 G + 256^2 B).
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from shapes_testutil import IMAGES, SIZE, load_json

from edgeseg.data.categories import CATEGORIES, IGNORE_LABEL, PERSON_ID, THINGS, coco_categories


def _tight_box(mask: np.ndarray) -> list[float]:
    """COCO [x, y, w, h] of a mask, by an explicit scan of rows and columns."""
    rows = [r for r in range(mask.shape[0]) if mask[r].any()]
    cols = [c for c in range(mask.shape[1]) if mask[:, c].any()]
    return [float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1)]


def _by_image(anns: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in anns:
        out[a["image_id"]].append(a)
    return out


def test_files_and_counts(shapes_dir: Path) -> None:
    inst = load_json(shapes_dir, "instances_train.json")
    assert len(inst["images"]) == IMAGES
    assert inst["categories"] == coco_categories()
    for im in inst["images"]:
        path = shapes_dir / "images" / "train" / im["file_name"]
        assert im["file_name"] == f"{im['id']:06d}.png"
        with Image.open(path) as img:
            assert img.mode == "RGB" and img.size == (SIZE, SIZE)
    thing_ids = {c.id for c in THINGS}
    assert {a["category_id"] for a in inst["annotations"]} <= thing_ids
    assert all(a["iscrowd"] == 0 for a in inst["annotations"])
    ids = [a["id"] for a in inst["annotations"]]
    assert len(ids) == len(set(ids))


def test_mask_area_and_tight_bbox(shapes_dir: Path) -> None:
    inst = load_json(shapes_dir, "instances_train.json")
    assert inst["annotations"]
    for ann in inst["annotations"]:
        assert isinstance(ann["segmentation"]["counts"], str)
        mask = mask_utils.decode(ann["segmentation"])
        assert mask.shape == (SIZE, SIZE)
        assert ann["area"] == int(mask.sum()) > 0
        assert ann["bbox"] == _tight_box(mask)


def test_instance_masks_do_not_overlap(shapes_dir: Path) -> None:
    inst = load_json(shapes_dir, "instances_train.json")
    for anns in _by_image(inst["annotations"]).values():
        total = sum(mask_utils.decode(a["segmentation"]).astype(np.int32) for a in anns)
        assert int(np.max(total)) == 1  # occlusion: each pixel belongs to at most one instance


def test_keypoints_lie_on_the_visible_person(shapes_dir: Path) -> None:
    kp_doc = load_json(shapes_dir, "person_keypoints_train.json")
    inst = {a["id"]: a for a in load_json(shapes_dir, "instances_train.json")["annotations"]}
    assert [c["id"] for c in kp_doc["categories"]] == [PERSON_ID]
    assert len(kp_doc["categories"][0]["keypoints"]) == 17
    assert kp_doc["annotations"], "the fixture split should contain persons"
    seen = {0: 0, 1: 0, 2: 0}
    for ann in kp_doc["annotations"]:
        assert ann["category_id"] == PERSON_ID and inst[ann["id"]]["segmentation"] == ann["segmentation"]
        mask = mask_utils.decode(ann["segmentation"])
        kps = np.array(ann["keypoints"], dtype=np.float64).reshape(17, 3)
        assert ann["num_keypoints"] == int((kps[:, 2] > 0).sum())
        for x, y, v in kps:
            seen[int(v)] += 1
            if v == 0:
                assert x == 0 and y == 0
                continue
            col, row = int(np.floor(x)), int(np.floor(y))
            assert 0 <= col < SIZE and 0 <= row < SIZE
            near = mask[max(0, row - 1):row + 2, max(0, col - 1):col + 2]
            if v == 2:
                assert near.any(), f"visible keypoint ({x}, {y}) is not on the person's mask"
            else:
                assert mask[row, col] == 0, "an occluded keypoint sits on a visible pixel of its person"
    assert seen[2] > 0


def test_panoptic_png_matches_json(shapes_dir: Path) -> None:
    pan = load_json(shapes_dir, "panoptic_train.json")
    inst = _by_image(load_json(shapes_dir, "instances_train.json")["annotations"])
    isthing = {c["id"]: c["isthing"] for c in pan["categories"]}
    assert set(isthing.values()) == {0, 1}
    for entry in pan["annotations"]:
        rgb = np.asarray(Image.open(shapes_dir / "panoptic" / "train" / entry["file_name"])).astype(np.int64)
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]
        segs = entry["segments_info"]
        assert set(np.unique(ids).tolist()) == {s["id"] for s in segs}  # no void in ShapesWorld
        for s in segs:
            mask = ids == s["id"]
            assert s["area"] == int(mask.sum())
            assert s["bbox"] == _tight_box(mask)
            assert s["iscrowd"] == 0
        things = [s for s in segs if isthing[s["category_id"]]]
        anns = inst[entry["image_id"]]
        assert len(things) == len(anns)
        for s, ann in zip(things, anns, strict=True):  # thing segments follow the instance order
            assert s["category_id"] == ann["category_id"]
            assert np.array_equal(ids == s["id"], mask_utils.decode(ann["segmentation"]).astype(bool))


def test_semantic_png_agrees_with_panoptic(shapes_dir: Path) -> None:
    pan = load_json(shapes_dir, "panoptic_train.json")
    index = {c.id: i for i, c in enumerate(CATEGORIES)}
    for entry in pan["annotations"]:
        sem = np.asarray(Image.open(shapes_dir / "semantic" / "train" / entry["file_name"]))
        assert sem.dtype == np.uint8 and sem.shape == (SIZE, SIZE)
        rgb = np.asarray(Image.open(shapes_dir / "panoptic" / "train" / entry["file_name"])).astype(np.int64)
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
        expected = np.full((SIZE, SIZE), IGNORE_LABEL, dtype=np.uint8)
        for s in entry["segments_info"]:
            expected[ids == s["id"]] = index[s["category_id"]]
        assert np.array_equal(sem, expected)


@pytest.mark.parametrize("name", ["instances_train.json", "person_keypoints_train.json"])
def test_pycocotools_loads_and_scores_ground_truth_perfectly(shapes_dir: Path, name: str) -> None:
    gt = COCO(str(shapes_dir / "annotations" / name))
    anns = gt.loadAnns(gt.getAnnIds())
    drop = ("id", "iscrowd", "area")
    results = [{k: v for k, v in a.items() if k not in drop} | {"score": 1.0} for a in anns]
    iou_type = "keypoints" if "keypoints" in name else "segm"
    ev = COCOeval(gt, gt.loadRes(results), iou_type)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


def test_captions_name_their_region(shapes_dir: Path) -> None:
    caps = load_json(shapes_dir, "captions_train.json")
    inst = {a["id"]: a for a in load_json(shapes_dir, "instances_train.json")["annotations"]}
    names = {c.id: c.name for c in CATEGORIES}
    regions = [r for entry in caps["annotations"] for r in entry["regions"]]
    assert len(regions) == len(inst)
    for r in regions:
        ann = inst[r["annotation_id"]]
        assert r["bbox"] == ann["bbox"]
        words = r["caption"].split()
        if ann["category_id"] == PERSON_ID:
            assert words[0] == "person"
        else:
            area = ann["area"]
            size = "small" if area < 1024 else "medium" if area < 9216 else "large"
            assert words[0] == size and words[2] == names[ann["category_id"]]


def test_meta(shapes_dir: Path) -> None:
    import json

    meta = json.loads((shapes_dir / "meta.json").read_text())
    assert (meta["seed"], meta["split"], meta["size"], meta["count"]) == (5, "train", SIZE, IMAGES)
    assert "version" in meta
    assert not list(shapes_dir.parent.glob(".*partial*"))
