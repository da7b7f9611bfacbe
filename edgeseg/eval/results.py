"""Validation of COCO results-format predictions before pycocotools sees them.

pycocotools answers malformed results with asserts or KeyErrors deep inside; we check the format and
the image set first and say in one line what is wrong. Valid entries are copied down to the fields
the task needs, because `COCO.loadRes` mutates its input and picks its code path from the first
entry's keys (a `bbox` next to a mask would make it score masks with box areas).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from edgeseg.errors import EdgesegError

NUM_KEYPOINTS = 17
FIELD_BY_TASK = {"bbox": "bbox", "segm": "segmentation", "keypoints": "keypoints"}
EXAMPLE_BY_TASK = {
    "bbox": '[{"image_id": 1, "category_id": 2, "bbox": [x, y, w, h], "score": 0.9}, ...]',
    "segm": '[{"image_id": 1, "category_id": 2, "segmentation": {"size": [h, w], "counts": "..."}, '
            '"score": 0.9}, ...]',
    "keypoints": '[{"image_id": 1, "category_id": 5, "keypoints": [x1, y1, v1, ... x17, y17, v17], '
                 '"score": 0.9}, ...]',
}


def _fail(source: str, task: str, problem: str) -> EdgesegError:
    return EdgesegError(f"{source} is not COCO {task} results format: {problem}; expected a JSON list like "
                        f"{EXAMPLE_BY_TASK[task]}")


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _not_finite(values: Any) -> bool:
    """Python's json reads NaN and Infinity; pycocotools would score them (a NaN box still matches
    nothing but counts as a detection), so they are refused instead."""
    return any(not math.isfinite(v) for v in values)


def _check_field(entry: Mapping[str, Any], task: str, sizes: Mapping[int, tuple[int, int]]) -> str | None:
    """What is wrong with the task-specific field of one entry, or None."""
    value = entry.get(FIELD_BY_TASK[task])
    if task == "bbox":
        ok = isinstance(value, list) and len(value) == 4 and all(_is_number(v) for v in value)
        if ok and _not_finite(value):
            return f"'bbox' {value} has a NaN or infinite coordinate (the model's output is broken)"
        return None if ok else "'bbox' must be [x, y, width, height]"
    if task == "keypoints":
        ok = isinstance(value, list) and len(value) == 3 * NUM_KEYPOINTS and all(_is_number(v) for v in value)
        if ok and _not_finite(value):
            return "'keypoints' hold a NaN or infinite coordinate (the model's output is broken)"
        return None if ok else f"'keypoints' must be {3 * NUM_KEYPOINTS} numbers (x, y, v per COCO keypoint)"
    if not (isinstance(value, dict) and isinstance(value.get("counts"), str)
            and isinstance(value.get("size"), list)):
        return ("'segmentation' must be compressed RLE {'size': [h, w], 'counts': str}: encode masks with "
                "pycocotools.mask.encode and decode 'counts' to str")
    height, width = sizes[entry["image_id"]]
    if list(value["size"]) != [height, width]:
        return f"mask size {value['size']} of image {entry['image_id']} is not its size [{height}, {width}]"
    return None


def validate_results(
    data: Any,
    task: str,
    source: str,
    image_sizes: Mapping[int, tuple[int, int]],
    category_ids: Iterable[int],
) -> list[dict[str, Any]]:
    """Check COCO results for `task` against the ground truth; return clean copies for `COCO.loadRes`.

    `image_sizes` maps every ground-truth image id to (height, width); predictions for other image ids
    mean the two come from different image sets, which pycocotools would only report as an assert.
    """
    if isinstance(data, dict):
        hint = " (this looks like a ground-truth or panoptic file, with an 'annotations' key)" \
            if "annotations" in data else ""
        raise _fail(source, task, f"it is a JSON object, not a list{hint}")
    if not isinstance(data, list):
        raise _fail(source, task, f"it is a JSON {type(data).__name__}, not a list")
    known_categories = set(category_ids)
    field = FIELD_BY_TASK[task]
    foreign: list[Any] = []
    clean: list[dict[str, Any]] = []
    for index, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise _fail(source, task, f"entry {index} is not an object")
        missing = [k for k in ("image_id", "category_id", field, "score") if k not in entry]
        if missing:
            raise _fail(source, task, f"entry {index} lacks {', '.join(repr(k) for k in missing)}")
        if not isinstance(entry["image_id"], int) or not isinstance(entry["category_id"], int):
            raise _fail(source, task, f"entry {index} has a non-integer image_id or category_id")
        if not _is_number(entry["score"]):
            raise _fail(source, task, f"entry {index} has a non-numeric score")
        if _not_finite([entry["score"]]):
            raise _fail(source, task, f"entry {index} has a NaN or infinite score")
        if entry["image_id"] not in image_sizes:
            foreign.append(entry["image_id"])
            continue
        if entry["category_id"] not in known_categories:
            raise EdgesegError(f"{source}: entry {index} has category_id {entry['category_id']}, which is "
                               f"not a ground-truth category {sorted(known_categories)}: map your model's "
                               "classes to the dataset's category ids")
        problem = _check_field(entry, task, image_sizes)
        if problem:
            raise _fail(source, task, f"entry {index}: {problem}")
        clean.append({"image_id": entry["image_id"], "category_id": entry["category_id"],
                      field: entry[field], "score": float(entry["score"])})
    if foreign:
        raise different_image_sets(source, len(set(foreign)), foreign[0])
    return clean


def different_image_sets(source: str, count: int, example: Any) -> EdgesegError:
    """The one error for predictions made on images that are not in the ground-truth split."""
    return EdgesegError(f"{source}: {count} predicted image(s) (e.g. image id {example!r}) are not in the "
                        "ground truth: ground truth and predictions come from different image sets; pass the "
                        "--gt folder and --split the predictions were made on")
