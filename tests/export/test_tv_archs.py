"""Architecture recognition: every torchvision family `edgeseg export FILE.pth` takes is told apart from
its tensors alone (v1 vs v2, MobileNetV3 vs ResNet, FCN vs DeepLabV3 vs LR-ASPP, ResNet-50 vs 101,
with or without an aux classifier), with the user's class count; what cannot be told is refused
with the names expected. Models are built on the meta device: names and shapes, no weights."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision.models import detection, segmentation

from edgeseg.errors import EdgesegError
from edgeseg.models.torchvision_archs import ARCH_NAMES, DETECTORS, recognise
from edgeseg.models.torchvision_ckpt import load_torchvision_checkpoint

CASES = [(arch, {}) for arch in DETECTORS if not arch.startswith("keypoint")] + [
    ("keypointrcnn_resnet50_fpn", {"num_keypoints": 17}), ("keypointrcnn_resnet50_fpn", {"num_keypoints": 5}),
    ("fcn_resnet50", {"aux_loss": True}), ("fcn_resnet50", {"aux_loss": False}),
    ("fcn_resnet101", {"aux_loss": True}), ("fcn_resnet101", {"aux_loss": False}),
    ("deeplabv3_resnet50", {"aux_loss": True}), ("deeplabv3_resnet50", {"aux_loss": False}),
    ("deeplabv3_resnet101", {"aux_loss": True}), ("deeplabv3_resnet101", {"aux_loss": False}),
    ("deeplabv3_mobilenet_v3_large", {"aux_loss": True}),
    ("deeplabv3_mobilenet_v3_large", {"aux_loss": False}),
    ("lraspp_mobilenet_v3_large", {}),
]


def meta_state(arch: str, num_classes: int, **kwargs: object) -> dict[str, torch.Tensor]:
    module = detection if arch in DETECTORS else segmentation
    with torch.device("meta"):
        model = getattr(module, arch)(weights=None, weights_backbone=None, num_classes=num_classes, **kwargs)
    return model.state_dict()


def test_every_listed_architecture_has_a_case() -> None:
    assert {arch for arch, _ in CASES} == set(ARCH_NAMES)


@pytest.mark.parametrize(("arch", "kwargs"), CASES, ids=lambda v: v if isinstance(v, str) else
                         "-".join(f"{k}={x}" for k, x in v.items()) or "plain")
def test_recognised_with_the_users_class_count(arch: str, kwargs: dict) -> None:
    found = recognise(meta_state(arch, 7, **kwargs), Path(f"{arch}.pth"))
    assert (found.arch, found.num_classes) == (arch, 7)
    assert found.kwargs == kwargs


def test_the_mobilenet_twins_need_a_name() -> None:
    state = meta_state("fasterrcnn_mobilenet_v3_large_fpn", 91)
    with pytest.raises(EdgesegError, match="same for fasterrcnn_mobilenet_v3_large_fpn and "
                                           "fasterrcnn_mobilenet_v3_large_320_fpn.*--arch"):
        recognise(state, Path("my_detector.pth"))
    twin = "fasterrcnn_mobilenet_v3_large_320_fpn"
    assert recognise(state, Path("my_detector.pth"), twin).arch == twin
    assert recognise(state, Path(f"{twin}-907ea3f9.pth")).arch == twin


def test_a_hint_that_contradicts_the_tensors_is_refused() -> None:
    state = meta_state("lraspp_mobilenet_v3_large", 21)
    with pytest.raises(EdgesegError, match="holds lraspp_mobilenet_v3_large tensors, not fcn_resnet50"):
        recognise(state, Path("x.pth"), "fcn_resnet50")
    with pytest.raises(EdgesegError, match="unknown torchvision architecture 'resnet50'"):
        recognise(state, Path("x.pth"), "resnet50")


@pytest.mark.parametrize(("state", "why"), [
    ({"classifier.4.weight": torch.zeros(3, 1)}, "no R-CNN box predictor and no segmentation classifier"),
    ({"backbone.conv1.weight": torch.zeros(1), "classifier.weight": torch.zeros(3, 1)}, "neither FCN"),
])
def test_unknown_tensors_are_refused_naming_what_is_expected(state: dict, why: str) -> None:
    with pytest.raises(EdgesegError, match=why) as err:
        recognise(state, Path("model.pth"))
    assert all(name in str(err.value) for name in ARCH_NAMES)


def test_an_unbuilt_combination_is_refused() -> None:
    """FCN heads exist on ResNets only; an FCN head on MobileNetV3 is no torchvision builder."""
    state = {k: v for k, v in meta_state("deeplabv3_mobilenet_v3_large", 21).items()
             if not k.startswith("classifier.")}
    state.update({"classifier.0.weight": torch.zeros(1), "classifier.4.weight": torch.zeros(21, 1)})
    with pytest.raises(EdgesegError, match="fcn on mobilenet_v3_large, which torchvision does not build"):
        recognise(state, Path("model.pth"))


def test_pretrained_checkpoint_without_norm_counters_loads(tmp_path: Path) -> None:
    """Files trained from torchvision's pretrained backbones hold FrozenBatchNorm2d (no
    num_batches_tracked); the untrained builder's BatchNorm2d gets its own counters."""
    torch.manual_seed(0)
    model = segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "voc_lraspp.pth")
    loaded, info = load_torchvision_checkpoint(tmp_path / "voc_lraspp.pth")
    assert info.task == "semantic" and info.classes[:2] == ["__background__", "aeroplane"]
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in state.items())
