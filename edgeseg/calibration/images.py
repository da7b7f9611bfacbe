"""Calibration images: list a folder, read RGB frames, check them against the graph's input.

Why one module: every stage (range collection, evaluation, frame selection) must read frames the
same way, and bad input (wrong size, wrong channel count, an empty folder) must be one clear error
before any inference starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edgeseg.errors import EdgesegError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def list_images(folder: Path) -> list[Path]:
    """The image files directly in `folder` (or in its images/<split> for a ShapesWorld set), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise EdgesegError(
            f"calibration folder {folder} not found: pass a folder of images "
            "(select some with `edgeseg calibrate --select-from VIDEO_OR_DIR -n 256 -o DIR`)"
        )
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files and (folder / "images").is_dir():
        splits = sorted(p for p in (folder / "images").iterdir() if p.is_dir())
        if splits:
            return list_images(splits[0])
    return files


def read_rgb(path: Path) -> np.ndarray:
    """An image file as uint8 [H,W,3]; a gray or RGBA file is an error (the graphs take RGB)."""
    try:
        with Image.open(path) as img:
            mode = img.mode
            array = np.asarray(img.convert("RGB") if mode == "P" else img)
    except OSError as exc:
        raise EdgesegError(f"cannot read image {path} ({exc}): remove it from the calibration set") from None
    if array.ndim != 3 or array.shape[2] != 3:
        channels = 1 if array.ndim == 2 else array.shape[2]
        raise EdgesegError(
            f"image {path} has {channels} channel(s) (mode {mode}); the model takes 3-channel "
            "RGB: convert the calibration images to RGB"
        )
    return np.ascontiguousarray(array, dtype=np.uint8)


@dataclass(frozen=True)
class GraphInput:
    """The one image input of a graph: uint8 NHWC (edgeseg exports) or float32 NCHW in [0, 1]."""

    name: str
    layout: str  # "NHWC" or "NCHW"
    dtype: str  # "uint8" or "float32"
    height: int | None
    width: int | None

    @classmethod
    def of(cls, model: Any) -> GraphInput:
        """Read the input of ONNX `model`; graphs with several inputs or non-image inputs are refused."""
        inits = {i.name for i in model.graph.initializer}
        inputs = [i for i in model.graph.input if i.name not in inits]
        if len(inputs) != 1:
            raise EdgesegError(
                f"calibration needs a graph with one image input, this one has {len(inputs)}: "
                f"{[i.name for i in inputs]}"
            )
        tensor = inputs[0].type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
        if len(dims) != 4:
            raise EdgesegError(
                f"graph input {inputs[0].name!r} has rank {len(dims)}; calibration needs an image "
                "batch [N,H,W,3] uint8 or [N,3,H,W] float32"
            )
        if tensor.elem_type == 2 and dims[3] == 3:  # TensorProto.UINT8
            return cls(inputs[0].name, "NHWC", "uint8", dims[1], dims[2])
        if tensor.elem_type == 1 and dims[1] == 3:  # TensorProto.FLOAT
            return cls(inputs[0].name, "NCHW", "float32", dims[2], dims[3])
        raise EdgesegError(
            f"graph input {inputs[0].name!r} is neither uint8 [N,H,W,3] nor float32 [N,3,H,W]: "
            "export the model with an image input"
        )

    def fit(self, image: np.ndarray) -> np.ndarray:
        """The frame as the deployed model sees it: letterboxed to a fixed graph size exactly as the
        runtime does (edgeseg.runtime.postprocess.Letterbox), so ranges come from what it will run on."""
        if self.height is None or self.width is None or image.shape[:2] == (self.height, self.width):
            return image
        from edgeseg.runtime.postprocess import Letterbox

        return Letterbox.fit(image.shape[:2], (self.height, self.width)).apply(image)

    def check(self, image: np.ndarray, source: Path | str) -> None:
        """Refuse a held-out frame of another size: its metric is scored in graph pixels, unmapped."""
        h, w = image.shape[:2]
        if (self.height is not None and h != self.height) or (self.width is not None and w != self.width):
            raise EdgesegError(
                f"held-out image {source} is {w}x{h} but the graph takes {self.width}x{self.height}: "
                "score the budget on a split of the graph's size (the default generated one is)"
            )

    def feed(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """The graph's input dict for one RGB frame of any size."""
        image = self.fit(image)
        if self.dtype == "uint8":
            return {self.name: image[None]}
        return {self.name: (image.transpose(2, 0, 1)[None] / np.float32(255.0)).astype(np.float32)}


def iter_feeds(graph_input: GraphInput, files: list[Path]) -> Iterator[dict[str, np.ndarray]]:
    """One input dict per file (frames of another size letterboxed as the runtime does)."""
    for path in files:
        yield graph_input.feed(read_rgb(path))


def check_all(files: list[Path]) -> None:
    """Check every file is a readable 3-channel image up front, reading headers only where possible."""
    for path in files:
        try:
            with Image.open(path) as img:
                bands = len(img.getbands())
                mode = img.mode
        except OSError as exc:
            raise EdgesegError(
                f"cannot read image {path} ({exc}): remove it from the calibration set"
            ) from None
        if bands != 3 and mode != "P":
            raise EdgesegError(
                f"image {path} has {bands} channel(s) (mode {mode}); the model takes 3-channel "
                "RGB: convert the calibration images to RGB"
            )
