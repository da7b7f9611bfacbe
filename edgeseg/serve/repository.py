"""A standard Triton model repository for edgeseg models: config.pbtxt + a Python-backend model.

Each model takes the deploy graph's uint8 NHWC frames and returns its fixed-size outputs. The
Python-backend model (`edgeseg.serve.python_model`) runs the model file copied beside it on our own
ONNX Runtime backend (or TensorRT for an .engine), so the repository runs on any `tritonserver`
whose Python environment has edgeseg installed; the deploy metadata (task, classes, labels, input
size) travels as config parameters, which is where a `triton://` client reads it from.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.runtime import resolve
from edgeseg.runtime.backend import TensorSpec

MODEL_PY = '"""Triton Python-backend entry point written by edgeseg; the model lives in edgeseg.serve."""\n' \
           "from edgeseg.serve.python_model import TritonPythonModel  # noqa: F401\n"
_TYPES = {np.dtype(t): f"TYPE_{n}" for t, n in ((np.uint8, "UINT8"), (np.int8, "INT8"), (np.int32, "INT32"),
                                                 (np.int64, "INT64"), (np.float16, "FP16"),
                                                 (np.float32, "FP32"), (np.float64, "FP64"),
                                                 (np.bool_, "BOOL"))}


@dataclass(frozen=True)
class ServeOptions:
    """How Triton schedules each model: dynamic batching and instances (one process each)."""

    max_batch: int = 8
    max_queue_delay_us: int = 2000
    instances: int = 1
    backend: str = "auto"
    threads: int = 0

    def check(self) -> ServeOptions:
        for name, value, low in (("--max-batch", self.max_batch, 1), ("--max-queue-delay-us",
                                  self.max_queue_delay_us, 0), ("--instances", self.instances, 1),
                                 ("--threads", self.threads, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise EdgesegError(f"{name} must be an integer >= {low}, got {value!r}")
        if resolve.check_backend(self.backend) not in resolve.BACKENDS:
            raise EdgesegError(f"serve runs models on 'auto', 'ort' or 'trt', not {self.backend!r}")
        return self


def model_name(spec: str) -> str:
    """The Triton model name for a zoo name or model file: the name, or the file's stem."""
    stem = Path(spec).name.split(".")[0] if Path(spec).suffix else spec
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", stem)
    if not name:
        raise EdgesegError(f"cannot make a Triton model name from {spec!r}")
    return name


def _tensor(spec: TensorSpec, batched: bool = True) -> str:
    """One input/output entry; a batched model leaves the graph's batch axis to Triton (max_batch_size)."""
    kind = _TYPES.get(np.dtype(spec.dtype))
    if kind is None:
        raise EdgesegError(f"tensor {spec.name!r} has dtype {spec.dtype}, which has no Triton type here")
    dims = [d if isinstance(d, int) else -1 for d in (spec.shape[1:] if batched else spec.shape)]
    if not dims:  # one value per frame (num_dets): Triton wants dims, so [1] reshaped to the model's []
        return f'  {{ name: "{spec.name}" data_type: {kind} dims: [1] reshape: {{ shape: [] }} }}'
    return f'  {{ name: "{spec.name}" data_type: {kind} dims: {dims} }}'


def config_pbtxt(name: str, inputs: list[TensorSpec], outputs: list[TensorSpec], params: dict[str, str],
                 options: ServeOptions, runtime: str = 'backend: "python"', kind: str = "KIND_CPU",
                 max_batch: int | None = None) -> str:
    """config.pbtxt text: `runtime` (backend or platform line), batching, instances, edgeseg.* parameters.

    max_batch None: the options' (the Python model batches any size); 0: a graph with a fixed batch,
    whose dims then keep the batch axis, and no dynamic batching (Triton has nothing to batch).
    """
    batch = options.max_batch if max_batch is None else max_batch
    lines = [f'name: "{name}"', runtime, f"max_batch_size: {batch}",
             "input [", ",\n".join(_tensor(s, batch > 0) for s in inputs), "]",
             "output [", ",\n".join(_tensor(s, batch > 0) for s in outputs), "]"]
    if batch > 0:
        lines.append(f"dynamic_batching {{ max_queue_delay_microseconds: {options.max_queue_delay_us} }}")
    lines.append(f"instance_group [ {{ kind: {kind} count: {options.instances} }} ]")
    for key, value in sorted(params.items()):
        entry = f"key: {json.dumps(key)} value: {{ string_value: {json.dumps(value, ensure_ascii=False)} }}"
        lines.append(f"parameters {{ {entry} }}")
    return "\n".join(lines) + "\n"


def model_folder(root: Path, name: str) -> Path:
    """A new `root/name/1` version folder; a second model of the same name is refused."""
    folder = root / name
    if folder.exists():
        raise EdgesegError(f"two models would both be named {name!r} in {root}: serve them from separate "
                           "commands or rename one file")
    (folder / "1").mkdir(parents=True)
    return folder


def write_model(spec: str, root: Path, options: ServeOptions) -> str:
    """One model folder under `root` (config.pbtxt, 1/model.py, 1/<model file>); returns its name."""
    from edgeseg.runtime.backends.triton import deploy_props

    name = model_name(spec)
    adapter, backend = resolve.open_model(spec, options.backend, threads=1)  # checks it loads, reads I/O
    try:
        inputs, outputs = backend.inputs(), backend.outputs()
    finally:
        backend.close()
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise EdgesegError(f"{spec} does not take one [B,H,W,3] frame input: it was not exported by edgeseg")
    # the file the backend really runs: for zoo graphs ORT's CPU twin, which the copy alone (without
    # the zoo's onnx.json) would no longer find; measured 2-3x slower served without it
    source = Path(getattr(backend, "graph", adapter.model_path))
    folder = model_folder(root, name)
    shutil.copy2(source, folder / "1" / source.name)
    sidecar = source.with_name(source.name + ".json")
    if source.suffix == ".engine" and sidecar.is_file():
        shutil.copy2(sidecar, folder / "1" / sidecar.name)
    (folder / "1" / "model.py").write_text(MODEL_PY, encoding="utf-8")
    params = dict(deploy_props(adapter.info))
    params.update({"edgeseg.file": source.name, "edgeseg.backend": options.backend,
                   "edgeseg.threads": str(options.threads)})
    text = config_pbtxt(name, inputs, outputs, params, options)
    (folder / "config.pbtxt").write_text(text, encoding="utf-8")
    return name


def write_repository(models: list[str], root: str | Path, options: ServeOptions | None = None) -> list[str]:
    """A model repository for `models` (zoo names, .onnx, .engine) in `root`; returns the model names."""
    options = (options or ServeOptions()).check()
    if not models:
        raise EdgesegError("no model given: pass one or more zoo names, .onnx or .engine files")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    return [write_model(spec, root, options) for spec in models]
