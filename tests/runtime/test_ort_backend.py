"""OrtBackend: the Backend protocol, input checks, custom-op registration and a torch-free runtime.

Graphs are built with onnx.helper so these tests need no torch. Values of the custom ops against
torch/torchvision are tested in tests/ops; here the reference is a direct `edgeseg._C` call.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edgeseg.errors import EdgesegError
from edgeseg.ops import cpu
from edgeseg.runtime.backend import Backend
from edgeseg.runtime.backends.ort import OrtBackend

ROI = dict(spatial_scales=[0.25], output_height=4, output_width=4, sampling_ratio=2)


def conv_graph(path: Path) -> str:
    """uint8 NHWC [2, 8, 8, 3] -> float -> NCHW -> 1x1 conv: fixed batch 2 and 3 channels."""
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 1, 1], np.arange(12, dtype=np.float32).tolist())
    nodes = [
        helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["f"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "w"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "conv",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, [2, 8, 8, 3])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2, 4, 8, 8])],
        [w],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", 17)]), path)
    return str(path)


def edgeseg_graph(path: Path) -> str:
    """features + rois -> edgeseg::RoIAlign; boxes + scores -> edgeseg::NMS."""
    nodes = [
        helper.make_node("RoIAlign", ["features", "rois", "batch_idx"], ["pooled"], domain="edgeseg", **ROI),
        helper.make_node(
            "NMS", ["boxes", "scores"], ["db", "ds", "dc", "di", "n"], domain="edgeseg", max_detections=6
        ),
    ]
    f = TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        "ops",
        [
            helper.make_tensor_value_info("features", f, ["B", 2, 16, 16]),
            helper.make_tensor_value_info("rois", f, ["R", 4]),
            helper.make_tensor_value_info("batch_idx", TensorProto.INT32, ["R"]),
            helper.make_tensor_value_info("boxes", f, ["B", "N", 4]),
            helper.make_tensor_value_info("scores", f, ["B", "N", 3]),
        ],
        [helper.make_tensor_value_info(n, f, None) for n in ["pooled", "db", "ds"]]
        + [helper.make_tensor_value_info(n, TensorProto.INT32, None) for n in ["dc", "di", "n"]],
    )
    opsets = [helper.make_operatorsetid("", 17), helper.make_operatorsetid("edgeseg", 1)]
    onnx.save(helper.make_model(graph, opset_imports=opsets), path)
    return str(path)


def op_inputs(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    xy = rng.random((1, 20, 2), dtype=np.float32) * 40
    return {
        "features": rng.standard_normal((1, 2, 16, 16), dtype=np.float32),
        "rois": np.array([[0, 0, 30, 30], [8, 4, 60, 50]], np.float32),
        "batch_idx": np.zeros(2, np.int32),
        "boxes": np.concatenate([xy, xy + 10], -1),
        "scores": rng.random((1, 20, 3), dtype=np.float32),
    }


def test_conv_graph_runs_and_follows_protocol(tmp_path):
    backend = OrtBackend(conv_graph(tmp_path / "conv.onnx"), intra_op_threads=1)
    assert isinstance(backend, Backend)
    assert backend.inputs()[0].shape == (2, 8, 8, 3) and backend.inputs()[0].dtype == np.uint8
    image = np.arange(2 * 8 * 8 * 3, dtype=np.uint8).reshape(2, 8, 8, 3)
    out = backend.infer({"image": image})["out"]
    want = np.einsum("oc,bhwc->bohw", np.arange(12, dtype=np.float32).reshape(4, 3), image.astype(np.float32))
    np.testing.assert_allclose(out, want, rtol=1e-6)
    np.testing.assert_array_equal(backend.infer_async({"image": image}).result()["out"], out)
    backend.close()


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((2, 8, 8, 3), np.float32), "must be uint8"),
        (np.zeros((8, 8, 3), np.uint8), "rank 4"),
        (np.zeros((2, 8, 8, 4), np.uint8), "channel count is 4 but the graph fixes it to 3"),
        (np.zeros((3, 8, 8, 3), np.uint8), "batch size is 3 .* split the batch"),
    ],
)
def test_bad_inputs_are_clear_errors(tmp_path, image, message):
    backend = OrtBackend(conv_graph(tmp_path / "conv.onnx"))
    with pytest.raises(EdgesegError, match=message):
        backend.infer({"image": image})
    with pytest.raises(EdgesegError, match="missing \\['image'\\]"):
        backend.infer({"img": image})


def test_missing_model_file(tmp_path):
    with pytest.raises(EdgesegError, match="not found"):
        OrtBackend(tmp_path / "nope.onnx")


def test_edgeseg_ops_run_through_the_cpu_twins(tmp_path):
    backend = OrtBackend(edgeseg_graph(tmp_path / "ops.onnx"))
    feed = op_inputs()
    got = backend.infer(feed)
    np.testing.assert_array_equal(
        got["pooled"], cpu.roi_align([feed["features"]], feed["rois"], feed["batch_idx"], **ROI)
    )
    for name, want in zip(
        ["db", "ds", "dc", "di", "n"], cpu.nms(feed["boxes"], feed["scores"], max_detections=6), strict=True
    ):
        np.testing.assert_array_equal(got[name], want)
    assert got["n"][0] > 0


@pytest.mark.parametrize(
    "missing, message", [("onnxruntime_extensions", "onnxruntime-extensions"), ("edgeseg._C", "edgeseg._C")]
)
def test_missing_op_library_is_a_clear_error(tmp_path, monkeypatch, missing, message):
    monkeypatch.setitem(sys.modules, missing, None)  # makes `import` of it fail
    with pytest.raises(EdgesegError, match=f"needs the edgeseg ops .*{message}"):
        OrtBackend(edgeseg_graph(tmp_path / "ops.onnx"))


def test_runtime_inference_leaves_torch_unimported(tmp_path):
    model = edgeseg_graph(tmp_path / "ops.onnx")
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        from edgeseg.runtime.backends.ort import OrtBackend
        rng = np.random.default_rng(0)
        xy = rng.random((1, 20, 2), dtype=np.float32) * 40
        out = OrtBackend({model!r}).infer({{
            "features": rng.standard_normal((1, 2, 16, 16), dtype=np.float32),
            "rois": np.array([[0, 0, 30, 30]], np.float32), "batch_idx": np.zeros(1, np.int32),
            "boxes": np.concatenate([xy, xy + 10], -1), "scores": rng.random((1, 20, 3), dtype=np.float32)}})
        assert out["pooled"].shape == (1, 2, 4, 4) and out["n"][0] > 0
        print("torch" in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("spin,expected", [(False, "0"), (True, "1")])
def test_worker_spinning_is_off_unless_asked_for(tmp_path, spin, expected):
    # idle ORT workers busy-waiting take the cores the pipeline's other stages need (docs/demo.md)
    backend = OrtBackend(conv_graph(tmp_path / "m.onnx"), spin=spin)
    options = backend._session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == expected
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == expected
    image = np.random.default_rng(0).integers(0, 255, (2, 8, 8, 3), dtype=np.uint8)
    out = backend.infer({"image": image})["out"]
    reference = np.einsum("oc,bhwc->bohw", np.arange(12, dtype=np.float32).reshape(4, 3),
                          image.astype(np.float32))
    np.testing.assert_allclose(out, reference, rtol=1e-6)
    backend.close()


def _zoo_with_twin(folder: Path, main_sha: str | None = None, twin_sha: str | None = None
                   ) -> tuple[Path, Path]:
    """A folder laid out like the zoo: main.onnx, cpu/main.onnx and an onnx.json recording both."""
    import json

    from edgeseg.hashing import sha256_file

    folder.mkdir()

    main = Path(conv_graph(folder / "main.onnx"))
    (folder / "cpu").mkdir()
    twin = Path(conv_graph(folder / "cpu" / "main.onnx"))
    entry = {"file": "main.onnx", "sha256": main_sha or sha256_file(main),
             "cpu": {"file": "cpu/main.onnx", "sha256": twin_sha or sha256_file(twin)}}
    (folder / "onnx.json").write_text(json.dumps({"models": {"main": entry}}))
    return main, twin


def test_cpu_twin_is_run_only_when_asked_and_both_hashes_match(tmp_path):
    from edgeseg.runtime.backends.ort import cpu_variant

    main, twin = _zoo_with_twin(tmp_path / "ok")
    assert cpu_variant(main) == twin
    assert OrtBackend(main, intra_op_threads=1, cpu_twin=True).graph == twin
    assert OrtBackend(main, intra_op_threads=1).graph == main  # default: the file named
    replaced, _ = _zoo_with_twin(tmp_path / "replaced", main_sha="0" * 64)
    assert cpu_variant(replaced) == replaced
    stale, _ = _zoo_with_twin(tmp_path / "stale", twin_sha="0" * 64)
    assert cpu_variant(stale) == stale
    assert cpu_variant(Path(conv_graph(tmp_path / "plain.onnx"))) == tmp_path / "plain.onnx"
