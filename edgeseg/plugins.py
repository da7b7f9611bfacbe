"""Where the built plugin libraries are: the TensorRT plugins and the plain CUDA kernels.

The libraries are built with CMake from `plugins/` (they are not part of the wheel: each machine
compiles them for its own GPU and TensorRT). This module only finds files; it imports neither
TensorRT nor torch, so `edgeseg doctor` and the runtime can call it anywhere.
"""
from __future__ import annotations

import os
from pathlib import Path

from edgeseg.errors import EdgesegError

# Library file names by what they are for (see plugins/CMakeLists.txt).
PLUGIN_LIBRARY = "libedgeseg_trt_plugins.so"  # IPluginRegistry.load_library / trtexec --dynamicPlugins
STATIC_PLUGIN_LIBRARY = "libedgeseg_trt_plugins_static.so"  # ctypes.CDLL / trtexec --staticPlugins
KERNELS_LIBRARY = "libedgeseg_kernels.so"  # ctypes API over the CUDA kernels (tests, benchmarks)

PLUGIN_ENV = "EDGESEG_PLUGIN_DIR"
_REPO = Path(__file__).resolve().parent.parent

BUILD_HELP = (
    "build it from a source checkout: on a desktop GPU `cmake -S plugins -B build/plugins "
    "-DTENSORRT_ROOT=/path/to/TensorRT && cmake --build build/plugins -j`; on a Jetson (JetPack 6.1+, "
    "TensorRT from apt) `cmake -S plugins -B build/plugins -DCMAKE_CUDA_ARCHITECTURES=87 && "
    "cmake --build build/plugins -j` (110 for Thor with CUDA 13, 101 with CUDA 12.8/12.9); or point "
    "EDGESEG_PLUGIN_DIR at the folder holding it (docs/plugins.md)"
)


def search_dirs() -> list[Path]:
    """Folders searched, in order: $EDGESEG_PLUGIN_DIR, then build/plugins of a source checkout."""
    dirs = []
    if os.environ.get(PLUGIN_ENV):
        dirs.append(Path(os.environ[PLUGIN_ENV]))
    dirs.append(_REPO / "build" / "plugins")
    return dirs


def find_library(name: str) -> Path:
    """The first `name` in search_dirs(), or an EdgesegError saying how to build it."""
    for folder in search_dirs():
        candidate = folder / name
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(d) for d in search_dirs())
    raise EdgesegError(f"{name} not found (looked in {looked}): {BUILD_HELP}")


def library_path(static_registration: bool = False) -> Path:
    """The TensorRT plugin library (EdgesegRoIAlign, EdgesegNMS).

    Default: the library for `trt.get_plugin_registry().load_library(path)` and trtexec
    --dynamicPlugins. `static_registration=True`: the one that registers itself when loaded with
    `ctypes.CDLL(path)` or trtexec --staticPlugins. Load one of the two per process, never both.
    """
    return find_library(STATIC_PLUGIN_LIBRARY if static_registration else PLUGIN_LIBRARY)


def kernels_library_path() -> Path:
    """The C ABI over the CUDA kernels, without TensorRT (for parity tests and benchmarks)."""
    return find_library(KERNELS_LIBRARY)
