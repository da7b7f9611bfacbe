"""edgeseg.export: deploy wrappers and ONNX export of zoo models and checkpoints (needs torch).

`export_onnx` (the build chain's export stage) is imported lazily, so `import edgeseg.export` does
not import torch until it is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"export_onnx": "edgeseg.export.onnx_export"}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'edgeseg.export' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
