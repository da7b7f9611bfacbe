"""ShapesWorld: a deterministic, seeded synthetic world that stands in for COCO.

Image i of a split depends only on (seed, split, i), through its own numpy Generator, so it is the
same whatever the number of images. Public API:

- `render_image(seed, index, size)` -> (RGB uint8 array, `Frame` with every annotation map)
- `generate_dataset(out_dir, split, num_images, ...)` writes the COCO-format folder (docs/data.md)
- `iter_clip_frames(seed, height, width, num_frames)` -> live synthetic video (the `shapes://` source)
- `load_split(dir, split)` reads a generated split back for training
"""
from __future__ import annotations

import json
import os
import shutil
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edgeseg.data import scene
from edgeseg.data.background import render_background
from edgeseg.data.coco_writer import IMAGE_PNG_OPTIONS, SplitWriter
from edgeseg.data.reader import load_split
from edgeseg.data.render import Frame, compose, sample_effects
from edgeseg.data.video import iter_clip_frames, write_clips
from edgeseg.errors import EdgesegError
from edgeseg.outputs import check_output_dir

__all__ = ["GENERATOR_VERSION", "MIN_SIZE", "generate_dataset", "iter_clip_frames", "load_split",
           "render_image"]

# Bump whenever any image or annotation changes for a given seed (tests/data pins a fingerprint per
# version): every recorded metric is tied to the split it was measured on. "1" covered three different
# outputs before the rule existed; the zoo's first figures were measured on the earliest of them.
GENERATOR_VERSION = "2"
MIN_SIZE = 64  # below this the smallest persons and shapes are a few pixels: nothing to learn
SPLITS = ("train", "val")
def image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The Generator of one image: depends on nothing but (seed, split, index)."""
    return np.random.default_rng([seed, zlib.crc32(split.encode()), index])


def render_image(seed: int, index: int, size: int, split: str = "train") -> tuple[np.ndarray, Frame]:
    """Image `index` of the (seed, split) world at `size` x `size`: (RGB uint8, its annotations).

    `Frame.targets()` gives boxes, category ids, masks and keypoints as arrays; `Frame.semantic()`
    the label map; `Frame.ids` the instance map the panoptic PNG is made from.
    """
    rng = image_rng(seed, split, index)
    background, stuff = render_background(rng, size, size)
    things = scene.sample_things(rng, size, size)
    frame = compose(background, stuff, things, rng, sample_effects(rng, size))
    return frame.rgb, frame


def check_request(out_dir: Path, split: str, num_images: int, size: int, seed: int, overwrite: bool) -> None:
    """Raise EdgesegError for a request that cannot give a good dataset (before any work is done)."""
    if split not in SPLITS:
        raise EdgesegError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    if num_images <= 0:
        raise EdgesegError(f"--images must be a positive number of images, got {num_images}")
    if size < MIN_SIZE:
        raise EdgesegError(f"--size {size} is too small for the objects: use --size {MIN_SIZE} or more")
    if seed < 0:
        raise EdgesegError(f"--seed must be >= 0, got {seed}")
    if out_dir.exists() and not overwrite:
        raise EdgesegError(f"{out_dir} already exists: pass --force to replace it, or choose another --out")
    if out_dir.exists() and not out_dir.is_dir():
        raise EdgesegError(f"{out_dir} exists and is not a folder: choose another --out")
    check_output_dir(out_dir, "--out")


def _make_temp_dir(out_dir: Path) -> Path:
    """A fresh folder next to `out_dir` (same filesystem, so the final rename is atomic)."""
    tmp = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        return tmp
    except OSError as err:
        raise EdgesegError(f"cannot write to {out_dir.parent} ({err.strerror}): choose a writable --out") \
            from None


def generate_dataset(out_dir: str | Path, split: str, num_images: int, size: int = 320, seed: int = 0,
                     video_frames: int = 0, progress: bool = True, video_clips: int = 1,
                     overwrite: bool = False) -> Path:
    """Write a ShapesWorld split (and optionally `video_clips` mp4 clips of `video_frames` frames).

    Everything is written to a temporary folder beside `out_dir` and renamed at the end, so an
    interrupted run never leaves a complete-looking dataset. Returns `out_dir`.
    """
    out_dir = Path(out_dir)
    check_request(out_dir, split, num_images, size, seed, overwrite)
    if video_frames < 0 or video_clips < 0:
        raise EdgesegError("--video-frames and --clips must be >= 0")
    if video_frames and size % 2:
        raise EdgesegError(f"mp4 clips need an even --size, got {size}: use {size + 1}")
    tmp = _make_temp_dir(out_dir)
    try:
        meta = {"generator": "edgeseg ShapesWorld", "version": GENERATOR_VERSION, "seed": seed,
                "split": split, "size": size, "count": num_images, "video_frames": video_frames,
                "video_clips": video_clips if video_frames else 0}
        _write_images(tmp, meta, progress)
        if video_frames:
            write_clips(tmp, meta, progress)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
            out_dir.rename(old)
            shutil.rmtree(old)
        tmp.rename(out_dir)
    except OSError as err:  # a disk that fills up, a folder removed under us: one line, no partial set
        shutil.rmtree(tmp, ignore_errors=True)
        raise EdgesegError(f"cannot write the dataset to {out_dir} ({err.strerror or err}): free some "
                           "space or choose another --out; nothing was written") from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _write_images(root: Path, meta: dict[str, Any], progress: bool) -> None:
    from tqdm import tqdm

    split, size, seed = meta["split"], meta["size"], meta["seed"]
    image_dir = root / "images" / split
    image_dir.mkdir(parents=True)
    writer = SplitWriter(root, split, {"description": "ShapesWorld", **meta})
    for index in tqdm(range(meta["count"]), desc=f"shapes {split}", unit="img", disable=not progress):
        image_id = index + 1
        rgb, frame = render_image(seed, index, size, split)
        stem = f"{image_id:06d}"
        Image.fromarray(rgb).save(image_dir / f"{stem}.png", **IMAGE_PNG_OPTIONS)
        writer.add(frame, image_id, f"{stem}.png", stem)
    writer.close()
