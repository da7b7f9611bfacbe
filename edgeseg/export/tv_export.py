"""`edgeseg export FILE.pth`: a torchvision state dict -> deploy graph, with the architecture named when
its tensors cannot say (`--arch`) and torchvision's dataset labels when the classes are its dataset's.

Why beside `export(...)`: that entry point serves zoo names and knows no `--arch`; a checkpoint's label
default also depends on its task (a 21-class semantic model is VOC's, a 91-class detector COCO's).
"""
from __future__ import annotations

from pathlib import Path

from edgeseg.export.command import DEFAULT_OPSET
from edgeseg.labels import IDS, Category, LabelSet, palette_color


def voc_labels(classes: list[str]) -> LabelSet:
    """torchvision's 21 VOC categories in semantic-index order: index = id, 0 the background (stuff)."""
    return LabelSet("voc", tuple(Category(i, name, i > 0, palette_color(i))
                                 for i, name in enumerate(classes)))


def checkpoint_labels(info: object) -> LabelSet | None:
    """Semantic models: VOC's set with torchvision's 21 VOC classes, else ids (COCO's detection table
    would name label-map indices wrongly); detectors: None, the export's own default (COCO for 91
    classes, else ids)."""
    if getattr(info, "task", "") != "semantic":
        return None
    classes = list(getattr(info, "classes", []))
    return voc_labels(classes) if len(classes) == 21 and classes[0] == "__background__" else IDS


def export_checkpoint(path: str | Path, output: str | Path, arch: str | None = None,
                      opset: int = DEFAULT_OPSET, batch: str = "dynamic", ops: str = "edgeseg",
                      frame_hw: tuple[int, int] | None = None, labels: LabelSet | None = None) -> Path:
    """Export torchvision state-dict file `path` to `output` (options as `edgeseg export --help`)."""
    from edgeseg.export.onnx_export import deploy_metadata, export_deploy
    from edgeseg.export.wrappers import wrap
    from edgeseg.models.torchvision_ckpt import load_torchvision_checkpoint

    model, info = load_torchvision_checkpoint(Path(path), arch)
    deploy = wrap(model, info, ops, frame_hw)
    metadata = deploy_metadata(deploy, info, ops, labels or checkpoint_labels(info))
    return export_deploy(deploy, output, metadata, opset, batch)
