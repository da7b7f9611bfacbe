"""Pick N diverse calibration frames from a video or an image folder.

How: every frame becomes a 24x24 RGB thumbnail; consecutive near-duplicates (a static scene) are
dropped as they stream by; then k-center greedy picks, N times, the frame farthest from all frames
picked so far, starting from a seed-chosen frame. A frame closer than `min_distance` (RMS over
thumbnail pixels, 0..255) to a picked one is a near-duplicate and is never picked, so a source with
fewer distinct frames yields fewer frames, with a warning. Same source + seed -> same frames.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from edgeseg.calibration.images import IMAGE_SUFFIXES, list_images, read_rgb
from edgeseg.calibration.manifest import write_manifest
from edgeseg.errors import EdgesegError

LOG = logging.getLogger(__name__)
THUMB = 24
MIN_DISTANCE = 4.0
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


def iter_frames(source: Path, stride: int = 1) -> Iterator[tuple[str, np.ndarray]]:
    """(label, RGB uint8 frame) of every `stride`-th frame of a video file or image folder, in order."""
    source = Path(source)
    if source.is_dir():
        files = list_images(source)
        if not files:
            raise EdgesegError(
                f"{source} has no images ({', '.join(IMAGE_SUFFIXES)}): pass a folder of frames "
                "or a video file"
            )
        for path in files[::stride]:
            yield path.stem, read_rgb(path)
        return
    if not source.is_file() or source.suffix.lower() not in VIDEO_SUFFIXES:
        raise EdgesegError(
            f"{source} is neither an image folder nor a video file ({', '.join(VIDEO_SUFFIXES)})"
        )
    import cv2

    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        raise EdgesegError(f"cannot open video {source}: check the file (is it a complete video?)")
    index = 0
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            if index % stride == 0:
                yield f"{source.stem}_{index:06d}", np.ascontiguousarray(bgr[:, :, ::-1])
            index += 1
    finally:
        capture.release()
    if index == 0:
        raise EdgesegError(f"video {source} has no readable frames")


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """A float32 [THUMB*THUMB*3] vector of the frame: box-filtered, so noise and small motion average out."""
    small = Image.fromarray(rgb).resize((THUMB, THUMB), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32).ravel()


def distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RMS difference between thumbnails (rows of `a` against `b`), in 0..255 units."""
    return np.sqrt(np.mean((a - b) ** 2, axis=-1))


def kcenter_greedy(thumbs: np.ndarray, n: int, seed: int, min_distance: float = MIN_DISTANCE) -> list[int]:
    """Indices of up to `n` rows, each the farthest from those chosen before; stops at near-duplicates."""
    if len(thumbs) == 0 or n <= 0:
        return []
    chosen = [int(np.random.default_rng(seed).integers(len(thumbs)))]
    nearest = distance(thumbs, thumbs[chosen[0]])
    while len(chosen) < n:
        far = int(np.argmax(nearest))  # lowest index among ties: deterministic
        if nearest[far] < min_distance:
            break
        chosen.append(far)
        nearest = np.minimum(nearest, distance(thumbs, thumbs[far]))
    return chosen


@dataclass(frozen=True)
class Selection:
    files: list[Path]
    candidates: int  # frames left after dropping consecutive near-duplicates
    frames_seen: int
    set_sha256: str


def select_frames(
    source: Path,
    n: int,
    out_dir: Path,
    seed: int = 0,
    min_distance: float = MIN_DISTANCE,
    progress: bool = True,
    stride: int = 1,
) -> Selection:
    """Write the selected frames to `out_dir` as PNGs, plus manifest.json; return what was written.
    `stride` looks at every stride-th source frame only (a long video, neighbours nearly equal)."""
    from tqdm import tqdm

    if n < 1:
        raise EdgesegError(f"-n must be >= 1, got {n}")
    if stride < 1:
        raise EdgesegError(f"--stride must be >= 1, got {stride}")
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise EdgesegError(f"output folder {out_dir} is not empty: pass a new folder")
    thumbs: list[np.ndarray] = []
    keep: list[int] = []
    seen = 0
    for index, (_, rgb) in enumerate(
        tqdm(iter_frames(source, stride), desc="thumbnails", unit="frame", disable=not progress)
    ):
        seen += 1
        thumb = thumbnail(rgb)
        if thumbs and float(distance(thumb, thumbs[-1])) < min_distance:
            continue
        thumbs.append(thumb)
        keep.append(index)
    picked = kcenter_greedy(np.stack(thumbs), n, seed, min_distance)
    if len(picked) < n:
        LOG.warning(
            "only %d distinct frames in %s (of %d asked): the rest are near-duplicates",
            len(picked),
            source,
            n,
        )
    wanted = {keep[i]: rank for rank, i in enumerate(picked)}
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = [Path()] * len(picked)
    for index, (label, rgb) in enumerate(iter_frames(source, stride)):
        if index in wanted:
            path = out_dir / f"{wanted[index]:04d}_{label}.png"
            Image.fromarray(rgb).save(path)
            files[wanted[index]] = path
    manifest = write_manifest(out_dir, files)
    return Selection(files, len(thumbs), seen, str(manifest["set_sha256"]))
