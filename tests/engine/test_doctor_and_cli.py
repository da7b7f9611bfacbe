"""`edgeseg doctor` and `edgeseg build` on this machine, which has neither TensorRT nor an NVIDIA driver."""

import fnmatch
import subprocess
import sys

import numpy as np
import pytest

from edgeseg.doctor import FAIL, PASS, Check, nvidia_presence, render_table
from edgeseg.engine.command import parse_shape
from edgeseg.engine.profiles import ShapeRange
from edgeseg.errors import EdgesegError


def real_tensorrt_installed() -> bool:
    try:
        import tensorrt
    except ImportError:
        return False
    return hasattr(tensorrt, "Builder")


def edgeseg(*args):
    return subprocess.run(
        [sys.executable, "-m", "edgeseg.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.skipif(
    real_tensorrt_installed(), reason="this machine has TensorRT: doctor runs the full checks"
)
def test_doctor_reports_what_is_missing_and_exits_nonzero():
    out = edgeseg("doctor")
    assert out.returncode == 1, out.stderr
    if not nvidia_presence()[0]:  # this machine: no GPU, so that is the first thing doctor says
        first = out.stdout.splitlines()[0]
        assert first.startswith("NVIDIA GPU and driver: not found (no nvidia-smi"), out.stdout
    rows = {line.split("  ")[0].strip(): line for line in out.stdout.splitlines()}
    assert "FAIL" in rows["TensorRT"] and "TensorRT is not installed" in rows["TensorRT"]
    assert "python3-libnvinfer" in rows["TensorRT"] and "pip install tensorrt" in rows["TensorRT"]
    gpu = rows["GPU, driver, CUDA"]
    assert "FAIL" in gpu and ("NVIDIA driver" in gpu or "CUDA binding" in gpu)
    assert "SKIP" in rows["plugins and engines"]
    assert "2 check(s) failed" in out.stdout


def _probes(commands=(), files=(), libraries=()):
    """Fake which/glob/find_library answering from the given names only."""
    return {
        "which": lambda name: f"/usr/bin/{name}" if name in commands else None,
        "paths": lambda pattern: sorted(f for f in files if fnmatch.fnmatch(f, pattern)),
        "find_library": lambda name: f"lib{name}.so.1" if name in libraries else None,
    }


@pytest.mark.parametrize(
    ("probes", "found", "words"),
    [
        (_probes(), False, "not found (no nvidia-smi, no /dev/nvidia* device, no libcuda)"),
        (_probes(files=["/dev/nvidia0"]), False, "not found (only device /dev/nvidia0)"),
        (_probes(libraries=["cuda"]), False, "not found (only libcuda)"),
        (_probes(["nvidia-smi"], ["/dev/nvidia0", "/dev/nvidia1"], ["cuda"]), True,
         "found (device /dev/nvidia0 and 1 more, nvidia-smi, libcuda)"),
        (_probes(files=["/dev/nvhost-ctrl-gpu"], libraries=["cuda"]), True,  # a Jetson: no nvidia-smi
         "found (device /dev/nvhost-ctrl-gpu, libcuda)"),
    ],
)
def test_nvidia_presence_needs_a_device_and_the_driver(probes, found, words):
    present, line = nvidia_presence(**probes)
    assert present is found
    assert line.startswith(f"NVIDIA GPU and driver: {words}") and "\n" not in line


def test_build_without_tensorrt_is_a_clear_error(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph), str(path))
    if real_tensorrt_installed():
        pytest.skip("real TensorRT installed")
    out = edgeseg("build", str(path), "--precision", "fp16", "--max-batch", "4")
    assert out.returncode == 2
    assert "edgeseg build: error: TensorRT is not installed" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.onnx"], "does not exist"),
        (["tiny.onnx", "--calib", "d", "--calib-cache", "c"], "either --calib DIR"),
        (["tiny.onnx", "--workspace", "0"], "--workspace must be a positive"),
        (["tiny.onnx", "--min-batch", "4", "--max-batch", "2"], "batch range"),
        (["tiny.onnx", "--shape", "images:1x3"], "expected NAME:MIN"),
    ],
)
def test_build_cli_bad_input(tmp_path, args, message):
    (tmp_path / "tiny.onnx").write_bytes(b"")
    out = subprocess.run(
        [sys.executable, "-m", "edgeseg.cli", "build", *args], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr


def test_zoo_name_needs_the_export_stage(tmp_path, monkeypatch):
    """The chain names the missing stage instead of failing somewhere inside it."""
    import edgeseg.export

    if callable(getattr(edgeseg.export, "export_onnx", None)):
        pytest.skip("the export stage exists in this install")
    from edgeseg.engine.chain import build_engine

    monkeypatch.chdir(tmp_path)
    with pytest.raises(EdgesegError, match=r"edgeseg\.export\.export_onnx is not available"):
        build_engine("mask_rcnn", precision="fp16")


def test_parse_shape():
    name, rng = parse_shape("images:1x3x320x320/2x3x640x640/4x3x640x640")
    assert name == "images"
    assert rng == ShapeRange((1, 3, 320, 320), (2, 3, 640, 640), (4, 3, 640, 640))
    assert parse_shape("a:b:1/2/3") == ("a:b", ShapeRange((1,), (2,), (3,)))


def test_render_table_aligns_and_wraps():
    text = render_table(
        [Check("TensorRT", FAIL, "not installed\ninstall it"), Check("plugin nms vs CPU", PASS, "ok")]
    )
    lines = text.splitlines()
    assert lines[0].startswith("check") and lines[0].index("status") == len("plugin nms vs CPU") + 2
    assert lines[2] == "TensorRT           FAIL    not installed"
    assert lines[3] == " " * 27 + "install it"
    assert lines[4] == "plugin nms vs CPU  PASS    ok"


def test_compare_outputs():
    from edgeseg.engine.parity import compare_outputs

    ref = {"boxes": np.array([[0.0, 1.0], [2.0, 3.0]], np.float32), "classes": np.array([1, 2], np.int32)}
    close = {"boxes": ref["boxes"] + 5e-4, "classes": ref["classes"].copy()}
    diffs = {d.name: d for d in compare_outputs(ref, close, atol=1e-3, rtol=0)}
    assert diffs["boxes"].ok and diffs["classes"].ok
    assert diffs["boxes"].max_abs == pytest.approx(5e-4, rel=1e-3)
    far = {"boxes": ref["boxes"] * np.float32(1.01), "classes": np.array([1, 3], np.int32)}
    diffs = {d.name: d for d in compare_outputs(ref, far, atol=1e-3, rtol=0)}
    assert not diffs["boxes"].ok and diffs["boxes"].max_abs == pytest.approx(0.03, rel=1e-3)
    assert not diffs["classes"].ok  # integers must match exactly
    assert compare_outputs(ref, far, atol=1e-3, rtol=0.02)[0].ok  # 1% off passes a 2% relative tolerance
    missing = compare_outputs(ref, {"boxes": ref["boxes"][:1]}, atol=1, rtol=1)
    assert [(d.ok, d.note) for d in missing] == [(False, "shape (1, 2) != (2, 2)"), (False, "missing")]


@pytest.mark.parametrize("op", ["roi_align", "nms"])
def test_doctor_plugin_graphs_declare_output_types(tmp_path, op):
    """The TensorRT ONNX parser refuses graph outputs of UNDEFINED element type."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto

    from edgeseg.doctor import tiny_plugin_graph

    path = tmp_path / f"{op}.onnx"
    tiny_plugin_graph(op, path, np.random.default_rng(0))
    model = onnx.load(str(path))
    got = {o.name: o.type.tensor_type.elem_type for o in model.graph.output}
    want = {
        "roi_align": {"pooled": TensorProto.FLOAT},
        "nms": {
            "det_boxes": TensorProto.FLOAT,
            "det_scores": TensorProto.FLOAT,
            "det_classes": TensorProto.INT32,
            "det_indices": TensorProto.INT32,
            "num_detections": TensorProto.INT32,
        },
    }[op]
    assert got == want


def _relu_graph(path, elem):
    onnx = pytest.importorskip("onnx")
    from onnx import helper

    x = helper.make_tensor_value_info("x", elem, [1, 3])
    y = helper.make_tensor_value_info("y", elem, [1, 3])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(graph), str(path))
    return path


@pytest.mark.parametrize(
    "precision, strongly_typed, fp16_graph, converted",
    [
        ("fp16", True, False, True),  # TensorRT 11: no FP16 flag, so the FP16 pass runs first
        ("fp16", False, False, False),  # TensorRT 10.x: the builder flag does it
        ("fp16", True, True, False),  # already a float16 graph
        ("fp32", True, False, False),
    ],
)
def test_doctor_fp16_runs_the_fp16_pass_on_strongly_typed_tensorrt(
    tmp_path, precision, strongly_typed, fp16_graph, converted
):
    from onnx import TensorProto

    from edgeseg.doctor import engine_source

    src = _relu_graph(tmp_path / "m.trt.onnx", TensorProto.FLOAT16 if fp16_graph else TensorProto.FLOAT)
    calls = []

    def convert(a, b):
        calls.append((a, b))
        return b

    got = engine_source(src, precision, strongly_typed, tmp_path, convert=convert)
    if converted:
        assert calls == [(src, tmp_path / "m.fp16.onnx")] and got == tmp_path / "m.fp16.onnx"
    else:
        assert calls == [] and got == src


def _detections(boxes, classes, scores, names=("num_dets", "boxes", "classes", "scores"), slots=4):
    count, b, c, s = names
    out = {
        count: np.array([len(boxes)], np.int32),
        b: np.zeros((1, slots, 4), np.float32),
        c: np.full((1, slots), -1, np.int32),
        s: np.zeros((1, slots), np.float32),
    }
    out[b][0, : len(boxes)] = boxes
    out[c][0, : len(boxes)] = classes
    out[s][0, : len(boxes)] = scores
    return out


@pytest.mark.parametrize(
    "names",
    [
        ("num_dets", "boxes", "classes", "scores"),
        ("num_detections", "det_boxes", "det_classes", "det_scores"),
    ],
)
def test_doctor_matches_detections_by_iou_not_by_slot(names):
    from edgeseg.doctor import align_detections
    from edgeseg.engine.parity import compare_outputs

    boxes = np.array([[0, 0, 10, 10], [50, 50, 80, 90], [20, 0, 30, 40]], np.float32)
    ref = _detections(boxes, [1, 2, 1], [0.9, 0.8000, 0.7999], names)
    same_set = _detections(boxes[[0, 2, 1]] + 0.01, [1, 1, 2], [0.9, 0.7999, 0.8001], names)
    assert not all(d.ok for d in compare_outputs(ref, same_set, 1e-3, 1e-3))  # slot by slot: fails
    aligned = align_detections(ref, same_set)
    assert all(d.ok for d in compare_outputs(ref, aligned, 0.05, 1e-3))

    moved = _detections(
        np.array([[0, 0, 10, 10], [20, 0, 30, 40], [55, 60, 70, 75]], np.float32),
        [1, 1, 2],
        [0.9, 0.7999, 0.8],
        names,
    )
    diffs = {d.name: d for d in compare_outputs(ref, align_detections(ref, moved), 0.05, 1e-3)}
    assert not diffs[names[1]].ok  # a box that really moved still fails
    other_class = _detections(boxes, [1, 3, 1], [0.9, 0.8, 0.7999], names)
    diffs = {d.name: d for d in compare_outputs(ref, align_detections(ref, other_class), 0.05, 1e-3)}
    assert not diffs[names[2]].ok  # a class change is never matched away
