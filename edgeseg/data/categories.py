"""The ShapesWorld label space, shared by the generator, the models, the evaluators and the overlays.

The table itself lives in `edgeseg.labels` (SHAPESWORLD), which the torch-free runtime can read too;
this module keeps the names the data, model and eval code use. COCO conventions: category ids start
at 1, `isthing` tells instances (things) from amorphous regions (stuff). Semantic label maps use the
contiguous index into `CATEGORIES` (0..9) and `IGNORE_LABEL`.
"""
from __future__ import annotations

from typing import Any

from edgeseg.labels import COCO_KEYPOINTS, COCO_SKELETON, SHAPESWORLD, Category

__all__ = ["CATEGORIES", "CATEGORY_BY_ID", "IGNORE_LABEL", "KEYPOINT_NAMES", "PERSON_ID", "SKELETON", "STUFF",
           "THINGS", "Category", "coco_categories", "semantic_index"]

THINGS: tuple[Category, ...] = SHAPESWORLD.things
STUFF: tuple[Category, ...] = SHAPESWORLD.stuff
CATEGORIES: tuple[Category, ...] = SHAPESWORLD.categories
CATEGORY_BY_ID: dict[int, Category] = {c.id: c for c in CATEGORIES}
PERSON_ID = 5
IGNORE_LABEL = 255

# The 17 COCO keypoints, in COCO order, and the COCO skeleton (1-based indices, as in COCO files).
KEYPOINT_NAMES: tuple[str, ...] = COCO_KEYPOINTS
SKELETON: tuple[tuple[int, int], ...] = COCO_SKELETON


def semantic_index(category_id: int) -> int:
    """Contiguous semantic label (0..len(CATEGORIES)-1) of a COCO category id."""
    return [c.id for c in CATEGORIES].index(category_id)


def coco_categories() -> list[dict[str, Any]]:
    """The `categories` list for COCO instance/panoptic files; person carries keypoints and skeleton."""
    return SHAPESWORLD.coco_categories(keypoint_category=PERSON_ID)
