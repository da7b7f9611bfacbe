"""mIoU and pixel accuracy on hand-made label maps, and the confusion matrix against a naive loop."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgeseg.data.categories import CATEGORIES, IGNORE_LABEL
from edgeseg.errors import EdgesegError
from edgeseg.eval.semantic import confusion_matrix, evaluate_semantic_folders, metrics_from_confusion

C = len(CATEGORIES)
NAMES = [c.name for c in CATEGORIES]
X = IGNORE_LABEL


def _metrics(gt: list[list[int]], pred: list[list[int]]):
    conf = confusion_matrix(np.array(gt, np.uint8), np.array(pred, np.uint8), C)
    return metrics_from_confusion(conf, NAMES)


def test_confusion_matrix_matches_a_naive_loop() -> None:
    rng = np.random.default_rng(0)
    gt = rng.integers(0, C, (37, 23)).astype(np.uint8)
    gt[rng.random(gt.shape) < 0.2] = X
    pred = rng.integers(0, C, gt.shape).astype(np.uint8)
    pred[rng.random(gt.shape) < 0.1] = X
    expected = np.zeros((C, C + 1), np.int64)
    for g, p in zip(gt.ravel(), pred.ravel(), strict=True):
        if g != X:
            expected[g, C if p == X else p] += 1
    np.testing.assert_array_equal(confusion_matrix(gt, pred, C), expected)


def test_hand_computed_miou() -> None:
    gt = [[0, 0, 1, 1],
          [0, 0, 1, 1],
          [2, 2, X, X],
          [2, 2, 2, 2]]
    pred = [[0, 1, 1, 1],
            [0, 0, 1, 1],
            [2, 2, 0, 1],   # the 0 and 1 under ignored ground truth do not count
            [2, 2, 1, X]]   # a 255 prediction on a class-2 pixel is a miss
    # 14 labelled pixels.
    # class 0: TP 3, FP 0, FN 1 (predicted 1)           -> IoU 3/4
    # class 1: TP 4, FP 2 (one gt 0, one gt 2), FN 0     -> IoU 4/6
    # class 2: TP 4, FP 0, FN 2 (one predicted 1, one 255) -> IoU 4/6
    # classes 3..9 appear nowhere: left out of the mean.
    m = _metrics(gt, pred)
    assert m.iou == pytest.approx({NAMES[0]: 3 / 4, NAMES[1]: 4 / 6, NAMES[2]: 4 / 6})
    assert m.miou == pytest.approx((3 / 4 + 4 / 6 + 4 / 6) / 3)
    assert m.pixel_accuracy == pytest.approx((3 + 4 + 4) / 14)


def test_class_predicted_but_absent_counts_as_zero() -> None:
    # class 0: TP 3, FN 1 -> 3/4; class 3 predicted once, never present: TP 0, FP 1 -> IoU 0, and it counts.
    m = _metrics([[0, 0], [0, 0]], [[0, 0], [0, 3]])
    assert m.iou == pytest.approx({NAMES[0]: 3 / 4, NAMES[3]: 0.0})
    assert m.miou == pytest.approx((3 / 4 + 0) / 2)
    assert m.pixel_accuracy == pytest.approx(3 / 4)


def test_all_ignored_is_an_error() -> None:
    with pytest.raises(EdgesegError, match="IGNORE_LABEL"):
        _metrics([[X, X]], [[0, 1]])


def _write(folder: Path, name: str, labels: list[list[int]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.array(labels, np.uint8)).save(folder / name)


def test_folders_accumulate_one_matrix_over_images(tmp_path: Path) -> None:
    # image a: gt [0 0], pred [0 1]; image b: gt [1 1], pred [1 1].
    # Summed: class 0 TP 1, FN 1 -> 1/2; class 1 TP 2 (image b), FP 1 (image a) -> 2/3.
    # (Averaging per-image mIoUs would give ((1/2 + 0)/2 + 1)/2 = 0.625 instead.)
    _write(tmp_path / "gt", "a.png", [[0, 0]])
    _write(tmp_path / "gt", "b.png", [[1, 1]])
    _write(tmp_path / "pred", "a.png", [[0, 1]])
    _write(tmp_path / "pred", "b.png", [[1, 1]])
    m = evaluate_semantic_folders(tmp_path / "gt", tmp_path / "pred")
    assert m.miou == pytest.approx((1 / 2 + 2 / 3) / 2)


@pytest.mark.parametrize(("pred_files", "message"), [
    ({"a.png": [[0, 0]]}, "no prediction for 1"),
    ({"a.png": [[0, 0]], "b.png": [[1, 1]], "z.png": [[1, 1]]}, "different image sets"),
    ({"a.png": [[0, 0, 0]], "b.png": [[1, 1]]}, "resize predictions"),
    ({"a.png": [[0, 42]], "b.png": [[1, 1]]}, "label 42"),
])
def test_folder_errors(tmp_path: Path, pred_files: dict[str, list[list[int]]], message: str) -> None:
    _write(tmp_path / "gt", "a.png", [[0, 0]])
    _write(tmp_path / "gt", "b.png", [[1, 1]])
    for name, labels in pred_files.items():
        _write(tmp_path / "pred", name, labels)
    with pytest.raises(EdgesegError, match=message):
        evaluate_semantic_folders(tmp_path / "gt", tmp_path / "pred")
