"""Stick-figure persons: a pose gives the 17 COCO keypoints; the same joints draw the figure.

Keypoints and drawing share one set of joint positions, so a keypoint always lies on the drawn body.
Coordinates are continuous image coordinates (pixel column i covers [i, i+1)), as in COCO.
The figure faces the camera, so the person's *left* side appears on the image's right (+x), as in COCO.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Pose name -> caption phrase. The phrases feed the DenseCap-like region captions.
POSE_PHRASES: dict[str, str] = {
    "standing": "standing",
    "left_arm_up": "raising the left arm",
    "right_arm_up": "raising the right arm",
    "both_arms_up": "raising both arms",
    "arms_out": "with arms out",
    "legs_apart": "standing with legs apart",
}

# Body proportions as fractions of the figure height H; y grows downwards, origin at the hip centre.
_HEAD_Y, _HEAD_R = -0.40, 0.075
_SHOULDER_Y, _SHOULDER_HALF = -0.29, 0.10
_HIP_HALF = 0.06
_UPPER_ARM, _FOREARM, _THIGH, _SHIN = 0.16, 0.15, 0.23, 0.23
LIMB_WIDTH = 0.055  # of H


@dataclass(frozen=True)
class Pose:
    """Joint angles in degrees measured from straight down, positive = away from the body's midline."""

    name: str
    left_arm: float
    left_elbow: float
    right_arm: float
    right_elbow: float
    left_leg: float
    left_knee: float
    right_leg: float
    right_knee: float


def sample_pose(rng: np.random.Generator, name: str | None = None) -> Pose:
    """A random pose; `name` picks the kind (see POSE_PHRASES), otherwise it is drawn at random."""
    if name is None:
        name = list(POSE_PHRASES)[int(rng.integers(len(POSE_PHRASES)))]
    u = rng.uniform

    def arm(raised: bool, out: bool = False) -> tuple[float, float]:
        if raised:
            return u(135, 175), u(-20, 20)
        if out:
            return u(75, 105), u(-15, 15)
        return u(5, 30), u(0, 35)

    la, le = arm(name in ("left_arm_up", "both_arms_up"), name == "arms_out")
    ra, re = arm(name in ("right_arm_up", "both_arms_up"), name == "arms_out")
    spread = (20, 35) if name == "legs_apart" else (0, 12)
    return Pose(name, la, le, ra, re, u(*spread), u(-10, 10), u(*spread), u(-10, 10))


def keypoints(pose: Pose, cx: float, cy: float, height: float, lean: float = 0.0) -> np.ndarray:
    """The 17 COCO keypoints (x, y) of a figure of `height` px centred at (cx, cy), leaning `lean` rad."""
    h = height

    def limb(start: tuple[float, float], angle_deg: float, length: float, side: float) -> tuple[float, float]:
        a = math.radians(angle_deg)
        return start[0] + side * math.sin(a) * length * h, start[1] + math.cos(a) * length * h

    head = (0.0, _HEAD_Y * h)
    l_sh, r_sh = (_SHOULDER_HALF * h, _SHOULDER_Y * h), (-_SHOULDER_HALF * h, _SHOULDER_Y * h)
    l_hip, r_hip = (_HIP_HALF * h, 0.0), (-_HIP_HALF * h, 0.0)
    l_el = limb(l_sh, pose.left_arm, _UPPER_ARM, 1.0)
    r_el = limb(r_sh, pose.right_arm, _UPPER_ARM, -1.0)
    l_wr = limb(l_el, pose.left_arm + pose.left_elbow, _FOREARM, 1.0)
    r_wr = limb(r_el, pose.right_arm + pose.right_elbow, _FOREARM, -1.0)
    l_kn = limb(l_hip, pose.left_leg, _THIGH, 1.0)
    r_kn = limb(r_hip, pose.right_leg, _THIGH, -1.0)
    l_an = limb(l_kn, pose.left_leg + pose.left_knee, _SHIN, 1.0)
    r_an = limb(r_kn, pose.right_leg + pose.right_knee, _SHIN, -1.0)
    e, ey = 0.03 * h, -0.015 * h
    pts = np.array([
        (head[0], head[1] + 0.01 * h),  # nose
        (e, head[1] + ey), (-e, head[1] + ey),  # eyes
        (0.06 * h, head[1]), (-0.06 * h, head[1]),  # ears
        l_sh, r_sh, l_el, r_el, l_wr, r_wr, l_hip, r_hip, l_kn, r_kn, l_an, r_an,
    ], dtype=np.float64)
    # The local origin is the hip centre; shift so the figure's vertical middle sits at cy.
    pts[:, 1] -= (_HEAD_Y - _HEAD_R + _THIGH + _SHIN) * h / 2
    c, s = math.cos(lean), math.sin(lean)
    rot = np.array([[c, -s], [s, c]])
    out: np.ndarray = pts @ rot.T + np.array([cx, cy])
    return out


def head_radius(height: float) -> float:
    """Head disk radius in px; the face keypoints lie inside it."""
    return _HEAD_R * height


def limb_width(height: float) -> float:
    """Limb stroke width in px (at least 2 so every joint covers its own pixel)."""
    return max(2.0, LIMB_WIDTH * height)


# Strokes of the figure as keypoint index pairs (0-based): arms, legs, neck.
LIMBS: tuple[tuple[int, int], ...] = ((5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16))
TORSO: tuple[int, ...] = (5, 6, 12, 11)
