"""torchvision's detectors from a user's state dict: export, patch, and the patched graph on ONNX Runtime
against torchvision eager (the original model object, not our wrapper).

Per frame (2 ShapesWorld frames, 192x256, seeded lifelike random weights, box score threshold 0.01):
the same number of detections; each ORT detection matches an eager one of the same class with box
IoU >= 0.99, |box coordinate difference| <= 0.05 px and |score difference| <= 1e-3 (slot swaps are
allowed at the last slot among scores tied within 1e-3), except at most one in 20 per image (at
least 1): float noise between ORT and torch (features differ by ~5e-4 after a ResNet) can swap two
proposals tied at the RPN's post-NMS cut, and the swapped-in proposal brings its own detection (seen
in maskrcnn_resnet50_fpn_v2: the 150th proposal differed, and eager's own roi_heads run on the
deploy graph's proposals gave the extra detection). Masks: the 28x28 probabilities equal
torchvision's own pre-paste probabilities of the matched detection (mask_predictor's output, hooked)
within 1e-3. Keypoints: equal within 0.05 px to torchvision's keypoint heatmaps decoded by the
runtime's rule (edgeseg decodes the 56x56 grid, torchvision a bicubic upsampling: docs/export.md).
COCO-sized heads stay within the NMS plugin's candidate limit. The measured maxima are printed
(`-s`) and recorded in docs/export.md.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
from export_testutil import match
from tv_models import ARCHS, FRAME_HW, eager_input, frames, reference, through_checkpoint

from edgeseg.export.onnx_export import deploy_metadata, export_deploy
from edgeseg.export.wrappers import wrap
from edgeseg.runtime.backends.ort import OrtBackend
from edgeseg.runtime.postprocess import decode_heatmaps
from edgeseg.surgery.plugins import NMS_MAX_CANDIDATES
from edgeseg.surgery.registry import patch_file

DEFAULT = ["fasterrcnn_resnet50_fpn_v2", "fasterrcnn_mobilenet_v3_large_fpn"]
SLOW = ["fasterrcnn_resnet50_fpn", "fasterrcnn_mobilenet_v3_large_320_fpn", "maskrcnn_resnet50_fpn",
        "maskrcnn_resnet50_fpn_v2", "keypointrcnn_resnet50_fpn"]
BOX_PX, SCORE, MASK, KEYPOINT_PX = 0.05, 1e-3, 1e-3, 0.05
UNMATCHED_SHARE = 20  # at most one detection in this many may come from a proposal swapped at a cut


class Exported:
    """One architecture exported and patched, with torchvision eager's outputs on the same frames."""

    def __init__(self, arch: str, folder: Path) -> None:
        self.arch = arch
        model = reference(arch)
        loaded, self.info = through_checkpoint(arch, model, folder)
        deploy = wrap(loaded, self.info, "edgeseg", FRAME_HW)
        self.proposals = int(loaded.rpn._post_nms_top_n["testing"])
        self.ratio = np.array(deploy.geometry.ratio_xy, dtype=np.float32)
        metadata = deploy_metadata(deploy, self.info, "edgeseg")
        self.graph = export_deploy(deploy, folder / f"{arch}.onnx", metadata)
        self.patched = patch_file(self.graph, folder / f"{arch}.trt.onnx")
        self.images = frames(2)
        self.heads: dict[str, list[torch.Tensor]] = {}
        hooks = [getattr(model.roi_heads, name).register_forward_hook(
                 lambda _m, _i, out, name=name: self.heads.setdefault(name, []).append(out))
                 for name in ("mask_predictor", "keypoint_predictor")
                 if getattr(model.roi_heads, name, None) is not None]
        with torch.no_grad():
            self.eager = model(eager_input(self.images))
        for hook in hooks:
            hook.remove()
        backend = OrtBackend(self.patched, intra_op_threads=1)
        self.ort = backend.infer({"images": self.images})
        backend.close()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Any:
    cache: dict[str, Exported] = {}

    def get(arch: str) -> Exported:
        if arch not in cache:
            cache.clear()  # one ResNet graph at a time
            cache[arch] = Exported(arch, tmp_path_factory.mktemp(arch))
        return cache[arch]

    return get


