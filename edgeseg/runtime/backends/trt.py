"""TensorRT backend: runs an edgeseg engine on an NVIDIA GPU behind the same Backend protocol as ORT.

Why this shape: each in-flight batch owns an execution context, a CUDA stream and its pinned host
and device buffers (a "slot"), so copies in, `execute_async_v3` and copies out of one batch overlap
with the next batch's. The caller's thread enqueues (cheap); a worker thread waits for the stream
and hands back the outputs. Before TensorRT sees the plan, the sidecar is checked against this
machine, so an engine built for another TensorRT or GPU is refused with rebuild advice.

Imports TensorRT (or TensorRT for RTX, as the sidecar says) and the CUDA binding lazily; it stands
on edgeseg.trt only, never on the builder, so the runtime stays torch-free and build-free.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.runtime.backend import TensorSpec, check_inputs
from edgeseg.trt.compat import Flavour, load_tensorrt
from edgeseg.trt.cuda import Cuda, open_cuda
from edgeseg.trt.sidecar import EngineMetadata, Target, check_engine_matches, read_sidecar, sidecar_path

if TYPE_CHECKING:
    import tensorrt as trt

LOG = logging.getLogger(__name__)
MinMax = tuple[tuple[int, ...], tuple[int, ...]]  # (min shape, max shape) of an input's profile
ShapeRanges = Mapping[str, MinMax]


def check_batch(
    batch: Mapping[str, np.ndarray], inputs: list[TensorSpec], ranges: ShapeRanges
) -> dict[str, np.ndarray]:
    """Validate a batch against the engine's inputs and profile; returns C-contiguous arrays.

    Errors name the input and what to do (rebuild with a larger profile, convert the dtype) instead
    of surfacing as a TensorRT shape error from inside `execute_async_v3`.
    """
    feed = check_inputs(batch, inputs, "engine")
    for spec in inputs:
        value = feed[spec.name]
        lo, hi = ranges.get(spec.name, (None, None))
        for axis, got in enumerate(value.shape):
            want = spec.shape[axis]
            if isinstance(want, int) and got != want:
                raise EdgesegError(f"input {spec.name!r} axis {axis} is {got}, the engine fixes it to {want}")
            if lo is not None and hi is not None and not lo[axis] <= got <= hi[axis]:
                what = "batch" if axis == 0 else f"axis {axis}"
                flag = f" (`edgeseg build ... --max-batch {got}`)" if axis == 0 and got > hi[axis] else ""
                raise EdgesegError(
                    f"input {spec.name!r}: {what} {got} is outside the engine's profile "
                    f"{lo[axis]}..{hi[axis]}: "
                    f"split the batch or rebuild the engine with a wider range{flag}"
                )
        feed[spec.name] = np.ascontiguousarray(value)
    return feed


def _ints(dims: trt.Dims) -> tuple[int, ...]:
    """A TensorRT Dims as a tuple (-1 marks a dynamic dimension)."""
    return tuple(int(dims[i]) for i in range(len(dims)))


@dataclass
class _Buffer:
    host: np.ndarray  # pinned uint8 bytes
    device: int
    capacity: int


@dataclass
class _Slot:
    """What one in-flight batch owns."""

    context: trt.IExecutionContext
    stream: int
    buffers: dict[str, _Buffer] = field(default_factory=dict)


class TrtBackend:
    """A Backend over one TensorRT engine file (with its `.engine.json` sidecar)."""

    name = "tensorrt"

    def __init__(
        self,
        engine: str | Path,
        device: int = 0,
        in_flight: int = 2,
        cuda_binding: str = "auto",
        plugin_library: str | Path | None = None,
        require_sidecar: bool = True,
    ) -> None:
        path = Path(engine)
        if not path.is_file():
            raise EdgesegError(f"engine {path} not found: build one with `edgeseg build MODEL --precision P`")
        if in_flight < 1:
            raise EdgesegError(f"in_flight must be >= 1, got {in_flight}")
        # The sidecar names the flavour (TensorRT for RTX engines need its runtime, and an RTX GPU);
        # a missing TensorRT is reported before a missing sidecar: it is the first thing to fix.
        has_sidecar = sidecar_path(path).is_file()
        self.metadata: EngineMetadata | None = read_sidecar(path) if has_sidecar else None
        flavour: Flavour = "rtx" if self.metadata and self.metadata.target.flavour == "rtx" else "tensorrt"
        trt_module, _ = load_tensorrt(flavour)
        if require_sidecar and not has_sidecar:
            read_sidecar(path)  # raises the error that says how to get one
        self._trt = trt_module

        from edgeseg.trt.hooks import logger

        self._cuda: Cuda = open_cuda(cuda_binding, device)
        gpu = self._cuda.gpu_info()
        here = Target(str(trt_module.__version__), gpu.name, gpu.compute_capability, flavour=flavour)
        if self.metadata is not None:
            check_engine_matches(path, self.metadata, here)
        self._load_plugins(plugin_library)
        with self._cuda.activate():
            self._runtime = trt_module.Runtime(logger(trt_module))
            engine_obj = self._runtime.deserialize_cuda_engine(path.read_bytes())
            if engine_obj is None:
                raise EdgesegError(
                    f"TensorRT {trt_module.__version__} could not load {path.name} (see the log with -v): "
                    "rebuild it here with `edgeseg build`"
                )
            self._engine: trt.ICudaEngine = engine_obj
            self._inputs, self._outputs, self._ranges = self._describe()
            self._slots = [self._new_slot() for _ in range(in_flight)]
        self._free: queue.Queue[_Slot] = queue.Queue()
        for slot in self._slots:
            self._free.put(slot)
        self._pool = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="trt-wait")

    def _load_plugins(self, plugin_library: str | Path | None) -> None:
        """Register the plugin library when the engine was built with one (or one is given)."""
        recorded = self.metadata.plugin_library_sha256 if self.metadata else None
        if plugin_library is None and recorded is None:
            return
        from edgeseg.trt.plugin_loader import load_plugin_library

        loaded = load_plugin_library(Path(plugin_library) if plugin_library else None)
        if recorded and loaded.sha256 != recorded:
            LOG.warning(
                "plugin library %s differs from the one the engine was built with; if results look wrong, "
                "rebuild the engine",
                loaded.path,
            )

    def _describe(self) -> tuple[list[TensorSpec], list[TensorSpec], dict[str, MinMax]]:
        trt = self._trt
        inputs, outputs, ranges = [], [], {}
        engine = self._engine
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            dims = _ints(engine.get_tensor_shape(name))
            shape = tuple(None if d < 0 else d for d in dims)
            dtype = trt.nptype(engine.get_tensor_dtype(name))  # type: ignore[no-untyped-call]  # untyped in stubs
            spec = TensorSpec(name, shape, np.dtype(dtype))
            if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                inputs.append(spec)
                if any(d is None for d in shape):
                    lo, _, hi = engine.get_tensor_profile_shape(name, 0)
                    ranges[name] = (_ints(lo), _ints(hi))
            else:
                outputs.append(spec)
        return inputs, outputs, ranges

    def _new_slot(self) -> _Slot:
        context = self._engine.create_execution_context()
        if context is None:
            raise EdgesegError("TensorRT could not create an execution context: the GPU is out of memory")
        return _Slot(context=context, stream=self._cuda.create_stream())

    def _buffer(self, slot: _Slot, name: str, nbytes: int) -> _Buffer:
        """The slot's buffers for `name`, grown (never shrunk) to hold `nbytes`."""
        buf = slot.buffers.get(name)
        if buf is None or buf.capacity < nbytes:
            if buf is not None:
                self._cuda.free_pinned(buf.host)
                self._cuda.free_device(buf.device)
            capacity = max(nbytes, 1)
            host = self._cuda.alloc_pinned((capacity,), np.dtype(np.uint8))
            buf = _Buffer(host, self._cuda.alloc_device(capacity), capacity)
            slot.buffers[name] = buf
        return buf

    def inputs(self) -> list[TensorSpec]:
        return list(self._inputs)

    def outputs(self) -> list[TensorSpec]:
        return list(self._outputs)

    def infer(self, batch: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one batch synchronously."""
        return self.infer_async(batch).result()

    def infer_async(self, batch: Mapping[str, np.ndarray]) -> Future[dict[str, np.ndarray]]:
        """Enqueue one batch on a free slot's stream; blocks only while every slot is in flight."""
        try:
            feed = check_batch(batch, self._inputs, self._ranges)
        except EdgesegError as err:
            failed: Future[dict[str, np.ndarray]] = Future()
            failed.set_exception(err)
            return failed
        slot = self._free.get()
        try:
            views = self._enqueue(slot, feed)
        except BaseException:
            self._free.put(slot)
            raise
        return self._pool.submit(self._finish, slot, views)

    def _enqueue(self, slot: _Slot, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ctx, cuda = slot.context, self._cuda
        with cuda.activate():
            for name, value in feed.items():
                ctx.set_input_shape(name, value.shape)
                buf = self._buffer(slot, name, value.nbytes)
                host = buf.host[: value.nbytes].view(value.dtype).reshape(value.shape)
                np.copyto(host, value)
                cuda.htod_async(buf.device, host, slot.stream)
                ctx.set_tensor_address(name, buf.device)
            views = {}
            for spec in self._outputs:
                shape = _ints(ctx.get_tensor_shape(spec.name))
                if any(d < 0 for d in shape):
                    raise EdgesegError(
                        f"output {spec.name!r} has a data-dependent shape {shape}: edgeseg engines use "
                        "fixed-size outputs; rebuild from an edgeseg-exported graph"
                    )
                nbytes = int(np.prod(shape, dtype=np.int64)) * spec.dtype.itemsize
                buf = self._buffer(slot, spec.name, nbytes)
                ctx.set_tensor_address(spec.name, buf.device)
                views[spec.name] = buf.host[:nbytes].view(spec.dtype).reshape(shape)
            if not ctx.execute_async_v3(slot.stream):
                raise RuntimeError("TensorRT execute_async_v3 failed (see the TensorRT log with -v)")
            for spec in self._outputs:
                cuda.dtoh_async(views[spec.name], slot.buffers[spec.name].device, slot.stream)
        return views

    def _finish(self, slot: _Slot, views: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            self._cuda.synchronize(slot.stream)
            return {name: view.copy() for name, view in views.items()}  # the pinned buffer is reused
        finally:
            self._free.put(slot)

    def close(self) -> None:
        """Wait for in-flight batches, then release contexts, streams and buffers."""
        self._pool.shutdown(wait=True)
        with self._cuda.activate():
            for slot in self._slots:
                for buf in slot.buffers.values():
                    self._cuda.free_pinned(buf.host)
                    self._cuda.free_device(buf.device)
                self._cuda.destroy_stream(slot.stream)
            self._slots = []  # drops the execution contexts
