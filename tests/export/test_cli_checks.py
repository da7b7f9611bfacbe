"""`edgeseg export` argument and output checks, and every verb that needs an extra run without it.

The checks must come before any model is loaded (or torch imported): each test makes the late step
impossible or observable, so a check that moved after it fails here.
"""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from edgeseg.cli import main
from edgeseg.export import command

# Runs `edgeseg ARGS` with one top-level module made impossible to import, as on a machine where its
# extra is not installed (a meta-path finder refuses it before any installed copy is found).
WITHOUT = """
import sys
class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == sys.argv[1]:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Missing())
from edgeseg.cli import main
sys.exit(main(sys.argv[2:]))
"""


def edgeseg_without(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WITHOUT, module, *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("opset", ["99", "21", "15", "0"])
def test_opset_out_of_range_is_refused_before_torch(opset: str, tmp_path: Path) -> None:
    """Without torch the opset is still what is named: the check runs before the import and the load."""
    out = edgeseg_without("torch", "export", "fcn_nearest", "--random-init", "--opset", opset, "-o",
                          "x.onnx", cwd=tmp_path)
    assert out.returncode == 2
    line = one_error(out.stderr)
    assert f"--opset {opset} is not supported: use 16 to 20" in line
    assert list(tmp_path.iterdir()) == []


def test_supported_opsets_are_what_torch_exports() -> None:
    from torch.onnx import _constants

    assert command.MAX_OPSET == _constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET
    assert command.MIN_OPSET <= command.DEFAULT_OPSET <= command.MAX_OPSET


def _fail_on_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a model now fails loudly: a check that comes after the load shows up as this error."""
    import edgeseg.export.onnx_export as onnx_export

    def load(*_: object, **__: object) -> None:
        raise AssertionError("the model was loaded before the output path was checked")

    monkeypatch.setattr(onnx_export, "load_model", load)


@pytest.mark.parametrize(
    ("setup", "output", "words"),
    [
        ("folder", "out.onnx", "-o {T}/out.onnx is a folder, not a file"),
        ("file", "f/out.onnx", "{T}/f is a file, not a folder"),
        ("read-only", "ro/out.onnx", "the folder is read-only"),
        ("none", "model.pth", "is the model file itself"),
    ],
)
def test_bad_output_is_refused_before_the_model_loads(
    setup: str, output: str, words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], make_read_only: Callable[[Path], Path],
) -> None:
    _fail_on_load(monkeypatch)
    (tmp_path / "model.pth").write_bytes(b"weights")
    if setup == "folder":
        (tmp_path / "out.onnx").mkdir()
    elif setup == "file":
        (tmp_path / "f").write_text("a file\n")
    elif setup == "read-only":
        make_read_only(tmp_path / "ro")
    model = str(tmp_path / "model.pth")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    code = main(["export", model, "-o", str(tmp_path / output)])
    assert code == 2
    assert words.format(T=tmp_path) in one_error(capsys.readouterr().err)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "model.pth").read_bytes() == b"weights"


@pytest.mark.parametrize(
    ("verb", "module", "extra", "args"),
    [
        ("export", "torch", "train", ["fcn_nearest", "--random-init", "-o", "x.onnx"]),
        ("patch", "onnx_graphsurgeon", "deploy", ["in.onnx", "-o", "out.onnx"]),
        ("inspect", "onnx_graphsurgeon", "deploy", ["in.onnx"]),
        ("calibrate", "onnxruntime", "ort", ["in.onnx", "--data", "frames", "-o", "out.onnx"]),
    ],
)
def test_verb_without_its_extra_helps_and_names_the_extra(
    verb: str, module: str, extra: str, args: list[str], tmp_path: Path
) -> None:
    helped = edgeseg_without(module, verb, "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith(f"usage: edgeseg {verb}")
    ran = edgeseg_without(module, verb, *args, cwd=tmp_path)
    assert ran.returncode == 2
    line = one_error(ran.stderr)
    assert line.startswith(f"edgeseg {verb}: error: ")
    assert f"`edgeseg {verb}` needs it: install it with `pip install 'edgeseg[{extra}]'`" in line
    assert list(tmp_path.iterdir()) == []
