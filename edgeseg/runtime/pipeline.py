"""The streaming pipeline: decode -> preprocess -> infer -> postprocess -> sink, one thread per stage.

Stages are joined by bounded queues, so a slow stage holds the others back instead of piling up
frames. Policy `all` blocks and loses nothing (files, offline jobs); policy `live` drops the oldest
waiting frame when inference falls behind (cameras, robots), and counts every drop, so
frames_in == frames_out + dropped at the end of a stream. An exception in any stage stops all of
them and is raised to the caller naming the stage; sinks are closed on every way out.

    with Pipeline("clip.mp4", model=adapter, backend=backend, sinks=["out.mp4"]) as p:
        for result in p:
            ...
"""
from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.runtime import resolve
from edgeseg.runtime.adapters import TaskAdapter
from edgeseg.runtime.backend import Backend
from edgeseg.runtime.min_score import DEFAULT_MIN_SCORE, check_min_score, with_min_score
from edgeseg.runtime.results import FrameResult
from edgeseg.runtime.sinks import Sink, StopStream, check_sinks, open_sink
from edgeseg.runtime.sources import Frame, Source, check_image, open_source
from edgeseg.runtime.stats import Stats, StatsRecorder

log = logging.getLogger(__name__)

POLICIES = ("live", "all")
_POLL_S = 0.05


