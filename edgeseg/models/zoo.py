"""The model zoo: `get(name)` -> (model, ModelInfo), from `edgeseg/zoo/zoo.json` and committed weights.

Every load goes through `read_state_dict`, i.e. `torch.load(weights_only=True)`, so nothing in a
weights file is executed; each failure (missing, truncated, not a state dict, wrong architecture,
hash mismatch) becomes one EdgesegError naming the file and the model that was expected. A path to
a torchvision `fasterrcnn/maskrcnn/keypointrcnn_resnet50_fpn` state dict is accepted too and
wrapped with the same metadata.
"""
from __future__ import annotations

import json
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from edgeseg.data.categories import CATEGORIES, THINGS
from edgeseg.errors import EdgesegError
from edgeseg.hashing import sha256_file

ZOO_DIR = Path(__file__).resolve().parent.parent / "zoo"
ZOO_INDEX = ZOO_DIR / "zoo.json"
NORMALIZATION = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "scale": "RGB in [0, 1]"}


@dataclass
class ModelInfo:
    """What a deploy step needs to know about a model besides its tensors."""

    name: str
    family: str  # rcnn | rcnn_baseline | fcn | densecap | torchvision
    task: str  # detection | instance | keypoints | panoptic | semantic | multitask | densecap
    classes: list[str]
    input_size: int
    config: dict[str, Any]
    heads: list[str] = field(default_factory=list)
    normalization: dict[str, Any] = field(default_factory=lambda: dict(NORMALIZATION))
    weights: Path | None = None
    sha256: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def load_index() -> dict[str, dict[str, Any]]:
    with open(ZOO_INDEX, encoding="utf-8") as f:
        return json.load(f)["models"]


def names() -> list[str]:
    """All zoo model names."""
    return sorted(load_index())


def read_state_dict(path: str | Path, expected: str) -> dict[str, Tensor]:
    """A plain {name: tensor} dict from `path`, never executing anything stored in it."""
    path = Path(path)
    if not path.is_file():
        raise EdgesegError(f"weights file {path} not found (expected weights for {expected})")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise EdgesegError(f"{path} is not a plain state dict (it pickles other objects, refused for safety: "
                           f"{str(err).splitlines()[0]}); save weights with torch.save(model.state_dict()) "
                           f"(expected weights for {expected})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as err:
        raise EdgesegError(f"{path} cannot be read as a torch weights file, it may be truncated or corrupted "
                           f"({type(err).__name__}: {(str(err) or 'no detail').splitlines()[0]}); "
                           f"download or copy it again (expected weights for {expected})") from None
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]  # training checkpoints (ours and torchvision's reference scripts)
    plain = isinstance(obj, dict) and all(isinstance(k, str) and isinstance(v, Tensor)
                                          for k, v in obj.items())
    if not plain:
        raise EdgesegError(f"{path} holds a {type(obj).__name__}, not a state dict of tensors "
                           f"(expected weights for {expected})")
    return obj


