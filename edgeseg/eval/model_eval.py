"""Run a deploy graph (ONNX Runtime, TensorRT or Triton) over a COCO-format image set and write the
prediction folder that `edgeseg eval` scores: `edgeseg eval --model M --gt instances.json --images DIR`.

Why through the runtime's Pipeline: the numbers must be those of the deployed path, letterbox,
post-processing and all, not of a re-implementation. Images are read in the ground truth's image-id
order and each result is written under that image's id, so no file-name convention is assumed.
Category ids: the model's label ids when the dataset uses them, else matched by name; a model whose
classes the dataset cannot name is refused before any inference.
"""
from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from edgeseg.errors import EdgesegError
from edgeseg.eval.layout import GroundTruth
from edgeseg.eval.readers import load_json
from edgeseg.eval.semantic import evaluate_semantic_folders
from edgeseg.eval.subset import first_images, write_subset
from edgeseg.eval.tasks import evaluate_coco_file
from edgeseg.labels import LabelSet

log = logging.getLogger(__name__)


def category_map(labels: LabelSet | None, classes: list[str], gt_categories: list[dict[str, Any]],
                 source: str) -> dict[int, int] | None:
    """Model class id -> dataset category id; None when the ids already agree."""
    by_id = {int(c["id"]): str(c["name"]) for c in gt_categories}
    if labels is not None and not labels.is_ids:
        model = {c.id: c.name for c in labels.things}
    else:  # an ids-only model: classes[i] is class id i + 1 (0 is background)
        model = {i + 1: name for i, name in enumerate(classes)}
    if all(by_id.get(i) == name for i, name in model.items()):
        return None
    by_name = {name: i for i, name in by_id.items()}
    missing = sorted(name for name in model.values() if name not in by_name)
    if len(missing) == len(model):
        raise EdgesegError(
            f"none of the model's classes ({', '.join(list(model.values())[:5])}, ...) is a category of "
            f"{source} ({', '.join(list(by_id.values())[:5])}, ...): export the model with the dataset's "
            "labels (`edgeseg export --labels FILE`) or evaluate on data with its classes")
    return {i: by_name[name] for i, name in model.items() if name in by_name}


def read_images(root: Path, images: list[dict[str, Any]]) -> Iterator[np.ndarray]:
    """RGB frames of the listed images, read one at a time (a large set never sits in memory)."""
    for entry in images:
        path = root / str(entry["file_name"])
        try:
            with Image.open(path) as img:
                yield np.asarray(img.convert("RGB"))
        except OSError as err:
            raise EdgesegError(f"cannot read image {path} ({err}): check --images and the ground truth's "
                               "file_name entries") from None


def load_instances(gt_json: Path) -> dict[str, Any]:
    """A COCO instances file, refused in one line when it has no images/categories lists."""
    gt = load_json(gt_json, "ground truth")
    if not isinstance(gt, dict) or not isinstance(gt.get("images"), list) or "categories" not in gt:
        raise EdgesegError(f"{gt_json} is not a COCO instances file (no images/categories lists)")
    if not gt["images"]:
        raise EdgesegError(f"{gt_json} lists no images")
    return gt


