"""ONNX Runtime CPU sessions over in-memory graphs, edgeseg custom ops registered when present.

Why not `OrtBackend`: calibration runs graphs it has just rewritten (extra outputs, Q/DQ nodes)
without writing each to disk, and needs every output, not the deploy outputs only.
"""

from __future__ import annotations

from typing import Any

from edgeseg.errors import EdgesegError, missing_extra


def make_session(model: Any, threads: int = 0) -> Any:
    """An `onnxruntime.InferenceSession` on the CPU for the ModelProto `model`."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise missing_extra(exc.name or "onnxruntime", "ort") from None
    from edgeseg.ops import ort_ops

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    prepared, used = ort_ops.prepare_model(model)
    if used:
        for names in ort_ops.default_names():
            ort_ops.register(names)
        options.register_custom_ops_library(ort_ops.library_path())
    try:
        return ort.InferenceSession(prepared.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types for invalid graphs
        raise EdgesegError(f"ONNX Runtime cannot load the graph: {str(exc).splitlines()[0]}") from None
