"""`edgeseg data shapes`: bad input gives one error line, exit code 2, and no dataset left behind."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import edgeseg.data.shapes as shapes
from edgeseg.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["data", "shapes", "--quiet", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _leftovers(parent: Path) -> list[Path]:
    return [p for p in parent.iterdir() if "partial" in p.name or "old" in p.name]


def test_generates_a_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "--out", str(tmp_path / "ds"), "--split", "val", "--images", "3",
                      "--size", "64", "--seed", "9")
    assert rc == 0
    meta = json.loads((tmp_path / "ds" / "meta.json").read_text())
    assert (meta["split"], meta["count"], meta["size"], meta["seed"]) == ("val", 3, 64, 9)
    assert len(list((tmp_path / "ds" / "images" / "val").glob("*.png"))) == 3
    assert "wrote 3 val images" in out


@pytest.mark.parametrize(("args", "needle"), [
    (["--images", "0"], "--images"),
    (["--images", "-3"], "--images"),
    (["--size", "32"], "--size"),
    (["--seed", "-1"], "--seed"),
    (["--video-frames", "-2"], "--video-frames"),
    (["--video-frames", "2", "--size", "65"], "even --size"),
])
def test_bad_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                     needle: str) -> None:
    rc, _, err = _run(capsys, "--out", str(tmp_path / "ds"), *args)
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and needle in err
    assert not (tmp_path / "ds").exists() and not _leftovers(tmp_path)


def test_existing_dir_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "ds"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    rc, _, err = _run(capsys, "--out", str(target), "--images", "2", "--size", "64")
    assert rc == 2 and "--force" in err and len(err.strip().splitlines()) == 1
    assert (target / "keep.txt").read_text() == "mine"
    rc, _, _ = _run(capsys, "--out", str(target), "--images", "2", "--size", "64", "--force")
    assert rc == 0 and not (target / "keep.txt").exists() and (target / "meta.json").is_file()
    assert not _leftovers(tmp_path)


def test_unwritable_output_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    rc, _, err = _run(capsys, "--out", str(blocker / "ds"), "--images", "2", "--size", "64")
    assert rc == 2 and "cannot write" in err and len(err.strip().splitlines()) == 1


def test_interrupted_run_leaves_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    real = shapes.render_image

    def flaky(seed: int, index: int, size: int, split: str = "train"):  # type: ignore[no-untyped-def]
        if index == 2:
            raise KeyboardInterrupt
        return real(seed, index, size, split)

    monkeypatch.setattr(shapes, "render_image", flaky)
    rc, _, _ = _run(capsys, "--out", str(tmp_path / "ds"), "--images", "5", "--size", "64")
    assert rc == 130
    assert list(tmp_path.iterdir()) == []


def test_help_shows_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["data", "shapes", "--help"])
    assert exc.value.code == 0
    assert "edgeseg data shapes --out" in capsys.readouterr().out
