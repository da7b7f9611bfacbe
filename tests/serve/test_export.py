"""`edgeseg export --format triton`: the CPU repository on the bundled tritonserver, the tensorrt_plan config.

No GPU or TensorRT here, so the tensorrt_plan model is checked structurally: its config.pbtxt is parsed
with Triton's own ModelConfig protobuf and its tensors compared with ONNX Runtime's view of the same
graph; a stand-in engine file and sidecar play the engine (Triton never loads it here).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeseg.errors import EdgesegError
from tests.serve.conftest import DETECTOR, MODEL, loopback_ports, require_server

PLUGINS = "libedgeseg_trt_plugins_static.so"


def _frames(count: int, seed: int) -> np.ndarray:
    frames = np.random.default_rng(seed).integers(0, 256, (count, 320, 320, 3), dtype=np.uint8)
    frames[:, 80:200, 60:220] = (255, 40, 40)  # a solid shape besides the noise
    return frames


def test_exported_cpu_repository_serves_the_same_maps_as_onnx_runtime(tmp_path: Path) -> None:
    require_server()
    import tritonclient.grpc as grpcclient

    from edgeseg.cli import main
    from edgeseg.runtime.resolve import open_model
    from edgeseg.serve.server import TritonServer

    root = tmp_path / "repo"
    assert main(["export", MODEL, "--format", "triton", "-o", str(root), "--max-batch", "4",
                 "--threads", "1"]) == 0
    (root / PLUGINS).write_bytes(b"a plain file at the root")  # where plan exports put the plugin library
    frames = _frames(3, seed=11)
    server = TritonServer(root, ports=loopback_ports(), startup_timeout_s=60, log_path=tmp_path / "log")
    with server:
        client = grpcclient.InferenceServerClient(server.grpc_url)
        try:
            index = client.get_model_repository_index(as_json=True)["models"]
            assert [m["name"] for m in index] == [MODEL]  # the root-level file is no model to Triton
            item = grpcclient.InferInput("images", list(frames.shape), "UINT8")
            item.set_data_from_numpy(frames)
            got = client.infer(MODEL, [item]).as_numpy("semantic")
        finally:
            client.close()
    _, local = open_model(MODEL, "ort", threads=1)
    try:
        want = local.infer({"images": frames})["semantic"]
    finally:
        local.close()
    assert got.shape == want.shape == (3, 320, 320)
    np.testing.assert_array_equal(got, want)  # class maps: exact (same graph, same runtime)
    assert len(np.unique(want)) > 1  # the maps say something


def _engine(folder: Path, graph: Path, low: int = 1, high: int = 4, **facts: Any) -> Path:
    """A stand-in engine with a real sidecar in `folder`: built from `graph`, batch profile low..high,
    `facts` (task, classes, ...) as `edgeseg build` records them."""
    from edgeseg.hashing import sha256_file
    from edgeseg.trt.sidecar import EngineMetadata, Target, write_sidecar

    folder.mkdir(parents=True, exist_ok=True)
    engine = folder / f"{graph.stem}.fp16.orin-sm87.trt10.3.0.engine"
    engine.write_bytes(b"stand-in plan")
    shape = [320, 320, 3]
    write_sidecar(engine, EngineMetadata(
        model_name=graph.stem, model_sha256=sha256_file(graph), precision="fp16",
        target=Target("10.3.0.30", "Orin", (8, 7)), engine_sha256=sha256_file(engine),
        build_flags={"profiles": {"images": {"min": [low, *shape], "opt": [high, *shape],
                                             "max": [high, *shape]}}}, **facts))
    return engine


def _config(path: Path) -> Any:
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def _json(config: Any) -> str:
    from google.protobuf import json_format

    return json_format.MessageToJson(config, preserving_proto_field_name=True)


def test_tensorrt_plan_config_matches_the_graph(tmp_path: Path) -> None:
    pytest.importorskip("tritonclient.grpc")
    from edgeseg.cli import main
    from edgeseg.runtime.backends.triton import _specs
    from edgeseg.runtime.resolve import find_model, open_model
    from edgeseg.runtime.task_adapters import DeployInfo

    graph = find_model(DETECTOR)
    engine = _engine(tmp_path, graph, high=4)
    library = tmp_path / PLUGINS
    library.write_bytes(b"\x7fELF stand-in registerCreator")
    root = tmp_path / "repo"
    assert main(["export", str(engine), "--format", "triton", "-o", str(root), "--onnx", str(graph),
                 "--plugins", str(library), "--max-batch", "8", "--instances", "2"]) == 0
    config = _config(root / DETECTOR / "config.pbtxt")
    assert config.platform == "tensorrt_plan" and config.name == DETECTOR
    assert config.max_batch_size == 4  # the engine profile's maximum caps --max-batch 8
    assert config.dynamic_batching.max_queue_delay_microseconds == 2000
    assert [(g.kind, g.count) for g in config.instance_group] == [(config.instance_group[0].KIND_GPU, 2)]
    assert (root / DETECTOR / "1" / "model.plan").read_bytes() == b"stand-in plan"
    assert json.loads((root / DETECTOR / "1" / "model.plan.json").read_text())["precision"] == "fp16"

    adapter, local = open_model(graph, "ort", threads=1)  # the reference: ONNX Runtime's view of the graph
    try:
        want_in, want_out = local.inputs(), local.outputs()
    finally:
        local.close()
    as_json = json.loads(_json(config))
    for got, want in ((_specs(as_json["input"], True), want_in), (_specs(as_json["output"], True), want_out)):
        assert [(s.name, s.shape[1:], s.dtype) for s in got] == [(s.name, s.shape[1:], s.dtype) for s in want]
    num_dets = next(o for o in config.output if o.name == "num_dets")
    assert list(num_dets.dims) == [1] and list(num_dets.reshape.shape) == []

    params = {k: v.string_value for k, v in config.parameters.items()}
    assert params["edgeseg.plugin_library"] == PLUGINS and (root / PLUGINS).is_file()
    assert DeployInfo.from_props(params, "config") == adapter.info  # what triton:// clients read


def test_tensorrt_plan_export_refuses_what_triton_could_not_load(tmp_path: Path) -> None:
    from edgeseg.runtime.resolve import find_model
    from edgeseg.serve.plan import write_plan_model

    graph, other = find_model(DETECTOR), find_model(MODEL)
    engine = _engine(tmp_path, graph)
    static, dynamic = tmp_path / PLUGINS, tmp_path / "libedgeseg_trt_plugins.so"
    static.write_bytes(b"\x7fELF registerCreator")
    dynamic.write_bytes(b"\x7fELF getCreators\x00setLoggerFinder\x00")
    with pytest.raises(EdgesegError, match="holds edgeseg plugin nodes: pass --plugins"):
        write_plan_model(engine, graph, tmp_path / "a")
    with pytest.raises(EdgesegError, match="exports getCreators"):
        write_plan_model(engine, graph, tmp_path / "b", plugins=dynamic)
    with pytest.raises(EdgesegError, match="was not built from"):
        write_plan_model(engine, other, tmp_path / "c", plugins=static)
    with pytest.raises(EdgesegError, match="starts at batch 2"):
        write_plan_model(_engine(tmp_path / "x", graph, low=2), graph, tmp_path / "d", plugins=static)
    write_plan_model(engine, graph, tmp_path / "e", plugins=static)
    static.write_bytes(b"\x7fELF registerCreator, rebuilt")
    with pytest.raises(EdgesegError, match="another build of"):  # Triton loads one library per server
        write_plan_model(_engine(tmp_path / "z", graph), graph, tmp_path / "e", plugins=static)
    fcn = write_plan_model(_engine(tmp_path / "y", other), other, tmp_path / "e")  # no plugins, no library
    assert "edgeseg.plugin_library" not in (tmp_path / "e" / fcn / "config.pbtxt").read_text()


def test_fixed_batch_engine_keeps_its_batch_axis_and_takes_metadata_from_the_sidecar(tmp_path: Path) -> None:
    pytest.importorskip("tritonclient.grpc")
    from edgeseg.runtime.onnx_file import load_onnx
    from edgeseg.runtime.resolve import find_model
    from edgeseg.runtime.task_adapters import DeployAdapter, DeployInfo
    from edgeseg.serve.plan import write_plan_model

    want = DeployAdapter(find_model(MODEL)).info
    proto = load_onnx(find_model(MODEL))
    for value in (*proto.graph.input, *proto.graph.output):  # as `edgeseg export --batch 1` writes it
        value.type.tensor_type.shape.dim[0].dim_value = 1
    del proto.metadata_props[:]  # as a graph pass that drops the metadata leaves it
    graph = tmp_path / "fcn_batch1.onnx"
    graph.write_bytes(proto.SerializeToString())
    engine = _engine(tmp_path / "engine", graph, task=want.task, classes=want.classes, input_size=[320, 320],
                     labels=json.loads(want.labels.dumps()))
    name = write_plan_model(engine, graph, tmp_path / "repo")
    config = _config(tmp_path / "repo" / name / "config.pbtxt")
    assert config.max_batch_size == 0 and not config.HasField("dynamic_batching")
    assert [(t.name, list(t.dims)) for t in (*config.input, *config.output)] == [
        ("images", [1, 320, 320, 3]), ("semantic", [1, 320, 320])]
    got = DeployInfo.from_props({k: v.string_value for k, v in config.parameters.items()}, "config")
    assert (got.task, got.classes, got.labels, got.height, got.width) == (
        want.task, want.classes, want.labels, want.height, want.width)
