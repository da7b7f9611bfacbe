"""torchvision's detection and semantic families with seeded random weights that act like trained ones.

Why not plain random init: with untrained BatchNorm statistics MobileNetV3's activations fade, so every
box gets the same score and a semantic map is one class, and a parity test comparing those cannot
fail. `lifelike` recalibrates every BatchNorm's statistics on the test frames (as a trained net's
are: unit-scale activations) and scales the RPN and box classifiers' logits to a spread of 2, so
scores differ, boxes exist and the maps hold many classes. Small frames keep a ResNet-50 affordable
on 2 cores. Used by tests/export and, through sys.path, the RTX ladder (tests/engine).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.models import detection, segmentation

from edgeseg.data.shapes import render_image
from edgeseg.models.torchvision_ckpt import load_torchvision_checkpoint

FRAME_HW = (192, 256)
DETECTOR_SIZE = 256  # min_size = max_size: 192x256 frames keep their size
SEMANTIC_SHORT_SIDE = 160  # 192x256 frames are resized to 160x213 in the graph
# standard deviation the classifiers' logits get: spread scores without saturating softmax into ties
LOGIT_SPREAD = {"rpn.head.cls_logits": 2.0, "roi_heads.box_predictor.cls_score": 1.0}


@dataclass(frozen=True)
class Family:
    task: str
    num_classes: int
    kwargs: dict[str, Any]


# ResNet-50 heads on 1000 proposals and 100 detections cost minutes on 2 cores: fewer keep the
# graph's structure (and the MobileNet entries keep torchvision's proposal counts, 1000 and 150)
SIZED = {"min_size": DETECTOR_SIZE, "max_size": DETECTOR_SIZE, "box_score_thresh": 0.01,
         "rpn_pre_nms_top_n_test": 300, "rpn_post_nms_top_n_test": 150, "box_detections_per_img": 40}
ARCHS: dict[str, Family] = {
    "fasterrcnn_resnet50_fpn": Family("detection", 91, SIZED),
    "fasterrcnn_resnet50_fpn_v2": Family("detection", 91, SIZED),
    "fasterrcnn_mobilenet_v3_large_fpn": Family("detection", 91, {"min_size": DETECTOR_SIZE,
                                                                  "max_size": DETECTOR_SIZE,
                                                                  "box_score_thresh": 0.01}),
    # its own 320 px input and 150 proposals: the sizes this variant exists for
    "fasterrcnn_mobilenet_v3_large_320_fpn": Family("detection", 91, {"box_score_thresh": 0.01}),
    "maskrcnn_resnet50_fpn": Family("instance", 91, SIZED),
    "maskrcnn_resnet50_fpn_v2": Family("instance", 91, SIZED),
    "keypointrcnn_resnet50_fpn": Family("keypoints", 2, SIZED),
    "fcn_resnet50": Family("semantic", 21, {"aux_loss": True}),
    "fcn_resnet101": Family("semantic", 21, {"aux_loss": False}),
    "deeplabv3_resnet50": Family("semantic", 21, {"aux_loss": False}),
    "deeplabv3_resnet101": Family("semantic", 21, {"aux_loss": True}),
    "deeplabv3_mobilenet_v3_large": Family("semantic", 21, {"aux_loss": True}),
    "lraspp_mobilenet_v3_large": Family("semantic", 21, {}),
}


def frames(count: int, hw: tuple[int, int] = FRAME_HW, seed: int = 7) -> np.ndarray:
    """ShapesWorld scenes [N,H,W,3] uint8 (sky, grass, road, shapes, people): camera-like content."""
    side = max(hw)
    return np.stack([render_image(seed, i, side, "val")[0][:hw[0], :hw[1]] for i in range(count)])


def eager_input(images: np.ndarray) -> list[torch.Tensor]:
    """Frames as torchvision's detectors take them: float [3,H,W] in [0, 1]."""
    return [torch.from_numpy(im).permute(2, 0, 1).float() / 255 for im in images]


def _logit_layers(model: nn.Module) -> dict[nn.Module, float]:
    modules = dict(model.named_modules())
    return {modules[name]: spread for name, spread in LOGIT_SPREAD.items() if name in modules}


def lifelike(model: nn.Module, batch: Any) -> None:
    """BatchNorm statistics from `batch` (one pass, cumulative average), then classifier logits
    scaled to the standard deviations of LOGIT_SPREAD, measured in the same pass."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
    seen: dict[nn.Module, list[torch.Tensor]] = {}
    spreads = _logit_layers(model)
    hooks = [layer.register_forward_hook(lambda m, _i, out: seen.setdefault(m, []).append(out.flatten()))
             for layer in spreads]
    with torch.no_grad():
        model(batch)
        for layer, outs in seen.items():
            factor = spreads[layer] / float(torch.cat(outs).std())
            layer.weight.mul_(factor)
            layer.bias.mul_(factor)
    for hook in hooks:
        hook.remove()
    for norm in norms:
        norm.eval()


def reference(arch: str, seed: int = 0) -> nn.Module:
    """torchvision's `arch` itself, seeded, made lifelike on two frames: the eager reference."""
    family = ARCHS[arch]
    torch.manual_seed(seed)
    module = segmentation if family.task == "semantic" else detection
    model = getattr(module, arch)(weights=None, weights_backbone=None, num_classes=family.num_classes,
                                  **family.kwargs).eval()
    batch = eager_input(frames(2, seed=11))
    lifelike(model, torch.stack(batch) if family.task == "semantic" else batch)
    return model


def through_checkpoint(arch: str, model: nn.Module, folder: Path) -> tuple[nn.Module, Any]:
    """`model` saved as a state dict named like torchvision's files and loaded back the way
    `edgeseg export FILE.pth` loads it, with the reference's test-time settings (input size, proposal
    and detection counts, score threshold: the builder's defaults are 800 px and 1000 proposals)."""
    path = folder / f"{arch}.pth"
    torch.save(model.state_dict(), path)
    loaded, info = load_torchvision_checkpoint(path)
    if ARCHS[arch].task == "semantic":
        return loaded, replace(info, input_size=SEMANTIC_SHORT_SIDE)
    loaded.transform = model.transform  # type: ignore[assignment]
    for part, names in (("rpn", ("_pre_nms_top_n", "_post_nms_top_n")),
                        ("roi_heads", ("score_thresh", "detections_per_img"))):
        for name in names:
            setattr(getattr(loaded, part), name, getattr(getattr(model, part), name))
    return loaded, info
