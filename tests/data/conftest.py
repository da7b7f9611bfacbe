"""One small ShapesWorld split (with a short clip) generated once per test session."""
from __future__ import annotations

from pathlib import Path

import pytest
from shapes_testutil import CLIPS, FRAMES, IMAGES, SEED, SIZE, video_available

from edgeseg.data.shapes import generate_dataset


@pytest.fixture(scope="session")
def shapes_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frames = FRAMES if video_available() else 0
    out = tmp_path_factory.mktemp("shapes") / "set"
    return generate_dataset(out, "train", IMAGES, size=SIZE, seed=SEED, video_frames=frames,
                            video_clips=CLIPS, progress=False)
