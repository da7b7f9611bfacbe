"""One call from a model name to an engine: export -> patch -> (fp16 pass | calibrate) -> build.

Why here: users want `edgeseg.build_engine("maskrcnn_shapes", precision="int8", calib="DIR")`,
while each stage lives in its own package and writes its own artifact. This module only chains
them; each stage function is imported directly, but inside the call, so `import edgeseg.engine`
stays light, and a stage whose dependency is missing (torch, onnx-graphsurgeon, onnxruntime) is one
error naming the package and the extra to install. TensorRT is checked before any stage runs.

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
import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


# import name -> pip name, for the packages the stages need beyond the runtime install
PIP_NAMES = {"torch": "torch", "torchvision": "torchvision", "onnx": "onnx", "onnxscript": "onnxscript",
             "onnx_graphsurgeon": "onnx-graphsurgeon", "onnxruntime": "onnxruntime"}
# stage -> (the packages it needs, the setup.py extra that installs them: the same extras the CLI's
# export, patch and calibrate verbs name, so a user reads one advice whichever way they build)
STAGE_NEEDS: dict[str, tuple[tuple[str, ...], str]] = {
    "export": (("torch", "onnx"), "train"),
    "patch": (("onnx", "onnx_graphsurgeon"), "deploy"),
    "calibrate": (("onnx", "onnxruntime"), "ort"),
    "fp16": (("onnx", "onnxruntime"), "ort"),
}


def missing_stage_dependency(stage_name: str, module: str) -> EdgesegError:
    """The one-line error for a stage whose dependency `module` is not installed."""
    extra = STAGE_NEEDS[stage_name][1]
    package = PIP_NAMES.get(module, module)
    return EdgesegError(f"the {stage_name} stage needs {package}, which is not installed: "
                        f"`pip install 'edgeseg[{extra}]'` (or run that stage elsewhere and pass its "
                        "ONNX file)")


@contextmanager
def _stage_imports(stage_name: str) -> Iterator[None]:
    """Check the stage's packages before importing it (a cheap find_spec, no import), then turn any
    ImportError of a third-party package while importing the stage into the same one-line error."""
    for module in STAGE_NEEDS[stage_name][0]:
        if importlib.util.find_spec(module) is None:
            raise missing_stage_dependency(stage_name, module)
    try:
        yield
    except ImportError as err:
        top = (err.name or "").split(".")[0]
        if not top or top == "edgeseg":
            raise  # a broken edgeseg install is a bug, not a missing extra
        raise missing_stage_dependency(stage_name, top) from None


def export_stage() -> Callable[..., Path]:
    """edgeseg.export's export_onnx (needs torch)."""
    with _stage_imports("export"):
        from edgeseg.export.onnx_export import export_onnx
    return export_onnx


def patch_stage() -> Callable[..., Path]:
    """edgeseg.surgery's patch_file (needs onnx-graphsurgeon)."""
    with _stage_imports("patch"):
        from edgeseg.surgery.registry import patch_file
    return patch_file


def calibrate_stage() -> Callable[..., CalibrationOutcome]:
    """edgeseg.calibration's calibrate_file (needs onnxruntime)."""
    with _stage_imports("calibrate"):
        from edgeseg.calibration.calibrate import calibrate_file
    return calibrate_file


def fp16_stage() -> Callable[..., Path]:
    """edgeseg.calibration's convert_fp16 (the FP16 pass for strongly typed TensorRT)."""
    with _stage_imports("fp16"):
        from edgeseg.calibration.fp16 import convert_fp16
    return convert_fp16


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
    if is_onnx_path(model) and not Path(model).is_file():  # a typo first: it is the cheapest to fix
        raise EdgesegError(f"{model} does not exist: pass an exported ONNX file or a zoo model name")
    _, caps = load_tensorrt(opts.flavour)  # no TensorRT: say so before a stage runs for minutes
    if is_onnx_path(model):
        onnx_path = Path(model)
        work = Path(out_dir or onnx_path.parent)
        name = None
    else:
        name = str(model)
        work = Path(out_dir or Path("engines") / name)
    # every stage this build needs is found (or its missing package named) before the first one runs
    export = export_stage() if name is not None else None
    patch = patch_stage() if name is not None else None
    calibrate = calibrate_stage() if precision == "int8" and calib is not None else None
    needs_fp16_pass = precision == "fp16" and caps.strongly_typed_only and (
        name is not None or not summarize(Path(onnx_path)).precision.has_fp16)
    fp16 = fp16_stage() if needs_fp16_pass else None
    with _removed_if_left_empty(work):
        if export is not None and patch is not None and name is not None:
            exported = export(name, work)
            onnx_path = patch(Path(exported), work / f"{name}.trt.onnx")
        record = ModelRecord(name=name)
        if calibrate is not None and calib is not None:
            outcome = calibrate(
                Path(onnx_path), Path(calib), work / f"{Path(onnx_path).stem.split('.')[0]}.int8.onnx"
            )
            onnx_path = outcome.qdq_path
            record = ModelRecord(
                name=name,
                calibration_set_sha256=outcome.calibration_set_sha256,
                accuracy_vs_fp32=outcome.accuracy_vs_fp32,
            )
        elif fp16 is not None and not summarize(Path(onnx_path)).precision.has_fp16:
            dst = work / f"{Path(onnx_path).stem.split('.')[0]}.fp16.onnx"
            onnx_path = fp16(Path(onnx_path), dst)
        return build_onnx(onnx_path, opts, out_dir=work, record=record)


@contextmanager
def _removed_if_left_empty(folder: Path) -> Iterator[None]:
    """Folders that did not exist before and are still empty after a failed build are removed, so a
    failing stage leaves no empty `engines/NAME` behind (stages create their output folder)."""
    new = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        yield
    except BaseException:
        for path in new:  # deepest first
            try:
                path.rmdir()  # only succeeds when empty
            except OSError:
                break
        raise