def predict_dataset(model: str, gt: dict[str, Any], gt_name: str, images: list[dict[str, Any]],
                    images_dir: Path, out: Path, backend: str = "auto", semantic_dir: Path | None = None,
                    progress: bool = True, task: str = "all") -> list[str]:
    """Run `model` over the ground truth's `images` entries and write bbox/segm/keypoints.json (and
    semantic/ label PNGs when the model has a semantic head and `semantic_dir` is given) into `out`;
    returns the tasks the model gives. A `task` it cannot give is refused once the model is open,
    before any image is run."""
    from edgeseg.runtime.coco_results import coco_entries, instance_tasks
    from edgeseg.runtime.pipeline import Pipeline

    if not images_dir.is_dir():
        raise EdgesegError(f"image folder {images_dir} not found: pass the folder the ground truth's "
                           "file_name entries are relative to with --images")
    out.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    with Pipeline(read_images(images_dir, images), model, backend=backend, policy="all") as pipeline:
        info = pipeline.model.info  # type: ignore[attr-defined]  # a deploy adapter: min_score is 0
        outputs = set(info.outputs)
        tasks = instance_tasks(outputs) + ["semantic"] * ("semantic" in outputs)
        if task != "all" and task not in tasks:
            raise EdgesegError(f"{model} gives no {task} predictions (it has {', '.join(tasks)}); "
                               "choose one of those or --task all")
        mapping = category_map(info.labels, info.classes, gt["categories"], gt_name)
        if semantic_dir is not None and "semantic" in tasks:
            semantic_dir.mkdir(parents=True, exist_ok=True)
        stream = zip(images, pipeline, strict=True)
        for entry, result in tqdm(stream, total=len(images), desc="eval", unit="img", disable=not progress):
            if (result.height, result.width) != (int(entry["height"]), int(entry["width"])):
                raise EdgesegError(f"image {entry['file_name']} is {result.width}x{result.height} but the "
                                   f"ground truth says {entry['width']}x{entry['height']}")
            entries += coco_entries(result, int(entry["id"]), mapping)
            if semantic_dir is not None and result.semantic is not None:
                name = f"{Path(str(entry['file_name'])).stem}.png"
                Image.fromarray(result.semantic.astype(np.uint8)).save(semantic_dir / name)
    text = json.dumps(entries)  # one list serves every instance task
    for name in tasks:
        if name != "semantic":
            (out / f"{name}.json").write_text(text, encoding="utf-8")
    return tasks


def evaluate_model(model: str, gt: Path, task: str = "all", split: str = "val", images: Path | None = None,
                   backend: str = "auto", limit: int | None = None, keep_pred: Path | None = None,
                   progress: bool = True) -> dict[str, Any]:
    """Run `model` over a ShapesWorld/COCO split folder (or a COCO JSON file + `images`) and score
    `task` ("all": every task the model's outputs allow); metrics as `edgeseg eval` prints them."""
    if limit is not None and limit < 1:
        raise EdgesegError(f"--limit must be >= 1, got {limit}")
    folder = None if gt.is_file() else GroundTruth(gt, split)
    semantic_scorable = folder is not None and limit is None  # its truth: the whole split's label PNGs
    if task == "semantic" and not semantic_scorable:
        raise EdgesegError("--task semantic needs a dataset folder as --gt (its label PNGs) and no --limit")
    if folder is None:
        if images is None:
            raise EdgesegError(f"--images DIR is needed with a JSON --gt ({gt}): the folder its file_name "
                               "entries are relative to")
        instances, keypoints = gt, gt
    else:
        folder.check()
        instances, keypoints = folder.require(folder.instances), folder.keypoints
        images = images or gt / "images" / split
    gt_doc = load_instances(instances)
    picked = first_images(gt_doc["images"], limit)
    keep = {int(im["id"]) for im in picked}
    with tempfile.TemporaryDirectory() as tmp:
        out = keep_pred or Path(tmp) / "pred"
        scored_json = instances if limit is None else write_subset(gt_doc, keep, Path(tmp) / "gt.json")
        semantic = out / "semantic" if semantic_scorable else None
        written = predict_dataset(model, gt_doc, str(instances), picked, images, out, backend, semantic,
                                  progress, task)
        results: dict[str, Any] = {}
        for name in written if task == "all" else [task]:
            if name == "semantic":
                if folder is None or not semantic_scorable:  # (folder: for the type checker)
                    log.info("skipping semantic: it is scored on a dataset folder's PNGs, without --limit")
                    continue
                results[name] = evaluate_semantic_folders(folder.require(folder.semantic_pngs), out /
                                                          "semantic").as_dict()
            elif name == "keypoints" and keypoints != instances and keypoints.is_file():
                kp_json = keypoints
                if limit is not None:
                    kp_doc = load_json(keypoints, "keypoints ground truth")
                    kp_json = write_subset(kp_doc, keep, Path(tmp) / "kp.json")
                results[name] = evaluate_coco_file(kp_json, name, out)
            else:
                results[name] = evaluate_coco_file(scored_json, name, out)
    return results
