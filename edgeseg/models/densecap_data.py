"""Training targets for dense captioning: each instance's phrase as fixed-length SHAPES_VOCAB ids.

Reads `annotations/captions_<split>.json` (written by `edgeseg data shapes`) beside the COCO
instances, and lines each phrase up with the box it describes through its annotation id.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from edgeseg.errors import EdgesegError
from edgeseg.models.datasets import ShapesDataset, read_json
from edgeseg.vocab import MAX_TOKENS, SHAPES_VOCAB


class CaptionDataset(ShapesDataset):
    """ShapesDataset whose targets also hold `captions` [N, MAX_TOKENS + 1] int64 (one row per box)."""

    def __init__(self, root: str | Path, split: str, limit: int | None = None,
                 with_masks: bool = False) -> None:
        super().__init__(root, split, limit, with_masks)
        doc = read_json(self.root / "annotations" / f"captions_{split}.json")
        self.phrases = {r["annotation_id"]: r["caption"] for entry in doc["annotations"]
                        for r in entry["regions"]}

    def __getitem__(self, index: int) -> tuple[Tensor, dict[str, Tensor]]:
        image, target = super().__getitem__(index)
        rows = []
        for ann in self.instances(index):
            if ann["id"] not in self.phrases:
                raise EdgesegError(f"annotation {ann['id']} of {self.root} has no phrase in "
                                   f"captions_{self.split}.json: regenerate the dataset")
            rows.append(SHAPES_VOCAB.encode(self.phrases[ann["id"]]))
        target["captions"] = torch.tensor(rows, dtype=torch.int64).reshape(-1, MAX_TOKENS + 1)
        return image, target
