"""Semantic FCN: a small encoder-decoder whose upsampling kind is selectable, to compare the six.

Encoder: one conv stage per entry of `widths`, each followed by a 2x2 max pool that remembers its
switches. Decoder: as many 2x upsamplings of the chosen kind, each followed by adding the encoder
feature of that scale (a U-Net-style skip) and a 3x3 conv. Five stages (stride 32) give the
bottleneck a receptive field wider than the largest ShapesWorld shape: with three (stride 8) the net
sees edges but cannot tell a square's interior from a triangle's (IoU near 0 for both).
Kinds: nearest ("nearest-neighbour unpooling"), bed_of_nails
(value in the top-left corner, zeros elsewhere), bilinear, bicubic, max_unpool (value put back where
the max pool found it) and transposed (a learned 4x4 stride-2 transposed convolution).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgeseg.data.categories import CATEGORIES
from edgeseg.models.config import DictConfig

UPSAMPLE_KINDS = ("nearest", "bed_of_nails", "bilinear", "bicubic", "max_unpool", "transposed")
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)


@dataclass
class FCNConfig(DictConfig):
    """The architecture of one FCN zoo entry."""

    upsample: str = "bilinear"
    widths: list[int] = field(default_factory=lambda: [16, 32, 64, 96, 128])
    num_classes: int = len(CATEGORIES)
    image_size: int = 320


def bed_of_nails(x: Tensor) -> Tensor:
    """2x upsampling that keeps each value at the top-left of its 2x2 cell and fills the rest with 0."""
    n, c, h, w = x.shape
    out = x.new_zeros((n, c, h, 2, w, 2))
    out[:, :, :, 0, :, 0] = x
    return out.reshape(n, c, 2 * h, 2 * w)


def conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class Upsample2x(nn.Module):
    """One 2x upsampling of the configured kind; `indices` are the pool switches (max_unpool only)."""

    def __init__(self, kind: str, channels: int) -> None:
        super().__init__()
        if kind not in UPSAMPLE_KINDS:
            raise ValueError(f"unknown upsampling kind {kind!r}: one of {', '.join(UPSAMPLE_KINDS)}")
        self.kind = kind
        self.deconv = nn.ConvTranspose2d(channels, channels, 4, 2, 1) if kind == "transposed" else None
        self.unpool = nn.MaxUnpool2d(2) if kind == "max_unpool" else None

    def forward(self, x: Tensor, indices: Tensor, size: list[int]) -> Tensor:
        if self.deconv is not None:
            return self.deconv(x)
        if self.unpool is not None:
            return self.unpool(x, indices, output_size=size)
        if self.kind == "bed_of_nails":
            return bed_of_nails(x)
        if self.kind == "nearest":
            return F.interpolate(x, scale_factor=2.0, mode="nearest")
        return F.interpolate(x, scale_factor=2.0, mode=self.kind, align_corners=False)


class SemanticFCN(nn.Module):
    """`model(images)` with images N x 3 x H x W in [0, 1] (H, W multiples of `stride`) -> N x C x H x W
    logits."""

    mean: Tensor
    std: Tensor

    def __init__(self, config: FCNConfig) -> None:
        super().__init__()
        self.config = config
        w = config.widths
        self.register_buffer("mean", torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGE_STD).view(1, 3, 1, 1), persistent=False)
        self.stride = 2 ** len(w)
        stages = [nn.Sequential(conv_bn(w[i - 1], w[i]), conv_bn(w[i], w[i])) for i in range(1, len(w))]
        self.enc = nn.ModuleList([conv_bn(3, w[0]), *stages])
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.bottleneck = nn.Sequential(conv_bn(w[-1], w[-1]), conv_bn(w[-1], w[-1]))
        self.up = nn.ModuleList([Upsample2x(config.upsample, c) for c in w])
        outs = [w[0]] + list(w[:-1])  # decoder level i maps w[i] -> outs[i], the width one level up
        self.dec = nn.ModuleList([conv_bn(w[i], outs[i]) for i in range(len(w))])
        self.classifier = nn.Conv2d(w[0], config.num_classes, 1)

    def forward(self, images: Tensor) -> Tensor:
        if images.shape[-1] % self.stride or images.shape[-2] % self.stride:
            raise ValueError(f"SemanticFCN needs H and W divisible by {self.stride}, "
                             f"got {tuple(images.shape[-2:])}")
        x = (images - self.mean) / self.std
        skips: list[Tensor] = []
        switches: list[Tensor] = []
        for stage in self.enc:
            x = stage(x)
            skips.append(x)
            x, idx = self.pool(x)
            switches.append(idx)
        x = self.bottleneck(x)
        for i in reversed(range(len(self.up))):
            x = self.up[i](x, switches[i], list(skips[i].shape[-2:]))
            x = self.dec[i](x + skips[i])
        return self.classifier(x)


def build_fcn(config: FCNConfig | dict[str, Any]) -> SemanticFCN:
    """The architecture named by a zoo entry's `config`."""
    return SemanticFCN(config if isinstance(config, FCNConfig) else FCNConfig.from_dict(config))
