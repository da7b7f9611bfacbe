"""Reading an exported ONNX file, with the errors a user can act on (missing file, no onnx, damaged)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError, missing_extra


def load_onnx(path: Path, load_external_data: bool = True) -> Any:
    """The ModelProto of `path`; onnx is imported here because the runtime install may lack it."""
    if not path.is_file():
        raise EdgesegError(f"ONNX model {path} not found: check the path or run `edgeseg export` first")
    try:
        import onnx
    except ImportError as exc:
        raise missing_extra(exc.name or "onnx", "ort") from None
    try:
        return onnx.load(str(path), load_external_data=load_external_data)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise EdgesegError(f"{path} is not a readable ONNX model ({exc}): re-export it") from None
