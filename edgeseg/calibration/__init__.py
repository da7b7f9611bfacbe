"""edgeseg.calibration: INT8 calibration (ranges, Q/DQ graphs, TensorRT cache, accuracy budget) and FP16.

The stage functions the build chain calls are imported lazily, so `import edgeseg.calibration`
costs nothing until one is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "calibrate_file": "edgeseg.calibration.calibrate",
    "CalibrationOutcome": "edgeseg.calibration.calibrate",
    "convert_fp16": "edgeseg.calibration.fp16",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'edgeseg.calibration' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
