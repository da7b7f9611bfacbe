"""Sources by URI: synthetic, image globs, video files, cameras and network streams (loopback only),
reconnection with backoff, and the clear errors users get for bad sources."""
from __future__ import annotations

import http.server
import socket
import threading
import time
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from edgeseg.data.video import iter_clip_frames
from edgeseg.errors import EdgesegError
from edgeseg.runtime.sources import (
    Backoff,
    CameraSource,
    Frame,
    ImageGlobSource,
    NetworkSource,
    ReconnectingSource,
    ShapesSource,
    VideoFileSource,
    open_source,
)

COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255)]


def write_clip(path, colors=COLORS, size=(32, 48), fps=10, fmt=None):
    with av.open(str(path), mode="w", format=fmt) as container:
        stream = container.add_stream("mpeg4", rate=Fraction(fps))
        stream.height, stream.width = size
        stream.pix_fmt = "yuv420p"
        for color in colors:
            image = np.zeros((*size, 3), np.uint8)
            image[:] = color
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))


def closed_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_shapes_source_matches_generator_and_paces():
    src = open_source("shapes://?fps=100&size=40x24&seed=3&frames=10")
    assert isinstance(src, ShapesSource) and src.is_live and src.fps == 100
    t0 = time.monotonic()
    frames = [f.image for f in src]
    elapsed = time.monotonic() - t0
    expected = list(iter_clip_frames(3, 24, 40, 10))
    assert len(frames) == 10 and frames[0].shape == (24, 40, 3)
    assert all(np.array_equal(a, b) for a, b in zip(frames, expected, strict=True))
    assert elapsed >= 9 / 100 * 0.9  # 10 frames at 100 fps span 9 frame intervals


def test_shapes_source_unpaced_and_bad_options():
    src = open_source("shapes://?fps=0&size=32x32&frames=3")
    assert not src.is_live and len(list(src)) == 3
    with pytest.raises(EdgesegError, match="unknown option"):
        open_source("shapes://?speed=3")
    with pytest.raises(EdgesegError, match="bad option"):
        open_source("shapes://?size=big")


