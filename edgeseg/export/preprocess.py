"""In-graph pre-processing: camera frames (uint8 NHWC) -> the normalised, resized, padded network input.

The input size is fixed when exporting (a camera has one resolution), so every size below is a
Python int and the graph stays static apart from the batch. The resize rule and the bottom-right
zero padding are torchvision's GeneralizedRCNNTransform's, computed by that transform itself on a
dummy image, so the deploy graph sees exactly the tensor the eager model sees.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class Geometry:
    """Frame size, resized size (aspect kept) and padded network size, all (height, width)."""

    frame_hw: tuple[int, int]
    resized_hw: tuple[int, int]
    padded_hw: tuple[int, int]

    @property
    def ratio_xy(self) -> tuple[float, float]:
        """Frame pixels per resized pixel along x and y (what undoes the resize)."""
        return self.frame_hw[1] / self.resized_hw[1], self.frame_hw[0] / self.resized_hw[0]


def rcnn_geometry(transform: Any, frame_hw: tuple[int, int]) -> Geometry:
    """The sizes torchvision's detection transform gives a frame of `frame_hw` (asked of the transform)."""
    with torch.no_grad():
        images, _ = transform([torch.zeros(3, *frame_hw)])
    resized = tuple(int(v) for v in images.image_sizes[0])
    padded = tuple(int(v) for v in images.tensors.shape[-2:])
    return Geometry(frame_hw, resized, padded)  # type: ignore[arg-type]


def fit_geometry(size: int, frame_hw: tuple[int, int], divisor: int) -> Geometry:
    """Longest side resized to `size` (aspect kept), padded up to a multiple of `divisor`."""
    scale = size / max(frame_hw)
    resized = (max(1, int(frame_hw[0] * scale)), max(1, int(frame_hw[1] * scale)))
    padded = (-(-resized[0] // divisor) * divisor, -(-resized[1] // divisor) * divisor)
    return Geometry(frame_hw, resized, padded)


class ImageInput(nn.Module):
    """uint8 [B,H,W,3] RGB -> float [B,3,Hp,Wp]: scale to [0,1], normalise, resize, pad with zeros."""

    mean: Tensor
    std: Tensor

    def __init__(self, geometry: Geometry, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.geometry = geometry
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def normalized(self, images: Tensor) -> Tensor:
        """Frame-sized, normalised float images [B,3,H,W].

        Cast before the transpose: TensorRT's ONNX parser refuses a Transpose of a uint8 tensor (uint8
        is for network I/O and Casts only), so the first op on the frame must be the Cast to float.
        """
        x = images.to(torch.float32).permute(0, 3, 1, 2) / 255.0
        return (x - self.mean) / self.std

    def forward(self, images: Tensor) -> Tensor:
        x = self.normalized(images)
        g = self.geometry
        if g.resized_hw != g.frame_hw:
            x = F.interpolate(x, size=g.resized_hw, mode="bilinear", align_corners=False)
        pad_h, pad_w = g.padded_hw[0] - g.resized_hw[0], g.padded_hw[1] - g.resized_hw[1]
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        return x


def labels_to_frame(logits: Tensor, geometry: Geometry) -> Tensor:
    """Logits over the padded input -> label map [B,H,W] uint8 at frame size (crop, resize, argmax).

    The argmax (int64) goes to uint8 through float32: TensorRT casts to uint8 only from float/half,
    and class indices (< 256) are exact in float32.
    """
    h, w = geometry.resized_hw
    x = logits[:, :, :h, :w]
    if geometry.resized_hw != geometry.frame_hw:
        x = F.interpolate(x, size=geometry.frame_hw, mode="bilinear", align_corners=False)
    return x.argmax(1).to(torch.float32).to(torch.uint8)
