"""TensorRT for RTX as the third flavour: the shim's pure rules, ahead-of-time targets in the sidecar,
and `edgeseg build --target rtx` run for real (TensorRT for RTX builds without a GPU)."""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from edgeseg.cli import main
from edgeseg.errors import EdgesegError
from edgeseg.trt import compat as tc
from edgeseg.trt.sidecar import EngineMetadata, Target, mismatch, read_sidecar


def test_rtx_capabilities_are_strongly_typed_ahead_of_time_without_plugin_layers():
    caps = tc.rtx_capabilities((1, 7, 1, 116))
    assert caps.flavour == "rtx" and caps.ahead_of_time and caps.strongly_typed_only
    assert not caps.implicit_int8_calibration and not caps.plugin_layers
    assert caps.name == "TensorRT for RTX 1.7.1.116"
    assert not tc.is_untested(caps) and tc.is_untested(tc.rtx_capabilities((1, 8, 0)))
    assert tc.network_flag_names(caps, strongly_typed=True) == ()  # strong typing is implicit


def test_old_rtx_is_refused():
    with pytest.raises(EdgesegError, match=r"TensorRT for RTX 1\.3\.0 is too old.*edgeseg\[rtx\]"):
        tc.rtx_capabilities((1, 3, 0))


def test_rtx_fp16_needs_an_fp16_graph_and_int8_needs_qdq():
    caps = tc.rtx_capabilities((1, 7, 1))
    fp32_graph = tc.GraphPrecision(has_fp16=False, has_qdq=False)
    with pytest.raises(EdgesegError, match="builds FP16 only from an FP16 ONNX graph"):
        tc.plan_precision(caps, "fp16", fp32_graph)
    with pytest.raises(EdgesegError, match="calibration caches are"):
        tc.plan_precision(caps, "int8", fp32_graph, calibration_cache=True)
    plan = tc.plan_precision(caps, "int8", tc.GraphPrecision(has_fp16=False, has_qdq=True))
    assert plan.strongly_typed and plan.builder_flags == ()


@pytest.mark.parametrize(
    "text, expected",
    [("86,89,120", (86, 89, 120)), ("8.6, 12.0", (86, 120)), ("sm_86,SM89,86", (86, 89)), ("", ())],
)
def test_parse_compute_capabilities(text, expected):
    assert tc.parse_compute_capabilities(text) == expected


def test_parse_compute_capabilities_names_the_bad_part():
    with pytest.raises(EdgesegError, match="'ampere' is not a number"):
        tc.parse_compute_capabilities("86,ampere")


class FakeConfig:
    def __init__(self):
        self.num_compute_capabilities = 0
        self.set = {}

    def set_compute_capability(self, member, index):
        self.set[index] = member


FAKE_TRT = SimpleNamespace(ComputeCapability=SimpleNamespace(SM75="75", SM86="86", SM120="120", NONE=0))


def test_set_compute_capabilities_sets_each_offered_one_in_order():
    config = FakeConfig()
    tc.set_compute_capabilities(config, FAKE_TRT, (86, 120))
    assert config.num_compute_capabilities == 2 and config.set == {0: "86", 1: "120"}


@pytest.mark.parametrize("wanted, words", [((87,), "SM87 not offered"), ((), "none given")])
def test_set_compute_capabilities_refuses_what_the_builder_cannot_target(wanted, words):
    with pytest.raises(EdgesegError, match=f"{words}; this TensorRT for RTX builds for 75, 86, 120"):
        tc.set_compute_capabilities(FakeConfig(), FAKE_TRT, wanted)


def test_the_installed_tensorrt_for_rtx_loads_and_offers_sm86():
    """The test environment installs the [rtx] extra: this is the real module, not a double."""
    module, caps = tc.load_tensorrt("rtx")
    assert caps.flavour == "rtx" and caps.version[:2] >= tc.RTX_MIN_VERSION
    assert 86 in tc.offered_compute_capabilities(module)


def test_unknown_flavour_is_refused():
    with pytest.raises(EdgesegError, match="unknown TensorRT flavour 'jetson'"):
        tc.load_tensorrt("jetson")  # type: ignore[arg-type]


AOT = Target.ahead_of_time("rtx", "1.7.1.116", (89, 86))


def meta_for(target):
    return EngineMetadata(model_name="m", model_sha256="ab" * 32, precision="fp16", target=target)


