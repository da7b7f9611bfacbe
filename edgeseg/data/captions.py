"""Region captions in the DenseCap spirit: one short phrase per thing, grounded in what is drawn.

Shapes read "small red triangle left of a blue circle" (size from the COCO area ranges, relation to
the nearest other thing); persons read "person in red raising the left arm on the grass".
"""
from __future__ import annotations

import numpy as np

from edgeseg.data import person
from edgeseg.data.categories import CATEGORY_BY_ID, PERSON_ID
from edgeseg.data.render import Frame
from edgeseg.data.scene import Thing

# Stuff under a person's feet -> how to say where the person is.
_GROUND = {"sky": "against the sky", "grass": "on the grass", "water": "in the water", "road": "on the road",
           "wall": "by the wall"}


def size_word(area: float) -> str:
    """COCO's area ranges: small < 32^2 <= medium < 96^2 <= large."""
    return "small" if area < 32 ** 2 else "medium" if area < 96 ** 2 else "large"


def _noun(thing: Thing) -> str:
    return f"{thing.color_name} {CATEGORY_BY_ID[thing.category_id].name}"


def _relation(a: Thing, b: Thing) -> str:
    """Where `a` is relative to `b`, along the axis where they differ most (image y grows down)."""
    dx, dy = b.cx - a.cx, b.cy - a.cy
    if abs(dx) >= abs(dy):
        return "left of" if dx > 0 else "right of"
    return "above" if dy > 0 else "below"


def region_captions(frame: Frame, areas: list[int]) -> list[str]:
    """One caption per thing of `frame`, in order; `areas` are the visible pixel counts."""
    things = frame.things
    centres = np.array([(t.cx, t.cy) for t in things], dtype=np.float64).reshape(-1, 2)
    captions = []
    for k, thing in enumerate(things):
        if thing.category_id == PERSON_ID:
            captions.append(_person_caption(frame, k))
            continue
        text = f"{size_word(areas[k])} {_noun(thing)}"
        if len(things) > 1:
            dist = np.hypot(*(centres - centres[k]).T)
            dist[k] = np.inf
            other = things[int(np.argmin(dist))]
            text += f" {_relation(thing, other)} a {_noun(other)}"
        captions.append(text)
    return captions


def _person_caption(frame: Frame, k: int) -> str:
    thing = frame.things[k]
    assert thing.pose is not None
    text = f"person in {thing.color_name} {person.POSE_PHRASES[thing.pose.name]}"
    kp = frame.keypoints.get(k)
    if kp is not None:
        feet = kp[15:17]
        feet = feet[feet[:, 2] > 0]
        if len(feet):
            x, y = feet[:, :2].mean(axis=0)
            ground = CATEGORY_BY_ID[int(frame.stuff[int(y), int(x)])].name
            text += f" {_GROUND[ground]}"
    return text
