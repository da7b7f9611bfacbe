"""edgeseg.trt.cuda picks cuda-python's runtime module by what the install has (fake modules, no GPU)."""

from __future__ import annotations

import sys
import types
from enum import Enum

import pytest

from edgeseg.errors import EdgesegError
from edgeseg.trt import cuda


def fake_runtime(name: str) -> types.ModuleType:
    """Just enough of cuda-python's runtime module for CudaPython's constructor."""

    class cudaError_t(Enum):  # noqa: N801 (cuda-python's name)
        cudaSuccess = 0

    module = types.ModuleType(name)
    module.cudaError_t = cudaError_t  # type: ignore[attr-defined]
    module.cudaGetDeviceCount = lambda: (cudaError_t.cudaSuccess, 1)  # type: ignore[attr-defined]
    return module


def install(monkeypatch: pytest.MonkeyPatch, new: bool, old: bool) -> None:
    """sys.modules as cuda-python >= 12.6.1 (new), < 12.6.1 (old only) or absent lays out `cuda`."""
    package = types.ModuleType("cuda")
    package.__path__ = []  # a package, so `from cuda import x` looks in sys.modules
    monkeypatch.setitem(sys.modules, "cuda", package)
    if new:
        bindings = types.ModuleType("cuda.bindings")
        bindings.__path__ = []
        bindings.runtime = fake_runtime("cuda.bindings.runtime")  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "cuda.bindings", bindings)
        monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", bindings.runtime)  # type: ignore[attr-defined]
    else:
        monkeypatch.setitem(sys.modules, "cuda.bindings", None)  # None in sys.modules = ImportError
        monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", None)
    if old:
        package.cudart = fake_runtime("cuda.cudart")  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "cuda.cudart", package.cudart)  # type: ignore[attr-defined]
    else:
        monkeypatch.setitem(sys.modules, "cuda.cudart", None)


def test_new_layout_is_preferred(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, new=True, old=True)
    module, name = cuda.import_cudart()
    assert name == "cuda.bindings.runtime" and module.__name__ == "cuda.bindings.runtime"


def test_old_jetpack_install_falls_back_to_cuda_cudart(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, new=False, old=True)
    binding = cuda.CudaPython(0)
    assert binding.module_name == "cuda.cudart"


def test_neither_layout_names_the_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, new=False, old=False)
    monkeypatch.setitem(sys.modules, "pycuda", None)
    monkeypatch.setitem(sys.modules, "pycuda.driver", None)
    with pytest.raises(EdgesegError) as err:
        cuda.open_cuda("auto")
    message = str(err.value)
    assert "cuda-python >= 12.6.1" in message and "cuda.cudart" in message and "< 13" in message
    assert "pip install 'cuda-python>=12.6.1,<13'" in message