def load_weights(model: nn.Module, state: dict[str, Tensor], path: Path, expected: str) -> None:
    """load_state_dict with a one-line error saying how the file and the architecture differ."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and own[k].shape != state[k].shape]
    if missing or unexpected or wrong:
        detail = "; ".join(f"{n} {what} (e.g. {keys[0]})" for n, what, keys in
                           ((len(missing), "missing", missing), (len(unexpected), "unexpected", unexpected),
                            (len(wrong), "with another shape", wrong)) if keys)
        raise EdgesegError(f"{path} does not fit {expected}: {detail}; "
                           "pass the weights file made for this model")
    model.load_state_dict(state)


def _resolve(name: str) -> dict[str, Any]:
    index = load_index()
    if name not in index:
        raise EdgesegError(f"unknown model {name!r}: choose one of {', '.join(sorted(index))}, "
                           "or pass a torchvision detection/segmentation state-dict file (docs/export.md)")
    entry = dict(index[name])
    if "base" in entry:  # shares the weights (and architecture) of another entry, with a subset of heads
        base = index[entry["base"]]
        entry = {**base, **{k: v for k, v in entry.items() if k != "base"}, "base": entry["base"]}
    return entry


def build(name: str) -> tuple[nn.Module, ModelInfo]:
    """The architecture of zoo entry `name`, randomly initialised, heads as the entry uses them."""
    entry = _resolve(name)
    family, config = entry["family"], dict(entry["config"])
    if family == "rcnn":
        from edgeseg.models.rcnn import build_rcnn

        heads: list[str] = list(entry["heads"] if "heads" in entry else config["heads"])
        config["heads"] = heads
        model: nn.Module = build_rcnn(config)
        classes = [c.name for c in THINGS]
    elif family == "fcn":
        from edgeseg.models.fcn import build_fcn

        model, heads, classes = build_fcn(config), ["semantic"], [c.name for c in CATEGORIES]
    elif family == "rcnn_baseline":
        from edgeseg.models.rcnn_baseline import build_rcnn_baseline

        model, heads, classes = build_rcnn_baseline(config), ["box"], [c.name for c in THINGS]
    elif family == "densecap":
        from edgeseg.models.densecap import build_densecap

        model, heads, classes = build_densecap(config), ["box", "caption"], [c.name for c in THINGS]
    else:
        raise EdgesegError(f"zoo entry {name!r} has unknown family {family!r}: the zoo index is damaged")
    weights = ZOO_DIR / entry["weights"] if entry.get("weights") else None
    info = ModelInfo(name=name, family=family, task=entry["task"], classes=classes,
                     input_size=int(config.get("image_size", 320)), config=config, heads=list(heads),
                     weights=weights, sha256=entry.get("sha256"), metrics=dict(entry.get("metrics", {})),
                     extra={k: entry[k] for k in ("description", "training", "base") if k in entry})
    return model, info


def is_checkpoint(name: str | Path) -> bool:
    """Whether `name` means a torchvision state-dict file rather than a zoo model."""
    return str(name) not in load_index() and (Path(name).suffix in (".pt", ".pth") or Path(name).is_file())


def get(name: str | Path, weights: str | Path | None = None) -> tuple[nn.Module, ModelInfo]:
    """A ready (eval-mode) model and its metadata: a zoo name, or a torchvision checkpoint path.

    `weights` overrides the zoo entry's file (e.g. your own training run's model.pt); its sha256 is
    then reported but not checked.
    """
    if is_checkpoint(name):
        from edgeseg.models.torchvision_ckpt import load_torchvision_checkpoint

        return load_torchvision_checkpoint(Path(name))
    name = str(name)
    model, info = build(name)
    expected = f"zoo model {name!r} ({info.family}, heads {'+'.join(info.heads)})"
    path = Path(weights) if weights is not None else info.weights
    if path is None:
        raise EdgesegError(f"zoo model {name!r} has no trained weights yet: "
                           f"train it with `edgeseg train {name}` "
                           "and pass the result with weights=")
    digest = sha256_file(path) if path.is_file() else None
    if weights is None and info.sha256 and digest is not None and digest != info.sha256:
        raise EdgesegError(f"{path} has sha256 {digest[:12]}..., the zoo expects {info.sha256[:12]}... "
                           f"for {expected}: the file is corrupted or was replaced; restore it from git")
    state = read_state_dict(path, expected)
    if "base" in info.extra and set(model.state_dict()) < set(state):
        # the shared multi-task file: load it whole (strict), then keep this entry's heads
        from edgeseg.models.rcnn import build_rcnn

        full = build_rcnn(_resolve(info.extra["base"])["config"])
        load_weights(full, state, path, expected)
        full.drop_heads(info.heads)
        model = full
    else:
        load_weights(model, state, path, expected)
    info.weights, info.sha256 = path, digest
    return model.eval(), info
