"""A phrase is drawn at its box (bottom-left, inside), and only there; no phrase, no text."""
from __future__ import annotations

import numpy as np
import pytest

from edgeseg.labels import SHAPESWORLD
from edgeseg.runtime import overlays
from edgeseg.runtime.overlays import render
from edgeseg.runtime.results import FrameResult

BOXES = np.array([[10, 20, 90, 70], [100, 30, 150, 110]], np.float32)


def _result(captions: list[str] | None) -> FrameResult:
    image = np.full((120, 160, 3), 40, np.uint8)
    return FrameResult(0, 120, 160, image=image, boxes=BOXES, classes=np.array([1, 4]),
                       scores=np.array([0.9, 0.8]), captions=captions, labels=SHAPESWORLD)


def test_each_phrase_is_labelled_at_its_box(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int, int]] = []
    monkeypatch.setattr(overlays, "_label", lambda image, text, x, y, color, centered=False:
                        calls.append((text, x, y)))
    render(_result(["small red circle", "large blue star"]))
    phrases = [c for c in calls if c[0] in ("small red circle", "large blue star")]
    assert phrases == [("small red circle", 10, 69), ("large blue star", 100, 109)]


def test_phrase_pixels_lie_in_the_text_box_above_the_bottom_edge() -> None:
    import cv2

    plain = render(_result(None))
    drawn = render(_result(["small red circle", ""]))
    changed = np.argwhere((plain != drawn).any(axis=2))
    assert len(changed) > 50
    (tw, th), base = cv2.getTextSize("small red circle", cv2.FONT_HERSHEY_SIMPLEX, overlays.FONT_SCALE, 1)
    y1 = 69  # the box's bottom row, where the label's background ends
    assert changed[:, 0].min() >= y1 - th - base and changed[:, 0].max() <= y1
    assert changed[:, 1].min() >= 10 and changed[:, 1].max() <= 10 + tw + 2


def test_captions_that_are_not_one_per_box_are_not_drawn() -> None:
    plain = render(_result(None))
    assert np.array_equal(render(_result(["one phrase for the whole frame"])), plain)
