"""What the caption head reads about a region, written once for eager torch and the deploy graph.

A phrase names the region (size, colour, shape) and its nearest other thing ("left of a blue
square"), so a region is read with: the FPN features of its box and of the box grown CONTEXT_SCALE
times; the normalised RGB pixels of its box (colour); its detector class; and the same for its
nearest neighbour among the other confident regions (centre distance, boxes overlapping it by IoU
>= SAME_OBJECT_IOU are the same object, not a neighbour), plus the neighbour's offset. Only static
ops (pairwise matrices over the K slots, argmin, gather), so the deploy graph stays fixed-size.
The two readers (`Readers`) are the only thing that differs between eager torch (torchvision's
poolers) and the graph (the edgeseg RoIAlign op).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

CONTEXT_SCALE = 3.0
SAME_OBJECT_IOU = 0.3
NEIGHBOUR_SCORE = 0.5  # detections at least this confident can be someone's neighbour
PoolFn = Callable[[Tensor], Tensor]  # boxes [B,K,4] (network pixels) -> [B*K, C, S, S]


@dataclass(frozen=True)
class Readers:
    features: PoolFn  # the detector's FPN RoIAlign
    pixels: PoolFn  # RoIAlign of the normalised network input (3 channels)


@dataclass(frozen=True)
class RegionInputs:
    """The caption head's inputs for B*K regions: pooled maps and one vector per region."""

    feature_maps: list[Tensor]  # box, context, neighbour: [B*K, C, S, S] each
    pixel_maps: list[Tensor]  # box, neighbour: [B*K, 3, S, S] each
    vector: Tensor  # [B*K, 2 * num_classes + 7]: classes, corners, neighbour offset and flag


def context_boxes(boxes: Tensor, hw: tuple[int, int]) -> Tensor:
    """Boxes (xyxy, last axis) grown CONTEXT_SCALE times about their centres, clipped to the image."""
    centre = (boxes[..., :2] + boxes[..., 2:]) / 2
    half = (boxes[..., 2:] - boxes[..., :2]) * (CONTEXT_SCALE / 2)
    grown = torch.cat([centre - half, centre + half], dim=-1)
    return torch.minimum(grown.clamp(min=0), _limits(hw, boxes.dtype))


def _limits(hw: tuple[int, int], dtype: torch.dtype) -> Tensor:
    return torch.tensor([hw[1], hw[0], hw[1], hw[0]], dtype=dtype)


def pairwise_iou(boxes: Tensor) -> Tensor:
    """[B,K,K] IoU of every pair of boxes [B,K,4] (0 where a union is empty)."""
    lt = torch.maximum(boxes[:, :, None, :2], boxes[:, None, :, :2])
    rb = torch.minimum(boxes[:, :, None, 2:], boxes[:, None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = (boxes[..., 2:] - boxes[..., :2]).clamp(min=0).prod(-1)
    union = area[:, :, None] + area[:, None, :] - inter
    return inter / union.clamp(min=1e-6)


def neighbours(boxes: Tensor, candidate: Tensor) -> tuple[Tensor, Tensor]:
    """For each box [B,K,4]: the index [B,K] of the nearest other candidate box (centre distance,
    not the same object) and whether there is one [B,K]."""
    k = boxes.shape[1]
    centre = (boxes[..., :2] + boxes[..., 2:]) / 2
    dist = ((centre[:, :, None] - centre[:, None]) ** 2).sum(-1)
    slot = torch.arange(k)
    other = (slot[:, None] != slot[None, :])[None]  # not torch.eye: ONNX EyeLike has no bool kernel in ORT
    usable = candidate[:, None, :] & other & (pairwise_iou(boxes) < SAME_OBJECT_IOU)
    index = torch.where(usable, dist, torch.full_like(dist, 1e12)).argmin(-1)
    return index, torch.gather(usable, 2, index[..., None])[..., 0]


def one_hot(labels: Tensor, count: int) -> Tensor:
    """float one-hot by comparison (ONNX Equal + Cast: no OneHot op for the TensorRT parser)."""
    return (labels[..., None] == torch.arange(count)).to(torch.float32)


def describe(read: Readers, boxes: Tensor, labels: Tensor, candidate: Tensor, hw: tuple[int, int],
             num_classes: int) -> RegionInputs:
    """Everything the head reads about regions boxes [B,K,4] with labels [B,K] (int64); `candidate`
    [B,K] marks the regions that may be another's neighbour."""
    index, has = neighbours(boxes, candidate)
    near = torch.gather(boxes, 1, index[..., None].expand(-1, -1, 4))
    near = torch.where(has[..., None], near, boxes)  # no neighbour: read the box again, flag 0
    near_labels = torch.where(has, torch.gather(labels, 1, index), torch.zeros_like(labels))
    size = (boxes[..., 2:] - boxes[..., :2]).clamp(min=1.0)
    offset = ((near[..., :2] + near[..., 2:]) - (boxes[..., :2] + boxes[..., 2:])) / 2 / size
    flag = has.to(torch.float32)[..., None]
    vector = torch.cat([one_hot(labels, num_classes), one_hot(near_labels, num_classes),
                        boxes / _limits(hw, boxes.dtype), offset.clamp(-10, 10) * flag, flag], dim=-1)
    return RegionInputs([read.features(boxes), read.features(context_boxes(boxes, hw)), read.features(near)],
                        [read.pixels(boxes), read.pixels(near)], vector.reshape(-1, vector.shape[-1]))
