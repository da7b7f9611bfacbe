"""The two hard operations of a deploy graph, in two interchangeable spellings.

`EdgesegOps` calls the custom ops `edgeseg::roi_align` / `edgeseg::nms` (one node each in the
`edgeseg` ONNX domain; TensorRT plugins later). `OnnxOps` builds the same results from standard
ONNX ops only (RoiAlign / MaxRoiPool per FPN level plus a per-box level selection;
NonMaxSuppression plus scatters, a top-k and gathers for the fixed-size padded outputs), for
runtimes without our ops and to cross-check the custom ones. Both return exactly the NMS contract of
the spec: boxes [B,K,4], scores [B,K], classes [B,K] int32 (-1 padded), indices [B,K] int32
(-1 padded), num_detections [B] int32.
"""
from __future__ import annotations

import math
from typing import Protocol

import torch
import torchvision
from torch import Tensor

NmsOutputs = tuple[Tensor, Tensor, Tensor, Tensor, Tensor]


class DeployOps(Protocol):
    name: str

    def roi_align(self, features: list[Tensor], rois: Tensor, batch_idx: Tensor, output_size: int,
                  sampling_ratio: int, aligned: bool, quantized: bool, spatial_scales: list[float],
                  canonical_scale: float = 224.0, canonical_level: int = 4) -> Tensor: ...

    def nms(self, boxes: Tensor, scores: Tensor, score_threshold: float, iou_threshold: float,
            max_detections: int, pre_nms_top_k: int) -> NmsOutputs: ...


class EdgesegOps:
    """One edgeseg::RoIAlign node for all FPN levels, one edgeseg::NMS node per NMS."""

    name = "edgeseg"

    def roi_align(self, features: list[Tensor], rois: Tensor, batch_idx: Tensor, output_size: int,
                  sampling_ratio: int, aligned: bool, quantized: bool, spatial_scales: list[float],
                  canonical_scale: float = 224.0, canonical_level: int = 4) -> Tensor:
        from edgeseg.ops import torch_ops

        return torch_ops.roi_align(
            features, rois, batch_idx.to(torch.int32), output_height=output_size, output_width=output_size,
            sampling_ratio=sampling_ratio, aligned=int(aligned), mode=0, quantized=int(quantized),
            spatial_scales=[float(s) for s in spatial_scales], canonical_scale=float(canonical_scale),
            canonical_level=int(canonical_level))

    def nms(self, boxes: Tensor, scores: Tensor, score_threshold: float, iou_threshold: float,
            max_detections: int, pre_nms_top_k: int) -> NmsOutputs:
        from edgeseg.ops import torch_ops

        return torch_ops.nms(boxes, scores, score_threshold=float(score_threshold),
                             iou_threshold=float(iou_threshold), pre_nms_top_k=int(pre_nms_top_k),
                             max_detections=int(max_detections))


def fpn_levels(rois: Tensor, first: int, count: int, canonical_scale: float, canonical_level: int) -> Tensor:
    """Level index (0 = finest) of each box: floor(k0 + log2(sqrt(area) / s0) + 1e-6), clamped.

    Zero or negative area goes to the finest level, as in the edgeseg op (docs/ops.md).
    """
    area = (rois[:, 2] - rois[:, 0]) * (rois[:, 3] - rois[:, 1])
    safe = torch.clamp(area, min=1e-12)
    k = torch.floor(canonical_level + torch.log2(torch.sqrt(safe) / canonical_scale) + 1e-6)
    k = torch.clamp(k, min=first, max=first + count - 1) - first
    return torch.where(area > 0, k, torch.zeros_like(k)).to(torch.int64)


