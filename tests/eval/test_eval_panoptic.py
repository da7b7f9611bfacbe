"""PQ/SQ/RQ on hand-made one-row id maps, with the void and crowd rules each exercised.

Maps are single rows of pixels so every area is a count you can read off the layout comment.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from edgeseg.data.categories import CATEGORIES
from edgeseg.errors import EdgesegError
from edgeseg.eval.panoptic import PanopticCategory, match_image, summarize

CATS = {c.id: PanopticCategory(c.name, c.isthing) for c in CATEGORIES}
CIRCLE, SQUARE, TRIANGLE, SKY = 1, 2, 3, 6


def _row(spans: list[tuple[int, int]], width: int) -> np.ndarray:
    """An id map of one row: each (segment id, length) span in order, 0 (void) for the rest."""
    ids = [seg for seg, length in spans for _ in range(length)]
    return np.array([ids + [0] * (width - len(ids))], dtype=np.int64)


def _segs(*pairs: tuple[int, int], crowd: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    return [{"id": i, "category_id": c, "iscrowd": int(i in crowd)} for i, c in pairs]


def _pq(gt_ids, gt_segs, pred_ids, pred_segs) -> dict[str, Any]:
    return summarize(match_image(gt_ids, gt_segs, pred_ids, pred_segs, CATS), CATS)


def test_matching_and_pq_by_hand() -> None:
    # pixel   0..7   8..9  10..13  14..15  16..17  18..19
    # gt      sky(1) sky   circ(2) circ(3) sq(4)   sq(4)
    # pred    sky(1) circ(2) circ   circ(3) circ(3) void
    gt = _row([(1, 10), (2, 4), (3, 2), (4, 4)], 20)
    pred = _row([(1, 8), (2, 6), (3, 4)], 20)
    out = _pq(gt, _segs((1, SKY), (2, CIRCLE), (3, CIRCLE), (4, SQUARE)),
              pred, _segs((1, SKY), (2, CIRCLE), (3, CIRCLE)))
    # sky: 8 / (8 + 10 - 8) = 0.8 -> TP.                      SQ 0.8, RQ 1,   PQ 0.8
    # circle: gt2 vs pred2: 4 / (6 + 4 - 4) = 2/3 -> TP;
    #         gt3 vs pred3: 2 / (4 + 2 - 2) = 0.5, not > 0.5 -> FN and FP.
    #         SQ 2/3, RQ 1 / (1 + 0.5 + 0.5) = 1/2, PQ 1/3
    # square: never predicted -> FN.                          SQ 0, RQ 0, PQ 0
    per = out["per_class"]
    assert per["sky"] == pytest.approx({"PQ": 0.8, "SQ": 0.8, "RQ": 1.0, "TP": 1, "FP": 0, "FN": 0})
    assert per["circle"] == pytest.approx({"PQ": 1 / 3, "SQ": 2 / 3, "RQ": 0.5, "TP": 1, "FP": 1, "FN": 1})
    assert per["square"] == pytest.approx({"PQ": 0.0, "SQ": 0.0, "RQ": 0.0, "TP": 0, "FP": 0, "FN": 1})
    assert out["All"] == pytest.approx({"PQ": (0.8 + 1 / 3 + 0) / 3, "SQ": (0.8 + 2 / 3 + 0) / 3,
                                        "RQ": (1 + 0.5 + 0) / 3, "n": 3})
    assert out["Things"] == pytest.approx({"PQ": (1 / 3) / 2, "SQ": (2 / 3) / 2, "RQ": 0.5 / 2, "n": 2})
    assert out["Stuff"] == pytest.approx({"PQ": 0.8, "SQ": 0.8, "RQ": 1.0, "n": 1})


def test_void_pixels_leave_the_predicted_area() -> None:
    # pixel   0..3     4..7   8..9
    # gt      circ(1)  void   void
    # pred    circ(1)  circ   sq(2)
    # circle: intersection 4, pred area 8 of which 4 void: IoU = 4 / ((8 - 4) + 4 - 4) = 1 -> TP
    #         (without the void rule it would be 4/8 = 0.5, no match).
    # square: unmatched, 2 of 2 pixels void (> 50%) -> not a FP: square is not counted at all.
    gt = _row([(1, 4)], 10)
    pred = _row([(1, 8), (2, 2)], 10)
    out = _pq(gt, _segs((1, CIRCLE)), pred, _segs((1, CIRCLE), (2, SQUARE)))
    assert set(out["per_class"]) == {"circle"}
    assert out["per_class"]["circle"] == pytest.approx(
        {"PQ": 1.0, "SQ": 1.0, "RQ": 1.0, "TP": 1, "FP": 0, "FN": 0})
    assert out["All"]["n"] == 1


def test_prediction_exactly_half_void_is_a_false_positive() -> None:
    # pixel   0..3    4..5     6..7      8..9
    # gt      sky(1)  sky      void      void
    # pred    sky(1)  tri(2)   tri(2)    circ(3)
    # sky: 4 / (4 + 6 - 4) = 2/3 -> TP, SQ 2/3. triangle: 2 of 4 pixels void = 50%, not more -> FP.
    # circle: 2 of 2 void -> ignored.
    gt = _row([(1, 6)], 10)
    pred = _row([(1, 4), (2, 4), (3, 2)], 10)
    out = _pq(gt, _segs((1, SKY)), pred, _segs((1, SKY), (2, TRIANGLE), (3, CIRCLE)))
    assert set(out["per_class"]) == {"sky", "triangle"}
    assert out["per_class"]["sky"]["SQ"] == pytest.approx(2 / 3)
    assert out["per_class"]["triangle"] == pytest.approx(
        {"PQ": 0.0, "SQ": 0.0, "RQ": 0.0, "TP": 0, "FP": 1, "FN": 0})
    assert out["All"]["PQ"] == pytest.approx((2 / 3 + 0) / 2)


def test_crowd_regions() -> None:
    # pixel   0..3          4..5          6..9      10..15
    # gt      tri crowd(1)  tri crowd(1)  tri(2)    sky(3)
    # pred    tri(1)        circ(2)       tri(3)    sky(4)
    # pred1 (triangle) lies on a triangle crowd region: never matched, and 100% crowd of its class -> no FP.
    # The crowd region is never a FN, though pixels 4..5 are predicted as something else.
    # pred2 (circle) lies on a crowd region of ANOTHER class -> FP for circle.
    # triangle gt2 = pred3 -> TP, IoU 1. sky -> TP, IoU 1.
    gt = _row([(1, 6), (2, 4), (3, 6)], 16)
    pred = _row([(1, 4), (2, 2), (3, 4), (4, 6)], 16)
    out = _pq(gt, _segs((1, TRIANGLE), (2, TRIANGLE), (3, SKY), crowd=(1,)),
              pred, _segs((1, TRIANGLE), (2, CIRCLE), (3, TRIANGLE), (4, SKY)))
    per = out["per_class"]
    assert per["triangle"] == pytest.approx({"PQ": 1.0, "SQ": 1.0, "RQ": 1.0, "TP": 1, "FP": 0, "FN": 0})
    assert per["circle"] == pytest.approx({"PQ": 0.0, "SQ": 0.0, "RQ": 0.0, "TP": 0, "FP": 1, "FN": 0})
    assert out["All"]["PQ"] == pytest.approx((1 + 0 + 1) / 3)
    assert out["Things"]["PQ"] == pytest.approx(0.5)


def test_crowd_and_void_add_up_for_the_false_positive_rule() -> None:
    # pixel   0..1          2..3   4      5..9
    # gt      tri crowd(1)  void   sky(2) sky
    # pred    tri(1)        tri    tri    sky(2)
    # pred1 triangle: 5 pixels, 2 crowd + 2 void = 80% > 50% -> no FP (neither alone would exceed 50%).
    gt = _row([(1, 2), (0, 2), (2, 6)], 10)
    pred = _row([(1, 5), (2, 5)], 10)
    out = _pq(gt, _segs((1, TRIANGLE), (2, SKY), crowd=(1,)), pred, _segs((1, TRIANGLE), (2, SKY)))
    # sky: 5 / (5 + 6 - 5) = 5/6 -> TP
    assert set(out["per_class"]) == {"sky"}
    assert out["per_class"]["sky"]["SQ"] == pytest.approx(5 / 6)


@pytest.mark.parametrize(("pred_segs", "message"), [
    (_segs((1, SKY)), "segments_info does not list"),            # id 2 is in the PNG only
    (_segs((1, SKY), (2, SKY), (3, SKY)), "does not contain"),  # id 3 is in the JSON only
    (_segs((1, SKY), (2, 99)), "category_id 99"),
])
def test_inconsistent_predictions_are_errors(pred_segs: list[dict[str, Any]], message: str) -> None:
    gt = _row([(1, 4)], 4)
    pred = _row([(1, 2), (2, 2)], 4)
    with pytest.raises(EdgesegError, match=message):
        match_image(gt, _segs((1, SKY)), pred, pred_segs, CATS)
