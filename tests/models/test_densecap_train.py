"""Training densecap (what `edgeseg train densecap` runs) on a tiny generated set: the head learns, the
detector stays frozen and out of the weights file, and each box's target phrase is its annotation's."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from edgeseg.data.shapes import generate_dataset
from edgeseg.models import zoo
from edgeseg.models.densecap_data import CaptionDataset
from edgeseg.models.train import TrainOptions, train
from edgeseg.vocab import SHAPES_VOCAB


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("dc") / "train", "train", 4, seed=1, progress=False)


def test_caption_targets_are_the_phrases_of_their_boxes(tiny: Path) -> None:
    doc = json.loads((tiny / "annotations" / "captions_train.json").read_text())
    by_box = {(entry["image_id"], tuple(r["bbox"])): r["caption"] for entry in doc["annotations"]
              for r in entry["regions"]}
    ds = CaptionDataset(tiny, "train")
    for i in range(len(ds)):
        _, t = ds[i]
        assert len(t["captions"]) == len(t["boxes"]) > 0
        for box, row in zip(t["boxes"].tolist(), t["captions"], strict=True):
            xywh = (box[0], box[1], box[2] - box[0], box[3] - box[1])
            key = next(k for k in by_box if k[0] == int(t["image_id"]) and k[1] == pytest.approx(xywh))
            assert SHAPES_VOCAB.detokenize(row.tolist()) == by_box[key]


def test_training_learns_the_head_only(tiny: Path, tmp_path: Path) -> None:
    model, info = zoo.build("densecap")
    before = {k: v.clone() for k, v in model.detector.state_dict().items()}  # BatchNorm statistics too
    opts = TrainOptions(data=tiny, out=tmp_path / "run", epochs=20, batch_size=2, lr=3e-3, max_steps=40,
                        progress=False)
    weights = train(model, info.family, opts)
    log = [json.loads(line) for line in (opts.out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [20, 40] and log[-1]["loss_caption"] < log[0]["loss_caption"]
    state = torch.load(weights, weights_only=True)
    assert state and all(k.startswith("head.") for k in state)  # no detector tensors in the file
    for k, v in model.detector.state_dict().items():
        assert torch.equal(v, before[k]), f"frozen detector tensor {k} changed"
