"""ShapesWorld video: things move, rotate, leave one side and re-enter the other; the camera pans.

A clip is a fixed world (a background wider than the frame, a set of things with velocities) and a
time t; `ClipScene.frame(t)` renders any frame directly, so the live source (`iter_clip_frames`)
and the annotated mp4 clips (`write_clips`) share one definition. Per frame the cost is one
background slice, a few Pillow polygons and no noise, so it keeps up with a live pipeline.
"""
from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.data import scene
from edgeseg.data.background import render_background
from edgeseg.data.categories import PERSON_ID
from edgeseg.data.coco_writer import SplitWriter
from edgeseg.data.render import Frame, compose
from edgeseg.errors import EdgesegError

PAN_FRACTION = 0.4  # the world is this much wider than the frame; the camera sweeps across it
PAN_PERIOD = 150  # frames for one sweep there and back
FPS = 25.0


@dataclasses.dataclass(frozen=True)
class Motion:
    """Velocity (px/frame), spin (rad/frame) and arm-swing phase of one thing."""

    vx: float
    vy: float
    spin: float
    phase: float


class ClipScene:
    """A deterministic clip world; `frame(t)` renders frame t (t >= 0, no upper bound)."""

    def __init__(self, seed: int, height: int, width: int, clip_index: int = 0, split: str = "train") -> None:
        rng = np.random.default_rng([seed, zlib.crc32(f"clip-{split}".encode()), clip_index])
        self.height, self.width = height, width
        self.pan = int(round(PAN_FRACTION * width))
        self.background, self.stuff = render_background(rng, height, width + self.pan)
        size = min(height, width)
        speed = size / 320 * 2.5
        self.things: list[scene.Thing] = []
        self.motions: list[Motion] = []
        for _ in range(int(rng.integers(4, 8))):
            self.things.append(scene.sample_thing(rng, height, width + self.pan, margin=0.0))
            vx, vy = rng.uniform(-speed, speed), rng.uniform(-speed, speed) / 3
            spin, phase = rng.uniform(-0.06, 0.06), rng.uniform(0, 2 * math.pi)
            self.motions.append(Motion(float(vx), float(vy), float(spin), float(phase)))
        self.background *= np.float32(rng.uniform(0.85, 1.1))  # clip lighting, applied once

    def camera(self, t: int) -> int:
        """Camera x offset into the world at frame t (a smooth back-and-forth pan)."""
        return int(round(self.pan * 0.5 * (1 - math.cos(2 * math.pi * t / PAN_PERIOD))))

    def things_at(self, t: int, offset: int) -> list[scene.Thing]:
        """Things at frame t in frame coordinates; each wraps around the world when it leaves it."""
        out = []
        world_w = self.width + self.pan
        for thing, m in zip(self.things, self.motions, strict=True):
            x0, y0, x1, y1 = scene.extent(thing)
            mx, my = (x1 - x0) / 2 + 2, (y1 - y0) / 2 + 2
            x = (thing.cx + m.vx * t + mx) % (world_w + 2 * mx) - mx
            y = (thing.cy + m.vy * t + my) % (self.height + 2 * my) - my
            moved = thing.moved(x - offset, y, thing.angle + m.spin * t)
            if thing.category_id == PERSON_ID:
                moved = _swing_arms(moved, m.phase + 0.2 * t)
            out.append(moved)
        return out

    def frame(self, t: int) -> Frame:
        off = self.camera(t)
        window = slice(off, off + self.width)
        things = self.things_at(t, off)
        return compose(self.background[:, window], self.stuff[:, window], things, None, None,
                       drop_hidden=False)


def _swing_arms(thing: scene.Thing, phase: float) -> scene.Thing:
    """Persons wave: both arms swing by up to 20 degrees, in opposite phase; lean is kept small."""
    assert thing.pose is not None
    swing = 20 * math.sin(phase)
    pose = dataclasses.replace(thing.pose, left_arm=thing.pose.left_arm + swing,
                               right_arm=thing.pose.right_arm - swing)
    lean = 0.15 * math.sin(thing.angle)  # `angle` spins for shapes; for a person it only rocks
    return dataclasses.replace(thing, pose=pose, angle=lean)


def iter_clip_frames(seed: int, height: int, width: int,
                     num_frames: int | None = None) -> Iterator[np.ndarray]:
    """Frames (H, W, 3) uint8 RGB of a synthetic clip; `num_frames=None` never ends (live source)."""
    if height < 16 or width < 16:
        raise EdgesegError(f"shapes:// frames must be at least 16x16, got {width}x{height}")
    clip = ClipScene(seed, height, width)
    t = 0
    while num_frames is None or t < num_frames:
        yield clip.frame(t).rgb
        t += 1


def write_clips(root: Path, meta: dict[str, Any], progress: bool) -> None:
    """Write meta['video_clips'] mp4 clips of meta['video_frames'] frames with per-frame COCO files."""
    from tqdm import tqdm

    from edgeseg.data.mp4 import Mp4Writer

    size, split, frames = meta["size"], meta["split"], meta["video_frames"]
    video_dir = root / "videos" / split
    video_dir.mkdir(parents=True)
    writer = SplitWriter(root, split, {"description": "ShapesWorld clips", **meta}, prefix="video_")
    total = frames * meta["video_clips"]
    with tqdm(total=total, desc=f"clips {split}", unit="frame", disable=not progress) as bar:
        for k in range(meta["video_clips"]):
            clip = ClipScene(meta["seed"], size, size, k, split)
            name = f"clip_{k}.mp4"
            mp4 = Mp4Writer(video_dir / name, size, size, FPS)
            for t in range(frames):
                frame = clip.frame(t)
                mp4.write(frame.rgb)
                writer.add(frame, k * frames + t + 1, name, f"clip_{k}_{t:06d}", video_id=k, frame_index=t)
                bar.update()
            mp4.close()
    writer.close()
