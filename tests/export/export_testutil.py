"""Helpers for the export tests: ShapesWorld frames, models with spread-out scores, matching."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from edgeseg.data.shapes import generate_dataset
from edgeseg.models import zoo

RCNN_NAMES = ["shapes_rcnn", "faster_rcnn", "mask_rcnn", "keypoint_rcnn", "panoptic_rcnn",
              "faster_rcnn_roipool", "rcnn_baseline"]
FCN_NAMES = ["fcn_nearest", "fcn_bed_of_nails", "fcn_bilinear", "fcn_bicubic", "fcn_max_unpool",
             "fcn_transposed"]


def build(name: str, seed: int = 0) -> tuple[Any, Any]:
    """A zoo architecture with random weights whose class scores are spread out (not all ~1/C)."""
    torch.manual_seed(seed)
    model, info = zoo.build(name)
    with torch.no_grad():
        for key, param in model.named_parameters():
            if key.endswith("cls_score.weight") or key.endswith("rpn.head.cls_logits.weight"):
                param.mul_(8.0)
    return model.eval(), info


def dataset(root: Path, count: int) -> tuple[np.ndarray, dict[str, Any]]:
    """`count` ShapesWorld val images [N,320,320,3] uint8 and their COCO instances ground truth."""
    generate_dataset(root, "val", count, size=320, seed=3, progress=False)
    gt = json.loads((root / "annotations" / "instances_val.json").read_text())
    images = np.stack([np.asarray(Image.open(root / "images" / "val" / img["file_name"]).convert("RGB"))
                       for img in gt["images"]])
    return images, gt


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of xyxy boxes [N,4] x [M,4] (plain numpy, independent of the code under test)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(2)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-12)


def match(boxes_a: np.ndarray, classes_a: np.ndarray, boxes_b: np.ndarray, classes_b: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """For each detection of A, the index of the same-class detection of B with the best IoU, and that IoU.

    Matching by IoU instead of by slot keeps equal-score detections (which may swap slots) comparable.
    """
    if len(boxes_a) == 0:
        return np.zeros(0, int), np.zeros(0)
    iou = box_iou(boxes_a, boxes_b) if len(boxes_b) else np.zeros((len(boxes_a), 1))
    if len(boxes_b):
        iou = np.where(classes_a[:, None] == classes_b[None, :], iou, 0.0)
    return iou.argmax(1), iou.max(1)
