"""`export(...)`: a zoo model or torchvision checkpoint -> a deploy ONNX graph with its metadata.

Uses the TorchScript-based exporter (`dynamo=False`), for which the edgeseg ops have symbolics.
The metadata (see `deploy_metadata`) goes into the graph's metadata_props, so the torch-free
runtime can build the right adapter from the file alone (edgeseg.runtime.task_adapters).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch

from edgeseg.errors import EdgesegError
from edgeseg.export.command import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, check_opset
from edgeseg.export.wrappers import DeployModel, wrap
from edgeseg.labels import COCO, IDS, LabelSet, load_labels, zoo_labels

INPUT_NAME = "images"
METADATA_VERSION = 1
__all__ = ["DEFAULT_OPSET", "MAX_OPSET", "MIN_OPSET", "export", "export_deploy", "export_onnx"]


def default_labels(info: Any) -> LabelSet:
    """The label set a model gets without --labels: its zoo entry's (ShapesWorld), COCO for a
    torchvision checkpoint with torchvision's 91-id table (person only for a 2-class keypoint model),
    else ids: never another dataset's names for classes we cannot vouch for."""
    if info.family != "torchvision":
        return zoo_labels(info.name) or IDS
    num_classes = int(info.config.get("num_classes", 0))
    if num_classes == 91:
        return COCO
    if num_classes == 2 and info.task == "keypoints":
        person = COCO.get(1)
        assert person is not None
        return LabelSet("coco_person", (person,), COCO.keypoints, COCO.skeleton)
    return IDS


def deploy_metadata(deploy: DeployModel, info: Any, ops: str,
                    labels: LabelSet | None = None) -> dict[str, str]:
    """The graph's metadata_props: every value a string, JSON where structured; `edgeseg.labels`
    carries the label set so the runtime names ids without knowing any dataset."""
    g = deploy.geometry
    entries: dict[str, Any] = {
        "edgeseg.version": METADATA_VERSION,
        "edgeseg.model": info.name,
        "edgeseg.family": info.family,
        "edgeseg.task": deploy.task,
        "edgeseg.heads": getattr(deploy, "heads", list(info.heads)),
        "edgeseg.classes": list(info.classes),
        "edgeseg.input": {"name": INPUT_NAME, "layout": "NHWC", "dtype": "uint8", "channels": "RGB",
                          "height": g.frame_hw[0], "width": g.frame_hw[1],
                          "resized": list(g.resized_hw), "network": list(g.padded_hw),
                          "resize": "bilinear, aspect kept, zero padding bottom/right"},
        "edgeseg.normalization": dict(info.normalization),
        "edgeseg.outputs": list(deploy.output_names),
        "edgeseg.ops": ops,
        "edgeseg.mask_threshold": 0.5,
        "edgeseg.weights_sha256": info.sha256 or "",
        "edgeseg.labels": (labels or default_labels(info)).dumps(),
    }
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in entries.items()}


def _dynamic_axes(deploy: DeployModel) -> dict[str, dict[int, str]]:
    return {name: {0: "batch"} for name in [INPUT_NAME, *deploy.output_names]}


def _fix_output_shapes(proto: Any, shapes: list[list[int]], dynamic: bool) -> None:
    """Declare the outputs' fixed sizes (the tracer leaves data-dependent-looking dims symbolic)."""
    for output, shape in zip(proto.graph.output, shapes, strict=True):
        dims = output.type.tensor_type.shape.dim
        del dims[:]
        for axis, size in enumerate(shape):
            dim = dims.add()
            if axis == 0 and dynamic:
                dim.dim_param = "batch"
            else:
                dim.dim_value = size


def export_deploy(deploy: DeployModel, path: str | Path, metadata: dict[str, str], opset: int = DEFAULT_OPSET,
                  batch: str = "dynamic") -> Path:
    """Trace a deploy wrapper into `path` with a dynamic (or fixed 1) batch and write `metadata`."""
    import onnx

    from edgeseg.ops import onnx_symbolic

    check_opset(opset)
    if batch not in ("1", "dynamic"):
        raise EdgesegError(f"--batch must be 1 or dynamic, got {batch!r}")
    onnx_symbolic.register(opset)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = deploy.geometry.frame_hw
    example = torch.zeros(2 if batch == "dynamic" else 1, h, w, 3, dtype=torch.uint8)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer chatter about python values baked into the graph
        torch.onnx.export(deploy.eval(), (example,), str(path), input_names=[INPUT_NAME],
                          output_names=deploy.output_names, opset_version=opset, dynamo=False,
                          dynamic_axes=_dynamic_axes(deploy) if batch == "dynamic" else None)
        shapes = [list(t.shape) for t in deploy(example)]
    proto = onnx.load(str(path))
    _fix_output_shapes(proto, shapes, batch == "dynamic")
    del proto.metadata_props[:]
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(path))
    return path


def load_model(name: str | Path, weights: str | Path | None = None,
               random_init: bool = False) -> tuple[Any, Any]:
    """(eager model, ModelInfo) for a zoo name or a checkpoint path; random_init skips the weights."""
    from edgeseg.models import zoo

    if random_init:
        if str(name) not in zoo.names():
            raise EdgesegError(f"--random-init needs a zoo name, got {name!r}: "
                               f"choose one of {', '.join(zoo.names())}")
        model, info = zoo.build(str(name))
        return model.eval(), info
    return zoo.get(name, weights)


def export(name: str | Path, output: str | Path, opset: int = DEFAULT_OPSET, batch: str = "dynamic",
           ops: str = "edgeseg", frame_hw: tuple[int, int] | None = None, weights: str | Path | None = None,
           random_init: bool = False, labels: str | Path | LabelSet | None = None,
           mask_slots: str = "fixed") -> Path:
    """Export zoo model or checkpoint `name` to `output` (see `edgeseg export --help`); `labels`: a
    YAML/JSON label file, a built-in set's name or a LabelSet (default: `default_labels`);
    mask_slots: "valid" for a CPU-only graph whose mask head skips empty slots (see DeployRCNN)."""
    label_set = labels if isinstance(labels, LabelSet) or labels is None else load_labels(labels)
    from edgeseg.models.zoo import is_checkpoint

    if is_checkpoint(name):  # the CLI's path: architecture from the tensors, COCO/VOC/ids labels
        if weights is not None or random_init:
            raise EdgesegError(f"{name} is a checkpoint: weights= and random_init= apply to zoo models")
        from edgeseg.export.tv_export import export_checkpoint

        return export_checkpoint(name, output, None, opset, batch, ops, frame_hw, label_set)
    model, info = load_model(name, weights, random_init)
    if info.family == "densecap":
        from edgeseg.export.densecap_wrapper import wrap_densecap

        deploy: DeployModel = wrap_densecap(model, ops, frame_hw)
    else:
        deploy = wrap(model, info, ops, frame_hw, mask_slots)
    metadata = deploy_metadata(deploy, info, ops, label_set)
    metadata.update(getattr(deploy, "extra_metadata", {}))
    if mask_slots != "fixed":
        metadata["edgeseg.mask_slots"] = mask_slots
    return export_deploy(deploy, output, metadata, opset, batch)


def export_onnx(name: str | Path, out_dir: str | Path, random_init: bool = False) -> Path:
    """The build chain's export stage (edgeseg.engine.chain): `out_dir/<name>.onnx`, created if needed.

    A thin entry point over `export` with the defaults an engine build wants (edgeseg ops, dynamic
    batch, the default opset); random_init exports untrained weights (tests and dry runs only).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return export(name, out_dir / f"{Path(str(name)).stem}.onnx", random_init=random_init)
