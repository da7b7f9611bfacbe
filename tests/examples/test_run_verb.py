"""`edgeseg run` end to end on an exported graph: outputs, frame counts, Ctrl-C, torch-free, bad input.

References: PyAV decodes the written video, the JSONL is compared with the graph run directly
through OrtBackend + DeployAdapter on the same synthetic frames, and error cases are hand-made files.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from example_helpers import REPO, jsonl, shapes, video_frames

from edgeseg.cli import main
from edgeseg.data.video import iter_clip_frames
from edgeseg.runtime import command, resolve
from edgeseg.runtime.backend import TensorSpec
from edgeseg.runtime.sources import open_source


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["run", *args, "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def test_run_writes_every_frame_and_matches_the_backend(tmp_path, capsys, deploy_graph):
    video, records = tmp_path / "out" / "demo.mp4", tmp_path / "out" / "results.jsonl"  # folder is created
    code, out, err = run_cli(capsys, str(deploy_graph), "--source", shapes(4), "--sink", str(video),
                             "--sink", str(records), "--threads", "1")
    assert code == 0, err
    assert video_frames(video) == [(64, 96)] * 4
    lines = jsonl(records)
    assert [r["frame_id"] for r in lines] == [0, 1, 2, 3]
    assert "frames in 4, out 4, dropped 0" in out and "end-to-end" in out

    from edgeseg.runtime.backends.ort import OrtBackend
    from edgeseg.runtime.results import FrameResult
    from edgeseg.runtime.task_adapters import DeployAdapter

    adapter, backend = DeployAdapter(deploy_graph), OrtBackend(deploy_graph, intra_op_threads=1)
    for record, image in zip(lines, iter_clip_frames(3, 64, 96, 4), strict=True):
        inputs, meta = adapter.preprocess(image)
        outputs = {k: v[0] for k, v in backend.infer(inputs).items()}
        expected = FrameResult(0, 64, 96)
        adapter.postprocess(outputs, meta, expected)
        got = np.array([a["bbox"] for a in record["annotations"]], np.float32).reshape(-1, 4)
        want = expected.boxes.copy()
        want[:, 2:] -= want[:, :2]
        np.testing.assert_allclose(got, want, atol=1e-3)
        assert [a["category_id"] for a in record["annotations"]] == expected.classes.tolist()
        assert len(record["segments_info"]) == len(expected.segments)
    backend.close()


def test_run_from_a_video_file_with_batches(tmp_path, capsys, deploy_graph):
    clip = tmp_path / "clip.mp4"
    assert main(["run", str(deploy_graph), "--source", shapes(5), "--sink", str(clip), "--no-progress"]) == 0
    capsys.readouterr()
    assert command.frame_count(open_source(str(clip))) == 5
    assert command.frame_count(open_source(shapes(7))) == 7
    assert command.frame_count(open_source("shapes://?fps=0")) is None
    records = tmp_path / "r.jsonl"
    code, out, err = run_cli(capsys, str(deploy_graph), "--source", str(clip), "--sink", str(records),
                             "--batch", "2", "--policy", "all")
    assert code == 0, err
    assert [r["frame_id"] for r in jsonl(records)] == [0, 1, 2, 3, 4]
    assert "batches 3" in out  # 5 frames in batches of at most 2, waiting up to 5 ms for each second frame
    assert "wrote" in out and "(5 frames)" in out


def test_help_has_an_example(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--help"])
    assert exit_info.value.code == 0
    assert "edgeseg run panoptic_rcnn --source" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["nosuch_model", "--source", shapes(1)], "unknown model 'nosuch_model'"),
    (["missing.onnx", "--source", shapes(1)], "model file missing.onnx not found"),
    (["weights.pt", "--source", shapes(1)], "cannot run 'weights.pt': pass a zoo model name"),
    (["GRAPH", "--source", "bogus://x"], "unknown source scheme bogus://"),
    (["GRAPH", "--source", "no_such_clip.mp4"], "source 'no_such_clip.mp4' not found"),
    (["GRAPH", "--source", shapes(1), "--backend", "trt"], "TensorRT is not installed"),
    (["ENGINE", "--source", shapes(1), "--backend", "ort"], "is a TensorRT engine: run it with --backend"),
    (["GRAPH", "--source", shapes(1), "--batch", "0"], "--batch must be >= 1"),
    (["GRAPH", "--source", shapes(1), "--sink", "out.txt"], "unknown sink 'out.txt'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, deploy_graph, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.engine").write_bytes(b"not really an engine")
    if "--backend" in args and "trt" in args:
        from edgeseg.trt.compat import load_tensorrt

        try:
            load_tensorrt()
            pytest.skip("TensorRT is installed here")
        except command.EdgesegError:
            pass
    args = [{"GRAPH": str(deploy_graph), "ENGINE": "m.engine"}.get(a, a) for a in args]
    if "--sink" not in args:
        args += ["--sink", "r.jsonl"]
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert err.startswith("edgeseg run: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


class _StubEngine:
    def inputs(self) -> list[TensorSpec]:
        return [TensorSpec("images", (-1, 240, 320, 3), np.dtype(np.uint8))]

    def outputs(self) -> list[TensorSpec]:
        names = ("boxes", "scores", "classes", "num_dets")
        return [TensorSpec(n, (-1,), np.dtype(np.float32)) for n in names]


def test_engine_adapter_comes_from_the_sidecar():
    from edgeseg.trt.sidecar import EngineMetadata, Target

    meta = EngineMetadata("faster_rcnn", "ab" * 32, "fp16", Target("10.3.0", "Orin", (8, 7)),
                          task="detection", classes=["circle", "square"])
    info = resolve.engine_info(meta, _StubEngine(), "m.engine")
    assert (info.task, info.classes, info.input_name, info.height, info.width) == (
        "detection", ["circle", "square"], "images", 240, 320)
    assert info.outputs == ["boxes", "scores", "classes", "num_dets"]
    adapter = resolve.EngineAdapter(Path("m.engine"), info)
    inputs, letterbox = adapter.preprocess(np.zeros((480, 640, 3), np.uint8))
    assert inputs["images"].shape == (1, 240, 320, 3) and letterbox is not None
    meta.task = None
    with pytest.raises(command.EdgesegError, match="no sidecar with the task"):
        resolve.engine_info(meta, _StubEngine(), "m.engine")


def test_ctrl_c_drains_in_flight_frames_and_leaves_a_playable_mp4(tmp_path, deploy_graph):
    video, records = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "edgeseg.cli", "run", str(deploy_graph), "--source", shapes(400),
           "--sink", str(video), "--sink", str(records), "--threads", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not records.exists() or len(records.read_text().splitlines()) < 2):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "finishing the frames in flight" in err and "Traceback" not in err
    written = len(jsonl(records))
    assert 2 <= written < 400
    assert video_frames(video) == [(64, 96)] * written
    assert f"frames in {written}, out {written}, dropped 0" in out  # drained: nothing lost in flight


def test_run_needs_no_torch(tmp_path, deploy_graph):
    records = tmp_path / "r.jsonl"
    script = (
        "import sys\n"
        "sys.modules['torch'] = None  # any attempt to import torch fails\n"
        "from edgeseg.cli import main\n"
        f"code = main(['run', {str(deploy_graph)!r}, '--source', {shapes(2)!r}, '--sink', {str(records)!r},"
        " '--no-progress'])\n"
        "print('torch modules:', sorted(m for m in sys.modules if m.startswith('torch.')))\n"
        "sys.exit(code)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "torch modules: []" in result.stdout
    assert len(jsonl(records)) == 2


class _Recorder:
    model_path = "x.onnx"

    def preprocess(self, image):
        return {"images": image[None]}, "meta"

    def postprocess(self, outputs, meta, result):
        self.seen = (dict(outputs), meta)


def test_min_score_removes_weak_detections_before_the_adapter_sees_them():
    scores = np.array([0.9, 0.2, 0.6, 0.7, 0.0], np.float32)  # the 4th is past num_dets (padding)
    outputs = {"boxes": np.arange(20, dtype=np.float32).reshape(5, 4), "scores": scores,
               "classes": np.array([1, 2, 3, 4, 0], np.int32), "masks": np.random.rand(5, 28, 28),
               "num_dets": np.array([3], np.int64), "semantic": np.zeros((8, 8), np.uint8)}
    inner = _Recorder()
    command.MinScore(inner, 0.5).postprocess(outputs, None, None)
    seen, _ = inner.seen
    assert seen["num_dets"].tolist() == [2] and seen["num_dets"].dtype == np.int64
    assert seen["scores"].tolist() == pytest.approx([0.9, 0.6])
    assert seen["classes"].tolist() == [1, 3]
    np.testing.assert_array_equal(seen["boxes"], outputs["boxes"][[0, 2]])
    np.testing.assert_array_equal(seen["masks"], outputs["masks"][[0, 2]])
    assert seen["semantic"] is outputs["semantic"]  # per-image outputs pass through untouched


def test_top_level_pipeline_takes_a_model_path_and_matches_the_cli(tmp_path, capsys, deploy_graph):
    """`edgeseg.Pipeline(source, model="m.onnx", backend="ort")`: the issue's one-line API, same results."""
    import edgeseg

    records = tmp_path / "cli.jsonl"
    code, _, err = run_cli(capsys, str(deploy_graph), "--source", shapes(3), "--sink", str(records),
                           "--threads", "1")
    assert code == 0, err
    with edgeseg.Pipeline(shapes(3), model=deploy_graph, backend="ort") as stream:
        results = list(stream)
    assert [r.frame_id for r in results] == [0, 1, 2]
    for result, record in zip(results, jsonl(records), strict=True):
        assert [a["category_id"] for a in record["annotations"]] == result.classes.tolist()


