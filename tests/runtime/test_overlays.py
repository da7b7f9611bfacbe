"""Overlays: a known frame against a committed golden PNG, and hand-computed pixels.

To accept a new golden after an intended change of the drawing, run
`EDGESEG_UPDATE_GOLDEN=1 pytest tests/runtime/test_overlays.py`, look at the PNG, and commit it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from runtime_doubles import known_result

from edgeseg.labels import SHAPESWORLD
from edgeseg.runtime import overlays
from edgeseg.runtime.overlays import draw_masks, draw_panoptic, draw_semantic, instance_colors, render
from edgeseg.runtime.results import Segment

GOLDEN = Path(__file__).parent / "golden" / "overlay_known.png"
GOLDEN_NO_TEXT = Path(__file__).parent / "golden" / "overlay_known_no_text.png"
# Mean absolute difference allowed inside one label (its text and background box). Measured: an
# identical render gives 0, one wrong letter ("circle" -> "cirde") 14.0, a 1-pixel shift 25-35.
TEXT_TOLERANCE = 6.0


def _golden(path: Path, got: np.ndarray) -> np.ndarray:
    if os.environ.get("EDGESEG_UPDATE_GOLDEN") == "1":
        Image.fromarray(got).save(path)
        pytest.skip(f"wrote a new golden {path.name}: inspect it and commit it")
    golden = np.asarray(Image.open(path).convert("RGB"))
    assert golden.shape == got.shape
    return golden


def _render_without_text(monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    with monkeypatch.context() as m:
        m.setattr(overlays, "_label", lambda *args, **kwargs: None)
        return render(known_result())


def _label_regions(with_text: np.ndarray, without_text: np.ndarray) -> list[np.ndarray]:
    """One boolean mask per label: where the text and its box changed the frame, grown by 2 px."""
    import cv2

    changed = (with_text != without_text).any(axis=2).astype(np.uint8)
    count, labels = cv2.connectedComponents(cv2.dilate(changed, np.ones((5, 5), np.uint8)))
    return [labels == k for k in range(1, count)]


def _worst_label_difference(got: np.ndarray, golden: np.ndarray, regions: list[np.ndarray]) -> float:
    diff = np.abs(got.astype(np.int16) - golden.astype(np.int16))
    return max(float(diff[region].mean()) for region in regions)


def test_render_without_text_matches_golden_exactly(monkeypatch):
    """Fills, mask edges, box edges and keypoint lines must not drift with any dependency version."""
    result = known_result()
    before = result.image.copy()
    got = _render_without_text(monkeypatch)
    np.testing.assert_array_equal(result.image, before)  # the frame is not drawn on in place
    np.testing.assert_array_equal(got, _golden(GOLDEN_NO_TEXT, got))


def test_render_matches_golden_exactly_outside_labels_and_closely_inside(monkeypatch):
    got = render(known_result())
    golden = _golden(GOLDEN, got)
    regions = _label_regions(got, _render_without_text(monkeypatch))
    assert len(regions) == 3  # two box labels and one panoptic segment label
    outside = ~np.logical_or.reduce(regions)
    np.testing.assert_array_equal(got[outside], golden[outside])
    assert _worst_label_difference(got, golden, regions) <= TEXT_TOLERANCE


def test_text_tolerance_fails_on_a_one_letter_wrong_label(monkeypatch):
    """The tolerance above is loose enough for anti-aliasing, not for a wrong name."""
    right = render(known_result())
    regions = _label_regions(right, _render_without_text(monkeypatch))
    name = overlays.category_name
    monkeypatch.setattr(overlays, "category_name",
                        lambda c, labels=None: "cirde" if int(c) == 1 else name(c, labels))
    wrong = render(known_result())
    assert _worst_label_difference(wrong, right, regions) > TEXT_TOLERANCE


def test_semantic_blend_hand_computed():
    image = np.full((2, 3, 3), 100, np.uint8)
    semantic = np.array([[0, 1, 255], [9, 0, 255]], np.uint8)
    out = draw_semantic(image, semantic, alpha=0.5, label_set=SHAPESWORLD)
    for (y, x), label in np.ndenumerate(semantic):
        if label == 255:
            np.testing.assert_array_equal(out[y, x], 100)
        else:
            expected = np.rint(np.array(SHAPESWORLD.categories[label].color) * 0.5 + 50)
            np.testing.assert_array_equal(out[y, x], expected)


def test_masks_later_instance_on_top_and_outlined():
    image = np.zeros((20, 20, 3), np.uint8)
    masks = np.zeros((2, 20, 20), bool)
    masks[0, 2:12, 2:12] = True
    masks[1, 6:16, 6:16] = True
    colors = np.array([[200, 0, 0], [0, 200, 0]], np.uint8)
    out = draw_masks(image, masks, colors, alpha=0.5)
    np.testing.assert_array_equal(out[9, 9], [0, 100, 0])  # overlap interior: instance 1 wins
    np.testing.assert_array_equal(out[4, 4], [100, 0, 0])
    np.testing.assert_array_equal(out[18, 18], [0, 0, 0])
    assert tuple(out[11, 3]) == (120, 0, 0)  # the outline is the instance colour at 0.6


def test_panoptic_void_untouched_and_instances_distinct():
    image = np.full((10, 20, 3), 50, np.uint8)
    pan = np.zeros((10, 20), np.int32)
    pan[:, 2:9] = 11
    pan[:, 11:18] = 12
    segs = [Segment(11, 1, True), Segment(12, 1, True)]
    out = draw_panoptic(image, pan, segs, alpha=1.0, labels=False)
    np.testing.assert_array_equal(out[5, 0], 50)
    np.testing.assert_array_equal(out[5, 19], 50)
    assert tuple(out[5, 5]) != tuple(out[5, 14])  # same class, different instances
    np.testing.assert_array_equal(out[5, 5], instance_colors(np.array([1]), salt=np.array([11]))[0])
    # ...and the model's label set colours them
    out = draw_panoptic(image, pan, segs, alpha=1.0, labels=False, label_set=SHAPESWORLD)
    np.testing.assert_array_equal(out[5, 5], instance_colors(np.array([1]), np.array([11]), SHAPESWORLD)[0])
    # stuff keeps its category colour
    out = draw_panoptic(image, np.full((10, 20), 3, np.int32), [Segment(3, 7, False)], alpha=1.0,
                        labels=False, label_set=SHAPESWORLD)
    np.testing.assert_array_equal(out[5, 5], SHAPESWORLD.color_of(7))


def test_render_without_instances_returns_a_copy():
    result = known_result()
    result.boxes = result.box_masks = result.keypoints = result.semantic = result.panoptic = None
    out = render(result)
    assert out is not result.image
    np.testing.assert_array_equal(out, result.image)


def test_render_draws_one_map():
    # with a panoptic map: only that map under boxes (its things are the fused masks; no semantic blend,
    # no second mask layer); without one: the semantic map with the instance masks blended over it
    result = known_result()
    got = render(result)
    pan = draw_panoptic(result.image, result.panoptic, result.segments, label_set=SHAPESWORLD)
    y, x = 40, 50  # inside the circle's box, its disc mask and panoptic segment 3, away from box edges
    np.testing.assert_array_equal(got[y, x], pan[y, x])
    result.panoptic = None
    got = render(result)
    sem = draw_semantic(result.image, result.semantic, label_set=SHAPESWORLD)
    color = instance_colors(result.classes, label_set=SHAPESWORLD)[0]
    expected = np.rint(sem[y, x].astype(np.float32) * 0.5 + color.astype(np.float32) * 0.5)
    np.testing.assert_array_equal(got[y, x], expected)
    np.testing.assert_array_equal(got[22, 32], sem[22, 32])  # box corner, outside the disc: no mask


def test_label_centroids_from_sampled_pixels_are_within_two_pixels():
    # stuff names are placed at centroids estimated from every 4th pixel; the exact mean is the reference
    from edgeseg.runtime.overlays import _centroids

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, (12, 16)).repeat(40, 0).repeat(40, 1).astype(np.uint8)  # 480x640 blocks
    counts, cx, cy = _centroids(labels, 5)
    for label in range(4):
        ys, xs = np.nonzero(labels == label)
        assert counts[label] > 0
        assert abs(cx[label] - xs.mean()) <= 2 and abs(cy[label] - ys.mean()) <= 2
    assert counts[4] == 0


def _drawn_texts(monkeypatch: pytest.MonkeyPatch, result, **kwargs) -> list[str]:
    """The label texts `render` draws (panoptic stuff, then boxes)."""
    texts: list[str] = []
    with monkeypatch.context() as m:
        m.setattr(overlays, "_label", lambda image, text, *args, **kw: texts.append(text))
        render(result, **kwargs)
    return texts


def test_overlays_name_ids_with_the_models_label_set(monkeypatch):
    """The same ids read as COCO names for a COCO model, ShapesWorld names for a zoo model and bare
    ids without labels: the runtime never brings a dataset of its own."""
    from edgeseg.labels import COCO

    result = known_result()  # classes 1 and 5, stuff segments of ids 6 and 7
    assert _drawn_texts(monkeypatch, result) == ["sky", "grass", "circle 0.91", "person 0.66"]
    assert _drawn_texts(monkeypatch, result, label_set=COCO) == ["bus", "train", "person 0.91",
                                                                  "airplane 0.66"]
    result.labels = None
    assert _drawn_texts(monkeypatch, result) == ["class 6", "class 7", "class 1 0.91", "class 5 0.66"]


def test_coco_label_text_differs_from_shapesworld_in_the_label_regions(monkeypatch):
    from edgeseg.labels import COCO

    shapes = render(known_result())
    regions = _label_regions(shapes, _render_without_text(monkeypatch))
    coco = render(known_result(), label_set=COCO)
    assert _worst_label_difference(coco, shapes, regions) > TEXT_TOLERANCE


def test_keypoint_skeleton_comes_from_the_label_set():
    from edgeseg.labels import IDS

    result = known_result()
    result.panoptic = result.semantic = result.box_masks = None
    with_skeleton = render(result)
    without = render(result, label_set=IDS)  # no labels: joints only, no lines
    result.keypoints = None
    bare = render(result)
    assert (with_skeleton != without).any() and (without != bare).any()
