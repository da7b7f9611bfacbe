"""Constants and helpers shared by the ShapesWorld tests (a uniquely named module, unlike conftest)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SEED, SIZE, IMAGES, FRAMES, CLIPS = 5, 128, 14, 8, 1


def video_available() -> bool:
    """PyAV or OpenCV is importable, so mp4 clips can be written and read."""
    try:
        import av  # noqa: F401
    except ImportError:
        try:
            import cv2  # noqa: F401
        except ImportError:
            return False
    return True


def load_json(root: Path, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((root / "annotations" / name).read_text())
    return doc
