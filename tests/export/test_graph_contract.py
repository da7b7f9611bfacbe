"""The exported graph as a file: --ops onnx == --ops edgeseg, metadata, bad input, the CLI, the zoo index."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from export_testutil import build, match

from edgeseg.cli import main
from edgeseg.data.shapes import render_image
from edgeseg.errors import EdgesegError
from edgeseg.export.onnx_export import deploy_metadata, export_deploy
from edgeseg.export.wrappers import wrap
from edgeseg.runtime.backends.ort import OrtBackend
from edgeseg.runtime.task_adapters import DeployAdapter, read_deploy_info


def export(name: str, ops: str, path: Path, batch: str = "dynamic") -> Path:
    model, info = build(name, seed=4)
    deploy = wrap(model, info, ops)
    return export_deploy(deploy, path, deploy_metadata(deploy, info, ops), batch=batch)


def images(count: int) -> np.ndarray:
    return np.stack([render_image(11, i, 320, "val")[0] for i in range(count)])


@pytest.mark.parametrize("name", ["shapes_rcnn", "faster_rcnn_roipool"])
def test_standard_ops_graph_agrees_with_edgeseg_ops(name: str, tmp_path: Path) -> None:
    custom = export(name, "edgeseg", tmp_path / "custom.onnx")
    standard = export(name, "onnx", tmp_path / "standard.onnx")
    domains = {n.domain for n in onnx.load(str(standard)).graph.node}
    assert domains <= {"", "ai.onnx"}, domains
    assert "edgeseg" in {n.domain for n in onnx.load(str(custom)).graph.node}
    batch = images(3)
    a = OrtBackend(custom, intra_op_threads=1).infer({"images": batch})
    b = OrtBackend(standard, intra_op_threads=1).infer({"images": batch})
    for i in range(len(batch)):
        n = int(a["num_dets"][i])
        assert int(b["num_dets"][i]) == n
        idx, iou = match(a["boxes"][i, :n], a["classes"][i, :n], b["boxes"][i, :n], b["classes"][i, :n])
        cut = a["scores"][i, n - 1] if n == a["scores"].shape[1] else -1.0
        same = iou >= 0.99
        assert (same | (a["scores"][i, :n] <= cut + 1e-3)).all()
        assert np.abs(a["scores"][i, :n] - b["scores"][i, :n][idx])[same].max(initial=0) <= 1e-3
        if "masks" in a:
            assert np.abs(a["masks"][i, :n] - b["masks"][i, :n][idx])[same].max(initial=0) <= 1e-3
        if "semantic" in a:
            assert (a["semantic"][i] == b["semantic"][i]).mean() >= 0.999


@pytest.fixture(scope="module")
def panoptic_graph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    return export("panoptic_rcnn", "edgeseg", tmp_path_factory.mktemp("graph") / "panoptic.onnx", batch="1")


def test_metadata_and_fixed_output_shapes(panoptic_graph: Path) -> None:
    info = read_deploy_info(panoptic_graph)
    assert (info.task, info.height, info.width, info.input_name) == ("panoptic", 320, 320, "images")
    assert info.outputs == ["boxes", "scores", "classes", "num_dets", "masks", "semantic"]
    assert info.classes == ["circle", "square", "triangle", "star", "person"]
    backend = OrtBackend(panoptic_graph)
    shapes = {s.name: s.shape for s in backend.outputs()}
    assert shapes["boxes"] == (1, 50, 4) and shapes["masks"] == (1, 50, 28, 28)
    assert shapes["semantic"] == (1, 320, 320)


@pytest.mark.parametrize("bad, words", [
    (np.zeros((1, 320, 320, 3), np.float32), ["'images'", "uint8", "float32"]),
    (np.zeros((320, 320, 3), np.uint8), ["'images'", "rank 4"]),
    (np.zeros((1, 320, 320, 4), np.uint8), ["'images'", "channel count", "4"]),
    (np.zeros((2, 320, 320, 3), np.uint8), ["'images'", "batch size is 2", "fixes it to 1"]),
])
def test_bad_input_names_the_input(panoptic_graph: Path, bad: np.ndarray, words: list[str]) -> None:
    with pytest.raises(EdgesegError) as err:
        OrtBackend(panoptic_graph).infer({"images": bad})
    for word in words:
        assert word in str(err.value)


def test_torch_free_inference(panoptic_graph: Path) -> None:
    """The runtime side (backend + adapter + paste + panoptic fusion) never imports torch."""
    code = f"""
