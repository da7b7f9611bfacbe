"""The torch custom ops `edgeseg::roi_align` and `edgeseg::nms` (training, eager parity, export).

Each op runs the C++ CPU twin through numpy (`edgeseg.ops.cpu`), has a fake kernel so tracing and
export see the output shapes, and an ONNX symbolic (`edgeseg.ops.onnx_symbolic`) that turns it
into an `edgeseg` domain node. RoIAlign's backward differentiates the naive torch oracle (slow;
meant for tests and small fine-tuning, gradients flow to the features only, as in torchvision).
Importing this module registers the ops.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from edgeseg.ops import cpu, naive
from edgeseg.ops.spec import load_spec


def _numpy(t: Tensor) -> Any:
    return t.detach().cpu().contiguous().numpy()


@torch.library.custom_op("edgeseg::roi_align", mutates_args=())
def _roi_align(
    features: list[Tensor],
    rois: Tensor,
    batch_idx: Tensor,
    output_height: int,
    output_width: int,
    sampling_ratio: int,
    aligned: int,
    mode: int,
    quantized: int,
    spatial_scales: list[float],
    canonical_scale: float,
    canonical_level: int,
) -> Tensor:
    pooled = cpu.roi_align(
        [_numpy(f) for f in features],
        _numpy(rois),
        _numpy(batch_idx),
        output_height=output_height,
        output_width=output_width,
        sampling_ratio=sampling_ratio,
        aligned=aligned,
        mode=mode,
        quantized=quantized,
        spatial_scales=spatial_scales,
        canonical_scale=canonical_scale,
        canonical_level=canonical_level,
    )
    return torch.from_numpy(pooled).to(features[0].device)


@_roi_align.register_fake
def _roi_align_fake(features, rois, batch_idx, output_height, output_width, *args):  # type: ignore[no-untyped-def]
    return features[0].new_empty((rois.shape[0], features[0].shape[1], output_height, output_width))


_ROI_FIELDS = load_spec("roi_align").field_names


def _roi_align_setup(ctx, inputs, output):  # type: ignore[no-untyped-def]
    features, rois, batch_idx, *fields = inputs
    ctx.save_for_backward(*features, rois, batch_idx)
    ctx.fields = dict(zip(_ROI_FIELDS, fields, strict=True))


def _roi_align_backward(ctx, grad):  # type: ignore[no-untyped-def]
    *features, rois, batch_idx = ctx.saved_tensors
    with torch.enable_grad():
        leaves = [f.detach().requires_grad_(True) for f in features]
        out = naive.roi_align(leaves, rois, batch_idx, **ctx.fields)
        grads = torch.autograd.grad(out, leaves, grad, allow_unused=True)
    pairs = zip(grads, features, strict=True)
    feature_grads = [g if g is not None else torch.zeros_like(f) for g, f in pairs]
    return (feature_grads, None, None) + (None,) * len(_ROI_FIELDS)


_roi_align.register_autograd(_roi_align_backward, setup_context=_roi_align_setup)


@torch.library.custom_op("edgeseg::nms", mutates_args=())
def _nms(
    boxes: Tensor,
    scores: Tensor,
    score_threshold: float,
    iou_threshold: float,
    pre_nms_top_k: int,
    max_detections: int,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    outs = cpu.nms(
        _numpy(boxes),
        _numpy(scores),
        score_threshold=score_threshold,
        iou_threshold=iou_threshold,
        pre_nms_top_k=pre_nms_top_k,
        max_detections=max_detections,
    )
    b, s, c, i, n = (torch.from_numpy(o).to(scores.device) for o in outs)
    return b, s, c, i, n


@_nms.register_fake
def _nms_fake(boxes, scores, score_threshold, iou_threshold, pre_nms_top_k, max_detections):  # type: ignore[no-untyped-def]
    batch, k = scores.shape[0], max_detections
    return (
        boxes.new_empty((batch, k, 4)),
        scores.new_empty((batch, k)),
        scores.new_empty((batch, k), dtype=torch.int32),
        scores.new_empty((batch, k), dtype=torch.int32),
        scores.new_empty((batch,), dtype=torch.int32),
    )


def roi_align(features: Tensor | list[Tensor], rois: Tensor, batch_idx: Tensor, **fields: Any) -> Tensor:
    """Multi-level RoIAlign; fields as in the spec (defaults filled in). One tensor = one level."""
    maps = [features] if isinstance(features, Tensor) else list(features)
    p = load_spec("roi_align").resolve(fields)
    return torch.ops.edgeseg.roi_align(maps, rois, batch_idx, *(p[name] for name in _ROI_FIELDS))


def nms(boxes: Tensor, scores: Tensor, **fields: Any) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Class-aware batched NMS with fixed-size outputs; fields as in the spec (defaults filled in)."""
    p = load_spec("nms").resolve(fields)
    return torch.ops.edgeseg.nms(boxes, scores, *(p[name] for name in load_spec("nms").field_names))
