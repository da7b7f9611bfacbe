"""`edgeseg serve` and the triton:// backend against a real Triton server on loopback ports."""
from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeseg.errors import EdgesegError
from tests.serve.conftest import DETECTOR, MODEL, loopback_ports

SHAPES = "shapes://?fps=0&size=320x240&seed=3&frames=6"


def _frames(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 320, 320, 3), dtype=np.uint8)


def _ort() -> Any:
    from edgeseg.runtime.resolve import open_model

    return open_model(MODEL, "ort", threads=1)


def test_port_in_use_is_a_one_line_error_naming_the_option() -> None:
    from edgeseg.serve.server import Ports, check_ports

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        free = loopback_ports()
        with pytest.raises(EdgesegError, match=f"port {port} .*--grpc-port"):
            check_ports("127.0.0.1", Ports(http=free.http, grpc=port, metrics=free.metrics))


def test_unknown_model_and_bad_url_are_refused_before_serving(tmp_path: Path) -> None:
    from edgeseg.runtime.resolve import check_backend
    from edgeseg.serve.repository import write_repository

    with pytest.raises(EdgesegError, match="unknown model 'no_such_model'"):
        write_repository(["no_such_model"], tmp_path / "models")
    with pytest.raises(EdgesegError, match="triton://HOST:PORT/MODEL"):
        check_backend("triton://")
    assert check_backend("triton://127.0.0.1:8001/fcn_nearest") == "triton://127.0.0.1:8001/fcn_nearest"


def test_unreachable_server_is_a_clear_error() -> None:
    pytest.importorskip("tritonclient.grpc")
    from edgeseg.runtime.backends.triton import TritonBackend

    port = loopback_ports().grpc  # nothing listens there
    with pytest.raises(EdgesegError, match=f"cannot reach a Triton server at 127.0.0.1:{port}"):
        TritonBackend(f"triton://127.0.0.1:{port}/{MODEL}", timeout_s=2)


def test_server_starts_and_stops_on_free_loopback_ports(repository: Path) -> None:
    from edgeseg.serve.server import TritonServer, check_ports

    ports = loopback_ports()
    server = TritonServer(repository, ports=ports, startup_timeout_s=60,
                          log_path=repository.parent / "s1.log")
    with server:
        for path in ("/v2/health/live", "/v2/health/ready", f"/v2/models/{MODEL}/ready"):
            with urllib.request.urlopen(f"http://127.0.0.1:{ports.http}{path}", timeout=5) as reply:
                assert reply.status == 200, path
        with urllib.request.urlopen(f"http://127.0.0.1:{ports.metrics}/metrics", timeout=5) as reply:
            assert b"nv_inference_count" in reply.read()
        process = server.process
        assert process is not None
        with pytest.raises(EdgesegError, match="in use"):
            check_ports("127.0.0.1", ports)
    assert process.poll() is not None and server.process is None
    check_ports("127.0.0.1", ports)  # released


def test_metadata_comes_from_the_server(server: Any) -> None:
    from edgeseg.runtime.backends.triton import TritonBackend

    adapter, local = _ort()
    local.close()
    remote = TritonBackend(f"triton://{server.grpc_url}/{MODEL}")
    try:
        assert remote.info == adapter.info  # task, classes, labels, input size, outputs
        assert remote.info.labels.name == "shapesworld" and remote.info.task == "semantic"
        assert [(s.name, s.shape[1:], s.dtype) for s in remote.inputs()] == [("images", (320, 320, 3),
                                                                               np.dtype(np.uint8))]
        with pytest.raises(EdgesegError, match="has no model 'nope'; it serves fcn_nearest, mask_rcnn"):
            TritonBackend(f"triton://{server.grpc_url}/nope")
    finally:
        remote.close()


def test_requests_match_in_process_onnx_runtime(server: Any) -> None:
    from edgeseg.runtime.backends.triton import TritonBackend

    _, local = _ort()
    remote = TritonBackend(f"triton://{server.grpc_url}/{MODEL}")
    try:
        for count in (1, 3, 6):  # 6 > the server's max batch of 4: split by the client
            frames = _frames(count, seed=count)
            want = local.infer({"images": frames})["semantic"]
            got = remote.infer({"images": frames})["semantic"]
            assert got.shape == want.shape == (count, 320, 320)
            np.testing.assert_array_equal(got, want)
        futures = [remote.infer_async({"images": _frames(1, seed=s)}) for s in range(4)]  # batched by Triton
        for seed, future in enumerate(futures):
            np.testing.assert_array_equal(future.result(timeout=60)["semantic"],
                                          local.infer({"images": _frames(1, seed=seed)})["semantic"])
    finally:
        remote.close()
        local.close()


