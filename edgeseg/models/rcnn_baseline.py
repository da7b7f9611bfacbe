"""The original R-CNN recipe, kept as a slow baseline: crop and warp every proposal's pixels to a fixed
size and run a small CNN on each crop separately (no shared features, hence the cost).

Proposals come from the RPN of a Faster R-CNN (`proposer`, frozen) instead of selective search, so
that both detectors see the same boxes and the time difference is the per-crop CNN. Training uses
jittered ground-truth and random boxes, sampled and labelled by torchvision's RoIHeads rules
(IoU >= 0.5 foreground, 25 % positives).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models.detection.roi_heads import RoIHeads, fastrcnn_loss
from torchvision.ops import roi_align

from edgeseg.data.categories import THINGS
from edgeseg.models.config import DictConfig
from edgeseg.models.rcnn import IMAGE_MEAN, IMAGE_STD, MultiTaskRCNN, RCNNConfig


@dataclass
class BaselineConfig(DictConfig):
    crop: int = 32
    widths: list[int] = field(default_factory=lambda: [16, 32, 64])
    hidden: int = 128
    num_classes: int = len(THINGS) + 1
    image_size: int = 320
    proposals: int = 100  # RPN proposals classified per image at test time
    jitter_per_box: int = 8
    random_boxes: int = 32


class CropClassifier(nn.Module):
    """Small CNN on one warped crop: class logits and class-specific box deltas."""

    def __init__(self, cfg: BaselineConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for w in cfg.widths:
            layers += [nn.Conv2d(cin, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            cin = w
        self.features = nn.Sequential(*layers)
        side = cfg.crop // 2 ** len(cfg.widths)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(cin * side * side, cfg.hidden), nn.ReLU(inplace=True))
        self.cls_score = nn.Linear(cfg.hidden, cfg.num_classes)
        self.bbox_pred = nn.Linear(cfg.hidden, cfg.num_classes * 4)

    def forward(self, crops: Tensor) -> tuple[Tensor, Tensor]:
        x = self.fc(self.features(crops))
        return self.cls_score(x), self.bbox_pred(x)


class RCNNBaseline(nn.Module):
    """`model(images, targets)` -> losses in training; `model(images)` -> boxes, labels, scores per image."""

    mean: Tensor
    std: Tensor

    def __init__(self, config: BaselineConfig) -> None:
        super().__init__()
        self.config = config
        self.proposer = MultiTaskRCNN(RCNNConfig(heads=["box"], rpn_post_nms_test=config.proposals))
        for p in self.proposer.parameters():
            p.requires_grad_(False)
        self.classifier = CropClassifier(config)
        # Only the sampling/matching and post-processing rules of RoIHeads are used (no layers).
        self.rules = RoIHeads(None, None, None, 0.5, 0.5, 64, 0.25, None, 0.05, 0.5, 50)  # type: ignore[arg-type]
        self.register_buffer("mean", torch.tensor(IMAGE_MEAN).view(3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGE_STD).view(3, 1, 1), persistent=False)

    def warp(self, image: Tensor, boxes: Tensor) -> Tensor:
        """Bilinearly resample each box of `image` to crop x crop pixels (R-CNN's 'warp')."""
        norm = ((image - self.mean) / self.std)[None]
        return roi_align(norm, [boxes], self.config.crop, 1.0, 2, aligned=True)

    def training_proposals(self, targets: list[dict[str, Tensor]]) -> list[Tensor]:
        out = []
        for t in targets:
            gt = t["boxes"]
            wh = (gt[:, 2:] - gt[:, :2]).repeat(self.config.jitter_per_box, 1)
            noise = torch.randn(len(wh), 4) * wh.repeat(1, 2) * 0.15
            jitter = gt.repeat(self.config.jitter_per_box, 1) + noise
            size = float(self.config.image_size)
            xy = torch.rand(self.config.random_boxes, 2) * size * 0.8
            rand = torch.cat([xy, xy + 8 + torch.rand(self.config.random_boxes, 2) * size * 0.4], 1)
            out.append(torch.cat([jitter, rand]).clamp(0, size))
        return out

    @torch.no_grad()
    def proposals(self, images: list[Tensor]) -> list[Tensor]:
        """RPN boxes in the coordinates of each input image."""
        self.proposer.eval()
        image_list, _ = self.proposer.transform(images)
        boxes, _ = self.proposer.rpn(image_list, self.proposer.backbone(image_list.tensors))
        out = []
        for b, (h, w), im in zip(boxes, image_list.image_sizes, images, strict=True):
            scale = torch.tensor([im.shape[-1] / w, im.shape[-2] / h] * 2)
            out.append(b * scale)
        return out

    def forward(self, images: list[Tensor], targets: list[dict[str, Tensor]] | None = None
                ) -> dict[str, Tensor] | list[dict[str, Tensor]]:
        if self.training:
            if targets is None:
                raise ValueError("targets are required in training mode")
            sampled = self.rules.select_training_samples(self.training_proposals(targets), targets)
            props, _, labels, reg_targets = sampled
            crops = torch.cat([self.warp(im, p) for im, p in zip(images, props, strict=True)])
            logits, deltas = self.classifier(crops)
            cls_loss, box_loss = fastrcnn_loss(logits, deltas, labels, reg_targets)
            return {"loss_classifier": cls_loss, "loss_box_reg": box_loss}
        props = self.proposals(images)
        crops = torch.cat([self.warp(im, p) for im, p in zip(images, props, strict=True)])
        logits, deltas = self.classifier(crops)
        shapes = [(int(im.shape[-2]), int(im.shape[-1])) for im in images]
        boxes, scores, labels_out = self.rules.postprocess_detections(logits, deltas, props, shapes)
        return [{"boxes": b, "scores": s, "labels": lab}
                for b, s, lab in zip(boxes, scores, labels_out, strict=True)]


def build_rcnn_baseline(config: BaselineConfig | dict[str, Any]) -> RCNNBaseline:
    """The architecture named by a zoo entry's `config`."""
    return RCNNBaseline(config if isinstance(config, BaselineConfig) else BaselineConfig.from_dict(config))