def per_image(heads: list[torch.Tensor], eager: list[dict]) -> list[torch.Tensor]:
    """A hooked head's output (all images' detections concatenated) split per image."""
    return list(torch.cat(heads).split([len(e["boxes"]) for e in eager]))


def check_parity(ex: Exported) -> dict[str, float]:
    """Asserts agreement with torchvision eager; returns the max abs differences measured."""
    worst = {"boxes": 0.0, "scores": 0.0, "masks": 0.0, "keypoints": 0.0, "matched": 0, "unmatched": 0}
    masks = per_image(ex.heads["mask_predictor"], ex.eager) if "mask_predictor" in ex.heads else None
    heat = per_image(ex.heads["keypoint_predictor"], ex.eager) if "keypoint_predictor" in ex.heads else None
    for i, eager in enumerate(ex.eager):
        n = int(ex.ort["num_dets"][i])
        boxes, scores, classes = ex.ort["boxes"][i, :n], ex.ort["scores"][i, :n], ex.ort["classes"][i, :n]
        e_boxes, e_scores, e_labels = (eager[k].numpy() for k in ("boxes", "scores", "labels"))
        allowed = max(1, n // UNMATCHED_SHARE)
        assert n > 0 and abs(n - len(e_boxes)) <= allowed, (n, len(e_boxes))
        idx, iou = match(boxes, classes, e_boxes, e_labels)
        same = iou >= 0.99
        cut = scores[-1] if n == ex.ort["scores"].shape[1] else -1.0
        unmatched = int((~same & (scores > cut + SCORE)).sum())
        assert unmatched <= allowed, (unmatched, iou.min(), cut)
        worst["matched"] += int(same.sum())
        worst["unmatched"] += unmatched
        worst["boxes"] = max(worst["boxes"], float(np.abs(boxes - e_boxes[idx])[same].max(initial=0)))
        worst["scores"] = max(worst["scores"], float(np.abs(scores - e_scores[idx])[same].max(initial=0)))
        if masks is not None:
            probs = masks[i][torch.arange(len(e_labels)), torch.from_numpy(e_labels)].sigmoid().numpy()
            diff = np.abs(ex.ort["masks"][i, :n] - probs[idx])[same]
            worst["masks"] = max(worst["masks"], float(diff.max(initial=0)))
        if heat is not None:
            points = decode_heatmaps(heat[i].numpy(), e_boxes / np.tile(ex.ratio, 2))
            points[..., :2] *= ex.ratio
            diff = np.abs(ex.ort["keypoints"][i, :n, :, :2] - points[idx][..., :2])[same]
            worst["keypoints"] = max(worst["keypoints"], float(diff.max(initial=0)))
    assert worst["boxes"] <= BOX_PX and worst["scores"] <= SCORE, worst
    assert worst["masks"] <= MASK and worst["keypoints"] <= KEYPOINT_PX, worst
    print(f"\n{ex.arch}: {worst}")
    return worst


def nms_caps(path: Path) -> list[int]:
    graph = onnx.load(str(path), load_external_data=False).graph
    return [attr.i for node in graph.node if "NMS" in node.op_type.upper()
            for attr in node.attribute if attr.name == "pre_nms_top_k"]


def check_nms_caps(ex: Exported) -> None:
    """Every NMS, plugin node included, takes at most the plugin's 16384 candidates per image, and the
    91-class head's cap is min(proposals x 90 classes, 16384): 16384 for 1000 proposals, 13500 for the
    320 px MobileNet's 150; never 0 ("all"), which the plugin refuses."""
    for path in (ex.graph, ex.patched):
        caps = nms_caps(path)
        assert len(caps) == 2, caps  # the RPN's and the detector's
        assert all(0 < cap <= NMS_MAX_CANDIDATES for cap in caps), caps
        assert caps[-1] == min(ex.proposals * 90, NMS_MAX_CANDIDATES), caps


@pytest.mark.parametrize("arch", DEFAULT + [pytest.param(a, marks=pytest.mark.slow) for a in SLOW])
def test_patched_graph_on_ort_matches_torchvision_eager(arch: str, exported: Any) -> None:
    ex = exported(arch)
    assert ex.info.extra["torchvision_arch"] == arch
    check_parity(ex)
    if ARCHS[arch].num_classes == 91:
        check_nms_caps(ex)
