"""Implicit INT8 on TensorRT 10.x from a calibration cache written by `edgeseg calibrate`.

Why: JetPack 6's TensorRT 10.3 can still calibrate implicitly, and a cache lets it do so without
running images through TensorRT. The calibrator only replays the cache (it has no batches), and
its class must match the algorithm named in the cache header or TensorRT rejects the cache.
The cache format itself belongs to `edgeseg.calibration.cache`; this module adds the TensorRT side.
Import this module only where `TrtCapabilities.implicit_int8_calibration` is true: TensorRT 11
removed calibrators.
"""

from __future__ import annotations

import logging
from pathlib import Path

import tensorrt as trt

from edgeseg.calibration.cache import parse_header, with_version
from edgeseg.errors import EdgesegError
from edgeseg.trt.compat import TrtCapabilities, encoded_version

LOG = logging.getLogger(__name__)


# get_batch returns None ("no more batches") although the stubs say list[int]: hence the ignores below.
class _Replay:
    """The replay-only calibrator methods; mixed in before a TensorRT calibrator class."""

    def __init__(self, cache: bytes) -> None:
        super().__init__()  # the TensorRT calibrator base (pybind11 needs its __init__ called)
        self._cache = cache

    def get_batch_size(self) -> int:
        return 1

    def get_batch(self, names: list[str]) -> None:
        return None

    def read_calibration_cache(self) -> bytes:
        return self._cache

    def write_calibration_cache(self, cache: object) -> None:
        return None


class EntropyReplay(_Replay, trt.IInt8EntropyCalibrator2):  # type: ignore[misc]
    """Replays an EntropyCalibration2 cache."""


class MinMaxReplay(_Replay, trt.IInt8MinMaxCalibrator):  # type: ignore[misc]
    """Replays a MinMaxCalibration cache."""


def cache_calibrator(path: Path, caps: TrtCapabilities) -> trt.IInt8Calibrator:
    """A calibrator replaying `path`, of the class its header names, with the header rewritten to
    the running TensorRT's version (TensorRT skips a cache naming another version)."""
    if not path.is_file():
        raise EdgesegError(f"calibration cache {path} does not exist: write one with `edgeseg calibrate`")
    data = path.read_bytes()
    header = data.split(b"\n", 1)[0].decode("ascii", errors="replace")
    version, algorithm = parse_header(header)
    running = encoded_version(caps.version)
    if version != running:
        LOG.info("calibration cache %s names TensorRT %d: re-headed for %d", path, version, running)
        data = with_version(data, running)
    if algorithm == "EntropyCalibration2":
        return EntropyReplay(data)
    if algorithm == "MinMaxCalibration":
        return MinMaxReplay(data)
    raise EdgesegError(
        f"calibration cache {path} uses {algorithm}, which edgeseg does not replay: "
        "write an EntropyCalibration2 or MinMaxCalibration cache"
    )
