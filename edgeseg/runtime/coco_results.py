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

from edgeseg.runtime.results import FrameResult, rle


def coco_entries(result: FrameResult, image_id: int,
                 category_map: Mapping[int, int] | None = None) -> list[dict[str, Any]]:
    """The COCO results entries of one frame (xywh boxes in frame pixels, RLE masks, flat keypoints)."""
    if result.boxes is None or result.scores is None or result.classes is None:
        return []
    masks = result.full_masks()
    entries = []
    for k in range(result.num_instances):
        x0, y0, x1, y1 = (float(v) for v in result.boxes[k])
        category = int(result.classes[k])
        entry: dict[str, Any] = {
            "image_id": int(image_id),
            "category_id": int(category_map.get(category, category)) if category_map else category,
            "bbox": [x0, y0, x1 - x0, y1 - y0],
            "score": float(result.scores[k]),
        }
        if masks is not None:
            entry["segmentation"] = rle(masks[k])
        if result.keypoints is not None:
            entry["keypoints"] = [float(v) for v in result.keypoints[k].reshape(-1)]
        entries.append(entry)
    return entries


def instance_tasks(outputs: set[str]) -> list[str]:
    """The instance tasks a deploy graph's results can be scored on, from its output names."""
    tasks = ["bbox"] if "boxes" in outputs else []
    tasks += ["segm"] * ("masks" in outputs)
    tasks += ["keypoints"] * ("keypoints" in outputs)
    return tasks
