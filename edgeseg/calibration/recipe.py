"""Calibration recipes: the YAML files in calibration/ that say how a model is calibrated.

Fields (all optional, defaults below): method (entropy | percentile | minmax), percentile,
num_frames (frames used for ranges), min_frames (fewer is an error), keep_fp32 (node-name
patterns, fnmatch style, kept in FP32 in every graph), budget (allowed metric drop, points),
sensitivity_frames (held-out frames per per-layer sensitivity run), max_fallback (most layers the
greedy fallback may move to FP32), held_out_frames (frames of the held-out set scored), seed.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from edgeseg.calibration.ranges import METHODS
from edgeseg.errors import EdgesegError

# final predictors: their small errors move boxes, masks and keypoints directly
SENSITIVE_PATTERNS = (
    "*box_predictor*",
    "*bbox_pred*",
    "*cls_score*",
    "*mask_predictor*",
    "*mask_fcn_logits*",
    "*keypoint_predictor*",
    "*kps_score*",
)


@dataclass(frozen=True)
class Recipe:
    method: str = "percentile"  # entropy lost 8-21 points on 3 zoo graphs (docs/calibration.md)
    percentile: float = 99.99
    num_frames: int = 256
    min_frames: int = 16
    keep_fp32: tuple[str, ...] = SENSITIVE_PATTERNS
    budget: float = 1.0
    sensitivity_frames: int = 16
    max_fallback: int = 64
    held_out_frames: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise EdgesegError(f"recipe method {self.method!r} is unknown: use one of {', '.join(METHODS)}")
        if not 50.0 < self.percentile <= 100.0:
            raise EdgesegError(f"recipe percentile {self.percentile} must be in (50, 100], e.g. 99.99")
        if self.min_frames < 1 or self.num_frames < self.min_frames:
            raise EdgesegError(
                f"recipe needs 1 <= min_frames <= num_frames, got {self.min_frames} and {self.num_frames}"
            )
        if (
            self.budget < 0
            or self.sensitivity_frames < 1
            or self.max_fallback < 0
            or self.held_out_frames < 1
        ):
            raise EdgesegError(
                "recipe budget and max_fallback must be >= 0, sensitivity_frames and held_out_frames >= 1"
            )

    def kept(self, node_names: list[str]) -> list[str]:
        """The node names that `keep_fp32` matches."""
        return [n for n in node_names if any(fnmatch.fnmatchcase(n, p) for p in self.keep_fp32)]


def load_recipe(path: Path | None) -> Recipe:
    """The recipe in YAML file `path` (None: the defaults); unknown keys are errors, not ignored."""
    if path is None:
        return Recipe()
    try:
        data: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise EdgesegError(
            f"cannot read recipe {path} ({str(exc).splitlines()[0]}): pass a YAML file like "
            "calibration/default.yaml"
        ) from None
    if not isinstance(data, dict):
        raise EdgesegError(f"recipe {path} must be a YAML mapping of fields, got {type(data).__name__}")
    known = {f.name for f in fields(Recipe)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise EdgesegError(f"recipe {path} has unknown fields {unknown}: the fields are {sorted(known)}")
    if "keep_fp32" in data:
        data["keep_fp32"] = tuple(str(p) for p in data["keep_fp32"] or ())
    try:
        return Recipe(**data)
    except TypeError as exc:
        raise EdgesegError(f"recipe {path}: {exc}") from None
