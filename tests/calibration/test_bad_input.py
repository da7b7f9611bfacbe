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
        (np.zeros((64, 64), np.uint8), "1 channel"),
        (np.zeros((64, 64, 4), np.uint8), "4 channel"),
    ],
)
def test_wrong_channels(calib_set, tmp_path, image, message):
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


def _never_calibrate(monkeypatch):
    """Calibration now fails loudly: a refusal that comes after the work shows up as this error."""
    import edgeseg.calibration.calibrate as calibrate

    def work(*_, **__):
        raise AssertionError("calibration started before the arguments were checked")

    monkeypatch.setattr(calibrate, "calibrate_file", work)
    monkeypatch.setattr(calibrate, "load_model", work)


@pytest.mark.parametrize("budget", ["-1", "nan", "inf", "-inf", "one"])
def test_bad_budget_is_refused_at_argument_time(budget, tmp_path, monkeypatch, capsys):
    _never_calibrate(monkeypatch)
    with pytest.raises(SystemExit) as exit_:
        main(["calibrate", "m.onnx", "--data", str(tmp_path), f"--budget={budget}", "-o",
              str(tmp_path / "o.onnx")])
    assert exit_.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "argument --budget:" in errors[0] and budget in errors[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("budget", [-1.0, float("nan"), float("inf")])
def test_api_refuses_a_bad_budget_before_reading_the_model(budget, tmp_path):
    with pytest.raises(EdgesegError, match="is not an allowed metric drop"):
        calibrate_file(tmp_path / "nope.onnx", tmp_path, tmp_path / "o.onnx", budget=budget, progress=False)


@pytest.mark.parametrize(
    ("setup", "extra", "words"),
    [
        ("folder", ["-o", "T/out"], "-o T/out is a folder, not a file"),
        ("file", ["-o", "T/o.onnx", "--cpu-out", "T/f/cpu.onnx"], "T/f is a file, not a folder"),
        ("read-only", ["-o", "T/o.onnx", "--cache-out", "T/ro/c.calib"], "--cache-out T/ro/c.calib: cannot "
         "write in T/ro (the folder is read-only)"),
        ("none", ["-o", "T/m.onnx"], "-o T/m.onnx is the model being calibrated"),
        ("none", ["-o", "T/o.onnx", "--cpu-out", "T/o.onnx"], "--cpu-out T/o.onnx is also given as -o"),
    ],
)
def test_bad_output_is_refused_before_calibration(setup, extra, words, tmp_path, monkeypatch, capsys,
                                                  make_read_only):
    _never_calibrate(monkeypatch)
    (tmp_path / "m.onnx").write_bytes(b"model")
    if setup == "folder":
        (tmp_path / "out").mkdir()
    elif setup == "file":
        (tmp_path / "f").write_text("a file\n")
    elif setup == "read-only":
        make_read_only(tmp_path / "ro")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    args = [a.replace("T/", f"{tmp_path}/") for a in extra]
    code = main(["calibrate", str(tmp_path / "m.onnx"), "--data", str(tmp_path), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and words.replace("T/", f"{tmp_path}/") in err[0], err
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_zoo_name_calibrates_and_the_cpu_graph_runs(tmp_path):
    """`calibrate NAME` takes the zoo graph `run NAME` runs; both written graphs keep its metadata, so
    `edgeseg run` runs the CPU INT8 graph (it could not: no task, classes or input in the file)."""
    import json

    import onnx

    from edgeseg.runtime.command import resolve_model

    zoo_graph = resolve_model("fcn_nearest")
    size = json.loads({p.key: p.value for p in onnx.load(str(zoo_graph)).metadata_props}["edgeseg.input"])
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (size["height"], size["width"], 3), np.uint8)).save(
            frames / f"{i}.png"
        )
    recipe = tmp_path / "r.yaml"
    recipe.write_text("min_frames: 8\nnum_frames: 8\n")
    qdq, cpu = tmp_path / "out" / "q.onnx", tmp_path / "out" / "cpu.onnx"
    args = ["calibrate", "fcn_nearest", "--data", str(frames), "--recipe", str(recipe), "-o", str(qdq),
            "--cpu-out", str(cpu), "--no-budget", "--no-progress"]
    assert main(args) == 0
    source = {p.key: p.value for p in onnx.load(str(zoo_graph)).metadata_props}
    for graph in (qdq, cpu):
        props = {p.key: p.value for p in onnx.load(str(graph)).metadata_props}
        assert {k: props.get(k) for k in source} == source, graph.name
    sink = tmp_path / "r.jsonl"
    shapes = f"shapes://?fps=0&size={size['width']}x{size['height']}&frames=3&seed=1"
    assert main(["run", str(cpu), "--source", shapes, "--sink", str(sink), "--no-progress",
                 "--threads", "1"]) == 0
    results = [json.loads(line) for line in sink.read_text().splitlines()]
    assert len(results) == 3