class OnnxOps:
    """Standard ONNX ops only: per-level RoiAlign + level selection, NonMaxSuppression + gathers."""

    name = "onnx"

    def roi_align(self, features: list[Tensor], rois: Tensor, batch_idx: Tensor, output_size: int,
                  sampling_ratio: int, aligned: bool, quantized: bool, spatial_scales: list[float],
                  canonical_scale: float = 224.0, canonical_level: int = 4) -> Tensor:
        boxes5 = torch.cat([batch_idx.to(rois.dtype)[:, None], rois], dim=1)
        first = round(-math.log2(spatial_scales[0]))
        levels = fpn_levels(rois, first, len(features), canonical_scale, canonical_level)
        out: Tensor | None = None
        for level, (feature, scale) in enumerate(zip(features, spatial_scales, strict=True)):
            if quantized:
                pooled = torchvision.ops.roi_pool(feature, boxes5, output_size, scale)
            else:
                pooled = torchvision.ops.roi_align(feature, boxes5, output_size, scale, sampling_ratio,
                                                   aligned)
            out = pooled if out is None else torch.where((levels == level)[:, None, None, None], pooled, out)
        assert out is not None
        return out

    def nms(self, boxes: Tensor, scores: Tensor, score_threshold: float, iou_threshold: float,
            max_detections: int, pre_nms_top_k: int) -> NmsOutputs:
        """As EdgesegOps.nms, except that every passing candidate enters NMS (ONNX NonMaxSuppression
        has no pre-NMS top-k; a TopK of 16384 would break TensorRT's K < 3840): the two agree
        whenever at most `pre_nms_top_k` candidates pass the score threshold."""
        batch, n, c = scores.shape
        total = n * c
        if boxes.dim() == 3:
            boxes = boxes[:, :, None, :].expand(batch, n, c, 4)
        flat_boxes = boxes.reshape(batch, total, 4)
        flat_scores = scores.reshape(batch, total)
        valid = flat_scores > score_threshold
        # one NMS over every (image, class) group: shift each group to its own region of the plane
        group = (torch.arange(batch, device=scores.device)[:, None] * c
                 + torch.arange(total, device=scores.device)[None, :] % c).to(boxes.dtype)
        low, high = flat_boxes.min(), flat_boxes.max()
        shifted = flat_boxes - low + (group * (high - low + 1))[:, :, None]
        # candidates under the threshold must not suppress: zero-area boxes suppress nothing
        shifted = torch.where(valid[:, :, None], shifted, torch.zeros_like(shifted))
        ranked = torch.where(valid, flat_scores, torch.full_like(flat_scores, -1.0))
        keep = torchvision.ops.nms(shifted.reshape(-1, 4), ranked.reshape(-1), iou_threshold)
        kept = torch.zeros(batch * total, dtype=scores.dtype, device=scores.device)
        kept = kept.scatter(0, keep, torch.ones_like(keep, dtype=scores.dtype)).reshape(batch, total) > 0.5
        kept = kept & valid
        k = min(max_detections, total)
        top, order = torch.where(kept, flat_scores, torch.full_like(flat_scores, -3.0e38)).topk(k, dim=1)
        ok = torch.gather(kept, 1, order)
        det_boxes = torch.gather(flat_boxes, 1, order[:, :, None].expand(batch, k, 4))
        det_boxes = torch.where(ok[:, :, None], det_boxes, torch.zeros_like(det_boxes))
        det_scores = torch.where(ok, top, torch.zeros_like(top))
        minus_one = torch.full_like(order, -1)
        det_classes = torch.where(ok, order % c, minus_one).to(torch.int32)
        det_indices = torch.where(ok, torch.div(order, c, rounding_mode="floor"), minus_one).to(torch.int32)
        num = ok.to(torch.int32).sum(1).to(torch.int32)
        if k < max_detections:  # fewer candidates than slots: pad to the contract's fixed K
            pad = max_detections - k
            det_boxes = torch.cat([det_boxes, det_boxes.new_zeros(batch, pad, 4)], 1)
            det_scores = torch.cat([det_scores, det_scores.new_zeros(batch, pad)], 1)
            det_classes = torch.cat([det_classes, det_classes.new_full((batch, pad), -1)], 1)
            det_indices = torch.cat([det_indices, det_indices.new_full((batch, pad), -1)], 1)
        return det_boxes, det_scores, det_classes, det_indices, num


def get_ops(name: str) -> DeployOps:
    """The ops spelling for `--ops edgeseg|onnx`."""
    from edgeseg.errors import EdgesegError

    if name == "edgeseg":
        return EdgesegOps()
    if name == "onnx":
        return OnnxOps()
    raise EdgesegError(f"unknown --ops {name!r}: use 'edgeseg' (custom nodes) or 'onnx' (standard ops only)")
