"""One model resolver for `edgeseg run` and `Pipeline`: a model argument -> (adapter, open backend).

Why one: the CLI and the API used to turn names into backends separately, so an error or a default
fixed in one drifted from the other. A model is a zoo name (the ONNX graph the zoo ships, hash
checked), an exported `.onnx` (adapter from its metadata) or a TensorRT `.engine` (adapter from its
sidecar); the backend choice is "auto" (TensorRT for an engine, ONNX Runtime otherwise), "ort",
"trt", or a `triton://HOST:PORT/MODEL` URL (the model runs on a Triton server; the adapter comes
from the server's metadata, so no model file is needed). Zoo names are read from the zoo's JSON
index, so resolving one needs neither torch nor edgeseg.models; backends are imported only when opened.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError
from edgeseg.hashing import sha256_file
from edgeseg.runtime.backend import Backend
from edgeseg.runtime.task_adapters import DeployAdapter, DeployInfo

ZOO_DIR = Path(__file__).resolve().parent.parent / "zoo"
MODEL_SUFFIXES = (".onnx", ".engine")
BACKENDS = ("auto", "ort", "trt")


def zoo_names() -> list[str]:
    """Names in the zoo index (read as JSON: resolving a name needs no torch)."""
    index = ZOO_DIR / "zoo.json"
    if not index.is_file():
        return []
    return sorted(json.loads(index.read_text(encoding="utf-8"))["models"])


def is_triton(name: object) -> bool:
    """A `triton://` backend URL (a model on a Triton server)."""
    return isinstance(name, str) and name.startswith("triton://")


def check_backend(name: str | None) -> str:
    """`name` as one of BACKENDS or a triton:// URL (None means "auto"); anything else is refused
    before work starts."""
    if name is None:
        return "auto"
    if is_triton(name):
        from edgeseg.runtime.backends.triton import parse_url

        parse_url(name, need_model=False)  # its shape only; the server is asked when the model opens
        return name
    if name not in BACKENDS:
        raise EdgesegError(f"unknown backend {name!r}: use 'auto' (TensorRT for an .engine, else ONNX "
                           "Runtime), 'ort' (ONNX Runtime, CPU), 'trt' (TensorRT) or "
                           "triton://HOST:PORT/MODEL (a Triton server)")
    return name


def find_model(spec: str) -> Path:
    """A zoo name -> its shipped graph (hash checked against the zoo's onnx.json); a path -> itself."""
    path = Path(spec)
    if path.suffix.lower() in MODEL_SUFFIXES:
        if not path.is_file():
            raise EdgesegError(f"model file {spec} not found: check the path, or pass a zoo name "
                               f"({', '.join(zoo_names())})")
        return path
    if path.suffix or "/" in spec:
        raise EdgesegError(f"cannot run {spec!r}: pass a zoo model name, an exported .onnx file "
                           "(`edgeseg export`) or a TensorRT .engine (`edgeseg build`)")
    names = zoo_names()
    if spec not in names:
        raise EdgesegError(f"unknown model {spec!r}: use a zoo name ({', '.join(names)}), an .onnx file "
                           "or an .engine")
    graph = ZOO_DIR / f"{spec}.onnx"
    if not graph.is_file():
        raise EdgesegError(f"zoo model {spec!r} has no exported graph in this install ({graph.name} is "
                           "missing): run `edgeseg export --zoo` (needs torch) or pass an .onnx file")
    index = ZOO_DIR / "onnx.json"
    recorded = json.loads(index.read_text(encoding="utf-8")).get("models", {}) if index.is_file() else {}
    entry = recorded.get(spec)
    if entry and entry.get("sha256") and entry["sha256"] != sha256_file(graph):
        raise EdgesegError(f"zoo graph {graph.name} does not match the zoo's recorded sha256 (damaged or "
                           "replaced): reinstall edgeseg or run `edgeseg export --zoo`")
    return graph


def engine_info(metadata: Any, backend: Backend, source: str) -> DeployInfo:
    """An engine's deploy metadata: task, classes and labels from its sidecar, tensors from the engine."""
    if metadata is None or not metadata.task or metadata.classes is None:
        raise EdgesegError(f"{source} has no sidecar with the task and classes: rebuild it from an exported "
                           "graph with `edgeseg build`")
    inputs = backend.inputs()
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise EdgesegError(f"{source} does not take one [B,H,W,3] frame input: it was not built from an "
                           "`edgeseg export` graph; write a TaskAdapter for it")
    spec = inputs[0]
    height, width = spec.shape[1], spec.shape[2]
    if metadata.input_size:
        height, width = metadata.input_size
    props = {"edgeseg.task": metadata.task, "edgeseg.model": metadata.model_name,
             "edgeseg.classes": json.dumps(metadata.classes),
             "edgeseg.input": json.dumps({"name": spec.name, "height": height, "width": width}),
             "edgeseg.outputs": json.dumps([o.name for o in backend.outputs()])}
    if getattr(metadata, "labels", None) is not None:  # sidecars from before labels fall back like graphs
        props["edgeseg.labels"] = json.dumps(metadata.labels)
    if getattr(metadata, "vocabulary", None) is not None:  # a dense-captioning engine's token strings
        props["edgeseg.vocabulary"] = json.dumps(metadata.vocabulary)
    return DeployInfo.from_props(props, source)


class EngineAdapter(DeployAdapter):
    """The exported-graph adapter, fed from an engine's sidecar instead of ONNX metadata_props."""

    def __init__(self, engine: Path, info: DeployInfo) -> None:  # noqa: D107 - no ONNX file to read
        from edgeseg.runtime.panoptic_fusion import FusionParams

        self.model_path, self.info = str(engine), info
        self.fusion = FusionParams(mask_threshold=info.mask_threshold)


def _backend_for(path: Path, choice: str) -> str:
    """The concrete backend for a model file: auto picks by suffix; a mismatch is refused here."""
    is_engine = path.suffix.lower() == ".engine"
    name = choice if choice != "auto" else ("trt" if is_engine else "ort")
    if name == "trt":
        from edgeseg.trt.compat import load_tensorrt

        load_tensorrt()  # no TensorRT: say so before anything else
        if not is_engine:
            raise EdgesegError(f"--backend trt runs TensorRT engines: build one with `edgeseg build {path}` "
                               "and pass the .engine, or use --backend ort")
    elif is_engine:
        raise EdgesegError(f"{path} is a TensorRT engine: run it with --backend trt (or pass the .onnx "
                           "for --backend ort)")
    return name


def open_backend(choice: str | None, model_path: str | Path | None, threads: int = 0) -> Backend:
    """The chosen backend over an adapter's own graph file (for a TaskAdapter that brings no backend)."""
    choice = check_backend(choice)
    if is_triton(choice):
        from edgeseg.runtime.backends.triton import TritonBackend

        return TritonBackend(choice)
    if model_path is None:
        raise EdgesegError(f"backend={choice!r} needs a model file: give the adapter a `model_path` or pass "
                           "a Backend object")
    path = Path(model_path)
    if _backend_for(path, choice) == "trt":
        from edgeseg.runtime.backends.trt import TrtBackend

        return TrtBackend(path)
    from edgeseg.runtime.backends.ort import OrtBackend

    return OrtBackend(path, intra_op_threads=threads)


def open_model(spec: str | Path | None, backend: str | None = "auto",
               threads: int = 0) -> tuple[DeployAdapter, Backend]:
    """The adapter and an open backend for a zoo name, .onnx or .engine (the caller closes the backend);
    with a triton:// backend, `spec` is the served model's name (or None when the URL names it)."""
    choice = check_backend(backend)
    if is_triton(choice):
        from edgeseg.runtime.backends.triton import TritonBackend

        remote = TritonBackend(choice, str(spec) if spec else None)
        return remote.adapter(), remote
    if spec is None:
        raise EdgesegError("no model given: pass a zoo name, an .onnx or an .engine (or a triton:// backend)")
    path = find_model(str(spec))
    if _backend_for(path, choice) == "trt":
        from edgeseg.runtime.backends.trt import TrtBackend

        trt_backend = TrtBackend(path)
        try:
            return EngineAdapter(path, engine_info(trt_backend.metadata, trt_backend, str(path))), trt_backend
        except BaseException:
            trt_backend.close()
            raise
    adapter = DeployAdapter(path)
    from edgeseg.runtime.backends.ort import OrtBackend

    # A shipped zoo graph runs as its CPU twin (mask head on filled slots only: 1.7-2x torch eager
    # instead of 0.8-0.9x, docs/export.md); the twin is taken only when both files match onnx.json.
    return adapter, OrtBackend(path, intra_op_threads=threads, cpu_twin=True)
