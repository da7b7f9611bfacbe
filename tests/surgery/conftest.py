"""Fixtures for the surgery tests: the torchvision Mask R-CNN export is built once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from surgery_helpers import export_torchvision_maskrcnn


@pytest.fixture(scope="session")
def tv_maskrcnn(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """(path, input image) of the small (resnet18-FPN) torchvision Mask R-CNN export."""
    path = tmp_path_factory.mktemp("tv") / "maskrcnn_r18.onnx"
    image = export_torchvision_maskrcnn(path, "resnet18")
    return path, image