def test_detection_outputs_match_in_process_onnx_runtime(server: Any) -> None:
    from edgeseg.runtime.backends.triton import TritonBackend
    from edgeseg.runtime.resolve import open_model

    _, local = open_model(DETECTOR, "ort", threads=1)
    remote = TritonBackend(f"triton://{server.grpc_url}/{DETECTOR}")
    try:
        frames = _frames(2, seed=7)
        frames[:, 100:200, 100:200] = 255  # something to detect besides noise
        want, got = local.infer({"images": frames}), remote.infer({"images": frames})
        assert sorted(got) == sorted(want) and got["num_dets"].shape == want["num_dets"].shape == (2,)
        np.testing.assert_array_equal(got["num_dets"], want["num_dets"])
        assert want["num_dets"].sum() > 0
        for i, count in enumerate(want["num_dets"]):  # the filled slots: ORT may run a CPU twin of the
            for name in ("boxes", "scores", "classes", "masks"):  # graph that leaves padding slots empty
                assert got[name].shape == want[name].shape, name
                np.testing.assert_allclose(got[name][i, :count], want[name][i, :count], rtol=1e-5, atol=1e-5,
                                           err_msg=name)
    finally:
        remote.close()
        local.close()


def test_bad_requests_get_errors_and_the_server_keeps_serving(server: Any) -> None:
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    from edgeseg.runtime.backends.triton import TritonBackend

    client = grpcclient.InferenceServerClient(server.grpc_url)
    bad = [("FP32", np.zeros((1, 320, 320, 3), np.float32), "data-type"),
           ("UINT8", np.zeros((1, 100, 100, 3), np.uint8), "shape"),
           ("UINT8", np.zeros((9, 320, 320, 3), np.uint8), "batch")]
    for kind, value, words in bad:
        item = grpcclient.InferInput("images", list(value.shape), kind)
        item.set_data_from_numpy(value)
        with pytest.raises(InferenceServerException, match=words):
            client.infer(MODEL, [item])
    client.close()
    remote = TritonBackend(f"triton://{server.grpc_url}/{MODEL}")
    try:
        with pytest.raises(EdgesegError, match="must be uint8"):
            remote.infer({"images": np.zeros((1, 320, 320, 3), np.float32)})
        assert remote.infer({"images": _frames(1)})["semantic"].shape == (1, 320, 320)  # still serving
    finally:
        remote.close()
    assert server.process.poll() is None


def _semantic_maps(**kwargs: Any) -> list[np.ndarray]:
    from edgeseg.runtime.pipeline import Pipeline

    with Pipeline(SHAPES, policy="all", **kwargs) as pipeline:
        return [r.semantic.copy() for r in pipeline]


def test_pipeline_over_triton_matches_onnx_runtime(server: Any) -> None:
    remote = _semantic_maps(backend=f"triton://{server.grpc_url}/{MODEL}", batch=2)
    local = _semantic_maps(model=MODEL, backend="ort")
    assert len(remote) == len(local) == 6
    for got, want in zip(remote, local, strict=True):
        assert got.shape == (240, 320)  # letterboxed back to the frame on the client
        np.testing.assert_array_equal(got, want)
    by_name = _semantic_maps(model=MODEL, backend=f"triton://{server.grpc_url}")  # model named apart
    np.testing.assert_array_equal(by_name[0], local[0])


def test_run_cli_with_a_triton_backend_writes_the_same_jsonl(server: Any, tmp_path: Path) -> None:
    from edgeseg.cli import main

    remote, local = tmp_path / "remote.jsonl", tmp_path / "local.jsonl"
    assert main(["run", "--backend", f"triton://{server.grpc_url}/{MODEL}", "--source", SHAPES,
                 "--sink", str(remote), "--no-progress"]) == 0
    assert main(["run", MODEL, "--backend", "ort", "--source", SHAPES, "--sink", str(local),
                 "--no-progress"]) == 0

    def records(path: Path) -> list[dict[str, Any]]:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for row in rows:  # timings differ run to run
            row.pop("latency_ms", None)
            row.pop("timestamps", None)
        return rows

    assert records(remote) == records(local) and len(records(local)) == 6
    assert main(["run", "--backend", "ort", "--source", SHAPES, "--sink", str(local)]) == 2  # no model


def test_serve_command_writes_a_repository(tmp_path: Path) -> None:
    from edgeseg.cli import main

    out = tmp_path / "repo"
    assert main(["serve", MODEL, "--write-repository", str(out), "--max-batch", "2", "--instances", "2"]) == 0
    config = (out / MODEL / "config.pbtxt").read_text()
    assert "max_batch_size: 2" in config and "count: 2" in config and "edgeseg.labels" in config
    assert (out / MODEL / "1" / "model.py").is_file() and (out / MODEL / "1" / f"{MODEL}.onnx").is_file()


def test_runtime_and_serve_modules_import_neither_torch_nor_tritonclient() -> None:
    import subprocess
    import sys

    code = ("import sys, edgeseg.runtime.pipeline, edgeseg.runtime.resolve, edgeseg.runtime.backends.triton, "
            "edgeseg.serve.repository, edgeseg.serve.server, edgeseg.serve.python_model; "
            "print(sorted(m for m in ('torch', 'tritonclient', 'pytriton', 'edgeseg.models', 'edgeseg.data') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
