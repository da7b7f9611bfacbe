"""torchvision's families (random weights) exported the way `edgeseg export` does, for the RTX ladder.

`KINDS`: the three ResNet-50 FPN R-CNNs at 240x320, each with both op spellings. `FAMILIES`: every
other architecture `edgeseg export FILE.pth` takes (v2 detectors, MobileNetV3 detectors, FCN,
DeepLabV3, LR-ASPP), built by tests/export/tv_models.py (seeded, lifelike weights, 192x256 frames).
"""

from __future__ import annotations

import sys
from pathlib import Path

KINDS = {
    # kind: (constructor name, task, number of classes with background)
    "mask": ("maskrcnn_resnet50_fpn", "instance", 91),
    "keypoint": ("keypointrcnn_resnet50_fpn", "keypoints", 2),
    "faster": ("fasterrcnn_resnet50_fpn", "detection", 91),
}
FRAME_HW = (240, 320)
SIZE = 320
# architectures beyond KINDS; True: in the default run at FP32 (one detector, one semantic graph:
# each takes 15-60 s to export and measure on 2 cores), the rest in the slow run
FAMILIES = {
    "fasterrcnn_resnet50_fpn_v2": False,
    "fasterrcnn_mobilenet_v3_large_fpn": False,
    "fasterrcnn_mobilenet_v3_large_320_fpn": True,
    "maskrcnn_resnet50_fpn_v2": False,
    "fcn_resnet50": False,
    "fcn_resnet101": False,
    "deeplabv3_resnet50": False,
    "deeplabv3_resnet101": False,
    "deeplabv3_mobilenet_v3_large": False,
    "lraspp_mobilenet_v3_large": True,
}


def export_torchvision(kind: str, ops: str, path: Path) -> Path:
    """Export torchvision's `kind` R-CNN (seeded random weights, 320 px) with `ops` to `path`."""
    import torch
    from torchvision.models import detection

    from edgeseg.export.onnx_export import deploy_metadata, export_deploy
    from edgeseg.export.wrappers import wrap
    from edgeseg.models.zoo import ModelInfo

    constructor, task, num_classes = KINDS[kind]
    torch.manual_seed(0)
    model = getattr(detection, constructor)(weights=None, weights_backbone=None, min_size=SIZE, max_size=SIZE)
    info = ModelInfo(constructor, "torchvision", task, [f"c{i}" for i in range(1, num_classes)], SIZE, {})
    deploy = wrap(model.eval(), info, ops, FRAME_HW)
    return export_deploy(deploy, path, deploy_metadata(deploy, info, ops), batch="1")


def export_family(arch: str, path: Path) -> Path:
    """Export `arch` (a FAMILIES key) from a state-dict file, as `edgeseg export FILE.pth` does."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
    try:
        from tv_models import FRAME_HW as FAMILY_HW
        from tv_models import reference, through_checkpoint
    finally:
        sys.path.pop(0)
    from edgeseg.export.onnx_export import deploy_metadata, export_deploy
    from edgeseg.export.wrappers import wrap

    model, info = through_checkpoint(arch, reference(arch), path.parent)
    deploy = wrap(model, info, "edgeseg", FAMILY_HW)
    return export_deploy(deploy, path, deploy_metadata(deploy, info, "edgeseg"), batch="1")
