"""ONNX Runtime CPU backend: runs exported (and patched) graphs, edgeseg custom ops included.

Torch-free. Inputs are checked against the graph before running so a wrong dtype, rank, channel
count or an oversized batch is an EdgesegError naming the input, not an ONNX Runtime traceback.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError, missing_extra
from edgeseg.hashing import sha256_file
from edgeseg.runtime.backend import TensorSpec, check_inputs
from edgeseg.runtime.onnx_file import load_onnx

_ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(bool)": np.bool_,
}


def _spec(arg: Any) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) or d is None else str(d) for d in arg.shape)
    return TensorSpec(arg.name, shape, np.dtype(_ORT_TYPES.get(arg.type, np.float32)))


def _dim_name(spec: TensorSpec, axis: int) -> str:
    want = spec.shape[axis]
    if axis == 0:
        return "batch size"
    if len(spec.shape) == 4 and axis in (1, 3) and want in (1, 3, 4):
        return "channel count"
    return f"dimension {axis}"


def session_options(intra_op_threads: int = 0, spin: bool = False) -> Any:
    """The backend's ONNX Runtime session options (shared with benchmarks/profile_ort.py)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "1" if spin else "0")
    return options


def cpu_variant(graph: Path) -> Path:
    """The CPU twin of a zoo graph when its folder's onnx.json records one, else `graph` itself.

    Zoo Mask R-CNN graphs run the mask head on every one of the `max_detections` slots, which
    TensorRT needs (static shapes) but which was most of their time on ONNX Runtime; the `cpu`
    twin (`mask_slots="valid"`) gives the same outputs for filled slots (tests/export) at a
    fraction of the cost (docs/export.md). Both files must match their recorded sha256, so a
    replaced or re-exported graph is run as given, never swapped for a stale twin.
    """
    index = graph.parent / "onnx.json"
    if not index.is_file() or not graph.is_file():
        return graph
    try:
        models = json.loads(index.read_text(encoding="utf-8")).get("models", {})
    except (OSError, ValueError):
        return graph
    for entry in models.values():
        twin = entry.get("cpu") if isinstance(entry, dict) else None
        if not twin or entry.get("file") != graph.name:
            continue
        path = graph.parent / str(twin.get("file", ""))
        if (path.is_file() and path != graph and sha256_file(graph) == entry.get("sha256")
                and sha256_file(path) == twin.get("sha256")):
            return path
    return graph


class OrtBackend:
    """A Backend over one ONNX file on the CPU execution provider."""

    name = "onnxruntime"

    def __init__(self, model: str | Path, intra_op_threads: int = 0, async_workers: int = 2,
                 spin: bool = False, cpu_twin: bool = False) -> None:
        """intra_op_threads: ONNX Runtime's per-op thread count (0 = its default, all cores).

        cpu_twin: run the zoo's CPU twin of `model` where one is recorded (see `cpu_variant`).
        Off by default: a caller comparing graphs means the file it named (the twin's empty mask
        slots are zeros, the static graph's are whatever the head made of padding boxes); callers
        that run a zoo model by name turn it on. `self.graph` is the file actually run.

        spin: let ONNX Runtime's idle worker threads busy-wait for the next op (its own default).
        Off here because the pipeline's other stages (decode, post-processing, overlays, encoding)
        need those cores between runs; measured on a loaded 2-core CPU, spinning made inference
        about 2x and the post-processing and overlay 3x slower (docs/demo.md).
        """
        path = cpu_variant(Path(model)) if cpu_twin else Path(model)
        self.graph = path
        proto = load_onnx(path)
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise missing_extra(exc.name or "onnxruntime", "ort") from None
        options = session_options(intra_op_threads, spin)
        proto, self.custom_ops = self._with_custom_ops(proto, options, path)
        try:
            self._session = ort.InferenceSession(
                proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            hint = " (the edgeseg ORT ops take float32 tensors)" if self.custom_ops else ""
            raise EdgesegError(f"ONNX Runtime cannot load {path}{hint}: {str(exc).splitlines()[0]}") from None
        self._inputs = [_spec(a) for a in self._session.get_inputs()]
        self._outputs = [_spec(a) for a in self._session.get_outputs()]
        self._pool = ThreadPoolExecutor(max_workers=async_workers, thread_name_prefix="ort-infer")

    @staticmethod
    def _with_custom_ops(proto: Any, options: Any, path: Path) -> tuple[Any, list[str]]:
        """Register the edgeseg ops when the graph has edgeseg nodes; say what is missing when it cannot."""
        from edgeseg.ops import ort_ops

        prepared, used = ort_ops.prepare_model(proto)
        if not used:
            return proto, used
        try:
            for names in ort_ops.default_names():
                ort_ops.register(names)
            options.register_custom_ops_library(ort_ops.library_path())
        except EdgesegError as exc:
            raise EdgesegError(f"{path} needs the edgeseg ops {', '.join(used)}, but {exc}") from None
        return prepared, used

    def inputs(self) -> list[TensorSpec]:
        return list(self._inputs)

    def outputs(self) -> list[TensorSpec]:
        return list(self._outputs)

    def _check(self, batch: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = check_inputs(batch, self._inputs, "graph")
        for spec in self._inputs:
            value = feed[spec.name]
            for axis, (got, want) in enumerate(zip(value.shape, spec.shape, strict=True)):
                if isinstance(want, int) and got != want:
                    what = _dim_name(spec, axis)
                    fix = (
                        "split the batch or export with a dynamic batch"
                        if axis == 0 and got > want
                        else "resize/convert the input"
                    )
                    raise EdgesegError(
                        f"input {spec.name!r}: {what} is {got} but the graph fixes it to {want}: {fix}"
                    )
        return feed

    def infer(self, batch: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch synchronously."""
        feed = self._check(batch)
        names = [s.name for s in self._outputs]
        return dict(zip(names, self._session.run(names, feed), strict=True))

    def infer_async(self, batch: Mapping[str, np.ndarray]) -> Future[dict[str, np.ndarray]]:
        """Start one batch on the worker pool (input errors surface through the future)."""
        return self._pool.submit(self.infer, batch)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
