"""CUDA memory, streams and device facts through pycuda or, as the fallback, cuda-python.

Why two bindings: Jetson users know pycuda (it builds on JetPack from source), while NVIDIA's own
TensorRT samples moved to cuda-python's `cuda.bindings`. The TensorRT backend and the builder use
only the small `Cuda` protocol below, so which binding is installed does not matter to them.
Pointers and stream handles are plain ints, which is what TensorRT's Python API takes.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from edgeseg.errors import EdgesegError

BINDINGS = ("pycuda", "cuda-python")
INSTALL_HINT = (
    "install pycuda (`pip install pycuda`, needs nvcc on PATH; on Jetson it builds from source) or "
    "cuda-python (`pip install 'cuda-python>=12.6.1,<13'` for CUDA 12 / JetPack 6, "
    "`cuda-python>=13` for CUDA 13; older 12.x releases work through `cuda.cudart`)"
)
DRIVER_HINT = (
    "no usable NVIDIA driver: install the NVIDIA driver (on Jetson it comes with JetPack) and check that "
    "`nvidia-smi` (desktop) or `tegrastats` (Jetson) sees the GPU"
)


@dataclass(frozen=True)
class GpuInfo:
    """The identity of a GPU as recorded in an engine's sidecar."""

    name: str
    compute_capability: tuple[int, int]
    total_memory: int
    driver_version: str  # CUDA version the driver supports, e.g. "12.6"
    runtime_version: str  # CUDA version of the binding's runtime, e.g. "12.6"
    binding: str


def cuda_version_str(encoded: int) -> str:
    """CUDA's 1000*major + 10*minor encoding as text: 12060 -> '12.6'."""
    return f"{encoded // 1000}.{(encoded % 1000) // 10}"


