"""The ShapesWorld label space, shared by the generator, the models, the evaluators and the overlays.

COCO conventions: category ids start at 1, `isthing` tells instances (things) from amorphous regions
(stuff). Semantic label maps use the contiguous index into `CATEGORIES` (0..9) and `IGNORE_LABEL`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Category:
    id: int
    name: str
    isthing: bool
    color: tuple[int, int, int]  # overlay / panoptic PNG color, RGB


THINGS: tuple[Category, ...] = (
    Category(1, "circle", True, (220, 20, 60)),
    Category(2, "square", True, (0, 130, 200)),
    Category(3, "triangle", True, (255, 180, 0)),
    Category(4, "star", True, (145, 30, 180)),
    Category(5, "person", True, (250, 250, 250)),
)
STUFF: tuple[Category, ...] = (
    Category(6, "sky", False, (135, 200, 235)),
    Category(7, "grass", False, (60, 160, 60)),
    Category(8, "water", False, (30, 80, 160)),
    Category(9, "road", False, (110, 110, 110)),
    Category(10, "wall", False, (170, 120, 90)),
)
CATEGORIES: tuple[Category, ...] = THINGS + STUFF
CATEGORY_BY_ID: dict[int, Category] = {c.id: c for c in CATEGORIES}
PERSON_ID = 5
IGNORE_LABEL = 255

# The 17 COCO keypoints, in COCO order, and the COCO skeleton (1-based indices, as in COCO files).
KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
SKELETON: tuple[tuple[int, int], ...] = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
    (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)


def semantic_index(category_id: int) -> int:
    """Contiguous semantic label (0..len(CATEGORIES)-1) of a COCO category id."""
    return [c.id for c in CATEGORIES].index(category_id)


def coco_categories() -> list[dict[str, Any]]:
    """The `categories` list for COCO instance/panoptic files; person carries keypoints and skeleton."""
    out = []
    for c in CATEGORIES:
        entry: dict[str, Any] = {
            "id": c.id,
            "name": c.name,
            "supercategory": "thing" if c.isthing else "stuff",
            "isthing": int(c.isthing),
            "color": list(c.color),
        }
        if c.id == PERSON_ID:
            entry["keypoints"] = list(KEYPOINT_NAMES)
            entry["skeleton"] = [list(pair) for pair in SKELETON]
        out.append(entry)
    return out
