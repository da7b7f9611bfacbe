"""edgeseg: detection and segmentation models from PyTorch to real-time video on NVIDIA GPUs.

Importing the package imports neither torch nor TensorRT: a robot running an engine needs numpy,
the runtime and a backend only. Training and export live in submodules that import torch lazily.
"""
from typing import TYPE_CHECKING, Any

from edgeseg.errors import EdgesegError

if TYPE_CHECKING:
    from edgeseg.engine import build_engine
    from edgeseg.runtime.pipeline import Pipeline

__version__ = "0.1.0"

__all__ = ["EdgesegError", "Pipeline", "__version__", "build_engine"]


def __getattr__(name: str) -> Any:
    """`edgeseg.build_engine` and `edgeseg.Pipeline` load their packages on first use, so a robot that
    only runs engines never imports the build chain, and `import edgeseg` stays cheap."""
    if name == "build_engine":
        from edgeseg.engine import build_engine

        return build_engine
    if name == "Pipeline":
        from edgeseg.runtime.pipeline import Pipeline

        return Pipeline
    raise AttributeError(f"module 'edgeseg' has no attribute {name!r}")
