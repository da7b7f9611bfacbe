"""The R-CNN family on one slim FPN: Faster, Mask and Keypoint R-CNN and a semantic (panoptic) head.

Built from torchvision's GeneralizedRCNN parts (transform, RPN, RoIHeads, MultiScaleRoIAlign) so
that the export code sees the module tree it knows. Two things torchvision lacks are added here:
a semantic head on the FPN (for panoptic stuff) and a RoI Pool box pooler, switchable with
`roi_op="pool"`, to compare quantized pooling against RoI Align on the same detector.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.keypoint_rcnn import KeypointRCNNHeads, KeypointRCNNPredictor
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import MultiScaleRoIAlign, roi_pool
from torchvision.ops.poolers import LevelMapper

from edgeseg.data.categories import CATEGORIES, IGNORE_LABEL, KEYPOINT_NAMES, THINGS
from edgeseg.models.backbones import slim_fpn_backbone
from edgeseg.models.config import DictConfig

HEADS = ("box", "mask", "keypoint", "semantic")
FPN_LEVELS = ["0", "1", "2"]
IMAGE_MEAN = [0.485, 0.456, 0.406]
IMAGE_STD = [0.229, 0.224, 0.225]


@dataclass
class RCNNConfig(DictConfig):
    """Everything that fixes the architecture; stored in the zoo metadata next to the weights."""

    heads: list[str] = field(default_factory=lambda: list(HEADS))
    roi_op: str = "align"  # "align" (RoI Align) or "pool" (RoI Pool, quantized) for the box head
    image_size: int = 320
    widths: list[int] = field(default_factory=lambda: [16, 24, 48, 96, 128])
    fpn_channels: int = 64
    box_head_dim: int = 256
    mask_head_layers: int = 2
    keypoint_head_layers: int = 4
    num_classes: int = len(THINGS) + 1  # background + things
    num_semantic: int = len(CATEGORIES)
    num_keypoints: int = len(KEYPOINT_NAMES)
    rpn_post_nms_train: int = 300
    rpn_post_nms_test: int = 100
    box_batch_per_image: int = 128
    detections_per_img: int = 50


class MultiScaleRoIPool(nn.Module):
    """Drop-in for MultiScaleRoIAlign using RoI Pool: box corners snap to the feature grid (Fast R-CNN)."""

    def __init__(self, featmap_names: list[str], output_size: int) -> None:
        super().__init__()
        self.featmap_names = featmap_names
        self.output_size = output_size

    def forward(self, x: dict[str, Tensor], boxes: list[Tensor],
                image_shapes: list[tuple[int, int]]) -> Tensor:
        feats = [x[k] for k in self.featmap_names]
        max_h = max(s[0] for s in image_shapes)
        scales = [2.0 ** round(math.log2(f.shape[-2] / max_h)) for f in feats]
        mapper = LevelMapper(int(-math.log2(scales[0])), int(-math.log2(scales[-1])))
        rois = torch.cat([torch.cat([torch.full_like(b[:, :1], i), b], dim=1) for i, b in enumerate(boxes)])
        levels = mapper(boxes)
        out = feats[0].new_zeros((rois.shape[0], feats[0].shape[1], self.output_size, self.output_size))
        for level, (feat, scale) in enumerate(zip(feats, scales, strict=True)):
            idx = torch.where(levels == level)[0]
            out[idx] = roi_pool(feat, rois[idx], self.output_size, scale).to(out.dtype)
        return out


class SemanticHead(nn.Module):
    """Panoptic-FPN-style stuff head: FPN levels upsampled to stride 8, summed, two convs, logits."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(inplace=True))
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, features: dict[str, Tensor]) -> Tensor:
        base = features[FPN_LEVELS[0]]
        x = base
        for name in FPN_LEVELS[1:]:
            x = x + F.interpolate(features[name], size=base.shape[-2:], mode="bilinear", align_corners=False)
        return self.classifier(self.conv(x))


