"""Bring-your-own torchvision model: a state-dict file of one of torchvision's detection or semantic builders.

The architecture is recognised from the tensor names (edgeseg.models.torchvision_archs), the number
of classes from the classifier's shape; torchvision's own builder makes the model (no download:
weights=None, weights_backbone=None), so outputs are torchvision's, bit for bit.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor, nn
from torchvision.models import detection, get_model_weights, segmentation

from edgeseg.hashing import sha256_file
from edgeseg.models.torchvision_archs import EXPECTED, Recognised, recognise
from edgeseg.models.zoo import ModelInfo, load_weights, read_state_dict

# torchvision's semantic eval preset resizes the shorter side to 520 (SemanticSegmentation(resize_size=520))
SEMANTIC_SHORT_SIDE = 520


def build_torchvision(found: Recognised) -> nn.Module:
    """torchvision's builder for `found`, untrained, with the file's class count and head options."""
    module = segmentation if found.task == "semantic" else detection
    builder = getattr(module, found.arch)
    return builder(weights=None, weights_backbone=None, num_classes=found.num_classes, **found.kwargs)


def _with_frozen_norm_counters(state: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
    """A checkpoint trained from torchvision's pretrained backbone has FrozenBatchNorm2d layers, which
    keep no `num_batches_tracked`; the untrained builder makes BatchNorm2d. The counter is unused in
    eval, so the model's own fills the gap."""
    own = model.state_dict()
    counters = {k: v for k, v in own.items() if k.endswith(".num_batches_tracked") and k not in state}
    return {**counters, **state}


def _class_names(found: Recognised) -> list[str]:
    """torchvision's category names when the class count is its dataset's, else generic names."""
    names = list(get_model_weights(found.arch).DEFAULT.meta["categories"])  # type: ignore[attr-defined]
    first = 0 if found.task == "semantic" else 1  # detectors' index 0 is background, not a class
    if len(names) != found.num_classes:
        names = [f"class_{i}" for i in range(found.num_classes)]
    return names[first:]


def _heads(task: str) -> list[str]:
    heads = {"instance": ["box", "mask"], "keypoints": ["box", "keypoint"], "semantic": ["semantic"]}
    return heads.get(task, ["box"])


def load_torchvision_checkpoint(path: Path, arch: str | None = None) -> tuple[nn.Module, ModelInfo]:
    """torchvision's model with the file's weights, in eval mode, and zoo-style metadata; `arch`
    names the builder where the tensors cannot (the two MobileNetV3 FPN detectors)."""
    state = read_state_dict(path, EXPECTED)
    found = recognise(state, path, arch)
    model = build_torchvision(found)
    load_weights(model, _with_frozen_norm_counters(state, model), path,
                 f"torchvision {found.arch} with {found.num_classes} classes")
    transform: Any = getattr(model, "transform", None)
    size = int(transform.min_size[0]) if transform is not None else SEMANTIC_SHORT_SIDE
    config: dict[str, Any] = {"arch": found.arch, "num_classes": found.num_classes, **found.kwargs}
    info = ModelInfo(name=path.stem, family="torchvision", task=found.task, classes=_class_names(found),
                     input_size=size, config=config, heads=_heads(found.task), weights=path,
                     sha256=sha256_file(path), extra={"torchvision_arch": found.arch})
    return model.eval(), info
