"""Result sinks by URI: `out.mp4` (annotated video), `results.jsonl`, `preds.json` (COCO results),
`display://`, a Python callback.

Sinks get every delivered result in order, plus the rendered overlay when they asked for one
(`needs_image`). The pipeline closes them on every way out (end, error, Ctrl-C); the video sink also
closes itself at interpreter exit, so the mp4 index is written and the file plays.
"""
from __future__ import annotations

import atexit
import contextlib
import fnmatch
import json
import os
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.errors import EdgesegError, missing_extra
from edgeseg.outputs import check_output_file
from edgeseg.runtime.results import FrameResult

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi")
# The video sink stops, closing the file properly, when its disk has less than this left: libavformat
# writing into a full disk fails mid-packet (and was once seen to crash), leaving an mp4 without its
# index; stopping early keeps every frame written so far playable.
MIN_FREE_BYTES = 16 << 20


def write_failed(path: Path, err: OSError, frames: int) -> EdgesegError:
    """The one-line error for a sink whose file could not be written (full disk, removed folder...)."""
    return EdgesegError(
        f"cannot write {path} after {frames} frame(s): {err.strerror or err}; free some space or pick "
        "another path and run again (what was written so far is kept)"
    )


def free_bytes(folder: Path) -> int:
    """Bytes an unprivileged writer may still use on the disk holding `folder`."""
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


class StopStream(Exception):  # noqa: N818 - a request, not an error
    """Raise from a sink or callback to end the stream cleanly (e.g. the user pressed q)."""


class Sink:
    """Base class: `write(result, image)` per frame, then `close()` once (safe to call twice)."""

    needs_image = False

    def write(self, result: FrameResult, image: np.ndarray | None) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Flush and release; called by the pipeline on every way out."""


class CallbackSink(Sink):
    """Calls `fn(result)` for every frame, from the sink thread."""

    def __init__(self, fn: Callable[[FrameResult], Any]) -> None:
        self.fn = fn

    def write(self, result: FrameResult, image: np.ndarray | None) -> None:
        self.fn(result)


class _TextFileSink(Sink):
    """A text file written frame by frame and flushed each time, between a `head` and a `tail`.

    A failed write (a full disk) truncates to the last whole frame and appends the tail when the disk
    allows, so what was written before stays readable; `close` writes the tail on every way out.
    """

    head = ""
    tail = ""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.frames = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: Any = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - lives until close
            self._file.write(self.head)
            self._whole = self._file.tell()  # bytes of whole frames on disk
        except OSError as err:
            raise EdgesegError(f"cannot write {self.path}: {err.strerror}; pick a writable path") from err

    def frame_text(self, result: FrameResult) -> str:
        raise NotImplementedError

    def write(self, result: FrameResult, image: np.ndarray | None) -> None:
        text = self.frame_text(result)
        try:
            self._file.write(text)
            self._file.flush()
        except OSError as err:
            self._keep_whole_frames()
            raise write_failed(self.path, err, self.frames) from None
        self.frames += 1
        self._whole = self._file.tell()

    def _keep_whole_frames(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            os.truncate(self.path, self._whole)
            if self.tail:
                with open(self.path, "a", encoding="utf-8") as end:
                    end.write(self.tail)

    def close(self) -> None:
        if not self._file.closed:
            try:
                self._file.write(self.tail)
                self._file.close()
            except OSError as err:
                self._keep_whole_frames()
                raise write_failed(self.path, err, self.frames) from None


class JsonlSink(_TextFileSink):
    """One COCO-like JSON object per line and frame, flushed per line so a crash loses at most one."""

    def frame_text(self, result: FrameResult) -> str:
        return json.dumps(result.to_json(), separators=(",", ":")) + "\n"


class CocoResultsSink(_TextFileSink):
    """A COCO results list (detections, RLE masks, keypoints) that `edgeseg eval --pred` and pycocotools
    read; each frame's image id is its frame number (0, 1, ... in source order). Entries are written
    as frames arrive, so memory stays flat; the closing bracket comes at close, which the pipeline
    runs on every way out (a frame that fails to write leaves the list closed after the last whole one).
    """

    head = "["
    tail = "\n]\n"

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self.entries = 0

    def frame_text(self, result: FrameResult) -> str:
        from edgeseg.runtime.coco_results import coco_entries

        entries = [json.dumps(e, separators=(",", ":")) for e in coco_entries(result, result.frame_id)]
        text = "".join(("," if self.entries + k else "") + "\n" + e for k, e in enumerate(entries))
        self.entries += len(entries)
        return text


class VideoSink(Sink):
    """The annotated video, encoded with PyAV (H.264 when available, else MPEG-4 part 2).

    Opened at the first frame (its size decides the stream's). `fragmented=True` writes a fragmented
    mp4 that stays playable even if the process is killed without any cleanup. `preset` is libx264's:
    "ultrafast" by default because the encoder shares the CPU with inference in real time (at 640x480
    it took 6-8 ms a frame against 17-21 ms for "veryfast", for a file 3x as large on the demo clip);
    pass "veryfast" or slower for smaller files when the stream can wait.
    """

    needs_image = True

    def __init__(self, path: str | Path, fps: float | None = None, fragmented: bool = False,
                 preset: str = "ultrafast") -> None:
        try:
            import av
        except ImportError as err:
            raise missing_extra("av (PyAV)", "video") from err
        self._av = av
        self.path = Path(path)
        self.fps = fps if fps and fps > 0 else 30.0
        self.fragmented, self.preset = fragmented, preset
        self.frames = 0
        self._container: Any = None
        self._stream: Any = None
        if self.path.is_dir():
            raise EdgesegError(f"cannot write {self.path}: it is a folder; give a file path such as "
                               f"{self.path / 'out.mp4'}")
        if not self.path.parent.is_dir():
            raise EdgesegError(f"cannot write {self.path}: folder {self.path.parent} does not exist")
        if not os.access(self.path.parent, os.W_OK):
            raise EdgesegError(f"cannot write {self.path}: folder {self.path.parent} is not writable")
        atexit.register(self.close)

    def _open(self, height: int, width: int) -> None:
        options = {"movflags": "frag_keyframe+empty_moov+default_base_moof"} if self.fragmented else {}
        try:
            self._container = self._av.open(str(self.path), mode="w", options=options)
        except self._av.FFmpegError as err:
            raise EdgesegError(f"cannot write video {self.path} ({err}); use a .mp4/.mkv path") from err
        codec = "libx264" if "libx264" in self._av.codecs_available else "mpeg4"
        rate = Fraction(self.fps).limit_denominator(1000)
        self._stream = self._container.add_stream(codec, rate=rate)
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = "yuv420p"
        self._stream.time_base = 1 / rate
        if codec == "libx264":
            self._stream.options = {"preset": self.preset, "crf": "23"}

    def write(self, result: FrameResult, image: np.ndarray | None) -> None:
        if image is None:
            raise ValueError("the video sink needs the rendered frame")
        even = image[: image.shape[0] // 2 * 2, : image.shape[1] // 2 * 2]  # yuv420p needs even sizes
        if self._container is None:
            self._open(even.shape[0], even.shape[1])
        left = free_bytes(self.path.parent)
        if left < MIN_FREE_BYTES:
            self.close()
            kept = "the video so far is closed and plays" if self.frames else "nothing was written"
            raise EdgesegError(
                f"stopped writing {self.path} after {self.frames} frame(s): only {left >> 20} MB left on its "
                f"disk ({MIN_FREE_BYTES >> 20} MB needed to close a video safely); {kept}. Free some space "
                "or pick another path"
            )
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(even), format="rgb24")
        frame.pts = self.frames
        try:
            self._container.mux(self._stream.encode(frame))
        except OSError as err:  # PyAV's errors derive from OSError: full disk, removed folder
            raise write_failed(self.path, err, self.frames) from None
        self.frames += 1

    def close(self) -> None:
        atexit.unregister(self.close)
        container, self._container = self._container, None
        if container is None:
            return
        failure: OSError | None = None
        try:
            container.mux(self._stream.encode(None))
        except OSError as err:
            failure = err
        try:
            container.close()  # always, so the file handle is released even after a failed flush
        except OSError as err:
            failure = failure or err
        if failure is not None:
            raise write_failed(self.path, failure, self.frames) from None


class DisplaySink(Sink):
    """An OpenCV window; q or Esc ends the stream. Needs a display and an OpenCV with GUI support."""

    needs_image = True

    def __init__(self, title: str = "edgeseg") -> None:
        import cv2

        self._cv2 = cv2
        self.title = title or "edgeseg"
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or
                                                     os.environ.get("WAYLAND_DISPLAY")):
            raise EdgesegError("display:// needs a display but DISPLAY is not set (headless or ssh "
                               "without -X?); write to a file instead, e.g. --sink out.mp4")
        try:
            cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
        except cv2.error as err:
            raise EdgesegError("this OpenCV cannot open windows (opencv-python-headless?); install "
                               "opencv-python for display://, or write to a file such as out.mp4") from err
        self._open = True

    def write(self, result: FrameResult, image: np.ndarray | None) -> None:
        assert image is not None
        self._cv2.imshow(self.title, self._cv2.cvtColor(image, self._cv2.COLOR_RGB2BGR))
        if self._cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            raise StopStream

    def close(self) -> None:
        if self._open:
            self._open = False
            self._cv2.destroyWindow(self.title)


def sink_path(spec: Any) -> Path | None:
    """The file a sink spec writes, or None for display://, callables and Sink objects."""
    if isinstance(spec, (str, os.PathLike)) and "://" not in str(spec):
        return Path(spec)
    return None


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_sinks(specs: list[Any], source_uri: str | None) -> None:
    """Before any model is loaded: every file sink is a known kind, writable, not a folder, and not the
    source itself (or a file its glob reads), which the sink would overwrite while it is being read."""
    seen: list[Path] = []
    for spec in specs:
        path = sink_path(spec)
        if path is None:
            continue
        if path.suffix.lower() not in (".jsonl", ".json", *VIDEO_SUFFIXES):
            open_sink(spec)  # raises the "unknown sink" error with the list of kinds
        if source_uri and "://" not in source_uri:
            source = Path(source_uri[len("file://"):] if source_uri.startswith("file://") else source_uri)
            if _same_file(path, source) or (any(c in source_uri for c in "*?[")
                                            and fnmatch.fnmatch(str(path), source_uri)):
                raise EdgesegError(f"sink {path} is the source {source_uri}: writing it would destroy the "
                                   "input; choose another sink path")
        if any(_same_file(path, other) for other in seen):
            raise EdgesegError(f"sink {path} is given twice: each file sink needs its own path")
        check_output_file(path, "sink")
        seen.append(path)


def open_sink(spec: str | Path | Sink | Callable[[FrameResult], Any], fps: float | None = None) -> Sink:
    """The Sink for a URI, path or callable (a Sink is returned as is)."""
    if isinstance(spec, Sink):
        return spec
    if callable(spec):
        return CallbackSink(spec)
    text = str(spec)
    if text.startswith("display://"):
        return DisplaySink(text[len("display://"):])
    suffix = Path(text).suffix.lower()
    if suffix == ".jsonl":
        return JsonlSink(text)
    if suffix == ".json":
        return CocoResultsSink(text)
    if suffix in VIDEO_SUFFIXES:
        return VideoSink(text, fps=fps)
    raise EdgesegError(f"unknown sink {text!r}: use a video file ({', '.join(VIDEO_SUFFIXES)}), "
                       "a .jsonl file, a .json file (COCO results), display:// or a Python callable")
