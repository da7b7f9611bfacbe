"""Which torchvision builder made a state dict, read from its tensor names and shapes alone.

Why a separate module: recognition is pure bookkeeping over key names (no model is built), so it can
name every architecture it knows in its errors and be tested without constructing ResNets.

Detectors: the backbone (`backbone.body.layer4.*` ResNet-50, `backbone.body.0.*` MobileNetV3-Large),
v1 vs v2 (v2's box head is convolutional, `roi_heads.box_head.0.0.*`, v1's has `fc6`), and the head
(`mask_predictor`, `keypoint_predictor`). Semantic models: the head (`classifier.low_classifier` LR-ASPP,
`classifier.0.convs` DeepLabV3's ASPP, `classifier.0` + `classifier.4` FCN), the backbone (ResNet-101
has `layer3.22`, ResNet-50 stops at `layer3.5`; MobileNetV3-Large `backbone.0`) and an aux classifier.
fasterrcnn_mobilenet_v3_large_fpn and its _320_ sibling have identical tensors (they differ in input
size and RPN settings only): the file name or `--arch` must say which.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError

DETECTORS = (
    "fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2", "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_mobilenet_v3_large_320_fpn", "maskrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn_v2",
    "keypointrcnn_resnet50_fpn",
)
SEGMENTERS = (
    "fcn_resnet50", "fcn_resnet101", "deeplabv3_resnet50", "deeplabv3_resnet101",
    "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large",
)
ARCH_NAMES = DETECTORS + SEGMENTERS
EXPECTED = ("a torchvision fasterrcnn/maskrcnn/keypointrcnn, fcn, deeplabv3 or lraspp state dict "
            f"({', '.join(ARCH_NAMES)})")
_MOBILENET_TWINS = ("fasterrcnn_mobilenet_v3_large_fpn", "fasterrcnn_mobilenet_v3_large_320_fpn")


@dataclass(frozen=True)
class Recognised:
    """A builder name and the arguments the file's tensors fix."""

    arch: str
    task: str  # detection | instance | keypoints | semantic
    num_classes: int
    kwargs: dict[str, Any]


def _refuse(path: Path, found: str) -> EdgesegError:
    return EdgesegError(f"{path} is not a torchvision fasterrcnn/maskrcnn/keypointrcnn, fcn, deeplabv3 or "
                        f"lraspp state dict ({found}); expected one of: {', '.join(ARCH_NAMES)}")


def _detector(state: Mapping[str, Any], path: Path, arch_hint: str | None) -> Recognised:
    num_classes = int(state["roi_heads.box_predictor.cls_score.weight"].shape[0])
    v2 = "roi_heads.box_head.0.0.weight" in state
    if "backbone.body.layer4.2.conv3.weight" in state and "backbone.body.layer3.6.conv1.weight" not in state:
        backbone = "resnet50"
    elif "backbone.body.0.0.weight" in state and "backbone.body.16.0.weight" in state:
        backbone = "mobilenet"
    else:
        raise _refuse(path, "a detector whose backbone is neither ResNet-50 FPN nor MobileNetV3-Large FPN")
    keypoints = any(k.startswith("roi_heads.keypoint_predictor.") for k in state)
    mask = any(k.startswith("roi_heads.mask_predictor.") for k in state)
    if backbone == "mobilenet":
        if v2 or keypoints or mask:
            raise _refuse(path, "a MobileNetV3 detector with a v2 box head or a mask/keypoint head, "
                                "which torchvision does not build")
        return Recognised(_mobilenet_twin(path, arch_hint), "detection", num_classes, {})
    suffix = "_v2" if v2 else ""
    if keypoints:
        if v2:
            raise _refuse(path, "a Keypoint R-CNN with a v2 box head, which torchvision does not build")
        count = int(state["roi_heads.keypoint_predictor.kps_score_lowres.weight"].shape[1])
        return Recognised("keypointrcnn_resnet50_fpn", "keypoints", num_classes, {"num_keypoints": count})
    if mask:
        return Recognised(f"maskrcnn_resnet50_fpn{suffix}", "instance", num_classes, {})
    return Recognised(f"fasterrcnn_resnet50_fpn{suffix}", "detection", num_classes, {})


def _mobilenet_twin(path: Path, arch_hint: str | None) -> str:
    """The two MobileNetV3 FPN detectors share every tensor: the hint, else the file name, decides."""
    if arch_hint in _MOBILENET_TWINS:
        return arch_hint
    named = [a for a in _MOBILENET_TWINS if a in path.name]
    if len(named) == 1:
        return named[0]
    raise EdgesegError(f"{path} holds a MobileNetV3-Large FPN detector, whose tensors are the same for "
                       f"{' and '.join(_MOBILENET_TWINS)} (they differ in input size and RPN settings): "
                       "say which with --arch, or keep torchvision's file name")


def _segmenter(state: Mapping[str, Any], path: Path) -> Recognised:
    if "classifier.low_classifier.weight" in state:
        head, classes_key = "lraspp", "classifier.low_classifier.weight"
    elif "classifier.0.convs.0.0.weight" in state:
        head, classes_key = "deeplabv3", "classifier.4.weight"
    elif "classifier.0.weight" in state and "classifier.4.weight" in state:
        head, classes_key = "fcn", "classifier.4.weight"
    else:
        raise _refuse(path, "a semantic model whose classifier is neither FCN, DeepLabV3 nor LR-ASPP")
    if "backbone.layer4.2.conv3.weight" in state:
        backbone = "resnet101" if "backbone.layer3.22.conv1.weight" in state else "resnet50"
    elif "backbone.0.0.weight" in state:
        backbone = "mobilenet_v3_large"
    else:
        raise _refuse(path, f"a {head} head on a backbone neither ResNet-50/101 nor MobileNetV3-Large")
    arch = f"{head}_{backbone}"
    if arch not in SEGMENTERS:
        raise _refuse(path, f"{head} on {backbone}, which torchvision does not build")
    aux = any(k.startswith("aux_classifier.") for k in state)
    kwargs = {} if head == "lraspp" else {"aux_loss": aux}
    return Recognised(arch, "semantic", int(state[classes_key].shape[0]), kwargs)


def recognise(state: Mapping[str, Any], path: Path, arch_hint: str | None = None) -> Recognised:
    """The builder, task, class count and builder kwargs for `state` (tensor name -> tensor).

    arch_hint: a builder name the user gave (`--arch`); it must agree with the tensors, and only
    decides between architectures the tensors cannot tell apart."""
    if arch_hint is not None and arch_hint not in ARCH_NAMES:
        raise EdgesegError(f"unknown torchvision architecture {arch_hint!r}: "
                           f"use one of {', '.join(ARCH_NAMES)}")
    if "roi_heads.box_predictor.cls_score.weight" in state:
        found = _detector(state, path, arch_hint)
    elif any(k.startswith("classifier.") for k in state) and any(k.startswith("backbone.") for k in state):
        found = _segmenter(state, path)
    else:
        raise _refuse(path, "no R-CNN box predictor and no segmentation classifier tensors")
    if arch_hint is not None and arch_hint != found.arch:
        raise EdgesegError(f"{path} holds {found.arch} tensors, not {arch_hint}: drop --arch or pass the "
                           f"{arch_hint} file")
    return found
