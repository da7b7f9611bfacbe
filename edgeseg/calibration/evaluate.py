"""The task metric of a deploy graph on a held-out ShapesWorld split, run on ORT CPU.

Why here and torch-free: the accuracy budget compares FP32 and INT8 graphs, so both must be scored
by the same code from graph outputs alone. Deploy graphs name their outputs (edgeseg.export):
`semantic` (uint8 label map) -> mIoU; `boxes/scores/classes/num_dets` -> box AP; `masks` (28x28
probabilities per box) -> mask AP; `keypoints` -> keypoint AP. Metrics are in points (0..100).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.calibration.images import GraphInput, read_rgb
from edgeseg.calibration.session import make_session
from edgeseg.data.categories import CATEGORIES
from edgeseg.data.reader import ShapesRecord, load_split
from edgeseg.errors import EdgesegError

DETECTION = ("boxes", "scores", "classes", "num_dets")
PERSON_ID = next(c.id for c in CATEGORIES if c.name == "person")


@dataclass
class HeldOut:
    """Frames and ground truth of a held-out split, in memory (it is re-run for every candidate graph)."""

    root: Path
    split: str
    records: list[ShapesRecord]
    images: list[np.ndarray]


def load_held_out(root: Path, split: str, limit: int | None = None) -> HeldOut:
    root = Path(root)
    if not (root / "annotations").is_dir():
        raise EdgesegError(
            f"held-out set {root} is not a ShapesWorld/COCO dataset folder: create one with "
            f"`edgeseg data shapes --out {root} --split {split}`"
        )
    records = load_split(root, split)[:limit]
    if not records:
        raise EdgesegError(f"held-out split {split!r} in {root} has no images")
    return HeldOut(root, split, records, [read_rgb(r.image_path) for r in records])


def tasks_of(output_names: Sequence[str]) -> list[str]:
    """The metrics a graph's outputs allow."""
    names = set(output_names)
    tasks = []
    if set(DETECTION) <= names:
        tasks.append("bbox")
        tasks += ["segm"] * ("masks" in names)
        tasks += ["keypoints"] * ("keypoints" in names)
    tasks += ["semantic"] * ("semantic" in names)
    if not tasks:
        raise EdgesegError(
            f"cannot score a graph with outputs {sorted(names)}: the accuracy budget needs an "
            "edgeseg deploy graph (outputs semantic, or boxes/scores/classes/num_dets)"
        )
    return tasks


def run_graph(model: Any, held: HeldOut, indices: Sequence[int]) -> list[dict[str, np.ndarray]]:
    """The outputs of ModelProto `model` for the held-out frames `indices`."""
    graph_input = GraphInput.of(model)
    session = make_session(model)
    names = [o.name for o in session.get_outputs()]
    outputs = []
    for i in indices:
        graph_input.check(held.images[i], held.records[i].image_path)
        outputs.append(dict(zip(names, session.run(names, graph_input.feed(held.images[i])), strict=True)))
    return outputs


def score_outputs(
    held: HeldOut, indices: Sequence[int], outputs: list[dict[str, np.ndarray]]
) -> dict[str, float]:
    """{task: primary metric in points} of graph outputs for the frames `indices`."""
    records = [held.records[i] for i in indices]
    scores: dict[str, float] = {}
    for task in tasks_of(list(outputs[0]) if outputs else []):
        if task == "semantic":
            scores[task] = _miou(records, [o["semantic"][0] for o in outputs])
        else:
            scores[task] = _coco_ap(held, records, outputs, task)
    return scores


def score_graph(model: Any, held: HeldOut, indices: Sequence[int] | None = None) -> dict[str, float]:
    """{task: primary metric in points} of ModelProto `model` on `held` (or on the frames `indices`)."""
    picks = list(range(len(held.records))) if indices is None else list(indices)
    return score_outputs(held, picks, run_graph(model, held, picks))


def _miou(records: list[ShapesRecord], labels: list[np.ndarray]) -> float:
    from edgeseg.eval.readers import read_label_png
    from edgeseg.eval.semantic import confusion_matrix, metrics_from_confusion

    num = len(CATEGORIES)
    conf = np.zeros((num, num + 1), np.int64)
    for record, pred in zip(records, labels, strict=True):
        gt = read_label_png(record.semantic_path)
        if gt.shape != pred.shape:
            raise EdgesegError(
                f"graph label map is {pred.shape}, ground truth {record.semantic_path} is "
                f"{gt.shape}: the held-out set must have the graph's frame size"
            )
        conf += confusion_matrix(gt, pred, num)
    return 100.0 * metrics_from_confusion(conf, [c.name for c in CATEGORIES]).miou


def _coco_ap(
    held: HeldOut, records: list[ShapesRecord], outputs: list[dict[str, np.ndarray]], task: str
) -> float:
    from pycocotools import mask as mask_utils

    from edgeseg.eval.coco import coco_from_dict, evaluate_coco
    from edgeseg.runtime.postprocess import paste_masks

    gt_file = (
        held.root
        / "annotations"
        / (f"person_keypoints_{held.split}.json" if task == "keypoints" else f"instances_{held.split}.json")
    )
    data = json.loads(gt_file.read_text(encoding="utf-8"))
    ids = {r.image_id for r in records}
    data["images"] = [i for i in data["images"] if i["id"] in ids]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in ids]
    gt = coco_from_dict(data, str(gt_file))
    results: list[dict[str, Any]] = []
    for record, out in zip(records, outputs, strict=True):
        n = int(out["num_dets"][0])
        boxes, scores, classes = out["boxes"][0][:n], out["scores"][0][:n], out["classes"][0][:n]
        masks = (
            paste_masks(out["masks"][0][:n], boxes, record.height, record.width) if task == "segm" else None
        )
        for k in range(n):
            if int(classes[k]) <= 0 or (task == "keypoints" and int(classes[k]) != PERSON_ID):
                continue
            x0, y0, x1, y1 = (float(v) for v in boxes[k])
            entry: dict[str, Any] = {
                "image_id": record.image_id,
                "category_id": int(classes[k]),
                "score": float(scores[k]),
            }
            if task == "bbox":
                entry["bbox"] = [x0, y0, x1 - x0, y1 - y0]
            elif task == "segm" and masks is not None:
                rle = mask_utils.encode(np.asfortranarray(masks[k].astype(np.uint8)))
                entry["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
            else:
                kp = out["keypoints"][0][k].astype(np.float64).copy()
                kp[:, 2] = 2.0
                entry["keypoints"] = kp.ravel().tolist()
            results.append(entry)
    return 100.0 * max(evaluate_coco(gt, results, task)["AP"], 0.0)
