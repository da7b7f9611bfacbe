"""The one model resolver: zoo names, .onnx and .engine paths -> (adapter, backend), its errors, and
that `edgeseg run` and `Pipeline` both go through it (a spy in its place sees both calls)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from runtime_doubles import NumberAdapter, NumberBackend

from edgeseg.errors import EdgesegError
from edgeseg.hashing import sha256_file
from edgeseg.runtime import resolve

ZOO = Path(resolve.__file__).resolve().parent.parent / "zoo"
SHIPPED = "fcn_nearest"  # a small shipped graph without plugin ops


@pytest.fixture
def fake_zoo(tmp_path, monkeypatch) -> Path:
    """A zoo with one exported graph ('tiny'), one name without a graph, and their index files."""
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    (zoo / "zoo.json").write_text(json.dumps({"models": {"tiny": {}, "unexported": {}}}))
    shutil.copy(ZOO / f"{SHIPPED}.onnx", zoo / "tiny.onnx")
    recorded = {"tiny": {"sha256": sha256_file(zoo / "tiny.onnx")}}
    (zoo / "onnx.json").write_text(json.dumps({"models": recorded}))
    monkeypatch.setattr(resolve, "ZOO_DIR", zoo)
    return zoo


def test_names_and_paths_resolve_to_files(fake_zoo, tmp_path):
    assert resolve.zoo_names() == ["tiny", "unexported"]
    assert resolve.find_model("tiny") == fake_zoo / "tiny.onnx"
    engine = tmp_path / "m.ENGINE"
    engine.write_bytes(b"x")
    assert resolve.find_model(str(engine)) == engine  # suffixes in any case


@pytest.mark.parametrize(("spec", "message"), [
    ("nope", r"unknown model 'nope': use a zoo name \(tiny, unexported\)"),
    ("unexported", r"'unexported' has no exported graph in this install .*export --zoo"),
    ("missing.onnx", r"model file missing.onnx not found: .*zoo name \(tiny, unexported\)"),
    ("missing.engine", r"model file missing.engine not found"),
    ("weights.pt", r"cannot run 'weights.pt': pass a zoo model name"),
    ("some/dir", r"cannot run 'some/dir'"),
])
def test_unusable_models_are_one_line_errors(fake_zoo, spec, message):
    with pytest.raises(EdgesegError, match=message) as info:
        resolve.find_model(spec)
    assert "\n" not in str(info.value)


def test_a_damaged_zoo_graph_is_refused(fake_zoo):
    (fake_zoo / "onnx.json").write_text(json.dumps({"models": {"tiny": {"sha256": "0" * 64}}}))
    with pytest.raises(EdgesegError, match="does not match the zoo's recorded sha256"):
        resolve.find_model("tiny")


def test_zoo_lookup_imports_neither_torch_nor_the_models_package():
    code = ("import sys\n"
            "sys.modules['torch'] = None\n"
            "sys.modules['edgeseg.models'] = None\n"
            "from edgeseg.runtime.resolve import find_model, zoo_names\n"
            f"print(find_model({SHIPPED!r}).name, {SHIPPED!r} in zoo_names())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [f"{SHIPPED}.onnx", "True"]


def test_unknown_backend_is_refused_with_the_choices():
    assert resolve.check_backend(None) == "auto"
    with pytest.raises(EdgesegError, match=r"unknown backend 'foo': use 'auto' .*'ort' .*'trt'"):
        resolve.check_backend("foo")
    with pytest.raises(EdgesegError, match="unknown backend 'foo'"):
        resolve.open_model(SHIPPED, "foo")


def _no_tensorrt(monkeypatch):
    import edgeseg.trt.compat as compat

    def missing(*args, **kwargs):
        raise EdgesegError("TensorRT is not installed (simulated)")

    monkeypatch.setattr(compat, "load_tensorrt", missing)


def _fake_tensorrt(monkeypatch):
    import edgeseg.trt.compat as compat

    monkeypatch.setattr(compat, "load_tensorrt", lambda *a, **k: (object(), object()))


def test_backend_and_model_mismatches(tmp_path, monkeypatch):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"not really an engine")
    with pytest.raises(EdgesegError, match="is a TensorRT engine: run it with --backend trt"):
        resolve.open_model(engine, "ort")
    _no_tensorrt(monkeypatch)
    for choice in ("auto", "trt"):  # auto picks TensorRT for an engine, and says it is missing
        with pytest.raises(EdgesegError, match=r"TensorRT is not installed \(simulated\)"):
            resolve.open_model(engine, choice)
    _fake_tensorrt(monkeypatch)
    with pytest.raises(EdgesegError, match="--backend trt runs TensorRT engines: build one"):
        resolve.open_model(SHIPPED, "trt")
    with pytest.raises(EdgesegError, match="is a TensorRT engine"):
        resolve.open_backend("ort", engine)
    with pytest.raises(EdgesegError, match="needs a model file"):
        resolve.open_backend("auto", None)


def test_auto_opens_an_onnx_graph_on_onnx_runtime():
    pytest.importorskip("onnxruntime")
    from edgeseg.runtime.backends.ort import OrtBackend
    from edgeseg.runtime.task_adapters import DeployAdapter

    adapter, backend = resolve.open_model(SHIPPED, "auto", threads=1)
    try:
        assert isinstance(adapter, DeployAdapter) and isinstance(backend, OrtBackend)
        assert adapter.info.task == "semantic"
        assert [s.name for s in backend.inputs()] == [adapter.info.input_name]
    finally:
        backend.close()


class _Resolved(Exception):
    """Raised by the spy so each caller stops right after asking the resolver."""


@pytest.fixture
def resolver_spy(monkeypatch) -> list[tuple]:
    calls: list[tuple] = []

    def spy(spec, backend="auto", threads=0):
        calls.append((str(spec), backend, threads))
        raise EdgesegError("resolved by the spy")

    monkeypatch.setattr(resolve, "open_model", spy)
    return calls


def test_edgeseg_run_uses_the_resolver(tmp_path, capsys, resolver_spy):
    from edgeseg.cli import main

    code = main(["run", "some_model", "--source", "shapes://?fps=0&size=32x32&frames=1",
                 "--sink", str(tmp_path / "r.jsonl"), "--no-progress", "--threads", "2"])
    assert code == 2 and "resolved by the spy" in capsys.readouterr().err
    assert resolver_spy == [("some_model", "auto", 2)]


def test_pipeline_uses_the_resolver(resolver_spy, monkeypatch):
    from edgeseg.runtime.pipeline import Pipeline

    with pytest.raises(EdgesegError, match="resolved by the spy"):
        Pipeline("shapes://?fps=0&size=32x32&frames=1", model="some_model", backend="ort")
    assert resolver_spy == [("some_model", "ort", 0)]

    opened: list[tuple] = []

    def open_backend(choice, model_path, threads=0):
        opened.append((choice, model_path))
        return NumberBackend()

    monkeypatch.setattr(resolve, "open_backend", open_backend)
    adapter = NumberAdapter()
    adapter.model_path = "adapter.onnx"  # type: ignore[attr-defined]
    Pipeline("shapes://?fps=0&size=32x32&frames=1", model=adapter).close()
    assert opened == [("auto", "adapter.onnx")]  # an adapter's own graph goes through it too


def test_a_zoo_name_runs_its_cpu_twin_on_onnx_runtime():
    """By name, mask_rcnn runs the graph whose mask head works on filled slots only (issue 21)."""
    adapter, backend = resolve.open_model("mask_rcnn", backend="ort", threads=1)
    try:
        assert backend.graph.parent.name == "cpu" and backend.graph.name == "mask_rcnn.onnx"
        named = Path(adapter.model_path)
        assert named.name == "mask_rcnn.onnx" and named.parent.name == "zoo"  # metadata from the zoo graph
    finally:
        backend.close()
