"""Stuff backgrounds: bands of sky/grass/water/road/wall with wavy borders, each with its own texture.

Everything is whole-array numpy (plus Pillow's C resize for smooth noise), so a 320x320 background
costs a few milliseconds. The label map holds COCO stuff category ids.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from edgeseg.data.categories import STUFF

STUFF_IDS = {c.name: c.id for c in STUFF}
_BASE = {name: np.array(c.color, dtype=np.float32) for name, c in ((c.name, c) for c in STUFF)}


def smooth_noise(rng: np.random.Generator, height: int, width: int, cells_y: int, cells_x: int) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid resized bilinearly to full size (float32)."""
    grid = rng.random((cells_y, cells_x), dtype=np.float32)
    img = Image.fromarray(grid, mode="F").resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32)


def stuff_layout(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, list[str]]:
    """A label map of 2-4 stuff bands with irregular borders, and the band names top to bottom."""
    top = "sky" if rng.random() < 0.7 else "wall"
    rest = [n for n in ("grass", "water", "road", "wall") if n != top]
    n_lower = int(rng.integers(1, 4))
    bands = [top] + [rest[i] for i in rng.permutation(len(rest))[:n_lower]]
    cuts = np.sort(rng.uniform(0.25, 0.85, size=len(bands) - 1)) * height
    x = np.arange(width, dtype=np.float32)
    ys = np.arange(height, dtype=np.float32)[:, None]
    index = np.zeros((height, width), dtype=np.uint8)
    tilt = rng.uniform(-0.15, 0.15)
    for cut in cuts:
        border = cut + tilt * (x - width / 2)
        for _ in range(3):  # sum of sines: wavy, irregular, different per border
            amp = rng.uniform(0.005, 0.04) * height
            freq = rng.uniform(1.0, 8.0) * 2 * np.pi / width
            border = border + amp * np.sin(freq * x + rng.uniform(0, 2 * np.pi))
        index += (ys >= border[None, :]).astype(np.uint8)
    ids = np.array([STUFF_IDS[b] for b in bands], dtype=np.uint8)
    return ids[index], bands


def _texture(name: str, rng: np.random.Generator, rows: tuple[int, int], image_height: int,
             width: int) -> np.ndarray:
    """Float32 RGB texture of one stuff class for image rows [r0, r1), with a per-image color jitter."""
    jitter = rng.uniform(0.8, 1.15), rng.uniform(-15, 15, 3)
    base = np.clip(_BASE[name] * jitter[0] + jitter[1], 0, 255).astype(np.float32)
    height = rows[1] - rows[0]
    y = np.arange(*rows, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    if name == "sky":
        clouds = smooth_noise(rng, height, width, 4, 6)[..., None]
        img = base * (1.1 - 0.25 * y / image_height)[..., None] + np.clip(clouds - 0.55, 0, None) * 300
    elif name == "grass":
        blades = smooth_noise(rng, height, width, max(2, height // 10), max(2, width // 2))[..., None]
        img = base * (0.65 + 0.6 * blades)
    elif name == "water":
        period = rng.uniform(5, 10)
        waves = np.sin(2 * np.pi * y / period + 0.8 * np.sin(x / rng.uniform(8, 20)))[..., None]
        img = base * (0.9 + 0.15 * waves)
    elif name == "road":
        grain = smooth_noise(rng, height, width, max(2, height // 3), max(2, width // 3))[..., None]
        img = base * (0.85 + 0.3 * grain)
    else:  # wall: bricks with mortar lines, alternate rows offset by half a brick
        bh, bw = rng.uniform(8, 14), rng.uniform(18, 30)
        row = np.floor(y / bh)
        xs = x + (row % 2) * bw / 2
        mortar = ((y % bh) < 1.5) | ((xs % bw) < 1.5)
        shade = 0.85 + 0.3 * np.abs(np.sin(row * 12.9898 + np.floor(xs / bw) * 78.233))
        img = np.where(mortar[..., None], np.float32(200), base * shade[..., None])
    return np.broadcast_to(img, (height, width, 3)).astype(np.float32, copy=False)


def render_background(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(float32 RGB image, uint8 stuff id map) of a random stuff layout."""
    ids, bands = stuff_layout(rng, height, width)
    rgb = np.empty((height, width, 3), dtype=np.float32)
    for name in bands:
        sel = ids == STUFF_IDS[name]
        rows = np.flatnonzero(sel.any(axis=1))
        if not len(rows):
            continue
        r0, r1 = int(rows[0]), int(rows[-1]) + 1  # bands are horizontal: texture only their rows
        texture = _texture(name, rng, (r0, r1), height, width)
        np.copyto(rgb[r0:r1], texture, where=sel[r0:r1, :, None])
    return rgb, ids