def test_top_level_pipeline_refuses_a_model_path_with_a_backend_object(deploy_graph):
    import edgeseg
    from edgeseg.runtime.backends.ort import OrtBackend

    backend = OrtBackend(deploy_graph, intra_op_threads=1)
    with pytest.raises(edgeseg.EdgesegError, match="TaskAdapter"):
        edgeseg.Pipeline(shapes(1), model=deploy_graph, backend=backend)
    backend.close()


def test_sigterm_drains_like_ctrl_c_and_leaves_a_playable_mp4(tmp_path):
    """A service manager stops with SIGTERM, whose default action killed the process before the mp4
    index was written (a 48-byte file that does not play)."""
    video, records = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "edgeseg.cli", "run", "fcn_nearest", "--source", shapes(2000),
           "--sink", str(video), "--sink", str(records), "--threads", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not records.exists() or len(records.read_text().splitlines()) < 2):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "stopping (SIGTERM)" in err and "Traceback" not in err
    written = len(jsonl(records))
    assert 2 <= written < 2000
    assert video_frames(video) == [(64, 96)] * written
    assert f"frames in {written}, out {written}, dropped 0" in out


def test_sink_checks_come_before_the_model_is_loaded(tmp_path, capsys, monkeypatch):
    def no_model(*args):
        raise AssertionError("the model was loaded before the sinks were checked")

    monkeypatch.setattr(resolve, "open_model", no_model)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"stand-in")
    (tmp_path / "taken.mp4").mkdir()
    for sink, message in [(str(clip), "is the source"), (str(tmp_path / "taken.mp4"), "is a folder"),
                          (str(clip / "r.jsonl"), "is a file, not a folder")]:
        code, _, err = run_cli(capsys, "fcn_nearest", "--source", str(clip), "--sink", sink)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert clip.read_bytes() == b"stand-in"
