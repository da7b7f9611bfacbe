"""Safe loading and atomic saving of ONNX files: every way a file can be wrong becomes one EdgesegError.

Why: surgery is the first stage that reads a user's file; a protobuf traceback tells them nothing, and
a half-written output would be picked up by the next stage (build), so outputs appear only when complete.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from edgeseg.errors import EdgesegError

# Default-domain opsets we read: from 13 (Squeeze/Unsqueeze/Split take axes as inputs, which the pattern
# matchers rely on) to what this onnx package defines. TensorRT 10.x parses 9..20 (lint says when above).
MIN_OPSET = 13


def max_opset() -> int:
    return int(onnx.defs.onnx_opset_version())


def default_opset(model: onnx.ModelProto) -> int | None:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


def load_model(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Read, decode and check an ONNX file (external data included) or raise a one-line EdgesegError."""
    path = Path(path)
    if not path.is_file():
        raise EdgesegError(f"{path}: no such file; pass the path of an .onnx model")
    try:
        model = onnx.load(str(path), load_external_data=True)
    except DecodeError as err:
        raise EdgesegError(
            f"{path}: not an ONNX model or truncated ({err}); re-export or re-copy the file"
        ) from None
    except (FileNotFoundError, OSError, onnx.checker.ValidationError) as err:
        raise EdgesegError(
            f"{path}: external data could not be read ({err}); keep the .data file(s) next to the model"
        ) from None
    if not model.HasField("graph") or not model.opset_import:
        raise EdgesegError(
            f"{path}: not a complete ONNX model (no graph or opset); the file may be truncated"
        )
    if model.ir_version > onnx.IR_VERSION:
        raise EdgesegError(
            f"{path}: IR version {model.ir_version} is newer than this onnx reads ({onnx.IR_VERSION}); "
            "upgrade onnx or re-export with an older torch/onnx"
        )
    opset = default_opset(model)
    if opset is None or not MIN_OPSET <= opset <= max_opset():
        raise EdgesegError(
            f"{path}: ONNX opset {opset} is not supported (supported {MIN_OPSET}..{max_opset()}); "
            "re-export with e.g. torch.onnx.export(..., opset_version=17)"
        )
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as err:
        first = str(err).strip().splitlines()[0]
        raise EdgesegError(f"{path}: invalid or truncated ONNX model: {first}") from None
    return model


def save_model(model: onnx.ModelProto, path: str | os.PathLike[str]) -> None:
    """Write to a temporary file beside `path` and rename, so `path` is either complete or untouched."""
    path = Path(path)
    if not path.parent.is_dir():
        raise EdgesegError(f"{path}: the output folder does not exist; create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        onnx.save_model(model, tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