def test_image_glob_in_name_order_and_rgb(tmp_path):
    for i, color in enumerate(COLORS[:3]):
        image = np.zeros((6, 7, 3), np.uint8)
        image[:] = color
        cv2.imwrite(str(tmp_path / f"img_{2 - i}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    src = open_source(str(tmp_path / "*.png"))
    assert isinstance(src, ImageGlobSource)
    got = [tuple(int(v) for v in f.image[0, 0]) for f in src]
    assert got == [COLORS[2], COLORS[1], COLORS[0]]  # img_0 was written last, with COLORS[2]
    assert len(list(open_source(str(tmp_path)))) == 3  # a folder works too


def test_image_glob_errors(tmp_path):
    with pytest.raises(EdgesegError, match="no images match"):
        open_source(str(tmp_path / "*.jpg"))
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(EdgesegError, match="cannot read image .*bad.png"):
        list(open_source(str(tmp_path / "*.png")))


def test_video_file_roundtrip(tmp_path):
    path = tmp_path / "clip.mp4"
    write_clip(path)
    src = open_source(str(path))
    assert isinstance(src, VideoFileSource)
    with src:
        frames = list(src)
        assert src.fps == pytest.approx(10)
    assert len(frames) == len(COLORS)
    for frame, color in zip(frames, COLORS, strict=True):
        assert frame.image.shape == (32, 48, 3)
        assert np.abs(frame.image.reshape(-1, 3).mean(0) - color).max() < 12  # lossy codec
    assert frames[1].pts == pytest.approx(0.1)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupted_video_file_is_a_clear_error(tmp_path, damage):
    path = tmp_path / "broken.mp4"
    if damage == "garbage":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    else:
        write_clip(tmp_path / "good.mp4", colors=COLORS * 5)
        path.write_bytes((tmp_path / "good.mp4").read_bytes()[:400])
    with pytest.raises(EdgesegError, match="corrupted"), open_source(str(path)) as src:
        list(src)


def test_missing_file_and_unknown_scheme(tmp_path):
    with pytest.raises(EdgesegError, match="not found"):
        open_source(str(tmp_path / "nope.mp4"))
    with pytest.raises(EdgesegError, match="unknown source scheme ftp://"):
        open_source("ftp://127.0.0.1/x.mp4")


@pytest.mark.parametrize("uri", ["/dev/video97", "97"])
def test_missing_camera_is_a_clear_error(uri):
    src = open_source(uri, backoff=Backoff(retries=0))
    assert isinstance(src, CameraSource)
    with pytest.raises(EdgesegError, match="camera .* not found"):
        src.open()


@pytest.mark.parametrize("scheme", ["http", "rtsp", "tcp"])
def test_unreachable_loopback_url_is_a_clear_error(scheme):
    port = closed_loopback_port()
    src = open_source(f"{scheme}://127.0.0.1:{port}/stream", backoff=Backoff(retries=2, initial_s=0.01),
                      timeout_s=2.0)
    assert isinstance(src, NetworkSource)
    t0 = time.monotonic()
    with pytest.raises(EdgesegError, match=r"127\.0\.0\.1.*gave up after 3 attempts"):
        src.open()
    assert time.monotonic() - t0 < 10
    assert src.reconnects == 0


class FlakySource(ReconnectingSource):
    """Connects after `connect_failures` refusals; loses the link after `lose_after` frames, once."""

    def __init__(self, connect_failures: int, lose_after: int | None = None, frames: int = 10, **kw):
        self.sleeps: list[float] = []
        super().__init__("flaky://test", sleep=self.sleeps.append, **kw)
        self.connect_failures, self.lose_after, self.total = connect_failures, lose_after, frames
        self.connects = 0
        self.sent = 0

    def _connect(self):
        if self.connect_failures > 0:
            self.connect_failures -= 1
            raise ConnectionRefusedError("refused")
        self.connects += 1

    def _grab(self):
        if self.lose_after is not None and self.sent == self.lose_after:
            self.lose_after = None
            raise ConnectionResetError("reset by peer")
        if self.sent == self.total:
            return None
        self.sent += 1
        return Frame(np.full((2, 2, 3), self.sent, np.uint8), None, time.monotonic())


def test_source_that_fails_n_times_then_recovers_is_reconnected():
    src = FlakySource(connect_failures=3, backoff=Backoff(retries=5, initial_s=0.5, factor=2.0, max_s=1.5))
    frames = list(src)
    assert len(frames) == 10
    assert src.sleeps == [0.5, 1.0, 1.5]  # exponential, capped at max_s
    assert src.reconnects == 1 and src.connects == 1


def test_mid_stream_loss_reconnects_and_continues(caplog):
    src = FlakySource(connect_failures=1, lose_after=4, backoff=Backoff(retries=3, initial_s=0.25))
    with caplog.at_level("WARNING"):
        values = [int(f.image[0, 0, 0]) for f in src]
    assert values == list(range(1, 11))  # nothing lost or repeated around the reconnection
    assert src.reconnects == 2 and src.connects == 2
    assert src.sleeps == [0.25, 0.25]  # the count of consecutive failures resets after a frame
    assert "reset by peer" in caplog.text and "reconnection(s) so far" in caplog.text


def test_gives_up_after_retries():
    src = FlakySource(connect_failures=10, backoff=Backoff(retries=2, initial_s=0.1))
    with pytest.raises(EdgesegError, match="refused.*gave up after 3 attempts"):
        src.open()
    assert src.sleeps == [0.1, 0.2]


class _FlakyHandler(http.server.SimpleHTTPRequestHandler):
    failures_left = 0

    def do_GET(self):  # noqa: N802 - http.server naming
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            self.send_error(503, "warming up")
            return
        super().do_GET()

    def log_message(self, *args):
        pass


def test_loopback_http_stream_reconnects_after_server_errors(tmp_path):
    write_clip(tmp_path / "clip.ts", fmt="mpegts")
    handler = type("Handler", (_FlakyHandler,), {"failures_left": 2})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: handler(*a, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        src = open_source(f"http://127.0.0.1:{server.server_address[1]}/clip.ts",
                          backoff=Backoff(retries=4, initial_s=0.01))
        frames = list(src)
    finally:
        server.shutdown()
    assert len(frames) == len(COLORS)
    assert src.reconnects == 1


def _faststart_clip(path, frames=60):
    """A clip whose index sits before the frames (`movflags=faststart`), as web-ready mp4s are."""
    rng = np.random.default_rng(0)
    with av.open(str(path), mode="w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("mpeg4", rate=Fraction(10))
        stream.height, stream.width, stream.pix_fmt = 32, 48, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (32, 48, 3), np.uint8), format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def test_a_faststart_clip_cut_in_half_ends_with_an_error_not_silently(tmp_path):
    whole, cut = tmp_path / "whole.mp4", tmp_path / "cut.mp4"
    _faststart_clip(whole)
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with open_source(str(whole)) as src:
        assert len(list(src)) == 60 and src.end_error is None
    with open_source(str(cut)) as src:
        decoded = len(list(src))  # the frames that are there still come out...
        assert 0 < decoded < 60
        # ...and the end says what happened instead of passing for a short clip
        assert src.end_error is not None
        assert f"ended after {decoded} of its 60 frames" in str(src.end_error)


def test_a_truncated_jpeg_in_a_glob_is_skipped_and_counted(tmp_path):
    import cv2

    for i, color in enumerate(COLORS):
        cv2.imwrite(str(tmp_path / f"img_{i}.jpg"), np.full((16, 16, 3), color, np.uint8))
    data = (tmp_path / "img_1.jpg").read_bytes()
    (tmp_path / "img_1.jpg").write_bytes(data[: len(data) // 2])  # libjpeg would grey-fill the rest
    src = open_source(str(tmp_path / "*.jpg"))
    assert len(list(src)) == len(COLORS) - 1
    assert src.skipped == [str(tmp_path / "img_1.jpg")]


@pytest.mark.parametrize(("source", "options", "message"), [
    ("shapes://?frames=1", {"fps": 5}, "unknown source option.*fps for shapes"),
    ("VIDEO", {"fps": 5}, "unknown source option.*fps for .*clip.mp4: it takes none"),
    ("GLOB", {"backoff": None}, "unknown source option.*backoff .*it takes fps"),
    ("GLOB", {"fps": float("nan")}, "fps must be a positive finite number"),
    ("shapes://?fps=inf", {}, "fps must be finite"),
    (None, {}, "None is not a source"),
])
def test_bad_source_arguments_are_refused(tmp_path, source, options, message):
    write_clip(tmp_path / "clip.mp4")
    (tmp_path / "a.png").write_bytes(b"")
    source = {"VIDEO": str(tmp_path / "clip.mp4"), "GLOB": str(tmp_path / "*.png")}.get(source, source)
    with pytest.raises(EdgesegError, match=message):
        open_source(source, **options)
