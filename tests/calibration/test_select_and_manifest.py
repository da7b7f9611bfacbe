"""Frame selection (deterministic, no near-duplicates) and calibration-set manifests."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from edgeseg.calibration.manifest import build_manifest
from edgeseg.calibration.select import MIN_DISTANCE, distance, kcenter_greedy, select_frames, thumbnail
from edgeseg.data.video import iter_clip_frames


def _naive_kcenter(points, n, start, min_distance):
    """Farthest-point selection written as plain loops."""
    chosen = [start]
    while len(chosen) < n:
        best, best_d = None, -1.0
        for i, p in enumerate(points):
            d = min(float(np.sqrt(np.mean((p - points[c]) ** 2))) for c in chosen)
            if d > best_d:
                best, best_d = i, d
        if best_d < min_distance:
            break
        chosen.append(best)
    return chosen


def test_kcenter_matches_a_naive_loop():
    rng = np.random.default_rng(5)
    points = rng.uniform(0, 255, size=(40, 12)).astype(np.float32)
    got = kcenter_greedy(points, 10, seed=3, min_distance=1.0)
    assert got == _naive_kcenter(points, 10, got[0], 1.0)
    assert got[0] == int(np.random.default_rng(3).integers(40))


@pytest.fixture()
def static_then_moving(tmp_path):
    """30 frames: 10 copies of one frame with sensor-like noise, then 20 frames of a moving clip."""
    folder = tmp_path / "src"
    folder.mkdir()
    rng = np.random.default_rng(0)
    still = next(iter_clip_frames(7, 64, 64, 1))
    for i in range(10):
        noisy = np.clip(still.astype(int) + rng.integers(-2, 3, still.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(folder / f"a{i:02d}.png")
    for i, frame in enumerate(iter_clip_frames(11, 64, 64, 60)):
        if i % 3 == 0:
            Image.fromarray(frame).save(folder / f"b{i:02d}.png")
    return folder


def test_selection_is_deterministic_and_rejects_near_duplicates(static_then_moving, tmp_path):
    a = select_frames(static_then_moving, 8, tmp_path / "a", seed=1, progress=False)
    b = select_frames(static_then_moving, 8, tmp_path / "b", seed=1, progress=False)
    assert [p.name for p in a.files] == [p.name for p in b.files] and a.set_sha256 == b.set_sha256
    assert [p.read_bytes() for p in a.files] == [p.read_bytes() for p in b.files]
    assert a.candidates <= 21  # the 10 noisy copies collapse to one candidate
    thumbs = [thumbnail(np.asarray(Image.open(p))) for p in a.files]
    for i in range(len(thumbs)):
        for j in range(i):
            assert float(distance(thumbs[i], thumbs[j])) >= MIN_DISTANCE
    assert sum(p.name.split("_", 1)[1].startswith("a") for p in a.files) <= 1


def test_asking_for_more_than_distinct_frames_gives_fewer(static_then_moving, tmp_path):
    picked = select_frames(static_then_moving, 100, tmp_path / "many", seed=0, progress=False)
    assert len(picked.files) <= picked.candidates < 30


def test_manifest_hashes_and_set_hash(static_then_moving, tmp_path):
    files = sorted(static_then_moving.iterdir())[:5]
    manifest = build_manifest(files)
    for entry, path in zip(manifest["files"], files, strict=True):
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    lines = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in files)
    assert manifest["set_sha256"] == hashlib.sha256(lines.encode()).hexdigest()
    files[0].write_bytes(files[0].read_bytes() + b"\0")
    assert build_manifest(files)["set_sha256"] != manifest["set_sha256"]


def test_select_writes_manifest_and_cli(static_then_moving, tmp_path, capsys):
    from edgeseg.cli import main

    assert (
        main(["calibrate", "--select-from", str(static_then_moving), "-n", "4", "-o", str(tmp_path / "sel")])
        == 0
    )
    manifest = json.loads((tmp_path / "sel" / "manifest.json").read_text())
    assert len(manifest["files"]) == 4
    assert (
        main(["calibrate", "--select-from", str(tmp_path / "nothing"), "-n", "4", "-o", str(tmp_path / "x")])
        == 2
    )
    assert "neither an image folder nor a video" in capsys.readouterr().err


def test_video_source(tmp_path):
    from edgeseg.data.mp4 import Mp4Writer

    video = tmp_path / "clip.mp4"
    writer = Mp4Writer(video, 64, 64)
    frames = list(iter_clip_frames(3, 64, 64, 24))
    for frame in frames[:12]:
        writer.write(frame)
    for _ in range(12):  # a static tail: all near-duplicates of the last moving frame
        writer.write(frames[11])
    writer.close()
    picked = select_frames(video, 50, tmp_path / "sel", seed=0, progress=False)
    assert 1 < len(picked.files) <= 13 and picked.frames_seen == 24
