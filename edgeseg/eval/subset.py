"""The first N images of a COCO-format set, one rule for every caller.

Why: scoring the predictions of a subset against the whole ground truth counts every other image's
objects as misses, so whoever predicts on "the first N images" (`edgeseg eval --model --limit`, the
zoo's evaluation with `--images`) must cut the ground truth to exactly those images.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def first_images(images: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """The first `limit` image entries by id (all of them, in id order, for None)."""
    return sorted(images, key=lambda im: int(im["id"]))[:limit]


def write_subset(doc: dict[str, Any], keep: set[int], dest: Path) -> Path:
    """`doc` (a COCO instances, keypoints, panoptic or captions file) with only the images and
    annotations of the ids in `keep`, written to `dest`."""
    doc = dict(doc)
    if "images" in doc:
        doc["images"] = [im for im in doc["images"] if int(im["id"]) in keep]
    doc["annotations"] = [a for a in doc.get("annotations", []) if int(a["image_id"]) in keep]
    dest.write_text(json.dumps(doc), encoding="utf-8")
    return dest
