"""torchvision's semantic models (FCN, DeepLabV3, LR-ASPP) as deploy graphs: frames in, label map out.

Deployed like the zoo's FCNs (DeployFCN): uint8 frames, resized in the graph with torchvision's eval
preset rule (shorter side to `short_side`, aspect kept, bilinear), normalised with ImageNet's mean and
std, the model's logits (which torchvision upsamples to its input size) resized to the frame and
argmaxed into `semantic` [B,H,W] uint8, which the runtime's semantic path reads. The aux classifier,
a training aid that torchvision still runs in eval, is left out of the graph.
"""
from __future__ import annotations

import copy
from typing import Any

from torch import Tensor

from edgeseg.export.preprocess import Geometry, ImageInput, labels_to_frame
from edgeseg.export.wrappers import DeployModel

# what torchvision's semantic models were trained on (its SemanticSegmentation preset)
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def short_side_geometry(short_side: int, frame_hw: tuple[int, int]) -> Geometry:
    """torchvision's resize to an int size: the shorter side becomes `short_side`, the longer one
    scales with it (truncated); no padding, the models take any size."""
    h, w = frame_hw
    resized = (short_side, int(short_side * w / h)) if h <= w else (int(short_side * h / w), short_side)
    return Geometry(frame_hw, resized, resized)


def without_aux(model: Any) -> Any:
    """A shallow copy (same weights) that skips the aux classifier."""
    if getattr(model, "aux_classifier", None) is None:
        return model
    lean = copy.copy(model)
    lean._modules = dict(model._modules)
    lean.aux_classifier = None
    return lean


class DeployTorchvisionSemantic(DeployModel):
    """A torchvision segmentation model: frames [B,H,W,3] uint8 -> semantic [B,H,W] uint8."""

    task = "semantic"
    output_names = ["semantic"]

    def __init__(self, model: Any, short_side: int, frame_hw: tuple[int, int]) -> None:
        super().__init__()
        model.eval()
        self.geometry = short_side_geometry(short_side, frame_hw)
        self.input = ImageInput(self.geometry, IMAGENET_MEAN, IMAGENET_STD)
        self.model = without_aux(model)
        self.heads = ["semantic"]

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        logits = self.model(self.input(images))["out"]
        return (labels_to_frame(logits, self.geometry),)
