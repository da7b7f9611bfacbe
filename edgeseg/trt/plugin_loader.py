"""Load edgeseg's TensorRT plugin library into the process before parsing or deserializing.

Why: the ONNX parser and the runtime find plugins only through the plugin registry and never load
libraries themselves. A library can register its creators statically (REGISTER_TENSORRT_PLUGIN,
run by a plain dlopen) or export `getCreators` for `IPluginRegistry.load_library`; registering the
same creator twice fails, so we dlopen first and call `load_library` only if that registered
nothing. The library path comes from `edgeseg.plugins.library_path()` unless given.

The dlopen is RTLD_LOCAL: the library's symbols stay out of the process's global scope, so a
library loaded later (another plugin library, a second edgeseg build) cannot bind to our copy of
`edgeseg::launch_*` or the reverse; the CMake build also hides every symbol but the entry points.
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from edgeseg.errors import EdgesegError
from edgeseg.hashing import sha256_file
from edgeseg.trt.compat import load_tensorrt, plugin_creators

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedPlugins:
    path: Path
    sha256: str
    creators: tuple[tuple[str, str, str], ...]  # (name, version, namespace) this library added


_LOADED: dict[Path, LoadedPlugins] = {}
# Resolve every symbol now (a missing CUDA symbol fails here, not at the first enqueue) and keep
# them local to the library (see the module docstring).
DLOPEN_MODE = os.RTLD_NOW | os.RTLD_LOCAL


def default_library_path() -> Path:
    """The built plugin library, as `edgeseg.plugins.library_path()` finds it."""
    try:
        plugins = importlib.import_module("edgeseg.plugins")
    except ImportError:
        raise EdgesegError(
            "edgeseg.plugins is missing from this install, so the plugin library cannot be located: "
            "pass its path explicitly (--plugins PATH)"
        ) from None
    return Path(plugins.library_path())


def load_plugin_library(path: Path | None = None) -> LoadedPlugins:
    """Register the library's creators once per process; returns what it registered."""
    trt, _ = load_tensorrt()
    path = (path or default_library_path()).resolve()
    if path in _LOADED:
        return _LOADED[path]
    if not path.is_file():
        raise EdgesegError(f"plugin library {path} does not exist: build it (see plugins/README.md)")
    registry = trt.get_plugin_registry()
    before = set(plugin_creators(registry))
    try:
        handle = ctypes.CDLL(str(path), mode=DLOPEN_MODE)
    except OSError as err:
        raise EdgesegError(
            f"cannot load plugin library {path} ({err}): rebuild it against this TensorRT and CUDA"
        ) from None
    added = set(plugin_creators(registry)) - before
    if not added and hasattr(handle, "getCreators"):
        registry.load_library(str(path))
        added = set(plugin_creators(registry)) - before
    if not added:
        raise EdgesegError(
            f"plugin library {path} registered no TensorRT plugin creators: is it the edgeseg plugin "
            "library, built against this TensorRT?"
        )
    loaded = LoadedPlugins(path=path, sha256=sha256_file(path), creators=tuple(sorted(added)))
    LOG.debug("loaded %s: %s", path, ", ".join(f"{n}/{v}@{ns or '-'}" for n, v, ns in loaded.creators))
    _LOADED[path] = loaded
    return loaded
