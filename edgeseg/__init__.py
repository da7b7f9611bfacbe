"""edgeseg: detection and segmentation models from PyTorch to real-time video on NVIDIA GPUs.

Importing the package imports neither torch nor TensorRT: a robot running an engine needs numpy,
the runtime and a backend only. Training and export live in submodules that import torch lazily.
"""
from edgeseg.errors import EdgesegError

__version__ = "0.1.0"

__all__ = ["EdgesegError", "__version__"]
