"""The build chain's stages on a zoo model, up to (not including) the TensorRT build.

`edgeseg.engine.chain` finds each stage by name (export_onnx, patch_file, convert_fp16); here they
are found the same way and run for real on a zoo R-CNN (random weights when the zoo has none yet),
and each output is checked on ONNX Runtime against the stage before it. The TensorRT build itself
is not faked: without TensorRT, `build_engine` must stop at that step with its one-line message,
after writing the exported and patched graphs. On a GPU machine `edgeseg doctor` runs the rest.
"""
from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgeseg.calibration.fp16_check import compare_detections
from edgeseg.data.shapes import render_image
from edgeseg.engine.chain import build_engine, stage
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
    if tensorrt_missing():
        # the real chain: export and patch run, then the build step says what is missing
        with pytest.raises(EdgesegError, match="TensorRT is not installed"):
            build_engine(NAME, precision="fp32", out_dir=tmp_path)
    else:  # the chain would build an engine here; run its first two stages as it finds them
        stage("edgeseg.export", "export_onnx")(NAME, tmp_path)
        stage("edgeseg.surgery", "patch_file")(exported, patched)
    # FP16 on TensorRT 11 runs this pass; without TensorRT the chain cannot tell, so run it as it would
    half = stage("edgeseg.calibration", "convert_fp16")(patched, tmp_path / f"{NAME}.fp16.onnx")
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
