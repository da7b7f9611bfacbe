"""Reading evaluation inputs (JSON files, label PNGs, panoptic PNGs) with one-line errors.

Every failure a user can cause (missing file, broken JSON, unreadable image) becomes an `EdgesegError`
naming the file and what to do, so the CLI never shows a traceback for a bad path.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from edgeseg.errors import EdgesegError


def load_json(path: Path, what: str) -> Any:
    """Parse `path` as JSON; `what` names the file's role in error messages (e.g. "box predictions")."""
    if not path.is_file():
        raise EdgesegError(f"{what} file {path} not found: check the path")
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise EdgesegError(f"{what} file {path} is not valid JSON (line {err.lineno}: {err.msg}): "
                           "rewrite it with json.dump") from None
    except UnicodeDecodeError:
        raise EdgesegError(f"{what} file {path} is not UTF-8 text: pass the JSON file, "
                           "not a binary") from None


def _read_png(path: Path, what: str) -> Image.Image:
    if not path.is_file():
        raise EdgesegError(f"{what} {path} not found: check the folder layout (see docs/eval.md)")
    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError) as err:
        raise EdgesegError(f"{what} {path} is not a readable image ({err}): write it as PNG") from None
    return image


def read_label_png(path: Path, what: str = "label map") -> np.ndarray:
    """A single-channel label map (mode L or P) as an (H, W) uint8 array."""
    image = _read_png(path, what)
    if image.mode not in ("L", "P"):
        raise EdgesegError(f"{what} {path} has mode {image.mode}, expected a single-channel 8-bit label PNG "
                           "(mode L or P): save labels with Image.fromarray(labels.astype(np.uint8))")
    return np.asarray(image, dtype=np.uint8)


def read_panoptic_png(path: Path, what: str = "panoptic PNG") -> np.ndarray:
    """Segment ids of a COCO panoptic PNG: id = R + 256 G + 256^2 B, as an (H, W) int64 array."""
    image = _read_png(path, what)
    if image.mode != "RGB":
        raise EdgesegError(f"{what} {path} has mode {image.mode}, expected RGB with id = R + 256 G + 256^2 B")
    rgb = np.asarray(image, dtype=np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]
