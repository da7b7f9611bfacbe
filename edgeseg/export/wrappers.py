"""Deploy wrappers: eager models -> static, camera-in / fixed-size-out modules ready for ONNX export.

Each wrapper takes uint8 frames [B,H,W,3] (H, W fixed at export, the batch free) and returns a tuple
of fixed-size tensors named by `output_names`:
  detection  boxes [B,K,4] (frame pixels), scores [B,K], classes [B,K] int32 (category ids, 0 =
             empty slot), num_dets [B] int32
  instance   + masks [B,K,28,28] mask probabilities inside each box (pasted later, in numpy)
  keypoints  + keypoints [B,K,J,3] (x, y, heatmap peak), frame pixels
  semantic   semantic [B,H,W] uint8 label map at frame size
  panoptic   instance outputs + semantic (fused later, in numpy)
The wrappers hold the eager model's own modules (no weight copies), so they run in eager torch too:
that is the reference the exported graph is tested against.
"""
from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgeseg.errors import EdgesegError
from edgeseg.export.deploy_ops import DeployOps, get_ops
from edgeseg.export.preprocess import Geometry, ImageInput, fit_geometry, labels_to_frame, rcnn_geometry
from edgeseg.export.rcnn_static import (
    Pooler,
    StaticDetector,
    StaticRPN,
    describe_pooler,
    heatmaps_to_keypoints,
    pool,
)

DETECTION_OUTPUTS = ["boxes", "scores", "classes", "num_dets"]


class DeployModel(nn.Module):
    """Common interface: `output_names`, `task`, `geometry`, `forward(images) -> tuple`."""

    output_names: list[str]
    task: str
    geometry: Geometry

    def scale_to_frame(self, xy: Tensor) -> Tensor:
        """Resized-image (x, y) in the last axis (pairs, extra channels kept) -> frame pixels."""
        rx, ry = self.geometry.ratio_xy
        scale = torch.tensor([rx, ry], dtype=xy.dtype)
        return xy * scale

    def boxes_to_frame(self, boxes: Tensor) -> Tensor:
        return self.scale_to_frame(boxes.reshape(*boxes.shape[:-1], 2, 2)).reshape(boxes.shape)


def describe_levels(pooler: Any, features: dict[str, Tensor], resized_hw: tuple[int, int]) -> Pooler:
    """describe_pooler for the levels torchvision's pooler really pools: it keeps the named maps the
    backbone has (in the backbone's order), maps boxes to levels k_min..k_max (the first and last
    map's scales) and indexes that list with them. So of MobileNetV3 FPN's maps ('0', '1', 'pool', all
    stride 32) only '0' is ever pooled; our op gives consecutive levels consecutive scales, so the
    unreachable maps are dropped."""
    present = copy.copy(pooler)
    present.featmap_names = [name for name in features if name in pooler.featmap_names]
    spec = describe_pooler(present, features, resized_hw)
    reachable = round(math.log2(spec.spatial_scales[0] / spec.spatial_scales[-1])) + 1
    if reachable >= len(spec.featmap_names):
        return spec
    return dataclasses.replace(spec, featmap_names=spec.featmap_names[:reachable],
                               spatial_scales=spec.spatial_scales[:reachable])


def _rcnn_task(heads: list[str]) -> str:
    if "semantic" in heads:
        return "panoptic"
    if "mask" in heads:
        return "instance"
    if "keypoint" in heads:
        return "keypoints"
    return "detection"


