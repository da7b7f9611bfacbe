"""The TensorRT stubs are in effect for mypy (so `make typecheck` really checks our TensorRT calls)."""

import importlib.util
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REPAIR = ROOT / "tools" / "repair_trt_stubs.py"

# Lines 2-6 use TensorRT correctly; lines 7 and 8 misuse it. mypy must flag exactly lines 7 and 8.
SOURCE = """
import tensorrt as trt
logger = trt.Logger(trt.Logger.WARNING)
builder = trt.Builder(logger)
config = builder.create_builder_config()
config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 30)
builder.create_network_v9()
config.set_memory_pool_limit("WORKSPACE", 1 << 30)
"""


def load_repair_module():
    spec = importlib.util.spec_from_file_location("repair_trt_stubs", REPAIR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_repair_fixes_the_three_known_defects():
    repair = load_repair_module().repair
    text = (
        "import tensorrt_libs as tensorrt_libs\n"
        "__all__ = ['Builder', 'tensorrt_libs', 'volume']\n"
        "class P:\n"
        "    def configure_plugin(self: P, in: list[int], out: list[int]) -> None:\n"
        "        ...\n"
        "    def add_scale_nd(self, input: int, shift: W = None, scale: W = None, channel_axis: int) -> S:\n"
        "        ...\n"
    )
    fixed, counts = repair(text)
    assert counts == {"keyword_params": 1, "default_order": 1, "tensorrt_libs": 2}
    assert "tensorrt_libs" not in fixed
    assert "def configure_plugin(self: P, in_: list[int], out: list[int]) -> None:" in fixed
    assert "def add_scale_nd(self, input: int, shift: W, scale: W, channel_axis: int) -> S:" in fixed
    import ast

    ast.parse(fixed)  # the repaired text is valid Python
    with pytest.raises(SyntaxError):
        ast.parse(text)


def test_mypy_catches_tensorrt_misuse_through_the_stubs(tmp_path):
    try:
        metadata.distribution("tensorrt-stubs")
    except metadata.PackageNotFoundError:
        pytest.fail("tensorrt-stubs is not installed: run `make typecheck` (installs and repairs them)")
    (tmp_path / "use_trt.py").write_text(SOURCE)
    cmd = [
        sys.executable,
        "-m",
        "mypy",
        "--no-incremental",
        "--strict",
        "--follow-imports=silent",
        "use_trt.py",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    assert [e.split(":")[1] for e in errors] == ["7", "8"], out.stdout
    assert '"Builder" has no attribute "create_network_v9"' in errors[0]
    assert (
        'Argument 1 to "set_memory_pool_limit" of "IBuilderConfig" has incompatible type "str"' in errors[1]
    )
