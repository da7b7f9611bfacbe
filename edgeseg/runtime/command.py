"""`edgeseg run`: a model over a source URI into sink URIs, with a progress bar and the latency table.

MODEL is a zoo name (the ONNX graph the zoo ships, so no torch is needed), an exported .onnx file
(the adapter comes from the graph's metadata) or a TensorRT .engine (the adapter comes from its
sidecar); `edgeseg.runtime.resolve` turns it into an adapter and a backend, as it does for
`Pipeline`. The first Ctrl-C (or SIGTERM, as a service manager sends) stops reading the source and
lets the frames in flight reach the sinks; a second one stops at once. Either way every sink is
closed, so the mp4 plays. Arguments and sink paths are checked before the model is loaded.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from edgeseg.errors import EdgesegError
from edgeseg.runtime import resolve
from edgeseg.runtime.min_score import (  # noqa: F401 - MinScore, PER_DETECTION: re-exported
    DEFAULT_MIN_SCORE,
    PER_DETECTION,
    MinScore,
    check_min_score,
)
from edgeseg.runtime.sinks import check_sinks
from edgeseg.runtime.sources import Frame, ImageGlobSource, ShapesSource, Source, VideoFileSource, open_source

# the resolver's names, kept here for callers of the command module (benchmarks, older scripts)
resolve_model = resolve.find_model
open_model = resolve.open_model

EXAMPLE = """examples:
  edgeseg run panoptic_rcnn --source clip.mp4 --sink out.mp4 --sink results.jsonl
  edgeseg run mask_rcnn --source 'photos/*.jpg' --sink preds.json   # COCO results for pycocotools
  edgeseg run model.onnx --source 'shapes://?fps=30&size=640x480' --sink display:// --policy live
  edgeseg run model.fp16.engine --source /dev/video0 --sink display:// --backend trt --batch 2
  edgeseg run --backend triton://127.0.0.1:8001/mask_rcnn --source shapes:// --sink results.jsonl

