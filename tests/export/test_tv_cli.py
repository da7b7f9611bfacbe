"""`edgeseg export FILE.pth` for torchvision's families: the graph carries the task, the size asked for and
the label set a user's classes call for (VOC for torchvision's 21 semantic classes, COCO for 91-class
detectors, ids otherwise); a file whose tensors cannot name their builder is refused in one line."""
from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
import torch
from torchvision.models import segmentation

from edgeseg.cli import main
from edgeseg.export.tv_export import checkpoint_labels
from edgeseg.labels import IDS
from edgeseg.models.zoo import ModelInfo


def props(path: Path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def test_semantic_checkpoint_exports_with_voc_labels(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21)
    torch.save(model.state_dict(), tmp_path / "my_lraspp.pth")
    out = tmp_path / "my_lraspp.onnx"
    assert main(["export", str(tmp_path / "my_lraspp.pth"), "-o", str(out), "--input-size", "96x128",
                 "--batch", "1"]) == 0
    meta = props(out)
    assert meta["edgeseg.task"] == "semantic" and json.loads(meta["edgeseg.outputs"]) == ["semantic"]
    geometry = json.loads(meta["edgeseg.input"])
    assert (geometry["height"], geometry["width"], geometry["resized"]) == (96, 128, [520, 693])
    labels = json.loads(meta["edgeseg.labels"])
    assert labels["name"] == "voc" and [c["name"] for c in labels["categories"]][:3] == [
        "__background__", "aeroplane", "bicycle"]
    assert [c["id"] for c in labels["categories"]] == list(range(21))  # id = index in the label map


def test_label_defaults_follow_the_classes() -> None:
    voc = ["__background__"] + [f"c{i}" for i in range(20)]
    assert checkpoint_labels(ModelInfo("m", "torchvision", "semantic", voc, 520, {})) is not None
    names = [f"c{i}" for i in range(91)]
    coco_sized = ModelInfo("m", "torchvision", "semantic", names, 520, {"num_classes": 91})
    assert checkpoint_labels(coco_sized) == IDS  # never COCO's detection table for label-map indices
    assert checkpoint_labels(ModelInfo("m", "torchvision", "detection", voc, 800, {})) is None


def test_mobilenet_twin_without_a_name_is_refused_in_one_line(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from torchvision.models import detection

    model = detection.fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, num_classes=3)
    torch.save(model.state_dict(), tmp_path / "detector.pth")
    code = main(["export", str(tmp_path / "detector.pth"), "-o", str(tmp_path / "d.onnx")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(err) == 1 and "--arch" in err[0] and "_320_fpn" in err[0]
    assert not (tmp_path / "d.onnx").exists()


def test_python_export_of_a_checkpoint_takes_the_cli_path(tmp_path: Path) -> None:
    """edgeseg.export.onnx_export.export("x.pth") gives the same labels as the CLI (VOC here)."""
    from edgeseg.errors import EdgesegError
    from edgeseg.export.onnx_export import export

    torch.manual_seed(0)
    model = segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21)
    torch.save(model.state_dict(), tmp_path / "my_lraspp.pth")
    out = export(tmp_path / "my_lraspp.pth", tmp_path / "api.onnx", frame_hw=(96, 128), batch="1")
    assert json.loads(props(out)["edgeseg.labels"])["name"] == "voc"
    with pytest.raises(EdgesegError, match="apply to zoo models"):
        export(tmp_path / "my_lraspp.pth", tmp_path / "x.onnx", random_init=True)