class MultiTaskRCNN(nn.Module):
    """GeneralizedRCNN with optional mask, keypoint and semantic heads.

    Training: `model(images, targets)` -> dict of losses (rpn objectness, rpn box reg, classifier,
    box reg, mask, keypoint, semantic). Eval: `model(images)` -> one dict per image with boxes,
    labels, scores (+ masks N x 1 x H x W probabilities, keypoints N x K x 3, sem_seg H x W labels).
    """

    def __init__(self, config: RCNNConfig) -> None:
        super().__init__()
        bad = set(config.heads) - set(HEADS)
        if bad or "box" not in config.heads or config.roi_op not in ("align", "pool"):
            raise ValueError(f"bad RCNNConfig heads={config.heads} roi_op={config.roi_op}")
        self.config = config
        c = config.fpn_channels
        self.transform = GeneralizedRCNNTransform(config.image_size, config.image_size, IMAGE_MEAN, IMAGE_STD)
        self.backbone = slim_fpn_backbone(tuple(config.widths), c)  # type: ignore[arg-type]
        anchors = AnchorGenerator(((16,), (32,), (64,), (128,)), ((0.5, 1.0, 2.0),) * 4)
        self.rpn = RegionProposalNetwork(
            anchors, RPNHead(c, 3), fg_iou_thresh=0.7, bg_iou_thresh=0.3, batch_size_per_image=256,
            positive_fraction=0.5, pre_nms_top_n={"training": 2 * config.rpn_post_nms_train,
                                                  "testing": 3 * config.rpn_post_nms_test},
            post_nms_top_n={"training": config.rpn_post_nms_train, "testing": config.rpn_post_nms_test},
            nms_thresh=0.7)
        box_pool: nn.Module = (MultiScaleRoIAlign(FPN_LEVELS, 7, 2) if config.roi_op == "align"
                               else MultiScaleRoIPool(FPN_LEVELS, 7))
        self.roi_heads = RoIHeads(
            box_pool, TwoMLPHead(c * 49, config.box_head_dim),
            FastRCNNPredictor(config.box_head_dim, config.num_classes),
            fg_iou_thresh=0.5, bg_iou_thresh=0.5, batch_size_per_image=config.box_batch_per_image,
            positive_fraction=0.25, bbox_reg_weights=None, score_thresh=0.05, nms_thresh=0.5,
            detections_per_img=config.detections_per_img)
        if "mask" in config.heads:
            self.roi_heads.mask_roi_pool = MultiScaleRoIAlign(FPN_LEVELS, 14, 2)
            self.roi_heads.mask_head = MaskRCNNHeads(c, [c] * config.mask_head_layers, 1)
            self.roi_heads.mask_predictor = MaskRCNNPredictor(c, c, config.num_classes)
        if "keypoint" in config.heads:
            self.roi_heads.keypoint_roi_pool = MultiScaleRoIAlign(FPN_LEVELS, 14, 2)
            self.roi_heads.keypoint_head = KeypointRCNNHeads(c, [c] * config.keypoint_head_layers)
            self.roi_heads.keypoint_predictor = KeypointRCNNPredictor(c, config.num_keypoints)
        self.semantic_head = SemanticHead(c, config.num_semantic) if "semantic" in config.heads else None

    def drop_heads(self, keep: list[str]) -> None:
        """Remove heads not in `keep` (a zoo entry may use a subset of a multi-task checkpoint)."""
        if "mask" not in keep:
            self.roi_heads.mask_roi_pool = self.roi_heads.mask_head = self.roi_heads.mask_predictor = None
        if "keypoint" not in keep:
            self.roi_heads.keypoint_roi_pool = None
            self.roi_heads.keypoint_head = self.roi_heads.keypoint_predictor = None
        if "semantic" not in keep:
            self.semantic_head = None
        self.config.heads = [h for h in self.config.heads if h in keep]

    def forward(self, images: list[Tensor], targets: list[dict[str, Tensor]] | None = None
                ) -> dict[str, Tensor] | list[dict[str, Tensor]]:
        if self.training and targets is None:
            raise ValueError("targets are required in training mode")
        original_sizes = [(int(im.shape[-2]), int(im.shape[-1])) for im in images]
        image_list, targets = self.transform(images, targets)
        features = self.backbone(image_list.tensors)
        proposals, rpn_losses = self.rpn(image_list, features, targets)
        detections, det_losses = self.roi_heads(features, proposals, image_list.image_sizes, targets)
        sem_logits = self.semantic_head(features) if self.semantic_head is not None else None
        if self.training:
            losses = {**rpn_losses, **det_losses}
            if sem_logits is not None:
                assert targets is not None
                losses["loss_semantic"] = semantic_loss(sem_logits, image_list.tensors.shape[-2:],
                                                        image_list.image_sizes, targets)
            return losses
        detections = self.transform.postprocess(detections, image_list.image_sizes, original_sizes)
        if sem_logits is not None:
            padded = image_list.tensors.shape[-2:]
            up = F.interpolate(sem_logits, size=padded, mode="bilinear", align_corners=False)
            for det, logits, (h, w), orig in zip(detections, up, image_list.image_sizes, original_sizes,
                                                 strict=True):
                crop = logits[None, :, :h, :w]
                if (h, w) != orig:
                    crop = F.interpolate(crop, size=orig, mode="bilinear", align_corners=False)
                det["sem_seg"] = crop[0].argmax(0)
        return detections


def semantic_loss(logits: Tensor, padded: Any, sizes: list[tuple[int, int]], targets: list[dict[str, Tensor]]
                  ) -> Tensor:
    """Cross-entropy of stride-8 logits upsampled to the padded batch, targets resized like the images."""
    up = F.interpolate(logits, size=tuple(padded), mode="bilinear", align_corners=False)
    labels = torch.full((len(targets), *padded), IGNORE_LABEL, dtype=torch.long, device=logits.device)
    for i, (t, (h, w)) in enumerate(zip(targets, sizes, strict=True)):
        sem = t["semantic"]
        if tuple(sem.shape) != (h, w):
            sem = F.interpolate(sem[None, None].float(), size=(h, w), mode="nearest")[0, 0].long()
        labels[i, :h, :w] = sem
    return F.cross_entropy(up, labels, ignore_index=IGNORE_LABEL)


def build_rcnn(config: RCNNConfig | dict[str, Any]) -> MultiTaskRCNN:
    """The architecture named by a zoo entry's `config` (weights are loaded by the zoo)."""
    return MultiTaskRCNN(config if isinstance(config, RCNNConfig) else RCNNConfig.from_dict(config))
