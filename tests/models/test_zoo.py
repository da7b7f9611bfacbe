"""The zoo: committed weights load and match their sha256; bad files and names give one clear error
and nothing stored in a file is executed; torchvision checkpoints load bit-exactly."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from edgeseg.errors import EdgesegError
from edgeseg.hashing import sha256_file
from edgeseg.models import zoo

INDEX = zoo.load_index()
WITH_WEIGHTS = sorted(n for n, e in INDEX.items() if e.get("weights") or
                      ("base" in e and INDEX[e["base"]].get("weights")))


def test_index_entries_build_and_describe_themselves() -> None:
    for name in INDEX:
        model, info = zoo.build(name)
        assert isinstance(model, torch.nn.Module)
        assert info.task in {"detection", "instance", "keypoints", "panoptic", "semantic", "multitask",
                             "densecap"}
        assert info.classes and info.input_size == 320 and len(info.normalization["mean"]) == 3


def test_files_in_zoo_are_indexed_and_small() -> None:
    files = {p.name for p in zoo.ZOO_DIR.glob("*.pt")}
    indexed = {e["weights"] for e in INDEX.values() if e.get("weights")}
    assert files == indexed
    sizes = [(zoo.ZOO_DIR / f).stat().st_size for f in files]
    assert all(s <= 25 * 2**20 for s in sizes) and sum(sizes) <= 100 * 2**20


@pytest.mark.parametrize("name", sorted(n for n, e in INDEX.items() if e.get("weights")))
def test_committed_weights_match_sha256(name: str) -> None:
    entry = INDEX[name]
    assert sha256_file(zoo.ZOO_DIR / entry["weights"]) == entry["sha256"]


@pytest.mark.parametrize("name", WITH_WEIGHTS)
def test_every_zoo_model_loads(name: str) -> None:
    model, info = zoo.get(name)
    assert not model.training and info.sha256 is not None and info.weights is not None
    state = zoo.read_state_dict(info.weights, name)
    own = model.state_dict()
    key = next(iter(own))
    assert torch.equal(own[key], state[key].to(own[key].dtype))


def test_unknown_name_lists_the_zoo() -> None:
    with pytest.raises(EdgesegError, match="unknown model 'nope'.*fcn_bilinear"):
        zoo.get("nope")


@pytest.fixture()
def fcn_weights(tmp_path: Path) -> Path:
    model, _ = zoo.build("fcn_bilinear")
    path = tmp_path / "fcn.pt"
    torch.save(model.state_dict(), path)
    return path


def test_own_weights_file_loads(fcn_weights: Path) -> None:
    model, info = zoo.get("fcn_bilinear", fcn_weights)
    expected = torch.load(fcn_weights, weights_only=True)
    assert all(torch.equal(v, expected[k]) for k, v in model.state_dict().items())
    assert info.sha256 == sha256_file(fcn_weights)


def test_wrong_architecture_names_file_and_model(fcn_weights: Path) -> None:
    with pytest.raises(EdgesegError, match=r"fcn\.pt does not fit zoo model 'shapes_rcnn'.*missing"):
        zoo.get("shapes_rcnn", fcn_weights)
    # same family, other shapes: the transposed FCN has extra tensors
    with pytest.raises(EdgesegError, match="does not fit zoo model 'fcn_transposed'"):
        zoo.get("fcn_transposed", fcn_weights)


def test_truncated_file(fcn_weights: Path) -> None:
    data = fcn_weights.read_bytes()
    fcn_weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(EdgesegError, match=r"fcn\.pt cannot be read.*truncated.*zoo model 'fcn_bilinear'"):
        zoo.get("fcn_bilinear", fcn_weights)


class Payload:
    """A pickle that would create a file when unpickled, if anything executed it."""

    marker: Path = Path()

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def test_pickle_with_code_is_refused_and_not_run(tmp_path: Path) -> None:
    Payload.marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(1), "x": Payload()}, path)
    Payload.marker.unlink(missing_ok=True)
    assert not Payload.marker.exists()
    with pytest.raises(EdgesegError, match=r"evil\.pt is not a plain state dict.*fcn_bilinear"):
        zoo.get("fcn_bilinear", path)
    assert not Payload.marker.exists()
    with open(tmp_path / "raw.pkl", "wb") as f:
        pickle.dump(Payload(), f)
    with pytest.raises(EdgesegError, match="not a plain state dict"):
        zoo.get("fcn_bilinear", tmp_path / "raw.pkl")
    assert not Payload.marker.exists()


def test_not_a_dict_of_tensors(tmp_path: Path) -> None:
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], path)
    with pytest.raises(EdgesegError, match=r"list\.pt holds a list, not a state dict"):
        zoo.get("fcn_bilinear", path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EdgesegError, match="not found"):
        zoo.get("fcn_bilinear", tmp_path / "none.pt")


def test_sha_mismatch_of_a_zoo_file_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                fcn_weights: Path) -> None:
    index = json.loads(zoo.ZOO_INDEX.read_text())
    index["models"]["fcn_bilinear"].update(weights="fcn.pt", sha256="0" * 64)
    (tmp_path / "zoo.json").write_text(json.dumps(index))
    monkeypatch.setattr(zoo, "ZOO_DIR", tmp_path)
    monkeypatch.setattr(zoo, "ZOO_INDEX", tmp_path / "zoo.json")
    with pytest.raises(EdgesegError, match="sha256 .* the zoo expects 000000000000"):
        zoo.get("fcn_bilinear")


@pytest.mark.parametrize("arch", [
    "fasterrcnn_resnet50_fpn",
    pytest.param("maskrcnn_resnet50_fpn", marks=pytest.mark.slow),  # ResNet-50s are slow to build on 2 cores
    pytest.param("keypointrcnn_resnet50_fpn", marks=pytest.mark.slow),
])
def test_torchvision_checkpoint_gives_torchvision_outputs(arch: str, tmp_path: Path) -> None:
    from torchvision.models import detection

    torch.manual_seed(0)
    kwargs = {"num_classes": 2} if arch.startswith("keypoint") else {"num_classes": 4}
    reference = getattr(detection, arch)(weights=None, weights_backbone=None, min_size=128, max_size=128,
                                         box_score_thresh=0.0, **kwargs).eval()
    path = tmp_path / f"{arch}.pth"
    torch.save(reference.state_dict(), path)
    model, info = zoo.get(path)
    assert info.family == "torchvision" and info.extra["torchvision_arch"] == arch
    assert type(model) is type(reference)
    model.transform.min_size, model.transform.max_size = (128,), 128  # small images keep the test fast
    model.roi_heads.score_thresh = 0.0
    image = torch.rand(3, 128, 128)
    with torch.no_grad():
        ours, theirs = model([image])[0], reference([image])[0]
    assert set(ours) == set(theirs)
    for key in theirs:
        assert torch.equal(ours[key], theirs[key]), key
    assert len(theirs["boxes"]) > 0  # random heads with no score threshold still produce boxes


def test_torchvision_path_rejects_other_tensors(fcn_weights: Path) -> None:
    with pytest.raises(EdgesegError, match="is not a torchvision fasterrcnn/maskrcnn/keypointrcnn"):
        zoo.get(fcn_weights)
