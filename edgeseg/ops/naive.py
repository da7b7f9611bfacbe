"""Slow, obviously-correct torch versions of the custom ops: the test oracles (ladder step 1).

Written as plain loops over RoIs, bins and samples (RoIAlign) and over classes and candidates
(NMS) straight from the definitions in docs/ops.md, in float32 like the kernels. The RoIAlign
oracle is differentiable with respect to the features; the torch op's backward uses it.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from edgeseg.ops.spec import load_spec

F32 = torch.float32


def _f(x: float) -> Tensor:
    return torch.tensor(x, dtype=F32)


def _round_half_away(x: float) -> int:
    """C's roundf: halves go away from zero (Python's round() goes to even)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def level_of(box: Tensor, canonical_scale: float, canonical_level: int, first: int, count: int) -> int:
    """The FPN level index (0 = finest) of one box, with the LevelMapper's float32 arithmetic."""
    if count == 1:
        return 0
    area = (box[2] - box[0]) * (box[3] - box[1])
    if not bool(area > 0):
        return 0
    k = torch.floor(canonical_level + torch.log2(torch.sqrt(area) / _f(canonical_scale)) + _f(1e-6))
    return int(min(max(float(k), first), first + count - 1)) - first


def _bilinear(plane: Tensor, y: float, x: float) -> Tensor:
    """Value of [C, H, W] at (y, x): zero far outside, edge-clamped near the border."""
    c, h, w = plane.shape
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return plane.new_zeros(c)
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= h - 1:
        y0 = y1 = h - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= w - 1:
        x0 = x1 = w - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = _f(y) - y0, _f(x) - x0
    hy, hx = 1 - ly, 1 - lx
    top = hy * hx * plane[:, y0, x0] + hy * lx * plane[:, y0, x1]
    return top + ly * hx * plane[:, y1, x0] + ly * lx * plane[:, y1, x1]


def _align_roi(plane: Tensor, box: Tensor, scale: float, p: dict[str, Any]) -> Tensor:
    off = 0.5 if p["aligned"] else 0.0
    x1, y1, x2, y2 = (box * _f(scale) - off).tolist()
    rw, rh = _f(x2) - _f(x1), _f(y2) - _f(y1)
    if not p["aligned"]:
        rw, rh = torch.clamp(rw, min=1.0), torch.clamp(rh, min=1.0)
    oh, ow = p["output_height"], p["output_width"]
    bin_h, bin_w = rh / oh, rw / ow
    sr = p["sampling_ratio"]
    gh = sr if sr > 0 else int(math.ceil(float(rh / oh)))
    gw = sr if sr > 0 else int(math.ceil(float(rw / ow)))
    out = plane.new_zeros(plane.shape[0], oh, ow)
    for ph in range(oh):
        for pw in range(ow):
            values = []
            for iy in range(gh):
                y = float(_f(y1) + ph * bin_h + (iy + 0.5) * bin_h / gh)
                for ix in range(gw):
                    x = float(_f(x1) + pw * bin_w + (ix + 0.5) * bin_w / gw)
                    values.append(_bilinear(plane, y, x))
            if not values:
                continue
            stacked = torch.stack(values)
            out[:, ph, pw] = stacked.max(0).values if p["mode"] == 1 else stacked.sum(0) / max(gh * gw, 1)
    return out


def _pool_roi(plane: Tensor, box: Tensor, scale: float, p: dict[str, Any]) -> Tensor:
    c, h, w = plane.shape
    x1, y1, x2, y2 = (_round_half_away(v) for v in (box * _f(scale)).tolist())
    rw, rh = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)
    oh, ow = p["output_height"], p["output_width"]
    bin_h, bin_w = _f(rh) / oh, _f(rw) / ow
    out = plane.new_zeros(c, oh, ow)
    for ph in range(oh):
        hs = min(max(int(math.floor(float(ph * bin_h))) + y1, 0), h)
        he = min(max(int(math.ceil(float((ph + 1) * bin_h))) + y1, 0), h)
        for pw in range(ow):
            ws = min(max(int(math.floor(float(pw * bin_w))) + x1, 0), w)
            we = min(max(int(math.ceil(float((pw + 1) * bin_w))) + x1, 0), w)
            if he > hs and we > ws:
                out[:, ph, pw] = plane[:, hs:he, ws:we].amax(dim=(1, 2))
    return out


