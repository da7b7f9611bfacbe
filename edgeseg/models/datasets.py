"""torch Datasets over a ShapesWorld (COCO-layout) split, for training and evaluating the zoo models.

Reads the COCO files directly (instances, person keypoints, semantic PNGs) so a user's own data in
the same layout works too. Things get contiguous detector labels equal to their COCO category ids
(1..5, 0 is background); every instance carries 17 keypoints (all zero, i.e. invisible, for
non-persons) because torchvision's keypoint loss only counts visible ones.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from pycocotools import mask as mask_utils
from torch import Tensor
from torch.utils.data import Dataset

from edgeseg.data.categories import KEYPOINT_NAMES, PERSON_ID
from edgeseg.errors import EdgesegError


def read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise EdgesegError(f"{path} not found: pass a dataset folder written by `edgeseg data shapes` "
                           "(DIR/annotations/instances_<split>.json)")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_image(path: Path) -> Tensor:
    """RGB image as float CHW in [0, 1] (the models normalise inside)."""
    arr = np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)


class ShapesDataset(Dataset):
    """One split: `(image, target)` with boxes (xyxy), labels, masks, keypoints and the semantic map."""

    def __init__(self, root: str | Path, split: str, limit: int | None = None,
                 with_masks: bool = True) -> None:
        self.root = Path(root)
        self.split = split
        inst = read_json(self.root / "annotations" / f"instances_{split}.json")
        kp_path = self.root / "annotations" / f"person_keypoints_{split}.json"
        kps = read_json(kp_path) if kp_path.is_file() else {"annotations": []}
        self.images = sorted(inst["images"], key=lambda im: im["id"])[:limit]
        self.anns: dict[int, list[dict[str, Any]]] = {im["id"]: [] for im in self.images}
        for a in inst["annotations"]:
            if a["image_id"] in self.anns and not a.get("iscrowd", 0):
                self.anns[a["image_id"]].append(a)
        self.keypoints: dict[int, list[float]] = {a["id"]: a["keypoints"] for a in kps["annotations"]
                                                  if "keypoints" in a}
        self.with_masks = with_masks

    def __len__(self) -> int:
        return len(self.images)

    def image_path(self, index: int) -> Path:
        return self.root / "images" / self.split / self.images[index]["file_name"]

    def semantic_path(self, index: int) -> Path:
        stem = Path(self.images[index]["file_name"]).stem
        return self.root / "semantic" / self.split / f"{stem}.png"

    def instances(self, index: int) -> list[dict[str, Any]]:
        """The image's annotations that become targets (boxes at least one pixel wide and high)."""
        return [a for a in self.anns[self.images[index]["id"]] if a["bbox"][2] >= 1 and a["bbox"][3] >= 1]

    def __getitem__(self, index: int) -> tuple[Tensor, dict[str, Tensor]]:
        info = self.images[index]
        image = load_image(self.image_path(index))
        h, w = image.shape[-2:]
        anns = self.instances(index)
        xywh = torch.tensor([a["bbox"] for a in anns], dtype=torch.float32).reshape(-1, 4)
        boxes = torch.cat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], dim=1)
        labels = torch.tensor([a["category_id"] for a in anns], dtype=torch.int64)
        kp = torch.zeros((len(anns), len(KEYPOINT_NAMES), 3))
        for i, a in enumerate(anns):
            if a["category_id"] == PERSON_ID and a["id"] in self.keypoints:
                kp[i] = torch.tensor(self.keypoints[a["id"]], dtype=torch.float32).reshape(-1, 3)
        target = {"boxes": boxes, "labels": labels, "keypoints": kp,
                  "image_id": torch.tensor(info["id"])}
        if self.with_masks:
            masks = np.zeros((len(anns), h, w), dtype=np.uint8)
            for i, a in enumerate(anns):
                seg = a["segmentation"]
                rle = mask_utils.frPyObjects(seg, h, w) if isinstance(seg, list) else seg
                if isinstance(rle, list):
                    rle = mask_utils.merge(rle)
                elif isinstance(rle["counts"], list):
                    rle = mask_utils.frPyObjects(rle, h, w)
                masks[i] = mask_utils.decode(rle)
            target["masks"] = torch.from_numpy(masks)
        sem_path = self.semantic_path(index)
        if sem_path.is_file():
            target["semantic"] = torch.from_numpy(np.asarray(Image.open(sem_path), dtype=np.int64).copy())
        return image, target


def collate(batch: list[tuple[Tensor, dict[str, Tensor]]]) -> tuple[list[Tensor], list[dict[str, Tensor]]]:
    """Detection batches stay lists (images may differ in size; targets in instance count)."""
    return [b[0] for b in batch], [b[1] for b in batch]
