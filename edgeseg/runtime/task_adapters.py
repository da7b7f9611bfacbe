"""The adapter for graphs written by `edgeseg export`, built from the graph's own metadata (no torch).

An exported graph takes uint8 RGB frames [B,H,W,3] of one fixed size and returns fixed-size outputs
(boxes, scores, classes, num_dets, masks [B,K,28,28], keypoints [B,K,J,3], semantic [B,H,W],
tokens [B,K,T] for dense captioning; see docs/export.md). `DeployAdapter` reads the `edgeseg.*`
metadata_props to know which of those exist (and `edgeseg.vocabulary` to turn tokens into phrases);
frames of another size are letterboxed to the graph's size in numpy and the results mapped back.
Masks stay per-box in `FrameResult.box_masks` (pasted on demand); panoptic graphs are fused here, pasting
only the instances fusion can use. The graph's label set (`edgeseg.labels`, see edgeseg.labels) rides
on every result, so overlays, fusion and sinks name ids the model's way.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.labels import IDS, LabelSet, labels_from_metadata
from edgeseg.runtime.onnx_file import load_onnx
from edgeseg.runtime.panoptic_fusion import FusionParams, fuse_crops
from edgeseg.runtime.postprocess import Letterbox, MaskCrop, mask_crops
from edgeseg.runtime.results import FrameResult
from edgeseg.vocab import Vocabulary, vocabulary_from_metadata

TASKS = ("detection", "instance", "keypoints", "semantic", "panoptic", "densecap")


@dataclass(frozen=True)
class DeployInfo:
    """What `edgeseg export` wrote into a graph's metadata_props."""

    model: str
    task: str
    classes: list[str]
    input_name: str
    height: int
    width: int
    outputs: list[str]
    mask_threshold: float
    ops: str
    labels: LabelSet = field(default=IDS)
    vocabulary: Vocabulary | None = None  # dense captioning: what the `tokens` output's ids mean

    @classmethod
    def from_props(cls, props: Mapping[str, str], source: str) -> DeployInfo:
        if "edgeseg.task" not in props:
            raise EdgesegError(f"{source} has no edgeseg metadata: it was not written by `edgeseg export`; "
                               "re-export it, or write a TaskAdapter for it (edgeseg.runtime.adapters)")
        try:
            entry = json.loads(props["edgeseg.input"])
            info = cls(model=props.get("edgeseg.model", "?"), task=props["edgeseg.task"],
                       classes=list(json.loads(props["edgeseg.classes"])), input_name=str(entry["name"]),
                       height=int(entry["height"]), width=int(entry["width"]),
                       outputs=list(json.loads(props["edgeseg.outputs"])),
                       mask_threshold=float(props.get("edgeseg.mask_threshold", "0.5")),
                       ops=props.get("edgeseg.ops", "edgeseg"), labels=labels_from_metadata(props, source),
                       vocabulary=vocabulary_from_metadata(props, source))
        except (KeyError, ValueError, TypeError) as exc:
            raise EdgesegError(f"{source} has damaged edgeseg metadata ({type(exc).__name__}: {exc}): "
                               "re-export it with `edgeseg export`") from None
        if info.task not in TASKS:
            raise EdgesegError(f"{source} declares task {info.task!r}, which this edgeseg version does not "
                               f"know ({', '.join(TASKS)}): upgrade edgeseg or re-export the model")
        if "tokens" in info.outputs and info.vocabulary is None:
            raise EdgesegError(f"{source} has a tokens output but no edgeseg.vocabulary metadata to read it "
                               "with: re-export it with `edgeseg export`")
        return info


def read_deploy_info(path: str | Path) -> DeployInfo:
    """The metadata of an exported graph, without loading its weights into a runtime."""
    path = Path(path)
    proto = load_onnx(path, load_external_data=False)
    return DeployInfo.from_props({p.key: p.value for p in proto.metadata_props}, str(path))


