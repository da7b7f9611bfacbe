"""The package imports without torch and the CLI answers."""
import subprocess
import sys


def test_import_without_torch():
    code = "import sys, edgeseg, edgeseg.cli, edgeseg.runtime.backend; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cli_help_lists_verbs():
    out = subprocess.run([sys.executable, "-m", "edgeseg.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "data" in out.stdout and "eval" in out.stdout


def test_cli_without_verb_exits_2():
    out = subprocess.run([sys.executable, "-m", "edgeseg.cli"], capture_output=True, text=True)
    assert out.returncode == 2


def test_build_engine_resolves_lazily_and_says_tensorrt_is_missing(tmp_path):
    """Attribute access loads nothing heavy; calling it without TensorRT is a one-line EdgesegError."""
    import importlib.util

    import onnx
    import pytest
    from onnx import TensorProto, helper

    if importlib.util.find_spec("tensorrt") and hasattr(importlib.import_module("tensorrt"), "Builder"):
        pytest.skip("TensorRT is installed: this checks the message shown without it")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "relu.onnx")
    code = (
        "import sys, edgeseg\n"
        "fn = edgeseg.build_engine\n"
        "from edgeseg.engine.chain import build_engine\n"
        "assert fn is build_engine\n"
        "print(sorted(m for m in ('torch', 'onnx', 'tensorrt') if m in sys.modules))\n"
        "try:\n"
        f"    fn({str(tmp_path / 'relu.onnx')!r}, precision='fp32', out_dir={str(tmp_path)!r})\n"
        "except edgeseg.EdgesegError as err:\n"
        "    print('EdgesegError:', err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "[]"
    assert lines[1].startswith("EdgesegError: TensorRT is not installed")
    assert "pip install" in lines[1] or "JetPack" in lines[1]


def test_unknown_attribute_is_attribute_error():
    import pytest

    import edgeseg

    with pytest.raises(AttributeError, match="no_such_thing"):
        edgeseg.no_such_thing  # noqa: B018