class DeployRCNN(DeployModel):
    """MultiTaskRCNN or a torchvision GeneralizedRCNN (Faster/Mask/Keypoint R-CNN) in static form."""

    def __init__(self, model: Any, ops: DeployOps, frame_hw: tuple[int, int],
                 mask_slots: str = "fixed") -> None:
        """mask_slots: "fixed" runs the mask head on every detection slot (static shapes, TensorRT);
        "valid" only on the slots NMS filled (a data-dependent NonZero: for ONNX Runtime, where the
        head on all `max_detections` slots was most of a trained Mask R-CNN's time, docs/export.md)."""
        super().__init__()
        model.eval()
        if mask_slots not in ("fixed", "valid"):
            raise EdgesegError(f"mask_slots must be 'fixed' or 'valid', got {mask_slots!r}")
        self.mask_slots = mask_slots
        self.ops = ops
        self.geometry = rcnn_geometry(model.transform, frame_hw)
        t = model.transform
        self.input = ImageInput(self.geometry, list(t.image_mean), list(t.image_std))
        self.backbone = model.backbone
        heads = model.roi_heads
        with torch.no_grad():
            dummy = torch.zeros(1, 3, *self.geometry.padded_hw)
            features = self.backbone(dummy)
            from torchvision.models.detection.image_list import ImageList

            images = ImageList(dummy, [self.geometry.resized_hw])
            anchors = model.rpn.anchor_generator(images, list(features.values()))[0]
        per_level = [int(f.shape[-2] * f.shape[-1]) * model.rpn.anchor_generator.num_anchors_per_location()[i]
                     for i, f in enumerate(features.values())]
        self.rpn = StaticRPN(model.rpn, anchors, per_level, self.geometry.resized_hw)
        resized = self.geometry.resized_hw
        self.box_pool = describe_levels(heads.box_roi_pool, features, resized)
        self.box_head, self.box_predictor = heads.box_head, heads.box_predictor
        self.detector = StaticDetector(heads.box_coder, float(heads.score_thresh), float(heads.nms_thresh),
                                       int(heads.detections_per_img), self.geometry.resized_hw)
        self.mask_pool: Pooler | None = None
        self.keypoint_pool: Pooler | None = None
        head_names = ["box"]
        if getattr(heads, "mask_predictor", None) is not None:
            self.mask_pool = describe_levels(heads.mask_roi_pool, features, resized)
            self.mask_head, self.mask_predictor = heads.mask_head, heads.mask_predictor
            head_names.append("mask")
        if getattr(heads, "keypoint_predictor", None) is not None:
            self.keypoint_pool = describe_levels(heads.keypoint_roi_pool, features, resized)
            self.keypoint_head, self.keypoint_predictor = heads.keypoint_head, heads.keypoint_predictor
            head_names.append("keypoint")
        self.semantic_head = getattr(model, "semantic_head", None)
        if self.semantic_head is not None:
            head_names.append("semantic")
        self.heads = head_names
        self.task = _rcnn_task(head_names)
        self.output_names = list(DETECTION_OUTPUTS)
        self.output_names += ["masks"] * (self.mask_pool is not None)
        self.output_names += ["keypoints"] * (self.keypoint_pool is not None)
        self.output_names += ["semantic"] * (self.semantic_head is not None)

    def detect(self, images: Tensor) -> tuple[Tensor, dict[str, Tensor], Tensor, Tensor, Tensor, Tensor]:
        """The detection half, which the heads (and the densecap wrapper) build on: the normalised
        input, the FPN features, and boxes (network pixels), scores, labels, num_dets per image."""
        x = self.input(images)
        features = self.backbone(x)
        proposals, valid = self.rpn(self.ops, list(features.values()))
        pooled = pool(self.ops, self.box_pool, features, proposals)
        logits, regression = self.box_predictor(self.box_head(pooled))
        boxes, scores, labels, _, num = self.detector(self.ops, logits, regression, proposals, valid)
        return x, features, boxes, scores, labels, num

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        _, features, boxes, scores, labels, num = self.detect(images)
        batch, k = boxes.shape[:2]
        outputs: list[Tensor] = [self.boxes_to_frame(boxes), scores, labels, num]
        if self.mask_pool is not None and self.mask_slots == "valid":
            outputs.append(self._valid_slot_masks(features, boxes, labels, num))
        elif self.mask_pool is not None:
            mask_logits = self.mask_predictor(self.mask_head(pool(self.ops, self.mask_pool, features, boxes)))
            mask_logits = mask_logits.reshape(batch, k, -1, *mask_logits.shape[-2:])
            pick = labels.to(torch.int64)[:, :, None, None, None].expand(-1, -1, 1, *mask_logits.shape[-2:])
            outputs.append(torch.gather(mask_logits, 2, pick)[:, :, 0].sigmoid())
        if self.keypoint_pool is not None:
            pooled_kp = pool(self.ops, self.keypoint_pool, features, boxes)
            heat = self.keypoint_predictor(self.keypoint_head(pooled_kp))
            keypoints = heatmaps_to_keypoints(heat.reshape(batch, k, *heat.shape[1:]), boxes)
            outputs.append(torch.cat([self.scale_to_frame(keypoints[..., :2]), keypoints[..., 2:]], -1))
        if self.semantic_head is not None:
            logits = self.semantic_head(features)
            up = nn.functional.interpolate(logits, size=self.geometry.padded_hw, mode="bilinear",
                                           align_corners=False)
            outputs.append(labels_to_frame(up, self.geometry))
        return tuple(outputs)


    def _valid_slot_masks(self, features: dict[str, Tensor], boxes: Tensor, labels: Tensor, num: Tensor
                          ) -> Tensor:
        """Masks [B,K,S,S] with the head run on the filled slots only; empty slots are zeros."""
        assert self.mask_pool is not None
        batch, k = boxes.shape[:2]
        filled = torch.arange(k, device=boxes.device)[None, :] < num.to(torch.int64)[:, None]
        flat = torch.nonzero(filled.reshape(-1))[:, 0]
        spec = self.mask_pool
        pooled = self.ops.roi_align([features[n] for n in spec.featmap_names], boxes.reshape(-1, 4)[flat],
                                    torch.div(flat, k, rounding_mode="floor"), spec.output_size,
                                    spec.sampling_ratio, spec.aligned, spec.quantized, spec.spatial_scales,
                                    spec.canonical_scale, spec.canonical_level)
        logits = self.mask_predictor(self.mask_head(pooled))
        pick = labels.reshape(-1)[flat].to(torch.int64)[:, None, None, None].expand(-1, 1, *logits.shape[-2:])
        probs = torch.gather(logits, 1, pick)[:, 0].sigmoid()
        out = torch.zeros(batch * k, *probs.shape[-2:], dtype=probs.dtype, device=probs.device)
        return out.index_put((flat,), probs).reshape(batch, k, *probs.shape[-2:])


