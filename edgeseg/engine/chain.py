"""One call from a model name to an engine: export -> patch -> (fp16 pass | calibrate) -> build.

Why here: users want `edgeseg.build_engine("maskrcnn_shapes", precision="int8", calib="DIR")`,
while each stage lives in its own package and writes its own artifact. This module only chains
them through the small functions below; a stage missing from the install is a clear error.

Stage contracts (each takes and returns paths, so any stage can also be run alone):
  edgeseg.export.export_onnx(name: str, out_dir: Path) -> Path                 model.onnx
  edgeseg.surgery.patch_file(src: Path, dst: Path) -> Path                     model.trt.onnx
  edgeseg.calibration.convert_fp16(src: Path, dst: Path) -> Path               model.fp16.onnx
  edgeseg.calibration.calibrate_file(src: Path, data: Path, dst: Path) -> outcome with
      .qdq_path: Path, .calibration_cache: Path | None,
      .calibration_set_sha256: str, .accuracy_vs_fp32: dict | None             model.int8.onnx
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from edgeseg.engine.builder import BuildOptions, BuiltEngine, ModelRecord, build_onnx
from edgeseg.engine.onnx_info import summarize
from edgeseg.errors import EdgesegError
from edgeseg.trt.compat import Precision, load_tensorrt


class CalibrationOutcome(Protocol):
    qdq_path: Path
    calibration_cache: Path | None
    calibration_set_sha256: str
    accuracy_vs_fp32: dict[str, Any] | None


def stage(module: str, function: str) -> Callable[..., Any]:
    """The stage function, or an error naming the missing piece."""
    try:
        fn = getattr(importlib.import_module(module), function, None)
    except ImportError as err:
        raise EdgesegError(
            f"stage {module}.{function} cannot be imported ({err}): install the deploy extras "
            "(`pip install 'edgeseg[deploy,train]'`) or run that stage yourself and pass the ONNX file"
        ) from None
    if not callable(fn):
        raise EdgesegError(
            f"stage {module}.{function} is not available in this edgeseg install: run that stage yourself "
            "and pass the resulting ONNX file to `edgeseg build`"
        )
    return fn  # type: ignore[no-any-return]


def is_onnx_path(model: str | Path) -> bool:
    return str(model).lower().endswith(".onnx")


def build_engine(
    model: str | Path,
    precision: Precision = "fp32",
    calib: str | Path | None = None,
    out_dir: str | Path | None = None,
    options: BuildOptions | None = None,
) -> BuiltEngine:
    """Build an engine from a zoo model name or an ONNX file; returns its path and metadata.

    With a name, the chain runs export and patch first. `calib` (a folder of calibration images)
    runs calibration for INT8; an ONNX file that already has Q/DQ nodes needs none. FP16 on a
    strongly typed TensorRT (11+) runs the FP16 precision pass; on 10.x the builder flag does it.
    """
    opts = dataclasses.replace(options or BuildOptions(), precision=precision)
    if is_onnx_path(model):
        onnx_path = Path(model)
        if not onnx_path.is_file():
            raise EdgesegError(f"{onnx_path} does not exist: pass an exported ONNX file or a zoo model name")
        work = Path(out_dir or onnx_path.parent)
        name = None
    else:
        name = str(model)
        work = Path(out_dir or Path("engines") / name)
        work.mkdir(parents=True, exist_ok=True)
        exported = stage("edgeseg.export", "export_onnx")(name, work)
        onnx_path = stage("edgeseg.surgery", "patch_file")(Path(exported), work / f"{name}.trt.onnx")
    record = ModelRecord(name=name)
    if precision == "int8" and calib is not None:
        outcome: CalibrationOutcome = stage("edgeseg.calibration", "calibrate_file")(
            Path(onnx_path), Path(calib), work / f"{Path(onnx_path).stem.split('.')[0]}.int8.onnx"
        )
        onnx_path = outcome.qdq_path
        record = ModelRecord(
            name=name,
            calibration_set_sha256=outcome.calibration_set_sha256,
            accuracy_vs_fp32=outcome.accuracy_vs_fp32,
        )
    elif (
        precision == "fp16"
        and not summarize(Path(onnx_path)).precision.has_fp16
        and load_tensorrt(opts.flavour)[1].strongly_typed_only
    ):
        dst = work / f"{Path(onnx_path).stem.split('.')[0]}.fp16.onnx"
        onnx_path = stage("edgeseg.calibration", "convert_fp16")(Path(onnx_path), dst)
    return build_onnx(onnx_path, opts, out_dir=work, record=record)
