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


def _tasks(outputs: set[str], semantic: bool) -> list[str]:
    from edgeseg.runtime.coco_results import instance_tasks

    return instance_tasks(outputs) + ["semantic"] * (semantic and "semantic" in outputs)


def predict_dataset(model: str, gt_json: Path, images_dir: Path, out: Path, backend: str = "auto",
                    limit: int | None = None, semantic_dir: Path | None = None,
                    progress: bool = True, task: str = "all") -> list[str]:
    """Write bbox/segm/keypoints.json (and semantic/ label PNGs when the model has a semantic head and
    `semantic_dir` is given) into `out`; returns the tasks written. A `task` the model cannot give is
    refused once the model is open, before any image is run."""
    from edgeseg.runtime.coco_results import coco_entries
    from edgeseg.runtime.pipeline import Pipeline

    gt = load_json(gt_json, "ground truth")
    if not isinstance(gt, dict) or not isinstance(gt.get("images"), list) or "categories" not in gt:
        raise EdgesegError(f"{gt_json} is not a COCO instances file (no images/categories lists)")
    if not images_dir.is_dir():
        raise EdgesegError(f"image folder {images_dir} not found: pass the folder the ground truth's "
                           "file_name entries are relative to with --images")
    images = sorted(gt["images"], key=lambda im: int(im["id"]))[:limit]
    if not images:
        raise EdgesegError(f"{gt_json} lists no images")
    out.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    with Pipeline(read_images(images_dir, images), model, backend=backend, policy="all") as pipeline:
        info = pipeline.model.info  # type: ignore[attr-defined]  # a deploy adapter: min_score is 0
        outputs = set(info.outputs)
        tasks = _tasks(outputs, semantic_dir is not None)
        if task != "all" and task not in tasks:
            raise EdgesegError(f"{model} gives no {task} predictions (it has {', '.join(tasks)}); "
                               "choose one of those or --task all")
        mapping = category_map(info.labels, info.classes, gt["categories"], str(gt_json))
        stream = zip(images, pipeline, strict=True)
        for entry, result in tqdm(stream, total=len(images), desc="eval", unit="img", disable=not progress):
            if (result.height, result.width) != (int(entry["height"]), int(entry["width"])):
                raise EdgesegError(f"image {entry['file_name']} is {result.width}x{result.height} but the "
                                   f"ground truth says {entry['width']}x{entry['height']}")
            entries += coco_entries(result, int(entry["id"]), mapping)
            if semantic_dir is not None and result.semantic is not None:
                semantic_dir.mkdir(parents=True, exist_ok=True)
                name = f"{Path(str(entry['file_name'])).stem}.png"
                Image.fromarray(result.semantic.astype(np.uint8)).save(semantic_dir / name)
    for name in tasks:
        if name != "semantic":
            (out / f"{name}.json").write_text(json.dumps(entries), encoding="utf-8")
    return tasks


def subset_coco(gt_json: Path, limit: int, dest: Path) -> Path:
    """The first `limit` images (by id) of a COCO file and their annotations, written to `dest`:
    scoring a subset's predictions against the whole file would count the other images as misses."""
    doc = load_json(gt_json, "ground truth")
    doc["images"] = sorted(doc["images"], key=lambda im: int(im["id"]))[:limit]
    keep = {int(im["id"]) for im in doc["images"]}
    doc["annotations"] = [a for a in doc.get("annotations", []) if int(a["image_id"]) in keep]
    dest.write_text(json.dumps(doc), encoding="utf-8")
    return dest


def evaluate_model(model: str, gt: Path, task: str = "all", split: str = "val", images: Path | None = None,
                   backend: str = "auto", limit: int | None = None, keep_pred: Path | None = None,
                   progress: bool = True) -> dict[str, Any]:
    """Run `model` over a ShapesWorld/COCO split folder (or a COCO JSON file + `images`) and score
    `task` ("all": every task the model's outputs allow); metrics as `edgeseg eval` prints them."""
    if limit is not None and limit < 1:
        raise EdgesegError(f"--limit must be >= 1, got {limit}")
    folder = None
    if gt.is_file():
        if images is None:
            raise EdgesegError(f"--images DIR is needed with a JSON --gt ({gt}): the folder its file_name "
                               "entries are relative to")
        instances, keypoints = gt, gt
    else:
        folder = GroundTruth(gt, split)
        folder.check()
        instances, keypoints = folder.require(folder.instances), folder.keypoints
        images = images or gt / "images" / split
    with tempfile.TemporaryDirectory() as tmp:
        out = keep_pred or Path(tmp) / "pred"
        scored_json = instances if limit is None else subset_coco(instances, limit, Path(tmp) / "gt.json")
        semantic = out / "semantic" if folder is not None and limit is None else None
        written = predict_dataset(model, instances, images, out, backend, limit, semantic, progress, task)
        results: dict[str, Any] = {}
        for name in written if task == "all" else [task]:
            if name == "semantic" and folder is not None:
                results[name] = evaluate_semantic_folders(folder.require(folder.semantic_pngs), out /
                                                          "semantic").as_dict()
            elif name == "keypoints" and keypoints != instances and keypoints.is_file():
                kp_json = keypoints if limit is None else subset_coco(keypoints, limit, Path(tmp) / "kp.json")
                results[name] = evaluate_coco_file(kp_json, name, out)
            else:
                results[name] = evaluate_coco_file(scored_json, name, out)
        if folder is not None and limit is not None and "semantic" in written:
            log.info("semantic not scored with --limit: its ground truth is a folder of the whole split")
    return results