class StageError(RuntimeError):
    """A bug or backend failure inside one stage; `stage` names it and `__cause__` is the original."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"pipeline stage '{stage}' failed: {type(error).__name__}: {error}")
        self.stage = stage


class _End:
    """The end-of-stream sentinel that travels through every queue."""


_END = _End()


class _Stopped(Exception):
    """Raised inside a stage thread when the pipeline is shutting down."""


@dataclass
class _Item:
    frame_id: int
    frame: Frame
    inputs: dict[str, np.ndarray] | None = None
    meta: Any = None
    outputs: dict[str, np.ndarray] | None = None
    result: FrameResult | None = None
    stamps: dict[str, float] = field(default_factory=dict)


class Pipeline:
    """A running stream from a source through a model to sinks; iterate it or `run(callback)` it.

    source: a URI (see sources.open_source), a Source, or an iterable of RGB frames.
    model: a TaskAdapter, or a zoo name / exported .onnx / .engine path (adapter from its metadata).
    backend: any object satisfying the Backend protocol (ONNX Runtime, TensorRT, a test double), or
        "auto" / "ort" / "trt" to open the model (or the adapter's `model_path`) through the same
        resolver as `edgeseg run` (the pipeline then closes it too); "auto": TensorRT for an .engine;
        or "triton://HOST:PORT/MODEL": inference on a Triton server (`edgeseg serve`), the adapter
        from the server's metadata (model may then be None).
    sinks: URIs ("out.mp4", "results.jsonl", "display://"), Sink objects or callables(result).
    policy: "live" or "all"; default: "live" for live sources (cameras, streams), else "all".
    batch, max_wait_s: infer up to `batch` frames at once, waiting at most `max_wait_s` to fill one.
    queue_size: frames each stage queue holds (None: a default per policy).
    min_score: drop detections scoring below it (the CLI's --min-score, same default).
    source_options: keyword options for the source (see sources.open_source); unknown ones are refused.

    Everything that can be checked without running (values, sink paths, a sink that is the source) is
    checked here, before the model is loaded.
    """

    def __init__(self, source: str | int | Source | Iterable[np.ndarray],
                 model: TaskAdapter | str | Path | None = None, backend: Backend | str = "auto",
                 sinks: Iterable[str | Sink | Callable[[FrameResult], Any]] = (),
                 policy: str | None = None, batch: int = 1, max_wait_s: float = 0.005,
                 queue_size: int | None = None, source_options: Mapping[str, Any] | None = None,
                 min_score: float = DEFAULT_MIN_SCORE) -> None:
        if policy is not None and policy not in POLICIES:
            raise EdgesegError(f"unknown policy {policy!r}: use 'live' (drop old frames) or 'all' "
                               "(lose none)")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise EdgesegError(f"batch must be an integer >= 1, got {batch!r}")
        if queue_size is not None and (isinstance(queue_size, bool) or not isinstance(queue_size, int)
                                       or queue_size < 1):
            raise EdgesegError(f"queue_size must be an integer >= 1 (or None for the default), got "
                               f"{queue_size!r}")
        if not (isinstance(max_wait_s, (int, float)) and math.isfinite(max_wait_s) and max_wait_s >= 0):
            raise EdgesegError(f"max_wait_s must be a finite number of seconds >= 0, got {max_wait_s!r}")
        if model is None and not resolve.is_triton(backend):
            raise EdgesegError("model is None: pass a TaskAdapter, a zoo name, an .onnx or an .engine (or "
                               "backend='triton://HOST:PORT/MODEL')")
        if isinstance(backend, str):
            resolve.check_backend(backend)
        min_score = check_min_score(min_score)
        self._sink_specs = list(sinks)
        source_obj = open_source(source, **dict(source_options or {}))
        check_sinks(self._sink_specs, source_obj.uri)
        self._owns_backend = isinstance(backend, str)
        if model is None or isinstance(model, (str, Path)):
            if not isinstance(backend, str):
                raise EdgesegError("model given by name or path: pass backend='auto', 'ort' or 'trt', or a "
                                   "TaskAdapter with your own backend object")
            model, backend = resolve.open_model(None if model is None else str(model), backend, threads=0)
        elif isinstance(backend, str):
            backend = resolve.open_backend(backend, getattr(model, "model_path", None))
        if not isinstance(backend, Backend):
            raise EdgesegError(f"backend {backend!r} does not implement the Backend protocol "
                               "(inputs, outputs, infer, infer_async, close)")
        self.source = source_obj
        self.policy = policy or ("live" if self.source.is_live else "all")
        self.model, self.backend = with_min_score(model, min_score), backend
        self.sinks: list[Sink] = []
        self.batch, self.fixed_batch = self._batch_limits(batch)
        self.max_wait_s = max_wait_s
        depth = queue_size or (1 if self.policy == "live" else max(4, 2 * self.batch))
        self._decoded: queue.Queue[Any] = queue.Queue(maxsize=depth if self.policy == "all" else 2)
        self._prepped: queue.Queue[Any] = queue.Queue(maxsize=max(depth, self.batch))
        self._inferred: queue.Queue[Any] = queue.Queue(maxsize=max(depth, self.batch))
        self._done: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._out: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error: tuple[str, BaseException] | None = None
        self._sink_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._started = self._closed = self._finished = False
        self.recorder = StatsRecorder()

    def _batch_limits(self, batch: int) -> tuple[int, int | None]:
        """Clamp the batch to what the graph accepts: a fixed leading dimension caps it (and smaller
        batches are padded up to it)."""
        dims = {spec.shape[0] for spec in self.backend.inputs() if spec.shape}
        fixed = [d for d in dims if isinstance(d, int) and d > 0]
        if not fixed:
            return batch, None
        size = min(fixed)
        if batch > size:
            log.info("the graph has a fixed batch of %d; batching %d frames at a time", size, size)
        return min(batch, size), size

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Pipeline:
        """Open the source and sinks (errors raise here, in the caller's thread) and start the stages."""
        if self._started:
            return self
        self._started = True
        try:
            self.source.open()
            self.sinks = [open_sink(spec, fps=self.source.fps) for spec in self._sink_specs]
        except BaseException:
            self.close()
            raise
        stages = [("decode", self._decode_stage), ("preprocess", self._preprocess_stage),
                  ("infer", self._infer_stage), ("postprocess", self._postprocess_stage),
                  ("sink", self._sink_stage)]
        self.recorder.start()
        for name, body in stages:
            thread = threading.Thread(target=self._run_stage, args=(name, body), name=f"edgeseg-{name}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop every stage, then close sinks and the source, whatever happened before."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        try:
            deadline = time.monotonic() + timeout_s
            for thread in self._threads:
                thread.join(max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    log.warning("stage thread %s did not stop in time", thread.name)
        finally:
            self.recorder.stop()
            dropped = self.recorder.dropped
            if dropped:
                log.warning("policy %s dropped %d of %d frames to keep up with the source (policy 'all', "
                            "--policy all, keeps every frame)", self.policy, dropped, self.recorder.frames_in)
            errors = []
            with self._sink_lock:
                for sink in self.sinks:
                    try:
                        sink.close()
                    except Exception as err:  # close every sink even if one fails
                        errors.append(err)
            self.source.close()
            if self._owns_backend:
                self.backend.close()
            if errors:
                raise errors[0]

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- consumer side ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator[FrameResult]:
        """Results in frame order; the pipeline closes (sinks flushed) when the iteration ends."""
        self.start()
        try:
            while not self._finished:
                self._raise_stage_error()
                try:
                    item = self._out.get(timeout=_POLL_S)
                except queue.Empty:
                    if self._stop.is_set() and self._error is None:
                        return
                    continue
                if item is _END:
                    self._finished = True
                    if self.source.end_error is not None:  # every frame read has been delivered
                        raise self.source.end_error
                    return
                yield item
        finally:
            self.close()

    def run(self, callback: Callable[[FrameResult], Any] | None = None) -> Stats:
        """Drive the stream to its end (or the first error), calling `callback` per result; the control
        loop form. Closes the pipeline and returns the stats."""
        try:
            for result in self:
                if callback is not None:
                    callback(result)
        finally:
            self.close()
        return self.stats

    @property
    def stats(self) -> Stats:
        return self.recorder.snapshot(reconnects=self.source.reconnects)

    def _raise_stage_error(self) -> None:
        if self._error is None:
            return
        stage, err = self._error
        if isinstance(err, EdgesegError):
            raise EdgesegError(f"{stage}: {err}") from err
        raise StageError(stage, err) from err

    # ---- stage plumbing --------------------------------------------------------------------------
    def _run_stage(self, name: str, body: Callable[[], None]) -> None:
        try:
            body()
        except (_Stopped, StopStream):
            self._stop.set()
        except BaseException as err:
            if self._error is None:
                self._error = (name, err)
            self._stop.set()

    def _get(self, q: queue.Queue[Any]) -> Any:
        while True:
            if self._stop.is_set():
                raise _Stopped
            try:
                return q.get(timeout=_POLL_S)
            except queue.Empty:
                continue

    def _put(self, q: queue.Queue[Any], item: Any) -> None:
        while True:
            if self._stop.is_set():
                raise _Stopped
            try:
                q.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue

    def _put_dropping_oldest(self, q: queue.Queue[Any], item: Any) -> None:
        """Live policy: never wait for the consumer; evict the oldest waiting frame and count it."""
        while True:
            try:
                q.put_nowait(item)
                return
            except queue.Full:
                try:
                    q.get_nowait()
                except queue.Empty:
                    continue
                self.recorder.drop()

    # ---- stages ----------------------------------------------------------------------------------
    def _decode_stage(self) -> None:
        frame_id = 0
        while True:
            # checked here, not only in _put: under policy live the put never waits, so an endless
            # source would otherwise keep this thread reading until close() gives up on it
            if self._stop.is_set():
                raise _Stopped
            t0 = time.monotonic()
            frame = self.source.read()
            if frame is None:
                self._put(self._decoded, _END)
                return
            check_image(frame.image, f"frame {frame_id} of {self.source.uri}")
            end = time.monotonic()
            self.recorder.stage("decode", end - t0)
            self.recorder.produced()
            item = _Item(frame_id, frame, stamps={"capture": frame.capture_time, "decode": end})
            frame_id += 1
            if self.policy == "live":
                self._put_dropping_oldest(self._decoded, item)
            else:
                self._put(self._decoded, item)

    def _preprocess_stage(self) -> None:
        while (item := self._get(self._decoded)) is not _END:
            t0 = time.monotonic()
            item.inputs, item.meta = self.model.preprocess(item.frame.image)
            item.stamps["preprocess"] = time.monotonic()
            self.recorder.stage("preprocess", item.stamps["preprocess"] - t0,
                                waits=[t0 - item.stamps["decode"]])
            self._put(self._prepped, item)
        self._put(self._prepped, _END)

    def _collect_batch(self) -> tuple[list[_Item], bool]:
        """Up to `batch` items: the first waits as long as needed, the rest at most max_wait_s."""
        first = self._get(self._prepped)
        if first is _END:
            return [], True
        items = [first]
        deadline = time.monotonic() + self.max_wait_s
        while len(items) < self.batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                item = self._prepped.get(timeout=remaining)
            except queue.Empty:
                break
            if item is _END:
                return items, True
            items.append(item)
        return items, False

    def _infer_stage(self) -> None:
        ended = False
        while not ended:
            items, ended = self._collect_batch()
            if not items:
                break
            t0 = time.monotonic()
            inputs = self._stack([it.inputs or {} for it in items])
            outputs = self.backend.infer(inputs)
            end = time.monotonic()
            self.recorder.stage("infer", end - t0, frames=len(items),
                                waits=[t0 - it.stamps["preprocess"] for it in items])
            self.recorder.batch()
            size = len(next(iter(inputs.values())))
            for name, value in outputs.items():
                if np.ndim(value) == 0 or len(value) != size:
                    raise EdgesegError(f"backend output {name!r} has shape {np.shape(value)}, expected a "
                                       f"leading batch dimension of {size}: the adapter and graph disagree")
            for i, item in enumerate(items):
                item.outputs = {name: value[i] for name, value in outputs.items()}
                item.stamps["infer"] = end
                self._put(self._inferred, item)
        self._put(self._inferred, _END)

    def _stack(self, per_frame: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Concatenate frames along the batch axis, padding up to a fixed graph batch with the last."""
        if self.fixed_batch is not None and len(per_frame) < self.fixed_batch:
            per_frame = per_frame + [per_frame[-1]] * (self.fixed_batch - len(per_frame))
        return {name: np.concatenate([inputs[name] for inputs in per_frame], axis=0) for name in per_frame[0]}

    def _postprocess_stage(self) -> None:
        while (item := self._get(self._inferred)) is not _END:
            t0 = time.monotonic()
            image = item.frame.image
            result = FrameResult(item.frame_id, image.shape[0], image.shape[1], pts=item.frame.pts,
                                 image=image, timestamps=item.stamps)
            self.model.postprocess(item.outputs or {}, item.meta, result)
            result.timestamps["postprocess"] = time.monotonic()
            self.recorder.stage("postprocess", result.timestamps["postprocess"] - t0,
                                waits=[t0 - item.stamps["infer"]])
            item.result = result
            self._put(self._done, item)
        self._put(self._done, _END)

    def _sink_stage(self) -> None:
        from edgeseg.runtime.overlays import render

        needs_image = any(sink.needs_image for sink in self.sinks)
        while (item := self._get(self._done)) is not _END:
            result = item.result
            t0 = time.monotonic()
            image = render(result) if needs_image else None
            with self._sink_lock:
                for sink in self.sinks:
                    sink.write(result, image)
            result.timestamps["sink"] = end = time.monotonic()
            self.recorder.stage("sink", end - t0, waits=[t0 - result.timestamps["postprocess"]])
            self.recorder.delivered(end - result.timestamps["capture"])
            self._put(self._out, result)
        self._put(self._out, _END)
