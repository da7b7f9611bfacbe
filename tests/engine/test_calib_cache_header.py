"""The calibration cache reaches TensorRT with the running version's header (fake TensorRT module).

TensorRT skips a cache whose header names another version, and the replay calibrator has no
batches to fall back on, so `edgeseg calibrate`'s TRT-100300 cache must be re-headed for 10.8 etc.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeseg.calibration.cache import read_cache, with_version, write_cache
from edgeseg.errors import EdgesegError
from edgeseg.trt.compat import TrtCapabilities

AMAX = {"/conv1/Relu_output_0": 4.5, "images: with a colon": 1.0}


@pytest.fixture
def calib_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """edgeseg.engine.calib_cache imported against a stand-in `tensorrt` (calibrator bases only)."""
    fake = types.ModuleType("tensorrt")
    for name in ("IInt8Calibrator", "IInt8EntropyCalibrator2", "IInt8MinMaxCalibrator"):
        setattr(fake, name, type(name, (), {}))
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    monkeypatch.delitem(sys.modules, "edgeseg.engine.calib_cache", raising=False)
    module = importlib.import_module("edgeseg.engine.calib_cache")
    yield module
    sys.modules.pop("edgeseg.engine.calib_cache", None)


def caps(version: tuple[int, ...]) -> TrtCapabilities:
    return TrtCapabilities(
        version=version,
        strongly_typed_only=False,
        implicit_int8_calibration=True,
        device_memory_attr="device_memory_size_v2",
    )


def test_with_version_rewrites_only_the_header(tmp_path: Path) -> None:
    path = write_cache(tmp_path / "c.cache", AMAX, version=100300, algorithm="MinMaxCalibration")
    rewritten = tmp_path / "r.cache"
    rewritten.write_bytes(with_version(path.read_bytes(), 101300))
    assert rewritten.read_text().splitlines()[0] == "TRT-101300-MinMaxCalibration"
    assert rewritten.read_text().splitlines()[1:] == path.read_text().splitlines()[1:]
    version, algorithm, values = read_cache(rewritten)
    assert (version, algorithm) == (101300, "MinMaxCalibration") and values.keys() == AMAX.keys()


def test_with_version_refuses_a_file_that_is_no_cache() -> None:
    with pytest.raises(EdgesegError, match="not a TensorRT calibration cache header"):
        with_version(b"hello\nworld\n", 100300)


@pytest.mark.parametrize(
    "version, header",
    [((10, 3, 0), "TRT-100300-"), ((10, 8, 1), "TRT-100801-"), ((10, 13, 3), "TRT-101303-")],
)
@pytest.mark.parametrize("algorithm", ["EntropyCalibration2", "MinMaxCalibration"])
def test_builder_gets_the_running_versions_header(
    calib_cache: types.ModuleType, tmp_path: Path, version: tuple[int, ...], header: str, algorithm: str
) -> None:
    path = write_cache(tmp_path / "model.cache", AMAX, version=100300, algorithm=algorithm)
    calibrator = calib_cache.cache_calibrator(path, caps(version))
    handed = calibrator.read_calibration_cache()
    lines = handed.decode("ascii").splitlines()
    assert lines[0] == header + algorithm
    assert lines[1:] == path.read_text().splitlines()[1:]  # entries untouched
    assert path.read_text().startswith("TRT-100300-")  # the file on disk is not changed
    expected_class = "EntropyReplay" if algorithm == "EntropyCalibration2" else "MinMaxReplay"
    assert type(calibrator).__name__ == expected_class
