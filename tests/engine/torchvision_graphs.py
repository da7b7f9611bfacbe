"""torchvision's R-CNN family (ResNet-50 FPN, random weights) exported the way `edgeseg export` does."""

from __future__ import annotations

from pathlib import Path

KINDS = {
    # kind: (constructor name, task, number of classes with background)
    "mask": ("maskrcnn_resnet50_fpn", "instance", 91),
    "keypoint": ("keypointrcnn_resnet50_fpn", "keypoints", 2),
    "faster": ("fasterrcnn_resnet50_fpn", "detection", 91),
}
FRAME_HW = (240, 320)
SIZE = 320


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
