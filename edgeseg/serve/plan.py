"""A Triton `tensorrt_plan` model for an edgeseg engine: GPU servers run it with no Python in the loop.

Triton's TensorRT backend reads a config.pbtxt, not our sidecar, so the config is written from what
we know without a GPU: the tensors (names, dims, dtypes) of the ONNX graph the engine was built
from (checked against the sidecar's model hash, so the two cannot drift apart), the batch range of
its optimization profile (sidecar build flags) and the deploy metadata (edgeseg.* parameters, which
`triton://` clients read). Pre- and post-processing are inside the graph (uint8 frames in, fixed-size
detections out) and letterboxing runs on the client, so no ensemble step is needed.

Plugins: the TensorRT backend only dlopens plugin libraries (`--backend-config=tensorrt,plugins=...`
or LD_PRELOAD) and never calls `getCreators`, so it needs the build that registers its creators on
load (libedgeseg_trt_plugins_static.so); the library is copied to the repository root, where Triton
looks for no model, and named in the config's `edgeseg.plugin_library` parameter.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.hashing import sha256_file
from edgeseg.runtime.backend import TensorSpec
from edgeseg.runtime.onnx_file import load_onnx
from edgeseg.runtime.task_adapters import DeployInfo
from edgeseg.serve.repository import ServeOptions, config_pbtxt, model_folder, model_name
from edgeseg.trt.sidecar import EngineMetadata, read_sidecar

PLAN_FILE = "model.plan"  # the TensorRT backend's default model file name
PLUGIN_DOMAIN, PLUGIN_PREFIX = "edgeseg", "Edgeseg"  # deploy graph custom ops / patched graph plugin nodes


@dataclass(frozen=True)
class GraphFacts:
    """What the config needs from the engine's ONNX graph (dynamic dims are None)."""

    tensors_in: list[TensorSpec]
    tensors_out: list[TensorSpec]
    plugins: bool  # holds edgeseg custom-op or plugin nodes
    props: dict[str, str]  # metadata_props: the deploy metadata, when the graph kept it

    def inputs(self) -> list[TensorSpec]:
        return list(self.tensors_in)

    def outputs(self) -> list[TensorSpec]:
        return list(self.tensors_out)


def read_graph(onnx_path: Path) -> GraphFacts:
    """The graph's tensors, plugin nodes and metadata, without loading its weights."""
    from onnx.helper import tensor_dtype_to_np_dtype

    model = load_onnx(onnx_path, load_external_data=False)
    weights = {t.name for t in model.graph.initializer}

    def spec(value: Any) -> TensorSpec:
        tensor = value.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim)
        return TensorSpec(value.name, dims, np.dtype(tensor_dtype_to_np_dtype(tensor.elem_type)))

    plugins = any(n.domain == PLUGIN_DOMAIN or n.op_type.startswith(PLUGIN_PREFIX) for n in model.graph.node)
    return GraphFacts([spec(v) for v in model.graph.input if v.name not in weights],
                      [spec(v) for v in model.graph.output], plugins,
                      {p.key: p.value for p in model.metadata_props})


def deploy_info(graph: GraphFacts, meta: EngineMetadata, onnx_path: Path, engine: Path) -> DeployInfo:
    """The graph's own deploy metadata, or the sidecar's where a pass dropped it from the graph."""
    from edgeseg.runtime.resolve import engine_info

    if "edgeseg.task" in graph.props:
        return DeployInfo.from_props(graph.props, str(onnx_path))
    return engine_info(meta, cast(Any, graph), str(engine))  # reads only inputs() and outputs()


def max_batch_size(meta: EngineMetadata, frames: TensorSpec, engine: Path, options: ServeOptions) -> int:
    """Triton's max_batch_size: 0 for a fixed-batch graph, else --max-batch capped by the engine profile."""
    if isinstance(frames.shape[0], int):  # Triton then sends whole [N, H, W, 3] tensors, unbatched
        return 0
    profile = meta.build_flags.get("profiles", {}).get(frames.name)
    if not profile:
        raise EdgesegError(f"{engine}'s sidecar records no optimization profile for {frames.name!r}: "
                           "rebuild it with `edgeseg build --max-batch N` (a dynamic-batch graph needs one)")
    low, high = int(profile["min"][0]), int(profile["max"][0])
    if low > 1:
        raise EdgesegError(f"{engine}'s profile starts at batch {low}, but Triton sends batches from 1: "
                           "rebuild it with `edgeseg build --min-batch 1`")
    return min(options.max_batch, high)


