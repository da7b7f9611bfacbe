"""The C++ CPU twins (`edgeseg._C`) behind a checked numpy API, shared by the torch ops and ORT ops.

Torch-free. Inputs are validated here, so a wrong shape or dtype is an EdgesegError naming the
input, not a crash in C++. float16 inputs are computed in float32 and the outputs rounded back
(the CUDA kernels accumulate in float32 too).
"""
from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.ops.spec import load_spec

FLOAT_TYPES = (np.dtype(np.float32), np.dtype(np.float16))


def native() -> ModuleType:
    """The compiled extension, or an EdgesegError saying how to build it."""
    try:
        return importlib.import_module("edgeseg._C")
    except ImportError as exc:
        raise EdgesegError(
            f"the edgeseg C++ kernels (edgeseg._C) are not built ({exc}): reinstall edgeseg from source "
            "with a C++17 compiler and pybind11 (`pip install --no-build-isolation -e .`)"
        ) from None


def _float_array(op: str, name: str, value: Any, rank: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype not in FLOAT_TYPES:
        raise EdgesegError(f"{op}: input {name!r} must be float32 or float16, got {arr.dtype}: cast it first")
    if arr.ndim != rank:
        raise EdgesegError(f"{op}: input {name!r} must have rank {rank}, got shape {arr.shape}")
    return arr


def roi_align(
    features: Sequence[np.ndarray], rois: np.ndarray, batch_idx: np.ndarray, **fields: Any
) -> np.ndarray:
    """pooled [R, C, output_height, output_width] in the features' dtype (see docs/ops.md)."""
    p = load_spec("roi_align").resolve(fields)
    if not features:
        raise EdgesegError("roi_align: needs at least one feature map")
    maps = [_float_array("roi_align", f"features[{i}]", f, 4) for i, f in enumerate(features)]
    out_dtype = maps[0].dtype
    batch, channels = maps[0].shape[:2]
    for i, f in enumerate(maps):
        if f.shape[:2] != (batch, channels) or f.dtype != out_dtype:
            raise EdgesegError(
                f"roi_align: features[{i}] is {f.dtype}{list(f.shape)} but features[0] is "
                f"{out_dtype}{list(maps[0].shape)}: all levels need the same dtype, batch and channels"
            )
    if len(p["spatial_scales"]) != len(maps):
        raise EdgesegError(
            f"roi_align: {len(maps)} feature maps but {len(p['spatial_scales'])} spatial_scales: "
            "give one scale per level"
        )
    if any(not s > 0 for s in p["spatial_scales"]):
        raise EdgesegError(f"roi_align: spatial_scales must be positive, got {p['spatial_scales']}")
    scales = np.float32(p["spatial_scales"])  # as the plugin's check_fields sees them (float32)
    if np.any(np.abs(scales[1:] - scales[:-1] * np.float32(0.5)) > np.float32(1e-6) * scales[:-1] * 0.5):
        raise EdgesegError(
            f"roi_align: spatial_scales must halve level by level (finest first, e.g. 0.25, 0.125), "
            f"got {p['spatial_scales']}: the FPN level lookup assumes it"
        )
    if p["output_height"] < 1 or p["output_width"] < 1:
        raise EdgesegError("roi_align: output_height and output_width must be >= 1")
    if p["mode"] not in (0, 1):
        raise EdgesegError(f"roi_align: mode must be 0 (avg) or 1 (max), got {p['mode']}")
    boxes = _float_array("roi_align", "rois", rois, 2)
    if boxes.shape[1] != 4:
        raise EdgesegError(f"roi_align: rois must be [R, 4] (x1, y1, x2, y2), got shape {boxes.shape}")
    idx = np.asarray(batch_idx)
    if idx.dtype.kind not in "iu" or idx.shape != (boxes.shape[0],):
        raise EdgesegError(
            f"roi_align: batch_idx must be an integer array of shape [{boxes.shape[0]}], "
            f"got {idx.dtype}{list(idx.shape)}"
        )
    if idx.size and (idx.min() < 0 or idx.max() >= batch):
        raise EdgesegError(
            f"roi_align: batch_idx must be in [0, {batch}), got values {idx.min()}..{idx.max()}"
        )
    pooled = native().roi_align(
        [np.ascontiguousarray(f, dtype=np.float32) for f in maps],
        np.ascontiguousarray(boxes, dtype=np.float32),
        np.ascontiguousarray(idx, dtype=np.int32),
        p["output_height"],
        p["output_width"],
        p["sampling_ratio"],
        p["aligned"],
        p["mode"],
        p["quantized"],
        p["spatial_scales"],
        p["canonical_scale"],
        p["canonical_level"],
    )
    return pooled.astype(out_dtype, copy=False)


def nms(boxes: np.ndarray, scores: np.ndarray, **fields: Any) -> tuple[np.ndarray, ...]:
    """(det_boxes, det_scores, det_classes, det_indices, num_detections), see docs/ops.md."""
    p = load_spec("nms").resolve(fields)
    s = _float_array("nms", "scores", scores, 3)
    b = np.asarray(boxes)
    if b.dtype not in FLOAT_TYPES:
        raise EdgesegError(f"nms: input 'boxes' must be float32 or float16, got {b.dtype}: cast it first")
    batch, n, c = s.shape
    if b.shape not in ((batch, n, 4), (batch, n, c, 4)):
        raise EdgesegError(
            f"nms: boxes must be [{batch}, {n}, 4] or [{batch}, {n}, {c}, 4] to match scores "
            f"{list(s.shape)}, got {list(b.shape)}"
        )
    if p["max_detections"] < 0:
        raise EdgesegError(f"nms: max_detections must be >= 0, got {p['max_detections']}")
    det_boxes, det_scores, classes, indices, count = native().nms(
        np.ascontiguousarray(b, dtype=np.float32),
        np.ascontiguousarray(s, dtype=np.float32),
        p["score_threshold"],
        p["iou_threshold"],
        p["pre_nms_top_k"],
        p["max_detections"],
    )
    det_boxes = det_boxes.astype(b.dtype, copy=False)
    return det_boxes, det_scores.astype(s.dtype, copy=False), classes, indices, count
