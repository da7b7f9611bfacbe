"""Bring-your-own torchvision detector: a state-dict file of fasterrcnn/maskrcnn/keypointrcnn_resnet50_fpn.

The architecture is recognised from the tensor names (mask or keypoint predictor present), the
number of classes from the classifier's shape; torchvision's own builder makes the model (no
download: weights=None), so outputs are torchvision's, bit for bit.
"""
from __future__ import annotations

from pathlib import Path

from torch import Tensor, nn
from torchvision.models import detection

from edgeseg.errors import EdgesegError
from edgeseg.hashing import sha256_file
from edgeseg.models.zoo import ModelInfo, load_weights, read_state_dict

ARCHS = {
    "keypointrcnn_resnet50_fpn": ("keypoints", detection.keypointrcnn_resnet50_fpn,
                                  detection.KeypointRCNN_ResNet50_FPN_Weights.DEFAULT),
    "maskrcnn_resnet50_fpn": ("instance", detection.maskrcnn_resnet50_fpn,
                              detection.MaskRCNN_ResNet50_FPN_Weights.DEFAULT),
    "fasterrcnn_resnet50_fpn": ("detection", detection.fasterrcnn_resnet50_fpn,
                                detection.FasterRCNN_ResNet50_FPN_Weights.DEFAULT),
}
EXPECTED = "a torchvision fasterrcnn/maskrcnn/keypointrcnn_resnet50_fpn state dict"


def detect_arch(state: dict[str, Tensor], path: Path) -> str:
    """Which torchvision builder made these tensors."""
    needed = ("roi_heads.box_predictor.cls_score.weight", "backbone.body.layer4.2.conv3.weight")
    if any(k not in state for k in needed):
        raise EdgesegError(f"{path} is not {EXPECTED} (no ResNet-50 FPN box predictor tensors); "
                           "pass a zoo model name or such a file")
    if any(k.startswith("roi_heads.keypoint_predictor.") for k in state):
        return "keypointrcnn_resnet50_fpn"
    if any(k.startswith("roi_heads.mask_predictor.") for k in state):
        return "maskrcnn_resnet50_fpn"
    return "fasterrcnn_resnet50_fpn"


def load_torchvision_checkpoint(path: Path) -> tuple[nn.Module, ModelInfo]:
    """torchvision's model with the file's weights, in eval mode, and zoo-style metadata."""
    state = read_state_dict(path, EXPECTED)
    arch = detect_arch(state, path)
    task, builder, reference = ARCHS[arch]
    num_classes = int(state["roi_heads.box_predictor.cls_score.weight"].shape[0])
    kwargs = {}
    if arch == "keypointrcnn_resnet50_fpn":
        kwargs["num_keypoints"] = int(state["roi_heads.keypoint_predictor.kps_score_lowres.weight"].shape[1])
    model = builder(weights=None, weights_backbone=None, num_classes=num_classes, **kwargs)
    load_weights(model, state, path, f"torchvision {arch} with {num_classes} classes")
    names = list(reference.meta["categories"])
    classes = names[1:] if len(names) == num_classes else [f"class_{i}" for i in range(1, num_classes)]
    heads = ["box"] + {"instance": ["mask"], "keypoints": ["keypoint"]}.get(task, [])
    info = ModelInfo(name=path.stem, family="torchvision", task=task, classes=classes,
                     input_size=int(model.transform.min_size[0]),
                     config={"arch": arch, "num_classes": num_classes},
                     heads=heads,
                     weights=path, sha256=sha256_file(path), extra={"torchvision_arch": arch})
    return model.eval(), info
