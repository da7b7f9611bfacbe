"""edgeseg.surgery: ONNX graph passes (plugin insertion, foreign-pattern rewrites, folding), lint, inspect.

Works on ONNX files only (no torch): see `registry.PASSES` for the passes and `command` for the verbs.
`patch_file` (the build chain's surgery stage) is imported lazily, so importing this package does not
load onnx or onnx-graphsurgeon until it is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"patch_file": "edgeseg.surgery.registry"}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'edgeseg.surgery' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
