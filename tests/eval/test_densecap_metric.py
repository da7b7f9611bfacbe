"""Dense-captioning mAP on hand-made cases whose values are worked out in the comments."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeseg.errors import EdgesegError
from edgeseg.eval.densecap import Region, average_precision, evaluate_regions, token_f1
from edgeseg.eval.layout import GroundTruth
from edgeseg.eval.tasks import evaluate_task

GT = [Region(1, (0, 0, 10, 10), "small red circle"), Region(1, (20, 20, 40, 40), "large blue star"),
      Region(2, (5, 5, 25, 25), "person in red standing")]


def pred(r: Region, score: float, phrase: str | None = None,
         box: tuple[float, float, float, float] | None = None) -> Region:
    return Region(r.image_id, box or r.box, r.phrase if phrase is None else phrase, score)


def test_token_f1_by_hand() -> None:
    assert token_f1("small red circle", "small red circle") == 1.0
    assert token_f1("circle red small", "small red circle") == 1.0  # a bag of words: order is free
    # 2 shared of 3 predicted and 4 reference words: P = 2/3, R = 1/2, F1 = 2PR/(P+R) = 4/7
    assert token_f1("small red star", "small red circle above") == pytest.approx(4 / 7)
    # counts are clipped: "red red" shares one "red" with "red circle": P = 1/2, R = 1/2
    assert token_f1("red red", "red circle") == pytest.approx(0.5)
    assert token_f1("", "red circle") == 0.0
    assert token_f1("blue star", "red circle") == 0.0


def test_average_precision_by_hand() -> None:
    # ranks: miss, hit, hit over 4 regions -> precision 0, 1/2, 2/3 at recall 0, 1/4, 1/2;
    # envelope 2/3 over both recall steps of 1/4: AP = 2/3 * 1/2 = 1/3
    assert average_precision([False, True, True], 4) == pytest.approx(1 / 3)
    assert average_precision([], 3) == 0.0


def test_perfect_predictions_score_one() -> None:
    out = evaluate_regions([pred(r, 0.9) for r in GT], GT)
    assert out["mAP"] == pytest.approx(1.0)
    assert out["exact_phrase_accuracy"] == 1.0 and out["matched"] == 3


def test_no_predictions_score_zero() -> None:
    out = evaluate_regions([], GT)
    assert out["mAP"] == 0.0 and out["detection_mAP"] == 0.0 and out["exact_phrase_accuracy"] == 0.0


def test_wrong_phrase_right_box_counts_at_language_threshold_zero_only() -> None:
    # F1 = 0 with every reference: a hit only in the 5 (IoU, lang=0) cells of the 25 -> mAP 5/25
    out = evaluate_regions([pred(r, 0.9, phrase="black square") for r in GT], GT)
    assert out["mAP"] == pytest.approx(0.2)
    assert out["detection_mAP"] == pytest.approx(1.0)
    assert out["exact_phrase_accuracy"] == 0.0


def test_right_phrase_wrong_box_scores_zero() -> None:
    out = evaluate_regions([pred(r, 0.9, box=(100, 100, 120, 120)) for r in GT], GT)
    assert out["mAP"] == 0.0 and out["matched"] == 0


def test_partial_box_and_phrase_by_hand() -> None:
    gt = [Region(1, (0, 0, 10, 10), "small red circle above a blue star")]
    # box (0,0,10,4.5): IoU = 45/100 passes IoU 0.3, 0.4 (2 of 5); phrase "small red circle":
    # P = 1, R = 3/7, F1 = 0.6 passes lang 0, 0.25, 0.5 (3 of 5) -> 6 of 25 cells have AP 1
    out = evaluate_regions([Region(1, (0, 0, 10, 4.5), "small red circle", 0.8)], gt)
    assert out["mAP"] == pytest.approx(6 / 25)
    assert out["matched"] == 0  # IoU 0.45 < 0.5: not in the phrase accuracy


def test_duplicate_detection_is_a_false_positive() -> None:
    gt = [GT[0]]
    # first (score 0.9) wrong phrase takes the region; the right-phrase duplicate comes too late.
    # lang 0: hits [T, F] -> AP 1; lang > 0: hits [F, F] -> AP 0; mAP = 5/25
    preds = [pred(GT[0], 0.9, phrase="blue star"), pred(GT[0], 0.5)]
    assert evaluate_regions(preds, gt)["mAP"] == pytest.approx(0.2)


def test_cli_task_reads_the_files(tmp_path: Path) -> None:
    (tmp_path / "annotations").mkdir()
    doc = {"annotations": [{"image_id": 1, "regions": [{"bbox": [0, 0, 10, 10], "caption": "red circle"}]}]}
    (tmp_path / "annotations" / "captions_val.json").write_text(json.dumps(doc))
    results = [{"image_id": 1, "bbox": [0, 0, 10, 10], "score": 0.5, "caption": "red circle"}]
    (tmp_path / "densecap.json").write_text(json.dumps(results))
    gt = GroundTruth(tmp_path, "val")
    assert evaluate_task(gt, "densecap", tmp_path)["mAP"] == pytest.approx(1.0)
    (tmp_path / "densecap.json").write_text(json.dumps([{"image_id": 1, "bbox": [0, 0, 10], "score": 1,
                                                         "caption": "x"}]))
    with pytest.raises(EdgesegError, match="bbox must be"):
        evaluate_task(gt, "densecap", tmp_path)
