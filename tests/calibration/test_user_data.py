"""Calibration on a user's data: images of any size (letterboxed as the runtime letterboxes them) and
a video given straight to --data, every K-th frame looked at (issue 16)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from edgeseg.calibration.calibrate import calibrate_file
from edgeseg.calibration.images import GraphInput
from edgeseg.calibration.recipe import Recipe
from edgeseg.calibration.select import iter_frames
from edgeseg.cli import main

SMALL = Recipe(min_frames=8, held_out_frames=8, sensitivity_frames=4)


def test_a_frame_of_another_size_is_fed_letterboxed(calib_set):
    graph_input = GraphInput.of(onnx.load(str(calib_set.fcn)))
    wide = np.full((32, 64, 3), 200, np.uint8)  # half the graph's height: 16 grey rows above and below
    fed = next(iter(graph_input.feed(wide).values()))
    assert fed.shape[-2:] == (64, 64) or fed.shape[1:3] == (64, 64)
    image = fed[0] if fed.shape[-1] == 3 else (fed[0].transpose(1, 2, 0) * 255).round().astype(np.uint8)
    assert (image[16:48] == 200).all()  # the content, unscaled (64 wide already)
    assert (image[:16] != 200).all() and (image[48:] != 200).all()  # padding, not content


def test_calibration_accepts_images_of_any_size(calib_set, tmp_path):
    frames = tmp_path / "mixed"
    frames.mkdir()
    for k, path in enumerate(sorted(calib_set.frames.glob("*.png"))[:10]):
        image = Image.open(path)
        (image.resize((96, 72)) if k % 2 else image).save(frames / path.name)
    out = tmp_path / "q.onnx"
    calibrate_file(calib_set.fcn, frames, out, recipe=SMALL, check_budget=False, progress=False)
    assert out.is_file()


def _video(frames: Path, path: Path) -> Path:
    import cv2

    files = sorted(frames.glob("*.png"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 64))
    for f in files:
        writer.write(np.asarray(Image.open(f).convert("RGB"))[:, :, ::-1])
    writer.release()
    return path


def test_stride_takes_every_kth_frame(calib_set, tmp_path):
    video = _video(calib_set.frames, tmp_path / "clip.mp4")
    labels = [label for label, _ in iter_frames(video, stride=3)]
    assert labels == [f"clip_{i:06d}" for i in range(0, 16, 3)]


def test_cli_calibrates_from_a_video(calib_set, tmp_path, capsys):
    video = _video(calib_set.frames, tmp_path / "clip.mp4")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("min_frames: 8\nheld_out_frames: 8\nsensitivity_frames: 4\n")
    out = tmp_path / "q.onnx"
    code = main(["calibrate", str(calib_set.fcn), "--data", str(video), "--stride", "1", "-n", "8",
                 "--recipe", str(recipe), "--no-budget", "--no-progress", "-o", str(out)])
    assert code == 0 and out.is_file()
    assert "picked from 16" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--data", "{notvideo}"], "is a file but not a video"),
    (["--select-from", "{video}", "--stride", "0", "-o", "{out}"], "--stride must be >= 1"),
])
def test_bad_user_data_is_one_line(calib_set, tmp_path, capsys, args, message):
    notvideo = tmp_path / "notes.txt"
    notvideo.write_text("x")
    video = _video(calib_set.frames, tmp_path / "clip.mp4")
    args = [a.format(notvideo=notvideo, video=video, out=tmp_path / "sel") for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "q.onnx")]
    assert main(["calibrate", str(calib_set.fcn), *args]) == 2
    assert message in capsys.readouterr().err
