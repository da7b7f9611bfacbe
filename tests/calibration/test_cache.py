"""TensorRT 10 calibration cache: documented layout, decoded independently, round trip, bad files."""

from __future__ import annotations

import re

import numpy as np
import pytest

from edgeseg.calibration.cache import parse_header, read_cache, write_cache
from edgeseg.errors import EdgesegError

AMAX = {
    "images_float": 1.0,
    "/conv1/Conv_output_0": 5.25,
    "/backbone/layer1/Relu_output_0": 0.0123,
    "name:with:colons": 200.0,
}


def _decode(hex_digits: str) -> float:
    """Big-endian float32 bits -> value, through integer bit fields (no struct): an independent decoder."""
    bits = int(hex_digits, 16)
    sign = -1.0 if bits >> 31 else 1.0
    exponent = (bits >> 23) & 0xFF
    mantissa = bits & 0x7FFFFF
    return sign * (1 + mantissa / 2**23) * 2.0 ** (exponent - 127)


def test_layout_matches_the_documented_format(tmp_path):
    path = write_cache(tmp_path / "model.calib", AMAX)
    lines = path.read_text(encoding="ascii").split("\n")
    assert lines[0] == "TRT-100300-EntropyCalibration2"
    assert re.fullmatch(r"TRT-\d{6}-EntropyCalibration2", lines[0])
    assert lines[-1] == "" and len(lines) == len(AMAX) + 2  # one entry a line, newline-terminated
    for line in lines[1:-1]:
        name, _, digits = line.rpartition(": ")  # TensorRT splits at the last colon
        assert re.fullmatch(r"[0-9a-f]{8}", digits)
        scale = _decode(digits)
        np.testing.assert_allclose(scale, np.float32(AMAX[name] / 127.0), rtol=0)


def test_known_scale_bits(tmp_path):
    """amax 127 -> scale 1.0 -> 3f800000; amax 63.5 -> 0.5 -> 3f000000 (IEEE-754 by hand)."""
    text = write_cache(tmp_path / "c", {"a": 127.0, "b": 63.5}).read_text()
    assert text == "TRT-100300-EntropyCalibration2\na: 3f800000\nb: 3f000000\n"


def test_round_trip_gives_the_same_ranges(tmp_path):
    path = write_cache(tmp_path / "c", AMAX, version=100800, algorithm="MinMaxCalibration")
    version, algorithm, values = read_cache(path)
    assert (version, algorithm) == (100800, "MinMaxCalibration")
    assert list(values) == list(AMAX)
    for name, amax in AMAX.items():
        np.testing.assert_allclose(values[name], amax, rtol=1e-6)  # float32 rounding of amax/127


@pytest.mark.parametrize(
    "text",
    [
        "",
        "TRT-8600\nx: 3f800000\n",
        "TRT-100300-EntropyCalibration2\nx 3f800000\n",
        "TRT-100300-EntropyCalibration2\nx: 3f8000\n",
    ],
)
def test_malformed_cache_is_a_clear_error(tmp_path, text):
    path = tmp_path / "bad.calib"
    path.write_text(text)
    with pytest.raises(EdgesegError, match="calibrat|line"):
        read_cache(path)


def test_non_positive_range_is_refused(tmp_path):
    with pytest.raises(EdgesegError, match="positive"):
        write_cache(tmp_path / "c", {"t": 0.0})


def test_calibration_header():
    assert parse_header("TRT-100300-EntropyCalibration2\n") == (100300, "EntropyCalibration2")
    assert parse_header("TRT-8600-MinMaxCalibration") == (8600, "MinMaxCalibration")
    for bad in ("TRT-100300", "input: 3c010a14", "TRT-abc-EntropyCalibration2", "TRT-100300-Magic"):
        with pytest.raises(EdgesegError, match="calibration cache header"):
            parse_header(bad)
