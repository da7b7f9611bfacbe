"""Fixtures: a small ShapesWorld set and tiny FCN graphs (one normal, one with a planted outlier channel)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

SIZE = 64


@dataclass(frozen=True)
class CalibSet:
    frames: Path  # folder of calibration PNGs
    held_out: Path  # ShapesWorld dataset folder, split "val"
    fcn: Path
    fcn_outlier: Path
    net: Any  # the torch TinyFCN exported as `fcn`, the reference for measured ranges


@pytest.fixture(scope="session")
def calib_set(tmp_path_factory: pytest.TempPathFactory) -> CalibSet:
    import calib_models
    import torch

    from edgeseg.data.reader import load_split
    from edgeseg.data.shapes import generate_dataset

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("calib")
    train = generate_dataset(root / "train", "train", 16, size=SIZE, seed=3, progress=False)
    held = generate_dataset(root / "val", "val", 8, size=SIZE, seed=4, progress=False)
    records = load_split(train, "train")
    images = np.stack([np.asarray(Image.open(r.image_path).convert("RGB")) for r in records])
    labels = np.stack([np.asarray(Image.open(r.semantic_path)) for r in records])
    net = calib_models.fit(images, labels)
    fcn = calib_models.export(net, root / "fcn.onnx", SIZE)
    outlier = calib_models.export(calib_models.plant_outlier(net), root / "fcn_outlier.onnx", SIZE)
    return CalibSet(train / "images" / "train", held, fcn, outlier, net)
