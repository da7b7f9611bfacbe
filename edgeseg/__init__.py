"""edgeseg: detection and segmentation models from PyTorch to real-time video on NVIDIA GPUs.

Importing the package imports neither torch nor TensorRT: a robot running an engine needs numpy,
the runtime and a backend only. Training and export live in submodules that import torch lazily.
"""
from typing import TYPE_CHECKING, Any

from edgeseg.errors import EdgesegError

if TYPE_CHECKING:
    from edgeseg.build import build_engine

__version__ = "0.1.0"

__all__ = ["EdgesegError", "__version__", "build_engine"]


def __getattr__(name: str) -> Any:
    """`edgeseg.build_engine` loads the build package on first use (running engines never needs it)."""
    if name == "build_engine":
        from edgeseg.build import build_engine

        return build_engine
    raise AttributeError(f"module 'edgeseg' has no attribute {name!r}")
