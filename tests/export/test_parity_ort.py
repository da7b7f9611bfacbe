"""Ladder step 3: the exported graph on ONNX Runtime (OrtBackend) == the torch eager deploy wrapper.

Per image: same number of detections; each ORT detection matches a torch one of the same class with
box IoU >= 0.99 and |score difference| <= 1e-3; pasted masks IoU >= 0.98 and mask probabilities within
1e-4; keypoints within 1 px; semantic maps agree on >= 99.9 % of pixels; and COCO box/mask/keypoint AP
(edgeseg.eval) of the two prediction sets within 0.005. Weights are random (scores spread out, see
conftest.build); the default run uses 6 images, the slow run 50 images and every zoo entry.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from export_testutil import FCN_NAMES, RCNN_NAMES, build, dataset, match

from edgeseg.eval.coco import coco_from_dict, evaluate_coco
from edgeseg.export.onnx_export import deploy_metadata, export_deploy
from edgeseg.export.wrappers import wrap
from edgeseg.runtime.backends.ort import OrtBackend
from edgeseg.runtime.results import FrameResult
from edgeseg.runtime.task_adapters import decode, read_deploy_info

DEFAULT = ["shapes_rcnn", "panoptic_rcnn", "faster_rcnn_roipool", "rcnn_baseline", *FCN_NAMES]
SLOW = [n for n in RCNN_NAMES if n not in DEFAULT]


def run_both(name: str, images: np.ndarray, tmp: Path, batch: int = 3) -> tuple[Any, list[dict], list[dict]]:
    model, info = build(name)
    deploy = wrap(model, info, "edgeseg")
    path = export_deploy(deploy, tmp / f"{name}.onnx", deploy_metadata(deploy, info, "edgeseg"))
    backend = OrtBackend(path, intra_op_threads=1)
    ort_out, torch_out = [], []
    for start in range(0, len(images), batch):
        chunk = images[start:start + batch]
        got = backend.infer({"images": chunk})
        with torch.no_grad():
            tensors = deploy(torch.from_numpy(chunk))
        ref = dict(zip(deploy.output_names, (t.numpy() for t in tensors), strict=True))
        for i in range(len(chunk)):
            ort_out.append({k: v[i] for k, v in got.items()})
            torch_out.append({k: v[i] for k, v in ref.items()})
    backend.close()
    return read_deploy_info(path), ort_out, torch_out


def frame_results(info: Any, outputs: list[dict], gt: dict) -> list[FrameResult]:
    results = []
    for out, img in zip(outputs, gt["images"], strict=True):
        results.append(decode(out, info, FrameResult(img["id"], img["height"], img["width"])))
    return results


def coco_ap(results: list[FrameResult], gt: dict, task: str) -> float:
    records = []
    for r in results:
        for ann in r.to_json()["annotations"]:
            records.append({**ann, "image_id": r.frame_id})
    gt_task = dict(gt)
    if task == "keypoints":  # score persons only, as the keypoints file does
        gt_task = {**gt, "annotations": [a for a in gt["annotations"] if a.get("num_keypoints", 0) > 0]}
    field = {"bbox": "bbox", "segm": "segmentation", "keypoints": "keypoints"}[task]
    records = [{k: r[k] for k in ("image_id", "category_id", "score", field)} for r in records if field in r]
    if task == "keypoints":
        records = [r for r in records if r["category_id"] == 5]
    return evaluate_coco(coco_from_dict(gt_task, "gt"), records, task)["AP"]


def check_parity(info: Any, got: list[dict], ref: list[dict], gt: dict) -> None:
    for a, b in zip(got, ref, strict=True):
        if "num_dets" in a:
            n = int(a["num_dets"])
            assert n == int(b["num_dets"])
            idx, iou = match(a["boxes"][:n], a["classes"][:n], b["boxes"][:n], b["classes"][:n])
            same = iou >= 0.99
            # a swap is allowed only where the list is cut: the K-th slot, its scores tied within 1e-3
            cut = a["scores"][n - 1] if n == len(a["scores"]) else -1.0
            assert (same | (a["scores"][:n] <= cut + 1e-3)).all(), (iou.min(), a["scores"][:n][~same], cut)
            assert np.abs(a["scores"][:n] - b["scores"][:n][idx])[same].max(initial=0) <= 1e-3
            if "masks" in a:
                assert np.abs(a["masks"][:n] - b["masks"][:n][idx])[same].max(initial=0) <= 1e-4
            if "keypoints" in a:
                diff = np.abs(a["keypoints"][:n, :, :2] - b["keypoints"][:n][idx][:, :, :2])[same]
                assert diff.max(initial=0) <= 1.0
        if "semantic" in a:
            assert (a["semantic"] == b["semantic"]).mean() >= 0.999
    res_a, res_b = frame_results(info, got, gt), frame_results(info, ref, gt)
    for ra, rb in zip(res_a, res_b, strict=True):
        if ra.box_masks is None:
            continue
        ma, mb = ra.full_masks(), rb.full_masks()
        assert ma is not None and mb is not None
        idx, iou = match(ra.boxes, ra.classes, rb.boxes, rb.classes)  # type: ignore[arg-type]
        inter = (ma & mb[idx]).sum((1, 2))
        union = (ma | mb[idx]).sum((1, 2))
        keep = (union > 0) & (iou >= 0.99)
        assert (inter[keep] / union[keep]).min(initial=1.0) >= 0.98
    tasks = [task for task, key in (("bbox", "num_dets"), ("segm", "masks"), ("keypoints", "keypoints"))
             if key in got[0]]
    for task in tasks:
        assert abs(coco_ap(res_a, gt, task) - coco_ap(res_b, gt, task)) <= 0.005, task


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, dict]:
    return dataset(tmp_path_factory.mktemp("shapes") / "ds", 6)


@pytest.mark.parametrize("name", DEFAULT)
def test_ort_matches_torch_deploy(name: str, small_set: tuple[np.ndarray, dict], tmp_path: Path) -> None:
    images, gt = small_set
    info, got, ref = run_both(name, images, tmp_path)
    check_parity(info, got, ref, gt)


@pytest.mark.slow
@pytest.mark.parametrize("name", RCNN_NAMES + FCN_NAMES)
def test_ort_matches_torch_deploy_50_images(name: str, tmp_path: Path) -> None:
    images, gt = dataset(tmp_path / "ds", 50)
    info, got, ref = run_both(name, images, tmp_path, batch=4)
    check_parity(info, got, ref, gt)
