"""The build chain's stages on a zoo model, up to (not including) the TensorRT build.

`edgeseg.engine.chain` imports each stage directly (export_stage, patch_stage, fp16_stage); here they
are taken the same way and run for real on a zoo R-CNN (random weights when the zoo has none yet),
and each output is checked on ONNX Runtime against the stage before it. The TensorRT build itself
is not faked: without TensorRT, `build_engine` must say so before any stage runs, writing nothing.
On a GPU machine `edgeseg doctor` runs the rest. Missing stage dependencies are simulated by
hiding the package in `sys.modules` (an import of a None entry fails, as for an absent package).
"""
from __future__ import annotations

import functools
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgeseg.calibration.fp16_check import compare_detections
from edgeseg.data.shapes import render_image
from edgeseg.engine import chain
from edgeseg.engine.chain import build_engine, export_stage, fp16_stage, patch_stage
from edgeseg.errors import EdgesegError

NAME = "mask_rcnn"  # an R-CNN: its graph has the edgeseg RoIAlign and NMS ops the surgery replaces


@pytest.fixture
def export_with_available_weights(monkeypatch):
    """The zoo's weights when it has them, else the same architecture with random weights."""
    import edgeseg.export.onnx_export as onnx_export
    from edgeseg.models import zoo

    try:
        zoo.get(NAME)
    except EdgesegError:  # no trained weights shipped yet
        monkeypatch.setattr(onnx_export, "export_onnx",
                            functools.partial(onnx_export.export_onnx, random_init=True))


def run_ort(path: Path, image: np.ndarray) -> dict[str, np.ndarray]:
    from edgeseg.runtime.backends.ort import OrtBackend

    backend = OrtBackend(path, intra_op_threads=1)
    try:
        return backend.infer({backend.inputs()[0].name: image[None]})
    finally:
        backend.close()


def node_types(path: Path) -> set[tuple[str, str]]:
    return {(n.domain, n.op_type) for n in onnx.load(str(path)).graph.node}


def tensorrt_missing() -> bool:
    from edgeseg.trt.compat import load_tensorrt

    try:
        load_tensorrt()
    except EdgesegError:
        return True
    return False


def test_chain_export_patch_fp16_on_ort(tmp_path, export_with_available_weights):
    exported, patched = tmp_path / f"{NAME}.onnx", tmp_path / f"{NAME}.trt.onnx"
    if tensorrt_missing():  # the real chain says so before exporting anything
        with pytest.raises(EdgesegError, match="TensorRT is not installed"):
            build_engine(NAME, precision="fp32", out_dir=tmp_path / "out")
        assert not (tmp_path / "out").exists()
    # the chain's first two stages, taken as the chain takes them
    export_stage()(NAME, tmp_path)
    patch_stage()(exported, patched)
    # FP16 on TensorRT 11 runs this pass; without TensorRT the chain cannot tell, so run it as it would
    half = fp16_stage()(patched, tmp_path / f"{NAME}.fp16.onnx")
    for path in (exported, patched, half):
        onnx.checker.check_model(str(path))
    assert ("edgeseg", "RoIAlign") in node_types(exported) and ("edgeseg", "NMS") in node_types(exported)
    ops = {op for _, op in node_types(patched)}
    assert {"EdgesegRoIAlign", "EdgesegNMS"} <= ops and not {"RoIAlign", "NMS"} & ops
    half_weights = [t for t in onnx.load(str(half)).graph.initializer
                    if t.data_type == onnx.TensorProto.FLOAT16]
    assert len(half_weights) > 10  # the convolution weights went to FP16

    info = onnx.load(str(exported), load_external_data=False)
    size = info.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    image = render_image(seed=3, index=0, size=size, split="val")[0]
    ref, got, low = run_ort(exported, image), run_ort(patched, image), run_ort(half, image)
    assert int(ref["num_dets"][0]) > 0  # something to compare
    assert set(got) == set(ref) == set(low)
    for name, value in ref.items():  # ladder step 4: patched == exported on ORT
        np.testing.assert_allclose(got[name], value, rtol=1e-4, atol=1e-4, err_msg=name)
    for name, value in ref.items():  # same outputs, same shapes and types, finite
        assert low[name].shape == value.shape and low[name].dtype == value.dtype, name
        assert np.isfinite(low[name]).all(), name
    # FP16 vs FP32 after matching detections (the criteria of docs/fp16.md's zoo check)
    agreement = compare_detections(got, low)
    assert agreement.match_rate >= 0.9, agreement
    assert agreement.max_box_error <= 0.5 and agreement.max_score_error <= 0.01, agreement
    assert agreement.max_mask_error <= 0.02, agreement