def check_plugin_library(library: Path, root: Path) -> None:
    """Refuse the loadLibrary build (Triton only dlopens, which registers nothing from that one) and a
    second, different library of the same name in the repository (Triton loads one per server)."""
    if not library.is_file():
        raise EdgesegError(f"plugin library {library} not found: build it (plugins/README.md) and pass "
                           "libedgeseg_trt_plugins_static.so")
    if b"getCreators\x00" in library.read_bytes():  # an exported entry point's name in the dynamic symbols
        raise EdgesegError(f"{library} is the loadLibrary build (it exports getCreators): Triton only "
                           "dlopens plugin libraries, so pass the one that registers on load, "
                           "libedgeseg_trt_plugins_static.so")
    copy = root / library.name
    if copy.exists() and sha256_file(copy) != sha256_file(library):
        raise EdgesegError(f"{copy} is another build of {library.name}: Triton loads one per server, so "
                           "export every engine of this repository with the same plugin library")


def write_plan_model(engine: str | Path, onnx_path: str | Path, root: str | Path,
                     options: ServeOptions | None = None, plugins: str | Path | None = None) -> str:
    """`root/<name>/` with config.pbtxt (platform tensorrt_plan, KIND_GPU) and 1/model.plan; returns the name.

    `onnx_path` is the graph the engine was built from; `plugins` the plugin library (static build),
    needed when that graph holds plugin nodes. Everything is checked before anything is written.
    """
    from edgeseg.runtime.backends.triton import deploy_props

    options = (options or ServeOptions()).check()
    engine, onnx_path, root = Path(engine), Path(onnx_path), Path(root)
    library = Path(plugins) if plugins is not None else None
    if engine.suffix != ".engine" or not engine.is_file():
        raise EdgesegError(f"{engine} is not an engine file: build one with `edgeseg build MODEL.onnx`")
    meta = read_sidecar(engine)
    if sha256_file(onnx_path) != meta.model_sha256:
        raise EdgesegError(f"{engine} was not built from {onnx_path} (its sidecar records another model "
                           "hash): pass the ONNX file given to `edgeseg build` (e.g. model.trt.onnx)")
    graph = read_graph(onnx_path)
    inputs, outputs = graph.inputs(), graph.outputs()
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise EdgesegError(f"{onnx_path} does not take one [B,H,W,3] frame input: it was not exported "
                           "by edgeseg")
    if graph.plugins and library is None:
        raise EdgesegError(f"{onnx_path} holds edgeseg plugin nodes: pass --plugins "
                           "libedgeseg_trt_plugins_static.so (built for the server's TensorRT)")
    if library is not None:
        check_plugin_library(library, root)
    batch = max_batch_size(meta, inputs[0], engine, options)
    params = dict(deploy_props(deploy_info(graph, meta, onnx_path, engine)))
    params["edgeseg.engine"] = json.dumps({"precision": meta.precision, "target": meta.target.describe(),
                                           "sha256": meta.engine_sha256})
    name = model_name(str(engine)) if meta.model_name in ("", "?") else model_name(meta.model_name)
    root.mkdir(parents=True, exist_ok=True)
    folder = model_folder(root, name)
    shutil.copy2(engine, folder / "1" / PLAN_FILE)
    shutil.copy2(engine.with_name(engine.name + ".json"), folder / "1" / f"{PLAN_FILE}.json")
    if library is not None:
        shutil.copy2(library, root / library.name)
        params["edgeseg.plugin_library"] = library.name  # relative to the repository root
    text = config_pbtxt(name, inputs, outputs, params, options, runtime='platform: "tensorrt_plan"',
                        kind="KIND_GPU", max_batch=batch)
    (folder / "config.pbtxt").write_text(text, encoding="utf-8")
    return name
