"""The first N images of a COCO-format set: one rule for `eval --model --limit` and the zoo's
evaluation with `--images` (edgeseg.eval.subset), checked on a hand-made file."""
from __future__ import annotations

import json
from pathlib import Path

from edgeseg.eval.subset import first_images, write_subset

DOC = {"images": [{"id": 9}, {"id": 2}, {"id": 5}],
       "annotations": [{"id": 1, "image_id": 9}, {"id": 2, "image_id": 2}, {"id": 3, "image_id": 5},
                       {"id": 4, "image_id": 2}],
       "categories": [{"id": 1, "name": "a"}]}


def test_first_images_are_the_lowest_ids_in_order() -> None:
    assert [im["id"] for im in first_images(DOC["images"], 2)] == [2, 5]
    assert [im["id"] for im in first_images(DOC["images"], None)] == [2, 5, 9]


def test_subset_keeps_only_those_images_and_their_annotations(tmp_path: Path) -> None:
    written = json.loads(write_subset(DOC, {2, 5}, tmp_path / "gt.json").read_text())
    assert [im["id"] for im in written["images"]] == [2, 5]
    assert [a["id"] for a in written["annotations"]] == [2, 3, 4]
    assert written["categories"] == DOC["categories"] and len(DOC["images"]) == 3  # input untouched
    captions = {"annotations": [{"image_id": 2}, {"image_id": 9}]}  # a file without an images list
    assert json.loads(write_subset(captions, {2}, tmp_path / "c.json").read_text()) == {
        "annotations": [{"image_id": 2}]}
