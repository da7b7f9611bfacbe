"""What is in a ShapesWorld scene (object specs) and how one object becomes pixels (rasterisation).

A `Thing` is pure geometry and color; `rasterize` turns it into a small uint8 crop of part labels
(0 = empty, 1 = body, 2 = head) drawn with Pillow, so no per-pixel Python loop is needed.
Coordinates are continuous (pixel column i covers [i, i+1)), the COCO convention.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from edgeseg.data import person
from edgeseg.data.categories import PERSON_ID, THINGS

SHAPE_IDS = {c.name: c.id for c in THINGS}
# Named colors (caption word -> RGB). Gray is left out: it is the road's color.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (215, 35, 35), "green": (40, 175, 60), "blue": (35, 70, 215), "yellow": (240, 215, 40),
    "orange": (245, 135, 25), "purple": (135, 45, 175), "pink": (240, 120, 185), "cyan": (40, 200, 215),
    "white": (240, 240, 240), "black": (25, 25, 25), "brown": (125, 75, 35),
}
SKIN = (224, 172, 130)
STAR_INNER = 0.45  # inner / outer radius of the five-pointed star
PERSON_PROB = 0.25
# Shape circumradius as a fraction of the image size: a range is picked with its probability, then
# the radius log-uniformly inside it. At 320 px the ranges give COCO's small (< 32^2 px), medium and
# large (>= 96^2 px) areas. Person height is log-uniform; persons are mostly >= 40 px tall at 320 px.
SHAPE_RADIUS_RANGES: tuple[tuple[float, float], ...] = ((0.015, 0.07), (0.07, 0.17), (0.19, 0.4))
SHAPE_RADIUS_PROBS = (0.4, 0.25, 0.35)
PERSON_HEIGHT = (0.16, 0.6)


@dataclass(frozen=True)
class Thing:
    """One object: category, centre (px), size (circumradius, or figure height for persons), rotation."""

    category_id: int
    cx: float
    cy: float
    size: float
    angle: float  # radians
    color_name: str
    color: tuple[int, int, int]
    pose: person.Pose | None = None

    def moved(self, cx: float, cy: float, angle: float | None = None) -> Thing:
        """The same object at another place (video frames, camera pans)."""
        a = self.angle if angle is None else angle
        return Thing(self.category_id, cx, cy, self.size, a, self.color_name, self.color, self.pose)


def polygon(thing: Thing) -> np.ndarray:
    """Outline vertices (k, 2) of a non-circle shape."""
    name = THINGS[thing.category_id - 1].name
    if name == "square":
        angles = thing.angle + math.pi / 4 + np.arange(4) * math.pi / 2
        radii = np.full(4, thing.size)
    elif name == "triangle":
        angles = thing.angle - math.pi / 2 + np.arange(3) * 2 * math.pi / 3
        radii = np.full(3, thing.size)
    elif name == "star":
        angles = thing.angle - math.pi / 2 + np.arange(10) * math.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, thing.size, thing.size * STAR_INNER)
    else:
        raise ValueError(f"no polygon for {name}")
    return np.stack([thing.cx + radii * np.cos(angles), thing.cy + radii * np.sin(angles)], axis=1)


def person_keypoints(thing: Thing) -> np.ndarray:
    """The (17, 2) keypoints of a person thing (its `angle` is the lean)."""
    assert thing.pose is not None
    return person.keypoints(thing.pose, thing.cx, thing.cy, thing.size, thing.angle)


def extent(thing: Thing) -> tuple[float, float, float, float]:
    """A box (x0, y0, x1, y1) that surely contains the drawn object."""
    if thing.category_id == PERSON_ID:
        pts = person_keypoints(thing)
        pad = person.head_radius(thing.size) + person.limb_width(thing.size)
        return pts[:, 0].min() - pad, pts[:, 1].min() - pad, pts[:, 0].max() + pad, pts[:, 1].max() + pad
    r = thing.size
    return thing.cx - r, thing.cy - r, thing.cx + r, thing.cy + r


@dataclass(frozen=True)
class Crop:
    """A rasterised object: part labels in the image window [y0:y0+h, x0:x0+w] (clipped to the image)."""

    x0: int
    y0: int
    parts: np.ndarray  # uint8 (h, w): 0 empty, 1 body, 2 head


def rasterize(thing: Thing, height: int, width: int) -> Crop | None:
    """Draw `thing` into a crop clipped to a `height` x `width` image; None when wholly outside."""
    ex0, ey0, ex1, ey1 = extent(thing)
    x0, y0 = max(0, math.floor(ex0) - 1), max(0, math.floor(ey0) - 1)
    x1, y1 = min(width, math.ceil(ex1) + 2), min(height, math.ceil(ey1) + 2)
    if x1 <= x0 or y1 <= y0:
        return None
    img = Image.new("L", (x1 - x0, y1 - y0), 0)
    draw = ImageDraw.Draw(img)
    # Pillow puts integer coordinates on pixel centres; continuous x maps to x - 0.5.
    ox, oy = x0 + 0.5, y0 + 0.5
    if thing.category_id == SHAPE_IDS["circle"]:
        r = thing.size
        draw.ellipse([thing.cx - r - ox, thing.cy - r - oy, thing.cx + r - ox, thing.cy + r - oy], fill=1)
    elif thing.category_id == PERSON_ID:
        _draw_person(draw, person_keypoints(thing) - (ox, oy), thing.size)
    else:
        draw.polygon([tuple(p) for p in (polygon(thing) - (ox, oy))], fill=1)
    parts = np.asarray(img)
    if not parts.any():
        return None
    return Crop(x0, y0, parts)


def _draw_person(draw: ImageDraw.ImageDraw, kp: np.ndarray, height: float) -> None:
    """Torso polygon, limb strokes with round joints, and the head disk (part 2) over them."""
    w = person.limb_width(height)
    draw.polygon([tuple(kp[i]) for i in person.TORSO], fill=1)
    neck_top = kp[0] + (kp[5] + kp[6] - 2 * kp[0]) * 0.3
    shoulder_mid = (kp[5] + kp[6]) / 2
    draw.line([tuple(neck_top), tuple(shoulder_mid)], fill=1, width=round(w))
    for a, b in person.LIMBS:
        draw.line([tuple(kp[a]), tuple(kp[b])], fill=1, width=round(w))
    r = w / 2
    for i in range(5, 17):
        x, y = kp[i]
        draw.ellipse([x - r, y - r, x + r, y + r], fill=1)
    hr = person.head_radius(height)
    hx, hy = (kp[3] + kp[4]) / 2
    draw.ellipse([hx - hr, hy - hr, hx + hr, hy + hr], fill=2)


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def sample_thing(rng: np.random.Generator, height: int, width: int, category_id: int | None = None,
                 margin: float = 0.05) -> Thing:
    """A random thing centred inside the image, `margin` (fraction of the side) from its border."""
    size = min(height, width)
    if category_id is None:
        shapes = [c.id for c in THINGS if c.id != PERSON_ID]
        category_id = PERSON_ID if rng.random() < PERSON_PROB else int(rng.choice(shapes))
    color_name = list(COLORS)[int(rng.integers(len(COLORS)))]
    c = np.clip(np.array(COLORS[color_name]) + rng.integers(-15, 16, size=3), 0, 255)
    color = (int(c[0]), int(c[1]), int(c[2]))
    cx = float(rng.uniform(margin, 1 - margin) * width)
    cy = float(rng.uniform(margin, 1 - margin) * height)
    if category_id == PERSON_ID:
        h = _log_uniform(rng, *PERSON_HEIGHT) * size
        return Thing(category_id, cx, cy, h, float(rng.uniform(-0.2, 0.2)), color_name, color,
                     person.sample_pose(rng))
    lo, hi = SHAPE_RADIUS_RANGES[int(rng.choice(len(SHAPE_RADIUS_RANGES), p=SHAPE_RADIUS_PROBS))]
    r = _log_uniform(rng, lo, hi) * size
    return Thing(category_id, cx, cy, r, float(rng.uniform(0, 2 * math.pi)), color_name, color)


def sample_things(rng: np.random.Generator, height: int, width: int) -> list[Thing]:
    """3 to 8 things in painting order (later ones occlude earlier ones).

    Larger things tend to come first (sorted by a jittered size), so fewer small ones vanish behind them.
    """
    things = [sample_thing(rng, height, width) for _ in range(int(rng.integers(3, 9)))]
    keys = [t.size * rng.uniform(0.5, 1.5) for t in things]
    return [things[i] for i in np.argsort(keys, kind="stable")[::-1]]
