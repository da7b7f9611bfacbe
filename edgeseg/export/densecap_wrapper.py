"""The dense-captioning deploy graph: the static R-CNN detector, then the caption head on its boxes.

Outputs: the detection outputs (boxes, scores, classes, num_dets; see wrappers.py) plus
`tokens` [B,K,T] int32, the greedy decoder unrolled for T = max_tokens steps on each of the K
detection slots (<pad> after <eos> and in empty slots). Regions are read as in eager torch
(models/densecap_regions.py) with the deploy ops' RoIAlign: the detector's FPN pooler spec for
features, one level at scale 1 for pixels; the nearest-neighbour pick is pairwise matrices over the
K slots, so the graph is as static as the detector's and needs no loop op. The vocabulary rides in the
metadata (`edgeseg.vocabulary`), so the torch-free runtime turns tokens into words.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from edgeseg.export.deploy_ops import DeployOps, get_ops
from edgeseg.export.rcnn_static import pool
from edgeseg.export.wrappers import DETECTION_OUTPUTS, DeployModel, DeployRCNN
from edgeseg.models.densecap import POOLED, DenseCap
from edgeseg.models.densecap_regions import NEIGHBOUR_SCORE, Readers, describe
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
        r = self.rcnn
        x, features, boxes, scores, labels, num = r.detect(images)  # features and input: for the captions
        batch, k = boxes.shape[:2]
        filled = torch.arange(k)[None, :] < num.to(torch.int64)[:, None]
        read = Readers(features=lambda b: pool(r.ops, r.box_pool, features, b),
                       pixels=lambda b: self._pixels(x, b))
        regions = describe(read, boxes, labels.to(torch.int64), filled & (scores >= NEIGHBOUR_SCORE),
                           self.geometry.padded_hw, self.head.config.num_classes)
        tokens = self.head.greedy(self.head.region_state(regions)).reshape(batch, k, -1)
        tokens = torch.where(filled[..., None], tokens, torch.full_like(tokens, PAD)).to(torch.int32)
        return self.boxes_to_frame(boxes), scores, labels, num, tokens

    def _pixels(self, x: Tensor, boxes: Tensor) -> Tensor:
        """RoIAlign of the normalised input itself (one level, scale 1), as the eager torchvision call."""
        batch, k = boxes.shape[:2]
        batch_idx = torch.arange(batch)[:, None].expand(batch, k).reshape(-1)
        return self.rcnn.ops.roi_align([x], boxes.reshape(-1, 4), batch_idx, POOLED, 2, True, False, [1.0])


def wrap_densecap(model: Any, ops: str | DeployOps = "edgeseg",
                  frame_hw: tuple[int, int] | None = None) -> DeployDenseCap:
    """The deploy wrapper of a zoo DenseCap model (frames of `frame_hw`, default its input size)."""
    size = int(model.config.image_size)
    return DeployDenseCap(model, get_ops(ops) if isinstance(ops, str) else ops, frame_hw or (size, size))
