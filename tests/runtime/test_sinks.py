"""Sinks: the video stays playable after SIGINT, JSONL is COCO-like and complete, clear errors."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import av
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from runtime_doubles import NumberAdapter, NumberBackend, known_result, numbered_frames

from edgeseg.errors import EdgesegError
from edgeseg.runtime.pipeline import Pipeline
from edgeseg.runtime.sinks import CallbackSink, JsonlSink, VideoSink, open_sink

HERE = Path(__file__).parent


def count_video_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_video_sink_writes_every_frame(tmp_path):
    out = tmp_path / "out.mp4"
    stats = Pipeline(numbered_frames(25, size=33), model=NumberAdapter(), backend=NumberBackend(),
                     sinks=[str(out)]).run()
    assert stats.frames_out == 25
    assert count_video_frames(out) == 25
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (32, 32)  # odd sizes are cropped to even for yuv420p


def test_sigint_mid_stream_leaves_a_playable_mp4(tmp_path):
    out = tmp_path / "interrupted.mp4"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        from runtime_doubles import NumberAdapter, NumberBackend, numbered_frames
        from edgeseg.runtime.pipeline import Pipeline
        from edgeseg.runtime.sinks import VideoSink

        video = VideoSink({str(out)!r}, fps=25)
        def progress(result):
            if result.frame_id == 30:
                print("ready", flush=True)
        try:
            with Pipeline(numbered_frames(10**9, size=64), model=NumberAdapter(),
                          backend=NumberBackend(delay_s=0.01), sinks=[video, progress]) as p:
                for _ in p:
                    pass
        except KeyboardInterrupt:
            print("written", video.frames, flush=True)
            sys.exit(130)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130
    written = int(rest.split()[-1])
    assert written >= 31
    assert count_video_frames(out) == written


def test_jsonl_is_coco_like_one_line_per_frame(tmp_path):
    result = known_result()
    path = tmp_path / "sub" / "results.jsonl"
    sink = open_sink(str(path))
    assert isinstance(sink, JsonlSink)
    sink.write(result, None)
    assert len(path.read_text().splitlines()) == 1  # flushed before close
    sink.write(result, None)
    sink.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    record = json.loads(lines[0])
    assert record["frame_id"] == 7 and (record["height"], record["width"]) == (96, 128)
    ann = record["annotations"]
    assert [a["category_id"] for a in ann] == [1, 5]
    assert ann[0]["bbox"] == [30.0, 20.0, 40.0, 40.0]  # xyxy (30,20,70,60) -> xywh
    assert ann[1]["score"] == pytest.approx(0.66)
    masks = result.full_masks()
    for k in range(2):
        rle = dict(ann[k]["segmentation"], counts=ann[k]["segmentation"]["counts"].encode())
        np.testing.assert_array_equal(mask_utils.decode(rle).astype(bool), masks[k])
    assert len(ann[1]["keypoints"]) == 51 and ann[1]["num_keypoints"] == 16
    segs = {s["id"]: s for s in record["segments_info"]}
    assert segs[3]["area"] == 40 * 40 and segs[3]["category_id"] == 1
    sem = {s["label"]: s for s in record["semantic"]}
    assert set(sem) == {5, 6, 255}
    assert record["captions"] == ["a red circle beside a person"]


def test_jsonl_from_pipeline_has_every_frame(tmp_path):
    path = tmp_path / "r.jsonl"
    Pipeline(numbered_frames(40), model=NumberAdapter(), backend=NumberBackend(), sinks=[str(path)]).run()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["frame_id"] for r in records] == list(range(40))
    assert [r["annotations"][0]["score"] for r in records] == list(range(40))


def test_display_without_display_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if sys.platform.startswith("linux"):
        with pytest.raises(EdgesegError, match="DISPLAY is not set"):
            open_sink("display://")
    monkeypatch.setenv("DISPLAY", ":97")
    import cv2

    if "GTK" not in cv2.getBuildInformation() and "QT" not in cv2.getBuildInformation():
        with pytest.raises(EdgesegError, match="cannot open windows"):
            open_sink("display://")


def test_sink_specs(tmp_path):
    assert isinstance(open_sink(lambda r: None), CallbackSink)
    assert isinstance(open_sink(str(tmp_path / "a.mp4"), fps=12), VideoSink)
    with pytest.raises(EdgesegError, match="unknown sink"):
        open_sink(str(tmp_path / "a.txt"))
    with pytest.raises(EdgesegError, match="does not exist"):
        open_sink(str(tmp_path / "missing" / "a.mp4"))
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(EdgesegError, match="not writable"):
            open_sink(str(locked / "a.mp4"))


def _results(count):
    return [known_result() for _ in range(count)]


def test_video_sink_stops_before_the_disk_is_full_and_the_video_plays(tmp_path, monkeypatch):
    """Writing into a full disk fails inside libavformat and leaves no index: stop while there is room."""
    from edgeseg.runtime import sinks

    path = tmp_path / "out.mp4"
    sink = sinks.VideoSink(path, fps=10)
    free = iter([1 << 40] * 5 + [1 << 20] * 100)
    monkeypatch.setattr(sinks, "free_bytes", lambda folder: next(free))
    results = _results(8)
    with pytest.raises(EdgesegError, match=r"stopped writing .*out.mp4 after 5 frame\(s\): only 1 MB left"):
        for result in results:
            sink.write(result, result.image)
    sink.close()  # a second close is harmless
    with av.open(str(path)) as video:
        assert sum(1 for _ in video.decode(video=0)) == 5


class _DiskFullAfter:
    """A text file that accepts `lines` writes, then fails like a full disk mid-line."""

    def __init__(self, real, lines):
        self.real, self.lines = real, lines
        self.closed = False

    def write(self, text):
        if self.lines == 0:
            self.real.write(text[: len(text) // 2])
            self.real.flush()
            raise OSError(28, "No space left on device")
        self.lines -= 1
        return self.real.write(text)

    def flush(self):
        self.real.flush()

    def tell(self):
        return self.real.tell()

    def close(self):
        self.closed = True
        self.real.close()


def test_jsonl_sink_on_a_full_disk_is_one_error_and_keeps_whole_lines(tmp_path):
    path = tmp_path / "out.jsonl"
    sink = JsonlSink(path)
    sink._file = _DiskFullAfter(sink._file, 3)
    with pytest.raises(EdgesegError) as err:
        for result in _results(5):
            sink.write(result, None)
    assert "after 3 frame(s): No space left on device" in str(err.value) and "\n" not in str(err.value)
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["frame_id"] == 7 for line in lines)


def test_video_preset_trades_encoding_time_for_size(tmp_path):
    """ultrafast (the real-time default) and veryfast both play; the slower preset packs tighter."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    sizes = {}
    for preset in ("ultrafast", "veryfast"):
        sink = VideoSink(tmp_path / f"{preset}.mp4", fps=10, preset=preset)
        for k in range(20):
            sink.write(known_result(), np.roll(base, 3 * k, axis=1))
        sink.close()
        assert count_video_frames(tmp_path / f"{preset}.mp4") == 20
        sizes[preset] = (tmp_path / f"{preset}.mp4").stat().st_size
    assert sizes["veryfast"] < sizes["ultrafast"]