def roi_align(features: list[Tensor], rois: Tensor, batch_idx: Tensor, **fields: Any) -> Tensor:
    """Multi-level RoIAlign / RoI Pool, one RoI, bin and sample at a time."""
    p = load_spec("roi_align").resolve(fields)
    scales = p["spatial_scales"]
    first = round(-math.log2(scales[0]))
    c = features[0].shape[1]
    pooled = []
    for r in range(rois.shape[0]):
        box = rois[r].to(F32)
        lvl = level_of(box, p["canonical_scale"], p["canonical_level"], first, len(features))
        plane = features[lvl][int(batch_idx[r])].to(F32)
        pool = _pool_roi if p["quantized"] else _align_roi
        pooled.append(pool(plane, box, scales[lvl], p))
    if not pooled:
        return features[0].new_zeros(0, c, p["output_height"], p["output_width"])
    return torch.stack(pooled).to(features[0].dtype)


def _iou(a: Tensor, b: Tensor) -> float:
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    w = torch.clamp(torch.minimum(a[2], b[2]) - torch.maximum(a[0], b[0]), min=0)
    h = torch.clamp(torch.minimum(a[3], b[3]) - torch.maximum(a[1], b[1]), min=0)
    inter = w * h
    return float(inter / (area_a + area_b - inter))


def _box(boxes: Tensor, b: int, key: int, c: int) -> Tensor:
    """Box of candidate `key` = n * C + c in image b (per-class boxes are [B, N, C, 4])."""
    i, j = divmod(key, c)
    return (boxes[b, i, j] if boxes.dim() == 4 else boxes[b, i]).to(F32)


def nms(boxes: Tensor, scores: Tensor, **fields: Any) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Per image: threshold, top-k, greedy NMS per class, merge by score (ties: lower n*C+c first)."""
    p = load_spec("nms").resolve(fields)
    batch, n, c = scores.shape
    k = p["max_detections"]
    per_class = boxes.dim() == 4
    det_boxes = torch.zeros(batch, k, 4, dtype=boxes.dtype)
    det_scores = torch.zeros(batch, k, dtype=scores.dtype)
    det_classes = torch.full((batch, k), -1, dtype=torch.int32)
    det_indices = torch.full((batch, k), -1, dtype=torch.int32)
    counts = torch.zeros(batch, dtype=torch.int32)
    score_thr, iou_thr = float(_f(p["score_threshold"])), float(_f(p["iou_threshold"]))  # compare in float32
    for b in range(batch):
        s = scores[b].to(F32)
        flat = s.reshape(-1).tolist()
        cands = [(v, key) for key, v in enumerate(flat) if v > score_thr]
        cands.sort(key=lambda t: (-t[0], t[1]))
        if p["pre_nms_top_k"] > 0:
            cands = cands[: p["pre_nms_top_k"]]
        kept_all = []
        for cls in range(c):
            kept: list[tuple[float, int]] = []
            for score, key in (t for t in cands if t[1] % c == cls):
                box = _box(boxes, b, key, c)
                if not any(_iou(_box(boxes, b, kk, c), box) > iou_thr for _, kk in kept):
                    kept.append((score, key))
            kept_all += kept
        kept_all.sort(key=lambda t: (-t[0], t[1]))
        for slot, (score, key) in enumerate(kept_all[:k]):
            i, j = divmod(key, c)
            det_boxes[b, slot] = boxes[b, i, j] if per_class else boxes[b, i]
            det_scores[b, slot] = score
            det_classes[b, slot] = j
            det_indices[b, slot] = i
        counts[b] = min(len(kept_all), k)
    return det_boxes, det_scores, det_classes, det_indices, counts
