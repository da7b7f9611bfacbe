"""`edgeseg train` end to end on a tiny generated set: steps, logs, checkpoint, resume, eval, errors;
and the dataset's targets against the COCO files they come from."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools.coco import COCO

from edgeseg.cli import main
from edgeseg.data.shapes import generate_dataset
from edgeseg.models.datasets import ShapesDataset


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("shapes")
    train = generate_dataset(root / "train", "train", 4, seed=1, progress=False)
    val = generate_dataset(root / "val", "val", 2, seed=2, progress=False)
    return train, val


def test_dataset_targets_match_coco(tiny: tuple[Path, Path]) -> None:
    train, _ = tiny
    coco = COCO(str(train / "annotations" / "instances_train.json"))
    kps = json.loads((train / "annotations" / "person_keypoints_train.json").read_text())
    kp_by_id = {a["id"]: a["keypoints"] for a in kps["annotations"]}
    ds = ShapesDataset(train, "train")
    assert len(ds) == 4
    for i in range(len(ds)):
        image, t = ds[i]
        image_id = int(t["image_id"])
        anns = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=image_id)) if not a["iscrowd"]]
        assert image.shape == (3, 320, 320) and float(image.min()) >= 0 and float(image.max()) <= 1
        assert len(anns) == len(t["boxes"])
        rows = zip(anns, t["boxes"], t["labels"], t["masks"], t["keypoints"], strict=True)
        for a, box, label, mask, kp in rows:
            x, y, w, h = a["bbox"]
            assert box.tolist() == pytest.approx([x, y, x + w, y + h])
            assert int(label) == a["category_id"]
            assert int(mask.sum()) == int(coco.annToMask(a).sum()) == a["area"]
            expected = kp_by_id.get(a["id"], [0.0] * 51) if a["category_id"] == 5 else [0.0] * 51
            assert kp.flatten().tolist() == pytest.approx(expected, abs=1e-4)
        png = np.asarray(Image.open(train / "semantic" / "train" / f"{image_id:06d}.png"))
        assert np.array_equal(t["semantic"].numpy(), png)


def _log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]


def test_fcn_trains_resumes_and_evaluates(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    train, val = tiny
    run = tmp_path / "run"
    args = ["train", "fcn_bilinear", "--data", str(train), "--epochs", "2", "--batch-size", "2",
            "--out", str(run), "--threads", "1", "--no-progress"]
    assert main([*args, "--max-steps", "2", "--no-eval"]) == 0
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    assert ckpt["step"] == 2 and (run / "model.pt").is_file()
    assert main([*args, "--max-steps", "4", "--resume", "--val-data", str(val)]) == 0
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 4
    steps = [r["step"] for r in _log(run)]
    assert steps == [2, 4]  # the resumed run continued at step 3, it did not start over
    metrics = json.loads((run / "val_metrics.json").read_text())
    assert 0.0 <= metrics["semantic"]["mIoU"] <= 1.0 and metrics["seconds_per_image"] > 0
    assert len(list((run / "val_pred" / "semantic").glob("*.png"))) == 2


def test_rcnn_logs_every_loss(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    train, _ = tiny
    run = tmp_path / "rcnn"
    assert main(["train", "shapes_rcnn", "--data", str(train), "--epochs", "1", "--batch-size", "2",
                 "--max-steps", "2", "--out", str(run), "--no-eval", "--no-progress", "--threads", "1"]) == 0
    last = _log(run)[-1]
    for key in ("loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg", "loss_mask",
                "loss_keypoint", "loss_semantic"):
        assert np.isfinite(last[key])


def test_bad_input_exits_2(tiny: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    train, _ = tiny
    assert main(["train", "fcn_bilinear", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "r")]) \
        == 2
    assert "instances_train.json not found" in capsys.readouterr().err
    assert main(["train", "nope", "--data", str(train)]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert main(["train", "fcn_bilinear", "--data", str(train), "--out", str(tmp_path / "r2"),
                 "--resume"]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert main(["train", "shapes_rcnn", "--data", str(train), "--crop", "64"]) == 2
    assert "--crop applies to FCNs only" in capsys.readouterr().err
    assert main(["train", "fcn_bilinear", "--data", str(train), "--crop", "100"]) == 2
    assert "positive multiple of 32" in capsys.readouterr().err
    assert main(["train", "fcn_bilinear", "--data", str(train), "--out", str(tmp_path / "r3"),
                 "--crop", "4096", "--max-steps", "1", "--no-progress", "--threads", "1"]) == 2
    assert "larger than a" in capsys.readouterr().err


@pytest.mark.parametrize(("content", "message"), [
    ("code", "pickles code or objects other than tensors"),  # was an UnpicklingError traceback
    ("cut", "cannot be read as a checkpoint"),
    ("weights", "is not an edgeseg training checkpoint"),  # was a KeyError traceback
])
def test_resume_from_a_bad_checkpoint_is_one_line_before_any_work(
        tiny: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture, content: str,
        message: str) -> None:
    train, _ = tiny
    run = tmp_path / "run"
    run.mkdir()
    ckpt = run / "checkpoint.pt"
    if content == "code":
        torch.save({"model": {}, "optimizer": {}, "step": 3, "hook": Path.cwd}, ckpt)
    elif content == "cut":
        torch.save({"model": {"w": torch.zeros(256)}, "optimizer": {}, "step": 3}, ckpt)
        ckpt.write_bytes(ckpt.read_bytes()[:200])
    else:
        torch.save({"w": torch.zeros(2)}, ckpt)
    before = ckpt.read_bytes()
    assert main(["train", "fcn_bilinear", "--data", str(train), "--out", str(run), "--resume",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.pt"]  # no run.json, no log
    assert ckpt.read_bytes() == before