def test_ahead_of_time_target_names_its_capabilities_not_a_gpu():
    assert AOT.aot_capabilities == (86, 89) and AOT.compute_capability == (8, 6) and AOT.gpu_name == ""
    assert meta_for(AOT).key.file_name("m") == "m.abababababab.fp16.sm86-sm89.rtx1.7.1.engine"
    assert "any GPU of compute capability 8.6, 8.9" in AOT.describe()


def test_ahead_of_time_engine_runs_on_any_gpu_it_holds_code_for():
    rtx4090 = Target("1.7.1.116", "NVIDIA GeForce RTX 4090", (8, 9), flavour="rtx")
    orin = Target("1.7.1.116", "Orin", (8, 7), flavour="rtx")
    assert mismatch(meta_for(AOT), rtx4090) is None
    assert "compute capability 8.7 is not among those built for" in mismatch(meta_for(AOT), orin)
    trt10 = Target("10.3.0.30", "NVIDIA GeForce RTX 4090", (8, 9))
    words = "built for TensorRT for RTX 1.7.1.116, loaded with TensorRT 10.3.0.30"
    assert words in mismatch(meta_for(AOT), trt10)


def test_sidecar_round_trip_keeps_the_flavour_and_old_sidecars_read_as_tensorrt():
    data = meta_for(AOT).to_json()
    assert data["target"]["flavour"] == "rtx" and data["target"]["aot_capabilities"] == [86, 89]
    assert EngineMetadata.from_json(json.loads(json.dumps(data))).target == AOT
    del data["target"]["flavour"], data["target"]["aot_capabilities"]
    old = EngineMetadata.from_json(data).target
    assert old.flavour == "tensorrt" and old.aot_capabilities == ()


def tiny_graph(path: Path, custom: bool = False) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.random.default_rng(0).random((4, 3, 3, 3), np.float32), "w")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["y"]),
    ]
    if custom:
        nodes[1] = helper.make_node("EdgesegNMS", ["c"], ["y"], domain="edgeseg")
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16, 16])],
        [weight],
    )
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("edgeseg", 1)] if custom else [])
    onnx.save(helper.make_model(graph, opset_imports=opsets), str(path))
    return path


def test_build_target_rtx_writes_an_engine_and_sidecar_without_a_gpu(tmp_path, capsys):
    graph = tiny_graph(tmp_path / "tiny.onnx")
    argv = ["build", str(graph), "--target", "rtx", "--compute-capability", "86,89", "--no-progress"]
    assert main(argv) == 0
    engines = list(tmp_path.glob("*.engine"))
    assert [e.name.split(".", 2)[2] for e in engines] == ["fp32.sm86-sm89.rtx1.7.1.engine"]
    assert engines[0].stat().st_size > 10_000  # a real serialized plan, not a placeholder
    meta = read_sidecar(engines[0])
    assert meta.target.flavour == "rtx" and meta.target.aot_capabilities == (86, 89)
    assert capsys.readouterr().out.startswith("built ")
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("reused ")


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--compute-capability", "86"], "--compute-capability needs --target rtx"),
        (["--target", "rtx"], "builds ahead of time for named GPUs: pass --compute-capability"),
        (["--target", "rtx", "--compute-capability", "87"], "SM87 not offered"),
    ],
)
def test_build_target_rtx_refuses_bad_targets_in_one_line(tmp_path, capsys, extra, words):
    graph = tiny_graph(tmp_path / "tiny.onnx")
    assert main(["build", str(graph), "--no-progress", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1
    assert not list(tmp_path.glob("*.engine"))


def test_build_target_rtx_refuses_plugin_graphs_before_the_parser_aborts(tmp_path, capsys):
    graph = tiny_graph(tmp_path / "plugin.onnx", custom=True)
    argv = ["build", str(graph), "--target", "rtx", "--compute-capability", "86", "--no-progress"]
    assert main(argv) == 2
    assert "takes no custom plugin layers" in capsys.readouterr().err


def test_build_options_refuse_capabilities_without_the_rtx_target():
    """The API gets the same refusal as the CLI, before any TensorRT is loaded."""
    from edgeseg.engine.builder import BuildOptions

    with pytest.raises(EdgesegError, match="--compute-capability needs --target rtx"):
        BuildOptions(compute_capabilities=(86,))
    assert BuildOptions(flavour="rtx", compute_capabilities=(86,)).compute_capabilities == (86,)