class DeployFCN(DeployModel):
    """SemanticFCN: frames resized (aspect kept) to the network size, logits back to frame size."""

    task = "semantic"
    output_names = ["semantic"]

    def __init__(self, model: Any, frame_hw: tuple[int, int]) -> None:
        super().__init__()
        model.eval()
        self.geometry = fit_geometry(int(model.config.image_size), frame_hw, int(model.stride))
        self.model = _with_static_unpool(model)
        # the FCN normalises internally: feed it [0, 1] images, padded with zeros like the eager caller
        self.input = ImageInput(self.geometry, [0.0, 0.0, 0.0], [1.0, 1.0, 1.0])

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        return (labels_to_frame(self.model(self.input(images)), self.geometry),)


class SwitchPool(nn.Module):
    """2x2 max pooling that remembers its switches as a 0/1 mask instead of flat indices.

    Why: ONNX Runtime runs MaxPool's indices output, but TensorRT's parser takes MaxPool with one
    output only (onnxOpCheckers.cpp), and ONNX has no max_unpool2d to export. The mask marks, in each
    2x2 window, the first position holding the maximum in row-major order: exactly the position
    max_pool2d's index names, ties included (ReLU zeros tie often), with no ArgMax whose tie order a
    TensorRT kernel need not keep.
    """

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        b, c, h, w = x.shape
        cells = x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 2, 4, 3, 5)
        windows = cells.reshape(b, c, h // 2, w // 2, 4)
        pooled = windows.amax(dim=-1)
        hits = (windows == pooled.unsqueeze(-1)).to(x.dtype)
        first, seen = [hits[..., 0]], hits[..., 0]
        for k in range(1, 4):
            first.append(hits[..., k] * (1 - seen))
            seen = torch.maximum(seen, hits[..., k])
        mask = torch.stack(first, dim=-1).reshape(b, c, h // 2, w // 2, 2, 2).permute(0, 1, 2, 4, 3, 5)
        return pooled, mask.reshape(b, c, h, w)


class MaskUnpool(nn.Module):
    """max_unpool2d from a `SwitchPool` mask: each value copied to its window, kept where the switch is."""

    def forward(self, x: Tensor, mask: Tensor, size: list[int]) -> Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="nearest") * mask


def _with_static_unpool(model: Any) -> Any:
    """The FCN itself, or for max_unpool a shallow copy (same weights) pooling and unpooling by masks."""
    if getattr(model.config, "upsample", None) != "max_unpool":
        return model
    fcn = copy.copy(model)
    fcn._modules = dict(model._modules)
    fcn.pool = SwitchPool()
    fcn.up = nn.ModuleList([MaskUnpool() for _ in model.up])
    return fcn


class DeployRCNNBaseline(DeployModel):
    """The R-CNN baseline: static RPN proposals, each warped from the frame and classified alone."""

    task = "detection"
    output_names = list(DETECTION_OUTPUTS)

    def __init__(self, model: Any, ops: DeployOps, frame_hw: tuple[int, int]) -> None:
        super().__init__()
        model.eval()
        self.ops = ops
        self.proposer = DeployRCNN(model.proposer, ops, frame_hw)
        self.geometry = self.proposer.geometry
        same = Geometry(frame_hw, frame_hw, frame_hw)
        self.frame_input = ImageInput(same, model.mean.flatten().tolist(), model.std.flatten().tolist())
        self.classifier = model.classifier
        self.crop = int(model.config.crop)
        rules = model.rules
        self.detector = StaticDetector(rules.box_coder, float(rules.score_thresh), float(rules.nms_thresh),
                                       int(rules.detections_per_img), frame_hw)

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        p = self.proposer
        features = p.backbone(p.input(images))
        proposals, valid = p.rpn(self.ops, list(features.values()))
        proposals = self.boxes_to_frame(proposals)
        batch, n = proposals.shape[:2]
        batch_idx = torch.arange(batch)[:, None].expand(batch, n).reshape(-1)
        crops = self.ops.roi_align([self.frame_input.normalized(images)], proposals.reshape(-1, 4), batch_idx,
                                   self.crop, 2, True, False, [1.0])
        logits, deltas = self.classifier(crops)
        boxes, scores, labels, _, num = self.detector(self.ops, logits, deltas, proposals, valid)
        return boxes, scores, labels, num


def wrap(model: Any, info: Any, ops: str | DeployOps = "edgeseg",
         frame_hw: tuple[int, int] | None = None, mask_slots: str = "fixed") -> DeployModel:
    """The deploy wrapper for a zoo model or torchvision model (`info` from edgeseg.models.zoo);
    mask_slots: see DeployRCNN."""
    deploy_ops = get_ops(ops) if isinstance(ops, str) else ops
    size = int(info.input_size)
    hw = frame_hw or (size, size)
    if info.family == "torchvision" and info.task == "semantic":
        from edgeseg.export.tv_semantic import DeployTorchvisionSemantic

        return DeployTorchvisionSemantic(model, size, hw)
    if info.family in ("rcnn", "torchvision"):
        return DeployRCNN(model, deploy_ops, hw, mask_slots)
    if info.family == "fcn":
        return DeployFCN(model, hw)
    if info.family == "rcnn_baseline":
        return DeployRCNNBaseline(model, deploy_ops, hw)
    raise EdgesegError(f"model {info.name!r} has family {info.family!r}, which has no deploy wrapper")
