"""Bad input -> one clear EdgesegError (CLI exit code 2), before any graph is written."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from edgeseg.calibration.calibrate import calibrate_file
from edgeseg.calibration.recipe import Recipe, load_recipe
from edgeseg.cli import main
from edgeseg.errors import EdgesegError

SMALL = Recipe(min_frames=8, held_out_frames=8, sensitivity_frames=4)


def _copy_frames(src, dst, count):
    dst.mkdir()
    for path in sorted(src.iterdir())[:count]:
        shutil.copy(path, dst / path.name)
    return dst


def test_empty_folder(calib_set, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(EdgesegError, match="0 image"):
        calibrate_file(calib_set.fcn, tmp_path / "empty", tmp_path / "o.onnx", recipe=SMALL, progress=False)


def test_too_small_set(calib_set, tmp_path):
    frames = _copy_frames(calib_set.frames, tmp_path / "few", 3)
    with pytest.raises(EdgesegError, match="3 image.*at least 8"):
        calibrate_file(calib_set.fcn, frames, tmp_path / "o.onnx", recipe=SMALL, progress=False)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((32, 64, 3), np.uint8), "64x32 but the graph takes 64x64"),
        (np.zeros((64, 64), np.uint8), "1 channel"),
        (np.zeros((64, 64, 4), np.uint8), "4 channel"),
    ],
)
def test_wrong_size_or_channels(calib_set, tmp_path, image, message):
    frames = _copy_frames(calib_set.frames, tmp_path / "frames", 10)
    Image.fromarray(image).save(frames / "zzz_bad.png")
    out = tmp_path / "o.onnx"
    with pytest.raises(EdgesegError, match=message) as err:
        calibrate_file(calib_set.fcn, frames, out, recipe=SMALL, progress=False)
    assert "zzz_bad.png" in str(err.value)
    assert not out.exists()


def test_cli_reports_one_line_and_exit_code_2(calib_set, tmp_path, capsys):
    code = main(
        ["calibrate", str(calib_set.fcn), "--data", str(tmp_path / "missing"), "-o", str(tmp_path / "o.onnx")]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "not found" in err[0]


def test_missing_model_and_bad_recipe(calib_set, tmp_path):
    with pytest.raises(EdgesegError, match="not found"):
        calibrate_file(tmp_path / "nope.onnx", calib_set.frames, tmp_path / "o.onnx", progress=False)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("method: kl\n")
    with pytest.raises(EdgesegError, match="method 'kl'"):
        load_recipe(recipe)
    recipe.write_text("frames: 10\n")
    with pytest.raises(EdgesegError, match="unknown fields"):
        load_recipe(recipe)
