"""`edgeseg patch` / `inspect` end to end; one clear error (exit 2, nothing written) per bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper
from surgery_helpers import conv_relu_model, make_model

from edgeseg.cli import main


def _patch(src: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["patch", str(src), "-o", str(out)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_patch_and_inspect_torchvision(
    tv_maskrcnn: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "p.onnx"
    code = main(["patch", str(tv_maskrcnn[0]), "-o", str(out), "--passes", "foreign,plugins"])
    text = capsys.readouterr().out
    assert code == 0 and out.is_file()
    row = next(line.split() for line in text.splitlines() if line.startswith("RoiAlign "))
    assert row == ["RoiAlign", "8", "0"]
    assert main(["inspect", str(out), "--json", "--target", "trt11"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert {n["op_type"] for n in rep["plugin_nodes"]} == {"EdgesegRoIAlign", "EdgesegNMS"}
    assert rep["inputs"][0]["name"] == "image" and rep["op_histogram"]["edgeseg::EdgesegNMS"] == 2
    assert not any(f["code"] == "foreign-pattern" for f in rep["findings"])


def _bad_inputs(tmp: Path) -> dict[str, Path]:
    good = conv_relu_model()
    blob = good.SerializeToString()
    (tmp / "text.onnx").write_text("this is not a model")
    (tmp / "truncated.onnx").write_bytes(blob[: len(blob) // 2])
    old = make_model(
        list(good.graph.node),
        list(good.graph.input),
        list(good.graph.output),
        list(good.graph.initializer),
        opset=7,
    )
    onnx.save(old, tmp / "opset7.onnx")
    ext = conv_relu_model()
    onnx.save(
        ext,
        tmp / "ext.onnx",
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="ext.data",
        size_threshold=0,
    )
    (tmp / "ext.data").unlink()
    return {
        "text": tmp / "text.onnx",
        "truncated": tmp / "truncated.onnx",
        "opset": tmp / "opset7.onnx",
        "external": tmp / "ext.onnx",
        "missing": tmp / "nope.onnx",
    }


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("text", "not an ONNX model"),
        ("truncated", "truncated"),
        ("opset", "opset 7"),
        ("external", "external data"),
        ("missing", "no such file"),
    ],
)
def test_bad_input_one_clear_error(
    case: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out.onnx"
    code, text = _patch(src, out, capsys)
    assert code == 2
    assert words in text and "Traceback" not in text
    assert len(text.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".out.onnx*"))
    assert main(["inspect", str(src)]) == 2


def test_failing_pass_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = make_model(
        [helper.make_node("NMS", ["b", "s"], ["o"], domain="edgeseg", bogus=1)],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4, 4]) for n in ("b", "s")],
        [helper.make_tensor_value_info("o", TensorProto.FLOAT, [1])],
        domains=("edgeseg",),
    )
    onnx.save(bad, tmp_path / "bad.onnx")
    out = tmp_path / "out.onnx"
    code, text = _patch(tmp_path / "bad.onnx", out, capsys)
    assert code == 2 and "bogus" in text and not out.exists()


@pytest.mark.parametrize(
    ("setup", "output", "words"),
    [
        ("folder", "out.onnx", "-o {T}/out.onnx is a folder, not a file"),
        ("file", "f/out.onnx", "{T}/f is a file, not a folder"),
        ("read-only", "ro/out.onnx", "the folder is read-only"),
    ],
)
def test_bad_output_is_refused_before_the_graph_is_read(
    setup: str, output: str, words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], make_read_only: Callable[[Path], Path],
) -> None:
    import edgeseg.surgery.io as surgery_io

    def load(*_: object) -> None:
        raise AssertionError("the graph was read before the output path was checked")

    monkeypatch.setattr(surgery_io, "load_model", load)
    onnx.save(conv_relu_model(), tmp_path / "in.onnx")
    if setup == "folder":
        (tmp_path / "out.onnx").mkdir()
    elif setup == "file":
        (tmp_path / "f").write_text("a file\n")
    else:
        make_read_only(tmp_path / "ro")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    code, text = _patch(tmp_path / "in.onnx", tmp_path / output, capsys)
    assert code == 2
    assert len(text.strip().splitlines()) == 1 and words.format(T=tmp_path) in text
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_help_names_match_the_registry() -> None:
    """The CLI spells the pass and lint-target names so `--help` needs no onnx-graphsurgeon."""
    from edgeseg.surgery import command, lint, registry

    assert tuple(registry.PASSES) == command.PASS_NAMES
    assert command.DEFAULT_PASSES == registry.DEFAULT_PASSES
    assert command.LINT_TARGETS == lint.TARGETS