Sources: video files, image globs, 0 or /dev/video0, rtsp:// http:// ..., gst:<pipeline>, shapes://.
Sinks: out.mp4 (.mkv .mov .avi), results.jsonl, display://. Ctrl-C once finishes the frames in
flight, twice stops at once; the video stays playable either way.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="run a model on a video source and write annotated sinks",
                              description="Stream frames from a source through a model into sinks; prints "
                                          "per-stage latency at the end.",
                              epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL_OR_ENGINE", nargs="?", default=None,
                   help="zoo model name, exported .onnx or TensorRT .engine (optional with a triton:// "
                        "backend that names its model)")
    p.add_argument("--source", required=True, metavar="URI", help="where frames come from (see below)")
    p.add_argument("--sink", action="append", required=True, metavar="URI",
                   help="where results go: out.mp4 (overlays), results.jsonl (one record per frame), "
                        "preds.json (COCO results, image id = frame number), display://; repeat for several")
    p.add_argument("--policy", choices=["live", "all"], default=None,
                   help="live: drop old frames when behind; all: lose none (default: live for cameras "
                        "and streams, all for files)")
    p.add_argument("--batch", type=int, default=1, metavar="N", help="frames per inference call (default 1)")
    p.add_argument("--backend", default="auto", metavar="{auto,ort,trt,triton://HOST:PORT/MODEL}",
                   help="ort (ONNX Runtime, CPU), trt (TensorRT) or a model on a Triton server "
                        "(`edgeseg serve`); default auto: trt for .engine, else ort")
    p.add_argument("--min-score", type=float, default=DEFAULT_MIN_SCORE, metavar="S",
                   help="drop detections scoring below S (0..1) before fusion, overlays and sinks "
                        f"(default {DEFAULT_MIN_SCORE:g}: keep what the graph returns; the same default as "
                        "Pipeline(min_score=...))")
    p.add_argument("--threads", type=int, default=0, metavar="N",
                   help="ONNX Runtime threads per operator (default 0: all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


# ---- source, sinks, Ctrl-C ------------------------------------------------------------------------
class StoppableSource(Source):
    """Wraps a source so a Ctrl-C can end the stream like an end of file: frames in flight finish."""

    def __init__(self, inner: Source) -> None:
        self.inner = inner
        self.uri, self.fps, self.is_live = inner.uri, inner.fps, inner.is_live
        self.stopped = threading.Event()

    @property
    def reconnects(self) -> int:  # type: ignore[override]  # the inner source counts; this forwards
        return self.inner.reconnects

    @property
    def end_error(self) -> EdgesegError | None:  # type: ignore[override]  # forwarded, like reconnects
        return self.inner.end_error

    def open(self) -> None:
        self.inner.open()
        self.fps = self.inner.fps  # a video file knows its rate only once opened

    def read(self) -> Frame | None:
        return None if self.stopped.is_set() else self.inner.read()

    def close(self) -> None:
        self.inner.close()


def frame_count(source: Source) -> int | None:
    """How many frames a finite source will give, when that is cheap to know (for the progress bar)."""
    if isinstance(source, ImageGlobSource):
        return len(source.paths)
    if isinstance(source, ShapesSource):
        frames = parse_qs(urlsplit(source.uri).query).get("frames", ["0"])[-1]
        return int(frames) or None
    if isinstance(source, VideoFileSource):
        try:
            import av

            with av.open(source.uri) as container:
                return int(container.streams.video[0].frames) or None
        except Exception:  # the pipeline reports unreadable files properly; the bar just has no total
            return None
    return None


def prepare_sinks(specs: list[str]) -> None:
    """Create the folders of file sinks, so `--sink out/demo/demo.mp4` works on a fresh checkout."""
    for spec in specs:
        if "://" not in spec:
            Path(spec).parent.mkdir(parents=True, exist_ok=True)


class _SigintDrain:
    """First SIGINT or SIGTERM stops the source (drain), the second raises KeyboardInterrupt (stop now).

    SIGTERM is handled too because its default action kills the process before any sink is closed,
    leaving an mp4 without its index (unplayable); `signum` remembers which signal came first.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, source: StoppableSource) -> None:
        self.source = source
        self.previous: dict[int, Any] = {}
        self.signum: int | None = None

    def __enter__(self) -> _SigintDrain:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.source.stopped.is_set():
            raise KeyboardInterrupt
        self.signum = signum
        self.source.stopped.set()
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        print(f"\nstopping ({name}): finishing the frames in flight (Ctrl-C again to stop now)",
              file=sys.stderr)

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self.previous.items():
            signal.signal(sig, previous)


def _results(pipeline: Any, total: int | None, quiet: bool) -> Iterator[Any]:
    from tqdm import tqdm

    with tqdm(total=total, unit="frame", disable=True if quiet else None, dynamic_ncols=True) as bar:
        for result in pipeline:
            bar.update()
            yield result


def run(args: argparse.Namespace) -> int:
    from edgeseg.runtime.pipeline import Pipeline

    if args.batch < 1:
        raise EdgesegError(f"--batch must be >= 1, got {args.batch}")
    if args.threads < 0:
        raise EdgesegError(f"--threads must be >= 0, got {args.threads}")
    min_score = check_min_score(args.min_score, "--min-score")
    resolve.check_backend(args.backend)
    if args.model is None and not resolve.is_triton(args.backend):
        raise EdgesegError("MODEL_OR_ENGINE is required unless --backend is triton://HOST:PORT/MODEL")
    source = StoppableSource(open_source(args.source))
    check_sinks(args.sink, source.uri)
    total = frame_count(source.inner)
    prepare_sinks(args.sink)
    adapter, backend = resolve.open_model(args.model, args.backend, args.threads)
    delivered, interrupted = 0, False
    drain = _SigintDrain(source)
    try:
        pipeline = Pipeline(source, model=adapter, backend=backend, sinks=args.sink, policy=args.policy,
                            batch=args.batch, min_score=min_score)
        with drain:
            try:
                for _ in _results(pipeline, total, args.no_progress):
                    delivered += 1
            except KeyboardInterrupt:
                interrupted = True
            finally:
                pipeline.close()
    finally:
        backend.close()
    interrupted = interrupted or source.stopped.is_set()
    stats = pipeline.stats
    print(stats.table())
    for spec in args.sink:
        print(f"wrote {spec} ({delivered} frames)" if "://" not in spec else f"showed {spec}")
    skipped = getattr(source.inner, "skipped", [])
    if skipped:
        print(f"edgeseg run: warning: skipped {len(skipped)} truncated image(s), first {skipped[0]}",
              file=sys.stderr)
    if interrupted:
        print(f"edgeseg run: interrupted after {delivered} frames; sinks closed", file=sys.stderr)
        return 128 + (drain.signum or signal.SIGINT)
    return 0
