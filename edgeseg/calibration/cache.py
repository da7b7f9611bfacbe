"""TensorRT 10 calibration cache (implicit INT8 on 10.x): writer and reader.

Layout (text, one entry per line, '\\n' endings):
    TRT-100300-EntropyCalibration2          header: TRT-<NV_TENSORRT_VERSION>-<calibrator algorithm>
    /conv1/Relu_output_0: 3c8b4396          <tensor name>: <8 hex digits>
The hex digits are the big-endian IEEE-754 bits of the float32 scale amax/127 (not amax); TensorRT
(and trtexec) split each line at its last colon and use +-127*scale as the tensor's dynamic range.
Names are the ONNX tensor names of the FP32 graph the engine is built from.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from pathlib import Path

from edgeseg.errors import EdgesegError

DEFAULT_VERSION = 100300  # TensorRT 10.3 (JetPack 6.1/6.2)
ALGORITHMS = ("EntropyCalibration2", "MinMaxCalibration", "EntropyCalibration", "LegacyCalibration")
HEADER_RE = re.compile(r"TRT-(\d+)-(\w+)")
ENTRY_RE = re.compile(r"(.+): ([0-9a-f]{8})")
INT8_MAX = 127.0


def scale_hex(amax: float) -> str:
    """The 8 hex digits of one entry: big-endian float32 bits of amax/127."""
    return struct.pack(">f", amax / INT8_MAX).hex()


def hex_amax(digits: str) -> float:
    """Inverse of `scale_hex` (up to float32 rounding)."""
    return float(struct.unpack(">f", bytes.fromhex(digits))[0]) * INT8_MAX


def parse_header(line: str) -> tuple[int, str]:
    """'TRT-100300-EntropyCalibration2' -> (100300, 'EntropyCalibration2'); the calibrator must match."""
    match = HEADER_RE.fullmatch(line.strip())
    if not match or match.group(2) not in ALGORITHMS:
        raise EdgesegError(
            f"not a TensorRT calibration cache header: {line.strip()!r} (expected e.g. "
            "'TRT-100300-EntropyCalibration2'): regenerate it with `edgeseg calibrate`"
        )
    return int(match.group(1)), match.group(2)


def with_version(data: bytes, version: int) -> bytes:
    """The cache `data` with its header naming TensorRT `version` (entries unchanged).

    Why: TensorRT skips a cache whose header names another version, and a replayed cache has no
    batches to fall back on; the entries (per-tensor scales) do not depend on the version.
    """
    header, sep, rest = data.partition(b"\n")
    _, algorithm = parse_header(header.decode("ascii", errors="replace"))
    return f"TRT-{version}-{algorithm}".encode("ascii") + (sep or b"\n") + rest


def write_cache(
    path: Path,
    amax: Mapping[str, float],
    version: int = DEFAULT_VERSION,
    algorithm: str = "EntropyCalibration2",
) -> Path:
    """Write `amax` per tensor; the header's algorithm must match the calibrator replaying it."""
    if algorithm not in ALGORITHMS:
        raise EdgesegError(f"unknown calibrator algorithm {algorithm!r}: use one of {', '.join(ALGORITHMS)}")
    lines = [f"TRT-{version}-{algorithm}"]
    for name, value in amax.items():
        if "\n" in name or not value > 0:
            raise EdgesegError(
                f"tensor {name!r} cannot go into a calibration cache (amax {value}): "
                "names must be one line and ranges positive"
            )
        lines.append(f"{name}: {scale_hex(value)}")
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def read_cache(path: Path) -> tuple[int, str, dict[str, float]]:
    """(TensorRT version, algorithm, {tensor: amax}) of a cache file; malformed lines are errors."""
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EdgesegError(
            f"cannot read calibration cache {path} ({exc}): rewrite it with `edgeseg calibrate`"
        ) from None
    try:
        version, algorithm = parse_header(lines[0] if lines else "")
    except EdgesegError as exc:
        raise EdgesegError(f"{path}: {exc}") from None
    values: dict[str, float] = {}
    for number, line in enumerate(lines[1:], start=2):
        entry = ENTRY_RE.fullmatch(line.rstrip())
        if entry is None:
            raise EdgesegError(f"{path} line {number} is not '<tensor>: <8 hex digits>': {line!r}")
        values[entry.group(1)] = hex_amax(entry.group(2))
    return version, algorithm, values
