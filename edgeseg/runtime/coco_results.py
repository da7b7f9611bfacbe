"""FrameResult -> COCO results entries (detections, segmentation RLE, keypoints), by image id.

Why its own module: `edgeseg run --sink preds.json` and `edgeseg eval --model` must write the very same
entries, so a user's numbers from either path agree. One entry per detection carries every field the
model has: pycocotools reads `bbox` for box AP, `segmentation` for mask AP and `keypoints` for OKS AP
from the same list. Category ids are the model's (its label set's ids); `category_map` renames them
for a dataset that numbers the same classes differently.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgeseg.runtime.results import FrameResult


def coco_entries(result: FrameResult, image_id: int,
                 category_map: Mapping[int, int] | None = None) -> list[dict[str, Any]]:
    """The COCO results entries of one frame: the result's annotations (xywh boxes in frame pixels,
    RLE masks, flat keypoints, names) under `image_id`, category ids renamed by `category_map`."""
    if result.classes is None or result.scores is None:
        return []  # a results entry needs both
    mapping = category_map or {}
    entries = []
    for ann in result.annotations():
        category = mapping.get(ann["category_id"], ann["category_id"])
        entries.append({"image_id": int(image_id), **ann, "category_id": int(category)})
    return entries


def instance_tasks(outputs: set[str]) -> list[str]:
    """The instance tasks a deploy graph's results can be scored on, from its output names."""
    tasks = ["bbox"] if "boxes" in outputs else []
    tasks += ["segm"] * ("masks" in outputs)
    tasks += ["keypoints"] * ("keypoints" in outputs)
    return tasks
