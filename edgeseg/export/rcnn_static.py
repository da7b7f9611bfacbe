"""torchvision's detection pipeline rewritten into static shapes (the heart of a deploy graph).

Eager torchvision loops over images and keeps variable-length lists (boolean filters, per-image
NMS, `boxes[keep]`). Here every image of the batch keeps a fixed number of slots plus a validity
mask, and the data-dependent steps become ops with fixed-size outputs:
- RPN: per-level top-k of the objectness logits (static: the anchor count per level is known),
  decode, clip, then one class-aware NMS with the FPN level as the class (torchvision's batched
  NMS by level), keeping `post_nms_top_n` proposals per image, padded, with a count;
- RoI pooling: one multi-level RoIAlign (or quantized RoI Pool) call for all levels;
- detections: per-class boxes [B,P,C,4] and softmax scores into one class-aware NMS with
  `detections_per_img` slots; its indices pick the kept boxes for the mask and keypoint heads.
Small or padded candidates get a score under the NMS threshold instead of being removed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgeseg.export.deploy_ops import DeployOps
from edgeseg.surgery.plugins import nms_cap


@dataclass(frozen=True)
class Pooler:
    """How one RoI pooler of the eager model pools: what the multi-level op needs to do the same."""

    featmap_names: list[str]
    output_size: int
    sampling_ratio: int
    aligned: bool
    quantized: bool
    spatial_scales: list[float]
    canonical_scale: float
    canonical_level: int


def describe_pooler(pooler: Any, features: dict[str, Tensor], resized_hw: tuple[int, int]) -> Pooler:
    """Read a MultiScaleRoIAlign (or our MultiScaleRoIPool) and compute its level scales as it would."""
    names = list(pooler.featmap_names)
    scales = [2.0 ** round(math.log2(features[n].shape[-2] / resized_hw[0])) for n in names]
    out = pooler.output_size
    size = int(out[0] if isinstance(out, (tuple, list)) else out)
    quantized = not hasattr(pooler, "sampling_ratio")
    return Pooler(names, size, int(getattr(pooler, "sampling_ratio", 0)),
                  bool(getattr(pooler, "aligned", False)), quantized, scales,
                  float(getattr(pooler, "canonical_scale", 224)), int(getattr(pooler, "canonical_level", 4)))


def pool(ops: DeployOps, spec: Pooler, features: dict[str, Tensor], boxes: Tensor) -> Tensor:
    """Pool boxes [B,K,4] -> [B*K, C, S, S] with one multi-level op call."""
    batch, k = boxes.shape[:2]
    batch_idx = torch.arange(batch, device=boxes.device)[:, None].expand(batch, k).reshape(-1)
    return ops.roi_align([features[n] for n in spec.featmap_names], boxes.reshape(-1, 4), batch_idx,
                         spec.output_size, spec.sampling_ratio, spec.aligned, spec.quantized,
                         spec.spatial_scales, spec.canonical_scale, spec.canonical_level)


def clip(boxes: Tensor, hw: tuple[int, int]) -> Tensor:
    """Clamp xyxy boxes (last axis) to an image of size hw, as box_ops.clip_boxes_to_image."""
    x = boxes[..., 0::2].clamp(min=0, max=hw[1])
    y = boxes[..., 1::2].clamp(min=0, max=hw[0])
    return torch.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], dim=-1)


def big_enough(boxes: Tensor, min_size: float) -> Tensor:
    """remove_small_boxes as a mask: both sides >= min_size."""
    return ((boxes[..., 2] - boxes[..., 0]) >= min_size) & ((boxes[..., 3] - boxes[..., 1]) >= min_size)


class StaticRPN(nn.Module):
    """RegionProposalNetwork (eval) with a fixed number of proposals per image."""

    def __init__(self, rpn: Any, anchors: Tensor, anchors_per_level: list[int],
                 resized_hw: tuple[int, int]) -> None:
        super().__init__()
        self.head = rpn.head
        self.box_coder = rpn.box_coder
        self.anchors: Tensor
        self.register_buffer("anchors", anchors)
        self.anchors_per_level = anchors_per_level
        self.pre_nms_top_n = int(rpn._pre_nms_top_n["testing"])
        self.post_nms_top_n = int(rpn._post_nms_top_n["testing"])
        self.nms_thresh = float(rpn.nms_thresh)
        self.score_thresh = float(rpn.score_thresh)
        self.min_size = float(rpn.min_size)
        self.resized_hw = resized_hw

    def forward(self, ops: DeployOps, features: list[Tensor]) -> tuple[Tensor, Tensor]:
        """Proposals [B,P,4] (resized-image pixels, best first) and their validity [B,P]."""
        logits, deltas = self.head(features)
        batch = features[0].shape[0]
        flat_logits = torch.cat([o.permute(0, 2, 3, 1).reshape(batch, -1) for o in logits], 1)
        flat_deltas = torch.cat([d.view(batch, -1, 4, d.shape[-2], d.shape[-1]).permute(0, 3, 4, 1, 2)
                                 .reshape(batch, -1, 4) for d in deltas], 1)
        picks, levels, start = [], [], 0
        for level, count in enumerate(self.anchors_per_level):
            k = min(self.pre_nms_top_n, count)
            _, idx = flat_logits[:, start:start + count].topk(k, dim=1)
            picks.append(idx + start)
            levels.append(torch.full((k,), level, dtype=torch.int64, device=idx.device))
            start += count
        idx = torch.cat(picks, 1)
        n = idx.shape[1]
        top_logits = torch.gather(flat_logits, 1, idx)
        top_deltas = torch.gather(flat_deltas, 1, idx[:, :, None].expand(batch, n, 4))
        top_anchors = self.anchors[idx.reshape(-1)]
        boxes = self.box_coder.decode_single(top_deltas.reshape(-1, 4), top_anchors).reshape(batch, n, 4)
        boxes = clip(boxes, self.resized_hw)
        prob = torch.sigmoid(top_logits)
        keep = big_enough(boxes, self.min_size) & (prob >= self.score_thresh)
        # the FPN level is the NMS class: a candidate scores only in its own level's column
        onehot = F.one_hot(torch.cat(levels), len(self.anchors_per_level)).to(torch.bool)[None]
        column = prob[:, :, None]
        scores = torch.where(onehot & keep[:, :, None], column, torch.full_like(column, -1.0))
        # n candidates in an [n, levels] layout: at most n pass, so a cap of n is exact
        _, _, _, indices, num = ops.nms(boxes, scores, -0.5, self.nms_thresh, self.post_nms_top_n,
                                        nms_cap(n))
        picked = indices.clamp(min=0).to(torch.int64)
        proposals = torch.gather(boxes, 1, picked[:, :, None].expand(batch, self.post_nms_top_n, 4))
        valid = torch.arange(self.post_nms_top_n, device=num.device)[None, :] < num[:, None]
        return torch.where(valid[:, :, None], proposals, torch.zeros_like(proposals)), valid


class StaticDetector(nn.Module):
    """RoIHeads.postprocess_detections as one class-aware NMS over per-class boxes."""

    def __init__(self, box_coder: Any, score_thresh: float, nms_thresh: float, detections: int,
                 clip_hw: tuple[int, int]) -> None:
        super().__init__()
        self.box_coder = box_coder
        self.score_thresh, self.nms_thresh, self.detections = score_thresh, nms_thresh, detections
        self.clip_hw = clip_hw

    def forward(self, ops: DeployOps, class_logits: Tensor, box_regression: Tensor, proposals: Tensor,
                valid: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """boxes [B,K,4], scores [B,K], labels [B,K] int32 (0 = empty slot), indices [B,K] int32, num [B]."""
        batch, p = proposals.shape[:2]
        c = class_logits.shape[-1]
        decoded = self.box_coder.decode_single(box_regression, proposals.reshape(-1, 4))
        boxes = clip(decoded.reshape(batch, p, c, 4)[:, :, 1:], self.clip_hw)
        scores = F.softmax(class_logits, -1).reshape(batch, p, c)[:, :, 1:]
        usable = big_enough(boxes, 1e-2) & valid[:, :, None]
        scores = torch.where(usable, scores, torch.zeros_like(scores))
        det_boxes, det_scores, det_classes, det_indices, num = ops.nms(
            boxes, scores, self.score_thresh, self.nms_thresh, self.detections, nms_cap(p * (c - 1)))
        labels = torch.where(det_classes >= 0, det_classes + 1, torch.zeros_like(det_classes))
        return det_boxes, det_scores, labels.to(torch.int32), det_indices, num


def heatmaps_to_keypoints(heatmaps: Tensor, boxes: Tensor) -> Tensor:
    """Per-box heatmaps [B,K,J,Hh,Wh] -> keypoints [B,K,J,3] (x, y, peak value), box pixels.

    The heatmap spans the box; the argmax cell's centre is the keypoint (runtime.postprocess's
    decode_heatmaps rule), with box sides clamped to >= 1 like torchvision.
    """
    b, k, j, hh, hw = heatmaps.shape
    flat = heatmaps.reshape(b, k, j, hh * hw)
    peak, idx = flat.max(dim=3)
    iy = torch.div(idx, hw, rounding_mode="floor").to(heatmaps.dtype)
    ix = (idx - torch.div(idx, hw, rounding_mode="floor") * hw).to(heatmaps.dtype)
    x0, y0 = boxes[..., 0:1], boxes[..., 1:2]
    w = (boxes[..., 2:3] - x0).clamp(min=1)
    h = (boxes[..., 3:4] - y0).clamp(min=1)
    x = x0 + (ix + 0.5) * w / hw
    y = y0 + (iy + 0.5) * h / hh
    return torch.stack([x, y, peak], dim=-1)
