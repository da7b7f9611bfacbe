"""Run a zoo model over a dataset split, write the prediction folder `edgeseg eval` reads, score it.

The folder layout is the one of `edgeseg.eval.layout` (bbox.json, segm.json, keypoints.json,
semantic/*.png, panoptic.json + panoptic/*.png), so every number in docs/models.md can be
re-checked with `edgeseg eval --gt DIR --pred FOLDER --task all --json`.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from pycocotools import mask as mask_utils
from torch import Tensor, nn

from edgeseg.data.categories import PERSON_ID
from edgeseg.data.coco_writer import ids_to_rgb
from edgeseg.labels import SHAPESWORLD
from edgeseg.models.datasets import ShapesDataset, load_image
from edgeseg.runtime.panoptic_fusion import FusionParams, fuse
from edgeseg.vocab import SHAPES_VOCAB

TASKS_BY_HEAD = {"box": "bbox", "mask": "segm", "keypoint": "keypoints", "semantic": "semantic"}


def tasks_of(family: str, heads: list[str]) -> list[str]:
    """The `edgeseg eval` tasks a model with these heads is scored on."""
    if family == "fcn":
        return ["semantic"]
    if family == "densecap":
        return ["bbox", "densecap"]
    tasks = [TASKS_BY_HEAD[h] for h in heads]
    if "mask" in heads and "semantic" in heads:
        tasks.append("panoptic")
    return tasks


def _xywh(box: list[float]) -> list[float]:
    return [round(box[0], 2), round(box[1], 2), round(box[2] - box[0], 2), round(box[3] - box[1], 2)]


class PredictionWriter:
    """Collects per-image outputs and writes them in the eval layout."""

    def __init__(self, out: Path, tasks: list[str]) -> None:
        self.out, self.tasks = out, tasks
        tasks_with_lists = ("bbox", "segm", "keypoints", "densecap")
        self.results: dict[str, list[dict[str, Any]]] = {t: [] for t in tasks_with_lists}
        self.panoptic: list[dict[str, Any]] = []
        out.mkdir(parents=True, exist_ok=True)
        for sub in ("semantic", "panoptic"):
            if sub in tasks:
                (out / sub).mkdir(parents=True, exist_ok=True)

    def add_instances(self, image_id: int, det: dict[str, Tensor]) -> None:
        boxes, scores, labels = det["boxes"].tolist(), det["scores"].tolist(), det["labels"].tolist()
        for i, (box, score, label) in enumerate(zip(boxes, scores, labels, strict=True)):
            base = {"image_id": image_id, "category_id": int(label), "score": round(float(score), 5)}
            self.results["bbox"].append({**base, "bbox": _xywh(box)})
            if "segm" in self.tasks:
                m = np.asfortranarray((det["masks"][i, 0] >= 0.5).numpy().astype(np.uint8))
                rle = mask_utils.encode(m)
                rle["counts"] = rle["counts"].decode("ascii")
                self.results["segm"].append({**base, "segmentation": rle})
            if "densecap" in self.tasks:
                phrase = SHAPES_VOCAB.detokenize(det["tokens"][i].tolist())
                self.results["densecap"].append({"image_id": image_id, "bbox": _xywh(box),
                                                 "score": base["score"], "caption": phrase})
            if "keypoints" in self.tasks and label == PERSON_ID:
                kp = det["keypoints"][i].clone()
                kp[:, 2] = 1.0
                flat = [round(v, 2) for v in kp.flatten().tolist()]
                self.results["keypoints"].append({**base, "keypoints": flat})

    def add_semantic(self, stem: str, labels: np.ndarray) -> None:
        Image.fromarray(labels.astype(np.uint8)).save(self.out / "semantic" / f"{stem}.png")

    def add_panoptic(self, image_id: int, stem: str, det: dict[str, Tensor], semantic: np.ndarray,
                     params: FusionParams) -> None:
        ids, segments = fuse(det["masks"][:, 0].numpy(), det["scores"].numpy(), det["labels"].numpy(),
                             semantic, params, SHAPESWORLD)
        Image.fromarray(ids_to_rgb(ids)).save(self.out / "panoptic" / f"{stem}.png")
        self.panoptic.append({"image_id": image_id, "file_name": f"{stem}.png",
                              "segments_info": [{"id": s.id, "category_id": s.category_id}
                                                for s in segments]})

    def close(self) -> None:
        for task, results in self.results.items():
            if task in self.tasks:
                (self.out / f"{task}.json").write_text(json.dumps(results), encoding="utf-8")
        if "panoptic" in self.tasks:
            doc = json.dumps({"annotations": self.panoptic})
            (self.out / "panoptic.json").write_text(doc, encoding="utf-8")


@torch.no_grad()
def predict(model: nn.Module, family: str, heads: list[str], data: Path, split: str, out: Path,
            limit: int | None = None, progress: bool = True) -> float:
    """Write predictions for the first `limit` images of a split; returns seconds per image."""
    from tqdm import tqdm

    dataset = ShapesDataset(data, split, limit=limit, with_masks=False)
    tasks = tasks_of(family, heads)
    writer = PredictionWriter(out, tasks)
    model.eval()
    elapsed = 0.0
    for index in tqdm(range(len(dataset)), desc="predict", disable=not progress):
        info = dataset.images[index]
        stem = Path(info["file_name"]).stem
        image = load_image(dataset.image_path(index))
        start = time.perf_counter()
        if family == "fcn":
            labels = model(image[None])[0].argmax(0).numpy()
            elapsed += time.perf_counter() - start
            writer.add_semantic(stem, labels)
            continue
        det = model([image])[0]
        elapsed += time.perf_counter() - start
        writer.add_instances(int(info["id"]), det)
        if "sem_seg" in det:
            semantic = det["sem_seg"].numpy()
            writer.add_semantic(stem, semantic)
            if "panoptic" in tasks:
                writer.add_panoptic(int(info["id"]), stem, det, semantic, FusionParams())
    writer.close()
    return elapsed / max(1, len(dataset))


def score(data: Path, split: str, pred: Path, tasks: list[str]) -> dict[str, Any]:
    """Metrics through edgeseg.eval, exactly as `edgeseg eval --json` computes them."""
    from edgeseg.eval.layout import GroundTruth
    from edgeseg.eval.tasks import evaluate_task

    gt = GroundTruth(Path(data), split)
    return {task: evaluate_task(gt, task, pred) for task in tasks}


def evaluate(name: str, weights: Path | None, data: Path, split: str, out: Path, limit: int | None = None,
             progress: bool = True) -> dict[str, Any]:
    """Predict with zoo model `name` (optionally other weights) and score every task it has."""
    from edgeseg.models.zoo import get

    model, info = get(name, weights)
    if limit is not None:
        data = subset_split(data, split, limit, out.parent / f"{out.name}_gt")
    seconds = predict(model, info.family, info.heads, data, split, out, None, progress)
    metrics = score(data, split, out, tasks_of(info.family, info.heads))
    metrics["seconds_per_image"] = round(seconds, 4)
    return metrics


def subset_split(data: Path, split: str, limit: int, dest: Path) -> Path:
    """A copy of the first `limit` images' ground truth (JSON entries and label PNGs) under `dest`.

    Scoring predictions of a subset against the whole split would count the other images as misses.
    """
    import shutil

    from edgeseg.eval.subset import first_images, write_subset

    data, dest = Path(data), Path(dest)
    ann = data / "annotations"
    instances = json.loads((ann / f"instances_{split}.json").read_text(encoding="utf-8"))
    images = first_images(instances["images"], limit)
    keep = {int(im["id"]) for im in images}
    (dest / "annotations").mkdir(parents=True, exist_ok=True)
    for name in (f"instances_{split}.json", f"person_keypoints_{split}.json", f"panoptic_{split}.json",
                 f"captions_{split}.json"):
        if (ann / name).is_file():
            doc = json.loads((ann / name).read_text(encoding="utf-8"))
            write_subset(doc, keep, dest / "annotations" / name)
    for sub in ("images", "semantic", "panoptic"):
        (dest / sub / split).mkdir(parents=True, exist_ok=True)
        for im in images:
            src = data / sub / split / f"{Path(im['file_name']).stem}.png"
            if src.is_file():
                shutil.copyfile(src, dest / sub / split / src.name)
    return dest


def main() -> None:
    """`python -m edgeseg.models.evaluate NAME --data DIR --out PRED`: write predictions, print metrics."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("name", help="zoo model name")
    parser.add_argument("--data", type=Path, required=True, help="dataset folder holding the split")
    parser.add_argument("--split", default="val")
    parser.add_argument("--out", type=Path, required=True, help="prediction folder to write")
    parser.add_argument("--weights", type=Path, default=None, help="other weights than the zoo's")
    parser.add_argument("--images", type=int, default=None, help="first N images only")
    args = parser.parse_args()
    torch.set_num_threads(1)
    metrics = evaluate(args.name, args.weights, args.data, args.split, args.out, args.images)
    print(json.dumps(metrics, sort_keys=True))


if __name__ == "__main__":
    main()
