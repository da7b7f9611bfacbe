"""The TensorRT backend's input checks and its refusals, all reachable without TensorRT."""

import subprocess
import sys

import numpy as np
import pytest

from edgeseg.errors import EdgesegError
from edgeseg.runtime.backend import TensorSpec
from edgeseg.runtime.backends.trt import TrtBackend, check_batch

INPUTS = [
    TensorSpec("images", (None, 3, 64, 64), np.dtype(np.float32)),
    TensorSpec("scale", (1,), np.dtype(np.float32)),
]
RANGES = {"images": ((1, 3, 64, 64), (4, 3, 64, 64))}


def batch(n=2, dtype=np.float32):
    return {"images": np.zeros((n, 3, 64, 64), dtype), "scale": np.ones(1, np.float32)}


def test_valid_batch_passes_through_as_contiguous_arrays():
    images = np.zeros((3, 64, 64, 2), np.float32).transpose(3, 0, 1, 2)  # non-contiguous view
    feed = check_batch({"images": images, "scale": np.ones(1, np.float32)}, INPUTS, RANGES)
    assert feed["images"].flags.c_contiguous and feed["images"].shape == (2, 3, 64, 64)
    np.testing.assert_array_equal(feed["images"], images)


@pytest.mark.parametrize(
    "feed, match",
    [
        ({"images": batch()["images"]}, r"missing \['scale'\]"),
        ({**batch(), "extra": np.zeros(1)}, r"unexpected \['extra'\]"),
        (batch(dtype=np.float64), "must be float32, got float64"),
        ({**batch(), "images": np.zeros((3, 64, 64), np.float32)}, "must have rank 4"),
        ({**batch(), "scale": np.ones(2, np.float32)}, "axis 0 is 2, the engine fixes it to 1"),
        (batch(n=8), r"batch 8 is outside the engine's profile 1\.\.4.*--max-batch 8"),
    ],
)
def test_bad_batches_are_named(feed, match):
    with pytest.raises(EdgesegError, match=match):
        check_batch(feed, INPUTS, RANGES)


def test_missing_engine_file(tmp_path):
    with pytest.raises(EdgesegError, match="not found: build one"):
        TrtBackend(tmp_path / "none.engine")


def test_without_tensorrt_the_backend_says_how_to_install(tmp_path):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"plan")
    try:
        import tensorrt

        if hasattr(tensorrt, "Builder"):
            pytest.skip("real TensorRT installed")
    except ImportError:
        pass
    with pytest.raises(EdgesegError, match="TensorRT is not installed.*python3-libnvinfer"):
        TrtBackend(engine)


def test_runtime_backend_imports_neither_torch_nor_tensorrt():
    code = (
        "import sys, edgeseg.runtime.backends.trt, edgeseg.engine, edgeseg.doctor; "
        "heavy = ('torch', 'tensorrt', 'onnx', 'pycuda', 'cuda.bindings'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