class DeployAdapter:
    """TaskAdapter for an exported edgeseg graph: `Pipeline(src, DeployAdapter("m.onnx"), backend="ort")`."""

    def __init__(self, model_path: str | Path, fusion: FusionParams | None = None) -> None:
        self.model_path = str(model_path)
        self.info = read_deploy_info(model_path)
        self.fusion = fusion or FusionParams(mask_threshold=self.info.mask_threshold)

    def preprocess(self, image: np.ndarray) -> tuple[dict[str, np.ndarray], Letterbox | None]:
        """One RGB uint8 frame -> the graph input [1,H,W,3]; letterboxed when its size differs."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise EdgesegError(f"frames must be RGB uint8 [H,W,3], got {image.dtype}{list(image.shape)}")
        size = (self.info.height, self.info.width)
        box = None
        if image.shape[:2] != size:
            box = Letterbox.fit(image.shape[:2], size)  # type: ignore[arg-type]
            image = box.apply(image)
        return {self.info.input_name: np.ascontiguousarray(image)[None]}, box

    def postprocess(self, outputs: Mapping[str, np.ndarray], meta: Letterbox | None,
                    result: FrameResult) -> None:
        """Fill `result` from one frame's outputs (batch axis removed), in frame pixels."""
        decode(outputs, self.info, result, meta, self.fusion)


def decode(outputs: Mapping[str, np.ndarray], info: DeployInfo, result: FrameResult,
           letterbox: Letterbox | None = None, fusion: FusionParams | None = None) -> FrameResult:
    """One image's deploy outputs -> FrameResult fields (the valid first num_dets slots only)."""
    result.labels = info.labels
    if "num_dets" in outputs:
        n = int(np.asarray(outputs["num_dets"]).reshape(-1)[0])
        boxes = np.asarray(outputs["boxes"])[:n]
        result.boxes = letterbox.boxes_to_frame(boxes) if letterbox else boxes.astype(np.float32)
        result.scores = np.asarray(outputs["scores"], dtype=np.float32)[:n]
        result.classes = np.asarray(outputs["classes"], dtype=np.int32)[:n]
        if "masks" in outputs:
            result.box_masks = np.asarray(outputs["masks"], dtype=np.float32)[:n]
            result.mask_threshold = info.mask_threshold
        if "keypoints" in outputs:
            points = np.asarray(outputs["keypoints"], dtype=np.float32)[:n]
            result.keypoints = letterbox.points_to_frame(points) if letterbox else points
        if "tokens" in outputs and info.vocabulary is not None:
            result.captions = [info.vocabulary.detokenize(row) for row in np.asarray(outputs["tokens"])[:n]]
    if "semantic" in outputs:
        semantic = np.asarray(outputs["semantic"])
        result.semantic = letterbox.map_to_frame(semantic) if letterbox else semantic
    if info.task == "panoptic":
        fuse_result(result, fusion or FusionParams(), info.labels)
    return result


def fuse_result(result: FrameResult, fusion: FusionParams, label_set: LabelSet | None = None) -> None:
    """Panoptic map and segments from the result's per-box masks and semantic map.

    Only the instances fusion can use (score >= its threshold) are pasted, each into its own box
    window; the rest stay as box masks (pasted on demand by `full_masks`, e.g. for JSON).
    """
    assert result.semantic is not None and result.scores is not None and result.classes is not None
    crops: list[MaskCrop | None] = [None] * result.num_instances
    if result.box_masks is not None and result.boxes is not None:
        usable = np.flatnonzero(result.scores >= fusion.score_threshold)
        pasted = mask_crops(result.box_masks[usable], result.boxes[usable], result.height, result.width,
                            result.mask_threshold)
        for index, crop in zip(usable, pasted, strict=True):
            crops[index] = crop
    result.panoptic, result.segments = fuse_crops(crops, result.scores, result.classes, result.semantic,
                                                  fusion, label_set or result.labels)