def test_stage_entry_points_keep_their_packages_light():
    code = ("import sys; import edgeseg.surgery, edgeseg.export; "
            "f = edgeseg.surgery.patch_file; assert callable(f); "
            "assert 'torch' not in sys.modules, 'surgery pulled torch'; "
            "assert callable(edgeseg.export.export_onnx); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_patch_file_refuses_bad_input(tmp_path):
    from edgeseg.surgery import patch_file

    with pytest.raises(EdgesegError, match="no such file"):
        patch_file(tmp_path / "missing.onnx", tmp_path / "out.onnx")
    (tmp_path / "m.onnx").write_bytes(b"not a model")
    with pytest.raises(EdgesegError, match="equals the input"):
        patch_file(tmp_path / "m.onnx", tmp_path / "m.onnx")
    with pytest.raises(EdgesegError, match="unknown pass"):
        patch_file(tmp_path / "m.onnx", tmp_path / "out.onnx", passes=["nope"])
    assert not (tmp_path / "out.onnx").exists()


# ---- stage dependencies, folders and order, without running the heavy stages -------------------------
@pytest.fixture
def fake_tensorrt(monkeypatch):
    """A TensorRT 10-like capability set, so the chain gets past its TensorRT check."""
    caps = types.SimpleNamespace(strongly_typed_only=False)
    monkeypatch.setattr(chain, "load_tensorrt", lambda flavour="tensorrt": (object(), caps))
    return caps


@pytest.fixture
def export_spy(monkeypatch):
    """A stand-in export stage module (no torch): records calls, creates its folder, then fails."""
    calls: list[tuple[str, Path]] = []

    def export_onnx(name, out_dir):
        calls.append((name, Path(out_dir)))
        Path(out_dir).mkdir(parents=True, exist_ok=True)  # as the real stage does before exporting
        raise EdgesegError(f"unknown zoo model {name!r} (stand-in export)")

    module = types.ModuleType("edgeseg.export.onnx_export")
    module.export_onnx = export_onnx  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "edgeseg.export.onnx_export", module)
    return calls


def hide(monkeypatch, *packages: str) -> None:
    for package in packages:
        monkeypatch.setitem(sys.modules, package, None)


def test_missing_torch_names_the_train_extra_and_leaves_no_folder(tmp_path, monkeypatch, fake_tensorrt):
    monkeypatch.chdir(tmp_path)
    hide(monkeypatch, "torch")
    with pytest.raises(EdgesegError) as info:
        build_engine(NAME, precision="fp32")
    message = str(info.value)
    assert message.startswith("the export stage needs torch, which is not installed")
    assert "pip install 'edgeseg[train]'" in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []  # no engines/ folder


def test_missing_graphsurgeon_is_named_before_the_export_runs(tmp_path, monkeypatch, fake_tensorrt,
                                                              export_spy):
    monkeypatch.chdir(tmp_path)
    hide(monkeypatch, "onnx_graphsurgeon")
    with pytest.raises(EdgesegError, match=r"the patch stage needs onnx-graphsurgeon.*edgeseg\[deploy\]"):
        build_engine(NAME, precision="fp16")
    assert export_spy == []  # found missing before minutes of export
    assert list(tmp_path.iterdir()) == []


def test_missing_onnxruntime_for_calibration(tmp_path, monkeypatch, fake_tensorrt):
    graph = tmp_path / "m.onnx"
    graph.write_bytes(b"stand-in")
    hide(monkeypatch, "onnxruntime")
    with pytest.raises(EdgesegError, match=r"the calibrate stage needs onnxruntime.*edgeseg\[ort\]"):
        build_engine(graph, precision="int8", calib=tmp_path)


def test_an_import_error_inside_a_stage_names_the_package(tmp_path, monkeypatch, fake_tensorrt):
    """A dependency the pre-check does not list (here onnxscript) still becomes the one-line error."""
    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name == "edgeseg.export.onnx_export":
                raise ModuleNotFoundError("No module named 'onnxscript'", name="onnxscript")
            return None

    monkeypatch.delitem(sys.modules, "edgeseg.export.onnx_export", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Refuse(), *sys.meta_path])
    with pytest.raises(EdgesegError, match=r"the export stage needs onnxscript.*edgeseg\[train\]"):
        export_stage()


def test_a_failing_stage_leaves_no_empty_engine_folder(tmp_path, monkeypatch, fake_tensorrt, export_spy):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EdgesegError, match="stand-in export"):
        build_engine("no_such_model", precision="fp32")
    assert export_spy == [("no_such_model", Path("engines") / "no_such_model")]
    assert list(tmp_path.iterdir()) == []  # neither engines/no_such_model nor engines/
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    with pytest.raises(EdgesegError, match="stand-in export"):
        build_engine("no_such_model", out_dir=kept / "a" / "b")
    assert sorted(p.name for p in kept.iterdir()) == ["notes.txt"]  # what existed stays


def test_tensorrt_is_checked_before_any_stage(tmp_path, monkeypatch, export_spy):
    def no_tensorrt(flavour="tensorrt"):
        raise EdgesegError("TensorRT is not installed (simulated)")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(chain, "load_tensorrt", no_tensorrt)
    hide(monkeypatch, "torch")  # TensorRT is named first even when the export stage could not run
    with pytest.raises(EdgesegError, match=r"TensorRT is not installed \(simulated\)"):
        build_engine(NAME, precision="fp32")
    assert export_spy == [] and list(tmp_path.iterdir()) == []


def test_importing_the_engine_package_loads_no_stage():
    code = ("import sys; import edgeseg.engine; "
            "heavy = [m for m in ('torch', 'onnx_graphsurgeon', 'onnxruntime', 'edgeseg.export.onnx_export', "
            "'edgeseg.surgery.registry', 'edgeseg.calibration.calibrate') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr
