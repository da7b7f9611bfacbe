"""Frame sources by URI: video files, image globs, cameras, network streams, GStreamer, shapes://.

Every source yields RGB uint8 frames through `read()` (None at the end). Cameras and network streams
reconnect with exponential backoff when they fail, log each attempt and count reconnections, so a
robot survives a loose cable; problems the user must fix (no such camera, corrupted file, unknown
scheme) raise `EdgesegError` naming the source and what to do.
"""
from __future__ import annotations

import glob
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from edgeseg.errors import EdgesegError, missing_extra

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
NETWORK_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")
LIVE_NETWORK_SCHEMES = ("rtsp", "rtsps", "rtmp", "udp", "tcp", "srt")
SUPPORTED = ("a video file, an image glob or folder, a camera (`0`, `/dev/video0`), "
             "rtsp:// rtmp:// http(s):// udp:// tcp:// srt:// streams, gst:<pipeline>, shapes://")


@dataclass
class Frame:
    """One decoded frame: RGB uint8 [H,W,3], media time (seconds) if known, and when it was read."""

    image: np.ndarray
    pts: float | None
    capture_time: float


class Source:
    """Base class: `open`, `read` until None, `close`. Also iterable and a context manager."""

    uri: str = ""
    fps: float | None = None
    is_live: bool = False
    reconnects: int = 0
    # set by a source whose stream ended early (a truncated file): the pipeline raises it once the
    # frames already read have reached the sinks, so nothing decoded is lost and the end is not silent
    end_error: EdgesegError | None = None

    def open(self) -> None:
        """Acquire the device/file; raise EdgesegError when that is impossible."""

    def read(self) -> Frame | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device/file; safe to call twice."""

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame

    def __enter__(self) -> Source:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _now() -> float:
    return time.monotonic()


def check_fps(fps: float | None, where: str) -> float | None:
    """`fps` if it is None or a positive finite rate: NaN or inf would pace nothing and write a video
    no player can open."""
    if fps is not None and not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise EdgesegError(f"{where}: fps must be a positive finite number, got {fps!r}")
    return fps


def check_image(image: Any, where: str) -> np.ndarray:
    """An RGB frame as [H,W,3] uint8 with H, W > 0; anything else is refused with one line here, before
    a resize deep inside a stage fails on it."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise EdgesegError(f"{where}: a frame must be an RGB image of shape [H, W, 3] with H, W > 0, got "
                           f"shape {array.shape}")
    if array.dtype != np.uint8:
        raise EdgesegError(f"{where}: a frame must be uint8, got {array.dtype}; convert it with "
                           "image.astype(np.uint8)")
    return array


class IterableSource(Source):
    """Frames from any Python iterable of [H,W,3] uint8 arrays (a generator, a list, a robot SDK)."""

    def __init__(self, frames: Iterable[np.ndarray], fps: float | None = None, live: bool = False,
                 uri: str = "<iterable>") -> None:
        self._frames = frames
        self._it: Iterator[np.ndarray] | None = None
        self.fps, self.is_live, self.uri = check_fps(fps, uri), live, uri

    def open(self) -> None:
        self._it = iter(self._frames)

    def read(self) -> Frame | None:
        if self._it is None:
            self.open()
        assert self._it is not None
        image = next(self._it, None)
        return None if image is None else Frame(np.asarray(image), None, _now())


class ShapesSource(IterableSource):
    """A live synthetic ShapesWorld clip paced at `fps` (0 = as fast as it renders); `frames=0`
    (the default) never ends, like a camera."""

    def __init__(self, uri: str) -> None:
        query = {k: v[-1] for k, v in parse_qs(urlsplit(uri).query).items()}
        unknown = set(query) - {"fps", "size", "seed", "frames"}
        if unknown:
            raise EdgesegError(f"{uri}: unknown option(s) {sorted(unknown)}; use fps, size=WxH, seed, frames")
        try:
            fps = float(query.get("fps", 30))
            width, height = (int(v) for v in query.get("size", "320x320").lower().split("x"))
            seed, frames = int(query.get("seed", 0)), int(query.get("frames", 0))
        except ValueError as err:
            raise EdgesegError(f"{uri}: bad option ({err}); example: shapes://?fps=30&size=320x320&seed=0"
                               "&frames=300") from err
        if not math.isfinite(fps) or fps < 0 or width <= 0 or height <= 0 or frames < 0:
            raise EdgesegError(f"{uri}: fps must be finite, fps and frames >= 0 and the size positive")
        from edgeseg.data.video import iter_clip_frames

        super().__init__(iter_clip_frames(seed, height, width, frames or None), fps=fps or None,
                         live=fps > 0, uri=uri)
        self._next_due: float | None = None

    def read(self) -> Frame | None:
        if self.fps:
            now = _now()
            if self._next_due is None:
                self._next_due = now
            elif now < self._next_due:
                time.sleep(self._next_due - now)
            # a slow reader does not get a burst afterwards: the scene is live, like a camera
            self._next_due = max(self._next_due + 1.0 / self.fps, _now() - 1.0 / self.fps)
        return super().read()


def jpeg_is_truncated(data: bytes) -> bool:
    """A JPEG without its end-of-image marker: libjpeg decodes it anyway, grey-filling what is missing,
    and only says so on stderr."""
    return data[:2] == b"\xff\xd8" and not data.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9")


class ImageGlobSource(Source):
    """Still images in name order, from a glob pattern or a folder.

    A truncated JPEG (a copy or upload cut short) is skipped with a warning and counted in `skipped`,
    rather than processed half grey; a file that is not an image at all is an error.
    """

    def __init__(self, pattern: str, fps: float | None = None) -> None:
        self.uri, self.fps = pattern, check_fps(fps, pattern)
        self.skipped: list[str] = []
        if os.path.isdir(pattern):
            self.paths = sorted(str(p) for p in Path(pattern).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            self.paths = sorted(glob.glob(pattern))
        if not self.paths:
            raise EdgesegError(f"no images match {pattern!r}: check the path or pattern "
                               "(e.g. 'images/*.jpg')")
        self._index = 0

    def read(self) -> Frame | None:
        import cv2

        while self._index < len(self.paths):
            path = self.paths[self._index]
            self._index += 1
            try:
                data = Path(path).read_bytes()
            except OSError as err:
                raise EdgesegError(f"cannot read image {path}: {err.strerror}") from None
            if jpeg_is_truncated(data):
                self.skipped.append(path)
                log.warning("skipping %s: the JPEG is truncated (no end marker); %d image(s) skipped so "
                            "far", path, len(self.skipped))
                continue
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                raise EdgesegError(f"cannot read image {path}: the file is corrupted or not an image")
            return Frame(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), None, _now())
        return None


def _import_av() -> Any:
    try:
        import av
    except ImportError as err:
        raise missing_extra("av (PyAV)", "video") from err
    return av


class VideoFileSource(Source):
    """A video file decoded with PyAV (FFmpeg); a corrupted file is a clear error, not a hang."""

    def __init__(self, path: str) -> None:
        self.uri = path
        self._container: Any = None
        self._frames: Iterator[Any] | None = None
        self.expected_frames = 0  # what the container's index says; 0 when it does not say
        self.decoded = 0

    def open(self) -> None:
        av = _import_av()
        if not os.path.isfile(self.uri):
            raise EdgesegError(f"no such video file: {self.uri}")
        try:
            self._container = av.open(self.uri)
            if not self._container.streams.video:
                raise EdgesegError(f"{self.uri} has no video stream: pass a video file, an image glob "
                                   "or a URI")
            stream = self._container.streams.video[0]
            stream.thread_type = "AUTO"
            self.expected_frames = int(stream.frames or 0)
            self.decoded = 0
            self.fps = float(stream.average_rate) if stream.average_rate else None
            self._frames = self._container.decode(stream)
        except av.FFmpegError as err:
            self.close()
            raise EdgesegError(f"cannot read video file {self.uri} ({err}): the file is corrupted, "
                               "truncated or not a video; re-encode or re-download it") from err

    def read(self) -> Frame | None:
        if self._frames is None:
            self.open()
        av = _import_av()
        try:
            frame = next(self._frames, None)  # type: ignore[arg-type]
        except av.FFmpegError as err:
            raise EdgesegError(f"cannot decode video file {self.uri} ({err}): the file is corrupted or "
                               "truncated; re-encode or re-download it") from err
        if frame is None:
            # threaded decoding (thread_type AUTO) ends quietly at a cut, where plain PyAV would
            # raise: the index of a faststart mp4 still says how many frames there should have been
            if self.decoded < self.expected_frames:
                self.end_error = EdgesegError(
                    f"video file {self.uri} ended after {self.decoded} of its {self.expected_frames} "
                    "frames: the file is truncated or corrupted (the frames decoded were processed); "
                    "re-encode or re-download it")
            return None
        self.decoded += 1
        return Frame(frame.to_ndarray(format="rgb24"), frame.time, _now())

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
            self._frames = None


@dataclass(frozen=True)
class Backoff:
    """Reconnection schedule: wait initial_s, then factor times longer, up to max_s; give up after
    `retries` consecutive failures (None = never give up, for unattended robots)."""

    retries: int | None = 3
    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 8.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before reconnection attempt `attempt` (1-based)."""
        return min(self.max_s, self.initial_s * self.factor ** (attempt - 1))


class ReconnectingSource(Source):
    """A live source that may drop: subclasses say how to connect and grab one frame.

    A failed connect or grab closes the connection and retries after the backoff delay; each
    successful connection after a failure increments `reconnects` and is logged. Problems no retry
    can fix (a camera that does not exist) raise EdgesegError from `_connect` at once.
    """

    def __init__(self, uri: str, backoff: Backoff | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.uri = uri
        self.backoff = backoff or Backoff()
        self._sleep = sleep
        self._connected = False
        self._failures = 0  # consecutive failures; reset by a frame
        self._last_error: Exception | None = None
        self.is_live = True

    def _connect(self) -> None:
        raise NotImplementedError

    def _grab(self) -> Frame | None:
        raise NotImplementedError

    def _disconnect(self) -> None:
        """Release the connection; must tolerate a half-open connection."""

    def _describe_failure(self, err: Exception, attempts: int) -> EdgesegError:
        return EdgesegError(f"{self.uri}: {err} (gave up after {attempts} attempts); check that the "
                            "device or server is up and the address is right")

    def open(self) -> None:
        if not self._connected:
            self._connect_with_backoff()

    def read(self) -> Frame | None:
        while True:
            if not self._connected:
                self._connect_with_backoff()
            try:
                frame = self._grab()
            except EdgesegError:
                raise
            except Exception as err:  # any transport failure: drop the connection and reconnect
                log.warning("%s: lost the stream (%s)", self.uri, err)
                self._disconnect()
                self._connected = False
                self._failures, self._last_error = self._failures + 1, err
                continue
            self._failures = 0
            return frame

    def _connect_with_backoff(self) -> None:
        while True:
            if self._failures:
                if self.backoff.retries is not None and self._failures > self.backoff.retries:
                    assert self._last_error is not None
                    raise self._describe_failure(self._last_error, self._failures) from self._last_error
                delay = self.backoff.delay(self._failures)
                log.warning("%s: reconnect attempt %d in %.2f s", self.uri, self._failures, delay)
                self._sleep(delay)
            try:
                self._connect()
            except EdgesegError:
                self._disconnect()
                raise
            except Exception as err:
                self._disconnect()
                log.warning("%s: cannot connect (%s)", self.uri, err)
                self._failures, self._last_error = self._failures + 1, err
                continue
            self._connected = True
            if self._failures:
                self.reconnects += 1
                log.warning("%s: connected after %d failure(s); %d reconnection(s) so far", self.uri,
                            self._failures, self.reconnects)
            return

    def close(self) -> None:
        self._disconnect()
        self._connected = False


class CameraSource(ReconnectingSource):
    """A V4L2 camera (`0`, `/dev/video0`) or a GStreamer pipeline (`gst:...`) through OpenCV."""

    def __init__(self, uri: str, backoff: Backoff | None = None, **kwargs: Any) -> None:
        super().__init__(uri, backoff, **kwargs)
        self._cap: Any = None
        self.gstreamer = uri.startswith("gst:")
        self.device = uri if uri.startswith("/dev/") else f"/dev/video{uri}" if uri.isdigit() else None

    def _check(self) -> None:
        import cv2

        if self.gstreamer and "GStreamer:                   YES" not in cv2.getBuildInformation():
            raise EdgesegError("this OpenCV was built without GStreamer, so gst: sources cannot open; "
                               "install an OpenCV with GStreamer (e.g. JetPack's) or use a V4L2 camera "
                               "or an rtsp URI")
        if self.device is not None and os.name == "posix" and not os.path.exists(self.device):
            raise EdgesegError(f"camera {self.uri} not found ({self.device} does not exist): plug it in, "
                               "or list the cameras with `ls /dev/video*`")

    def _connect(self) -> None:
        import cv2

        self._check()
        if self.gstreamer:
            self._cap = cv2.VideoCapture(self.uri[4:], cv2.CAP_GSTREAMER)
        else:
            target: int | str = int(self.uri) if self.uri.isdigit() else self.uri
            self._cap = cv2.VideoCapture(target, cv2.CAP_V4L2)
        if not self._cap.isOpened():
            raise OSError("OpenCV could not open the device (busy, no permission or not a camera)")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and fps > 0 else None

    def _grab(self) -> Frame | None:
        import cv2

        ok, image = self._cap.read()
        if not ok:
            raise OSError("the camera returned no frame")
        return Frame(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), None, _now())

    def _disconnect(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class NetworkSource(ReconnectingSource):
    """rtsp/rtmp/http(s)/udp/tcp/srt through PyAV (FFmpeg), with socket timeouts so a dead server
    is noticed. Live schemes reconnect at end of stream; http(s) ends like a file unless live=True."""

    def __init__(self, uri: str, backoff: Backoff | None = None, live: bool | None = None,
                 timeout_s: float = 5.0, **kwargs: Any) -> None:
        super().__init__(uri, backoff, **kwargs)
        self.is_live = live if live is not None else urlsplit(uri).scheme in LIVE_NETWORK_SCHEMES
        self.timeout_s = timeout_s
        self._container: Any = None
        self._frames: Iterator[Any] | None = None

    def _connect(self) -> None:
        av = _import_av()
        options = {"rtsp_transport": "tcp"} if self.uri.startswith("rtsp") else {}
        try:
            self._container = av.open(self.uri, options=options, timeout=(self.timeout_s, self.timeout_s))
        except av.FFmpegError as err:
            raise ConnectionError(str(err)) from err
        if not self._container.streams.video:
            raise EdgesegError(f"{self.uri} has no video stream")
        stream = self._container.streams.video[0]
        self.fps = float(stream.average_rate) if stream.average_rate else None
        self._frames = self._container.decode(stream)

    def _grab(self) -> Frame | None:
        assert self._frames is not None
        frame = next(self._frames, None)
        if frame is None:
            if self.is_live:
                raise ConnectionError("end of stream")
            return None
        return Frame(frame.to_ndarray(format="rgb24"), frame.time, _now())

    def _disconnect(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            finally:
                self._container = None
                self._frames = None


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def open_source(source: str | int | Source | Iterable[np.ndarray], **options: Any) -> Source:
    """The Source for a URI (or the object itself when it already is one).

    `options` go to the source's constructor, e.g. `backoff=Backoff(retries=None)` for a robot that
    must wait for its camera forever, `fps=` for image globs and iterables.
    """
    if isinstance(source, Source):
        _check_options("a Source object", options, ())
        return source
    if isinstance(source, int) and not isinstance(source, bool):
        source = str(source)
    if isinstance(source, (bytes, os.PathLike)):
        source = os.fsdecode(source)
    if not isinstance(source, str):
        if source is None or isinstance(source, bool) or not isinstance(source, Iterable):
            raise EdgesegError(f"source {source!r} is not a source: pass a URI or path ({SUPPORTED}), a "
                               "camera index, a Source or an iterable of RGB frames")
        _check_options("an iterable source", options, ("fps", "live", "uri"))
        return IterableSource(source, **options)
    match = _SCHEME.match(source)
    scheme = match.group(1).lower() if match else None
    if scheme == "shapes":
        _check_options(source, options, ())
        return ShapesSource(source)
    if scheme in NETWORK_SCHEMES:
        _check_options(source, options, ("backoff", "live", "timeout_s", "sleep"))
        return NetworkSource(source, **options)
    if scheme == "file":
        source, scheme = source[len("file://"):], None
    if scheme is not None:
        raise EdgesegError(f"unknown source scheme {scheme}:// in {source!r}; supported: {SUPPORTED}")
    if source.startswith("gst:") or source.isdigit() or re.fullmatch(r"/dev/video\d+", source):
        _check_options(source, options, ("backoff", "sleep"))
        return CameraSource(source, **options)
    if any(c in source for c in "*?[") or os.path.isdir(source) or source.lower().endswith(IMAGE_SUFFIXES):
        _check_options(source, options, ("fps",))
        return ImageGlobSource(source, **options)
    if not os.path.exists(source):
        raise EdgesegError(f"source {source!r} not found; expected {SUPPORTED}")
    _check_options(source, options, ())
    return VideoFileSource(source)


def _check_options(where: str, options: dict[str, Any], accepted: tuple[str, ...]) -> None:
    """Refuse options this kind of source would ignore (or fail on deep inside): a misspelt
    `backof=` must not quietly run without the backoff the user asked for."""
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        takes = f"it takes {', '.join(accepted)}" if accepted else "it takes none"
        raise EdgesegError(f"unknown source option(s) {', '.join(unknown)} for {where}: {takes}")