import sys
import numpy as np
import edgeseg.runtime
from edgeseg.runtime.backends.ort import OrtBackend
from edgeseg.runtime.results import FrameResult
from edgeseg.runtime.task_adapters import DeployAdapter
adapter = DeployAdapter({str(panoptic_graph)!r})
backend = OrtBackend(adapter.model_path)
frame = np.random.default_rng(0).integers(0, 255, (240, 400, 3), dtype=np.uint8)
inputs, meta = adapter.preprocess(frame)
out = backend.infer(inputs)
result = FrameResult(0, 240, 400)
adapter.postprocess({{k: v[0] for k, v in out.items()}}, meta, result)
assert result.panoptic.shape == (240, 400) and result.semantic.shape == (240, 400)
assert result.full_masks().shape == (result.num_instances, 240, 400)
print("torch" in sys.modules, result.num_instances)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "False"


def test_adapter_letterboxes_other_frame_sizes(panoptic_graph: Path) -> None:
    """A frame twice the graph's size gives boxes twice as large as the frame itself (within 2 px)."""
    adapter = DeployAdapter(panoptic_graph)
    backend = OrtBackend(panoptic_graph)
    small = images(1)[0]
    big = np.repeat(np.repeat(small, 2, 0), 2, 1)
    results = []
    for frame in (small, big):
        inputs, meta = adapter.preprocess(frame)
        from edgeseg.runtime.results import FrameResult

        result = FrameResult(0, *frame.shape[:2])
        adapter.postprocess({k: v[0] for k, v in backend.infer(inputs).items()}, meta, result)
        results.append(result)
    a, b = results
    assert a.num_instances == b.num_instances
    assert np.abs(a.boxes * 2 - b.boxes).max(initial=0) <= 2.0  # type: ignore[operator]


def test_cli_export_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fcn.onnx"
    assert main(["export", "fcn_bilinear", "--random-init", "-o", str(out), "--input-size", "240x320"]) == 0
    info = read_deploy_info(out)
    assert (info.task, info.height, info.width) == ("semantic", 240, 320)
    semantic = OrtBackend(out).infer({"images": np.zeros((2, 240, 320, 3), np.uint8)})["semantic"]
    assert semantic.shape == (2, 240, 320)
    assert main(["export", "no_such_model", "-o", str(tmp_path / "x.onnx")]) == 2
    assert "unknown model" in capsys.readouterr().err
    assert main(["export", "fcn_bilinear", "--random-init"]) == 2
    old_opset = ["--opset", "13", "-o", str(tmp_path / "y.onnx")]
    assert main(["export", "fcn_bilinear", "--random-init", *old_opset]) == 2


def test_zoo_export_records_hashes(tmp_path: Path) -> None:
    import hashlib

    from edgeseg.export.zoo_export import export_zoo

    index = export_zoo(tmp_path, names=["fcn_nearest", "faster_rcnn"], random_init=True)
    for name in ("fcn_nearest", "faster_rcnn"):
        entry = index["models"][name]
        data = (tmp_path / entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert len(data) == entry["bytes"] <= 25 * 2**20
    assert json.loads((tmp_path / "onnx.json").read_text())["models"] == index["models"]
    from edgeseg.models import zoo

    if zoo.build("fcn_nearest")[1].weights is None:  # untrained entries are skipped, with the reason
        skipped = export_zoo(tmp_path, names=["fcn_nearest"])
        assert "no trained weights" in skipped["skipped"]["fcn_nearest"]
