"""The dense-captioning deploy graph: the static R-CNN detector, then the caption head on its boxes.

Outputs: the detection outputs (boxes, scores, classes, num_dets; see wrappers.py) plus
`tokens` [B,K,T] int32, the greedy decoder unrolled for T = max_tokens steps on each of the K
detection slots (<pad> after <eos> and in empty slots). Region features come from the detector's
RoIAlign spec through the deploy ops (one edgeseg::RoIAlign node per read: box, context, image),
so the graph is as static as the detector's and needs no loop op. The vocabulary rides in the
metadata (`edgeseg.vocabulary`), so the torch-free runtime turns tokens into words.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from edgeseg.export.deploy_ops import DeployOps, get_ops
from edgeseg.export.rcnn_static import pool
from edgeseg.export.wrappers import DETECTION_OUTPUTS, DeployModel, DeployRCNN
from edgeseg.models.densecap import DenseCap, normalised, pooled_regions
from edgeseg.vocab import METADATA_KEY, PAD, SHAPES_VOCAB


class DeployDenseCap(DeployModel):
    """DenseCap in static form; holds the eager modules (no copies), so it runs in torch too."""

    task = "densecap"
    heads = ["box", "caption"]
    output_names = [*DETECTION_OUTPUTS, "tokens"]

    def __init__(self, model: DenseCap, ops: DeployOps, frame_hw: tuple[int, int]) -> None:
        super().__init__()
        self.rcnn = DeployRCNN(model.detector, ops, frame_hw)
        self.geometry = self.rcnn.geometry
        self.head = model.head.eval()
        self.extra_metadata = {METADATA_KEY: SHAPES_VOCAB.dumps()}

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        r = self.rcnn  # the detection half of DeployRCNN.forward, keeping the features for the captions
        features = r.backbone(r.input(images))
        proposals, valid = r.rpn(r.ops, list(features.values()))
        logits, regression = r.box_predictor(r.box_head(pool(r.ops, r.box_pool, features, proposals)))
        boxes, scores, labels, _, num = r.detector(r.ops, logits, regression, proposals, valid)
        batch, k = boxes.shape[:2]
        hw = self.geometry.padded_hw
        maps = pooled_regions(lambda b: pool(r.ops, r.box_pool, features, b), boxes, hw)
        state = self.head.region_state(*maps, normalised(boxes, hw).reshape(-1, 4))
        tokens = self.head.greedy(state).reshape(batch, k, -1)
        filled = torch.arange(k)[None, :, None] < num.to(torch.int64)[:, None, None]
        tokens = torch.where(filled, tokens, torch.full_like(tokens, PAD)).to(torch.int32)
        return self.boxes_to_frame(boxes), scores, labels, num, tokens


def wrap_densecap(model: Any, ops: str | DeployOps = "edgeseg",
                  frame_hw: tuple[int, int] | None = None) -> DeployDenseCap:
    """The deploy wrapper of a zoo DenseCap model (frames of `frame_hw`, default its input size)."""
    size = int(model.config.image_size)
    return DeployDenseCap(model, get_ops(ops) if isinstance(ops, str) else ops, frame_hw or (size, size))
