"""Where ground truth and predictions live on disk, in one place.

Ground truth follows the ShapesWorld/COCO layout written by `edgeseg data shapes`. A prediction folder
mirrors it so `--task all` can find every task's predictions by name (see docs/eval.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeseg.errors import EdgesegError

TASKS: tuple[str, ...] = ("bbox", "segm", "keypoints", "semantic", "panoptic", "densecap")


@dataclass(frozen=True)
class GroundTruth:
    """Paths of one split of a dataset folder."""

    root: Path
    split: str

    @property
    def instances(self) -> Path:
        return self.root / "annotations" / f"instances_{self.split}.json"

    @property
    def keypoints(self) -> Path:
        return self.root / "annotations" / f"person_keypoints_{self.split}.json"

    @property
    def panoptic_json(self) -> Path:
        return self.root / "annotations" / f"panoptic_{self.split}.json"

    @property
    def panoptic_pngs(self) -> Path:
        return self.root / "panoptic" / self.split

    @property
    def captions(self) -> Path:
        return self.root / "annotations" / f"captions_{self.split}.json"

    @property
    def semantic_pngs(self) -> Path:
        return self.root / "semantic" / self.split

    def coco_json(self, task: str) -> Path:
        """The COCO instance file that `task` (bbox, segm or keypoints) is scored against."""
        return self.keypoints if task == "keypoints" else self.instances

    def require(self, path: Path) -> Path:
        """`path` if it exists; otherwise say that this split is not in this folder."""
        if not path.exists():
            raise EdgesegError(f"{path} not found: {self.root} has no split '{self.split}' for this task; "
                               f"check --gt and --split, or generate it with `edgeseg data shapes --out "
                               f"{self.root} --split {self.split}`")
        return path

    def check(self) -> None:
        """Fail early, in one line, when the folder is not a dataset at all."""
        if not self.root.is_dir():
            raise EdgesegError(f"ground-truth folder {self.root} not found: create one with "
                               f"`edgeseg data shapes --out {self.root} --split {self.split}`")
        if not (self.root / "annotations").is_dir():
            raise EdgesegError(f"{self.root} has no annotations/ folder: pass a dataset folder written by "
                               "`edgeseg data shapes` (or the same COCO layout) to --gt")


def prediction_path(pred: Path, task: str) -> Path:
    """The prediction file or folder for `task`, given what the user passed to --pred.

    A file is used as is. A folder is read with the prediction layout: bbox.json, segm.json,
    keypoints.json, densecap.json, semantic/ (label PNGs named like the ground truth; the folder
    itself if it has no semantic/ subfolder) and panoptic.json (its PNGs in panoptic/ beside it).
    """
    if not pred.is_dir():
        return pred
    if task == "semantic":
        return pred / "semantic" if (pred / "semantic").is_dir() else pred
    return pred / f"{task}.json"


def panoptic_png_dir(pred_json: Path) -> Path:
    """COCO's convention: the PNGs of `panoptic_x.json` are in the folder `panoptic_x/` beside it."""
    return pred_json.with_suffix("")


def prediction_present(pred: Path, task: str) -> bool:
    """Whether a prediction folder holds predictions for `task` (used by `--task all`)."""
    path = prediction_path(pred, task)
    if task == "semantic":
        return path.is_dir() and any(path.glob("*.png"))
    return path.is_file()