class Cuda(Protocol):
    """The CUDA operations the TensorRT backend needs; all calls are made on the chosen device."""

    binding: str

    def gpu_info(self) -> GpuInfo: ...

    def activate(self) -> Any:
        """A context manager making the device current in the calling thread."""
        ...

    def create_stream(self) -> int: ...

    def destroy_stream(self, stream: int) -> None: ...

    def alloc_pinned(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray: ...

    def free_pinned(self, array: np.ndarray) -> None: ...

    def alloc_device(self, nbytes: int) -> int: ...

    def free_device(self, ptr: int) -> None: ...

    def htod_async(self, dst: int, src: np.ndarray, stream: int) -> None: ...

    def dtoh_async(self, dst: np.ndarray, src: int, stream: int) -> None: ...

    def synchronize(self, stream: int) -> None: ...


class PyCuda:
    """pycuda on the device's primary context (the one TensorRT's runtime API uses too)."""

    binding = "pycuda"

    def __init__(self, device: int = 0) -> None:
        import pycuda.driver as drv

        self._drv = drv
        try:
            drv.init()
            if device >= drv.Device.count():
                raise EdgesegError(f"CUDA device {device} does not exist ({drv.Device.count()} visible)")
            self._device = drv.Device(device)
            self._ctx = self._device.retain_primary_context()
        except drv.Error as err:
            raise EdgesegError(f"{DRIVER_HINT} (pycuda: {err})") from None
        self._streams: dict[int, Any] = {}
        self._allocations: dict[int, Any] = {}

    @contextmanager
    def activate(self) -> Iterator[None]:
        self._ctx.push()
        try:
            yield
        finally:
            self._drv.Context.pop()

    def gpu_info(self) -> GpuInfo:
        major, minor = self._device.compute_capability()
        runtime = self._drv.get_version()
        return GpuInfo(
            name=str(self._device.name()),
            compute_capability=(int(major), int(minor)),
            total_memory=int(self._device.total_memory()),
            driver_version=cuda_version_str(int(self._drv.get_driver_version())),
            runtime_version=f"{runtime[0]}.{runtime[1]}",
            binding=self.binding,
        )

    def create_stream(self) -> int:
        with self.activate():
            stream = self._drv.Stream()
        self._streams[int(stream.handle)] = stream
        return int(stream.handle)

    def destroy_stream(self, stream: int) -> None:
        self._streams.pop(stream, None)

    def alloc_pinned(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        with self.activate():
            return self._drv.pagelocked_empty(shape, dtype)  # type: ignore[no-any-return]

    def free_pinned(self, array: np.ndarray) -> None:
        base = array.base
        if base is not None and hasattr(base, "free"):
            with self.activate():
                base.free()

    def alloc_device(self, nbytes: int) -> int:
        with self.activate():
            allocation = self._drv.mem_alloc(max(nbytes, 1))
        self._allocations[int(allocation)] = allocation
        return int(allocation)

    def free_device(self, ptr: int) -> None:
        allocation = self._allocations.pop(ptr, None)
        if allocation is not None:
            with self.activate():
                allocation.free()

    def htod_async(self, dst: int, src: np.ndarray, stream: int) -> None:
        with self.activate():
            self._drv.memcpy_htod_async(dst, src, self._streams[stream])

    def dtoh_async(self, dst: np.ndarray, src: int, stream: int) -> None:
        with self.activate():
            self._drv.memcpy_dtoh_async(dst, src, self._streams[stream])

    def synchronize(self, stream: int) -> None:
        with self.activate():
            self._streams[stream].synchronize()


def import_cudart() -> tuple[Any, str]:
    """cuda-python's runtime module and its import name.

    Why two names: `cuda.bindings.runtime` exists from cuda-python 12.6.1 (and is the only one
    from 13.0); older 12.x installs, as found on earlier JetPack 6 images, have `cuda.cudart`.
    """
    try:
        from cuda.bindings import runtime

        return runtime, "cuda.bindings.runtime"
    except ImportError as new_err:
        try:
            from cuda import cudart

            return cudart, "cuda.cudart"
        except ImportError:
            raise ImportError(
                f"neither cuda.bindings.runtime (cuda-python >= 12.6.1) nor cuda.cudart (cuda-python "
                f"< 13) imports: {new_err}"
            ) from None


class CudaPython:
    """cuda-python's runtime API (`cuda.bindings.runtime`, or `cuda.cudart` before 12.6.1), as
    NVIDIA's TensorRT samples use it."""

    binding = "cuda-python"

    def __init__(self, device: int = 0) -> None:
        cudart, self.module_name = import_cudart()
        self._rt = cudart
        self._device = device
        self._streams: dict[int, Any] = {}
        self._pinned: dict[int, int] = {}  # numpy data address -> cudaMallocHost pointer
        count = self._call("cudaGetDeviceCount", cudart.cudaGetDeviceCount())
        if device >= int(count):
            raise EdgesegError(f"CUDA device {device} does not exist ({count} visible)")

    def _call(self, what: str, result: Any) -> Any:
        """Unpack cuda-python's (error, value...) tuples into the value or a clear error."""
        err, *values = result if isinstance(result, tuple) else (result,)
        if err != self._rt.cudaError_t.cudaSuccess:
            name = getattr(err, "name", str(err))
            if name in ("cudaErrorInsufficientDriver", "cudaErrorNoDevice", "cudaErrorInitializationError"):
                raise EdgesegError(f"{DRIVER_HINT} ({what}: {name})")
            raise RuntimeError(f"{what} failed: {name}")
        if not values:
            return None
        return values[0] if len(values) == 1 else tuple(values)

    @contextmanager
    def activate(self) -> Iterator[None]:
        self._call("cudaSetDevice", self._rt.cudaSetDevice(self._device))
        yield

    def gpu_info(self) -> GpuInfo:
        rt = self._rt
        props = self._call("cudaGetDeviceProperties", rt.cudaGetDeviceProperties(self._device))
        driver = int(self._call("cudaDriverGetVersion", rt.cudaDriverGetVersion()))
        runtime = int(self._call("cudaRuntimeGetVersion", rt.cudaRuntimeGetVersion()))
        name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
        return GpuInfo(
            name=name.rstrip("\x00"),
            compute_capability=(int(props.major), int(props.minor)),
            total_memory=int(props.totalGlobalMem),
            driver_version=cuda_version_str(driver),
            runtime_version=cuda_version_str(runtime),
            binding=self.binding,
        )

    def create_stream(self) -> int:
        with self.activate():
            stream = self._call(
                "cudaStreamCreateWithFlags",
                self._rt.cudaStreamCreateWithFlags(self._rt.cudaStreamNonBlocking),
            )
        self._streams[int(stream)] = stream
        return int(stream)

    def destroy_stream(self, stream: int) -> None:
        handle = self._streams.pop(stream, None)
        if handle is not None:
            self._call("cudaStreamDestroy", self._rt.cudaStreamDestroy(handle))

    def alloc_pinned(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        nbytes = max(count * dtype.itemsize, 1)
        with self.activate():
            ptr = int(self._call("cudaMallocHost", self._rt.cudaMallocHost(nbytes)))
        raw = (ctypes.c_uint8 * nbytes).from_address(ptr)
        array = np.frombuffer(memoryview(raw), dtype=dtype, count=count).reshape(shape)
        self._pinned[array.ctypes.data] = ptr
        return array

    def free_pinned(self, array: np.ndarray) -> None:
        ptr = self._pinned.pop(array.ctypes.data, None)
        if ptr is not None:
            self._call("cudaFreeHost", self._rt.cudaFreeHost(ptr))

    def alloc_device(self, nbytes: int) -> int:
        with self.activate():
            return int(self._call("cudaMalloc", self._rt.cudaMalloc(max(nbytes, 1))))

    def free_device(self, ptr: int) -> None:
        self._call("cudaFree", self._rt.cudaFree(ptr))

    def htod_async(self, dst: int, src: np.ndarray, stream: int) -> None:
        kind = self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        result = self._rt.cudaMemcpyAsync(dst, src.ctypes.data, src.nbytes, kind, self._streams[stream])
        self._call("cudaMemcpyAsync", result)

    def dtoh_async(self, dst: np.ndarray, src: int, stream: int) -> None:
        kind = self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        result = self._rt.cudaMemcpyAsync(dst.ctypes.data, src, dst.nbytes, kind, self._streams[stream])
        self._call("cudaMemcpyAsync", result)

    def synchronize(self, stream: int) -> None:
        self._call("cudaStreamSynchronize", self._rt.cudaStreamSynchronize(self._streams[stream]))


def open_cuda(binding: str = "auto", device: int = 0) -> Cuda:
    """The first importable binding (pycuda, then cuda-python) or the one named."""
    if binding not in ("auto", *BINDINGS):
        raise EdgesegError(f"unknown CUDA binding {binding!r}: use auto, pycuda or cuda-python")
    missing = []
    for name, cls in (("pycuda", PyCuda), ("cuda-python", CudaPython)):
        if binding not in ("auto", name):
            continue
        try:
            return cls(device)
        except ImportError as err:
            missing.append(f"{name} ({err})")
    raise EdgesegError(f"no CUDA binding is installed [{'; '.join(missing)}]: {INSTALL_HINT}")
