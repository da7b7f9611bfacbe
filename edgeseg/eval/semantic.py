"""Semantic segmentation metrics: per-class IoU, mIoU and pixel accuracy from one confusion matrix.

Rules (also in docs/eval.md):
- ground-truth pixels labelled `IGNORE_LABEL` (255) are left out entirely, whatever was predicted;
- a prediction of 255 on a labelled pixel is a miss: it counts against that pixel's class, for no class;
- a class that appears neither in the ground truth nor in the predictions (over the whole set) has
  no IoU (0/0) and is left out of the mean; a class predicted but never present has IoU 0 and counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeseg.data.categories import CATEGORIES, IGNORE_LABEL
from edgeseg.errors import EdgesegError
from edgeseg.eval.readers import read_label_png
from edgeseg.eval.results import different_image_sets


def confusion_matrix(gt: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts [gt class, predicted class]; the extra last column collects predictions of IGNORE_LABEL.

    Shape (num_classes, num_classes + 1). Pixels whose ground truth is IGNORE_LABEL are dropped.
    """
    gt = gt.ravel().astype(np.int64)
    pred = pred.ravel().astype(np.int64)
    keep = gt != IGNORE_LABEL
    gt, pred = gt[keep], pred[keep]
    pred = np.where(pred == IGNORE_LABEL, num_classes, pred)
    counts = np.bincount(gt * (num_classes + 1) + pred, minlength=num_classes * (num_classes + 1))
    return counts.reshape(num_classes, num_classes + 1)


@dataclass
class SemanticMetrics:
    miou: float
    pixel_accuracy: float
    iou: dict[str, float]  # per class, only classes present in ground truth or predictions

    def as_dict(self) -> dict[str, object]:
        return {"mIoU": self.miou, "pixel_accuracy": self.pixel_accuracy, "per_class": dict(self.iou)}


def metrics_from_confusion(conf: np.ndarray, class_names: list[str]) -> SemanticMetrics:
    """IoU_c = TP / (TP + FP + FN) per class; mIoU over classes with a non-empty union."""
    num_classes = conf.shape[0]
    tp = np.diag(conf[:, :num_classes]).astype(np.float64)
    gt_total = conf.sum(axis=1)  # includes misses predicted as 255
    pred_total = conf[:, :num_classes].sum(axis=0)
    union = gt_total + pred_total - tp
    present = union > 0
    iou = np.divide(tp, union, out=np.zeros_like(tp), where=present)
    total = conf.sum()
    if total == 0:
        raise EdgesegError("every ground-truth pixel is IGNORE_LABEL (255): nothing to evaluate; "
                           "check the semantic ground truth")
    return SemanticMetrics(
        miou=float(iou[present].mean()),
        pixel_accuracy=float(tp.sum() / total),
        iou={class_names[c]: float(iou[c]) for c in range(num_classes) if present[c]},
    )


def _check_labels(labels: np.ndarray, num_classes: int, path: Path, what: str) -> None:
    bad = (labels >= num_classes) & (labels != IGNORE_LABEL)
    if bad.any():
        raise EdgesegError(f"{what} {path} has label {int(labels[bad][0])}, outside 0..{num_classes - 1} and "
                           f"{IGNORE_LABEL} (ignore): write the semantic index of each category")


def evaluate_semantic_folders(gt_dir: Path, pred_dir: Path | None) -> SemanticMetrics:
    """mIoU of the label PNGs in `pred_dir` against those of the same name in `gt_dir`.

    `pred_dir=None` scores the ground truth against itself (the `--pred gt` sanity check).
    """
    num_classes = len(CATEGORIES)
    gt_names = sorted(p.name for p in gt_dir.glob("*.png"))
    if not gt_names:
        raise EdgesegError(f"no ground-truth label PNGs in {gt_dir}: check --gt and --split")
    if pred_dir is not None:
        if not pred_dir.is_dir():
            raise EdgesegError(f"semantic predictions {pred_dir} is not a folder: pass a folder of label "
                               "PNGs named like the ground truth")
        pred_names = {p.name for p in pred_dir.glob("*.png")}
        foreign = sorted(pred_names - set(gt_names))
        if foreign:
            raise different_image_sets(str(pred_dir), len(foreign), foreign[0])
        missing = [n for n in gt_names if n not in pred_names]
        if missing:
            raise EdgesegError(f"{pred_dir} has no prediction for {len(missing)} ground-truth image(s) (e.g. "
                               f"{missing[0]}): predict every image of the split")
    conf = np.zeros((num_classes, num_classes + 1), dtype=np.int64)
    for name in gt_names:
        gt = read_label_png(gt_dir / name, "semantic ground truth")
        _check_labels(gt, num_classes, gt_dir / name, "semantic ground truth")
        if pred_dir is None:
            pred = gt
        else:
            pred = read_label_png(pred_dir / name, "semantic prediction")
            _check_labels(pred, num_classes, pred_dir / name, "semantic prediction")
            if pred.shape != gt.shape:
                raise EdgesegError(f"semantic prediction {pred_dir / name} is "
                                   f"{pred.shape[1]}x{pred.shape[0]} but the ground truth is "
                                   f"{gt.shape[1]}x{gt.shape[0]}: resize predictions "
                                   "to the image size (nearest neighbour)")
        conf += confusion_matrix(gt, pred, num_classes)
    return metrics_from_confusion(conf, [c.name for c in CATEGORIES])
