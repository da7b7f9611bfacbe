"""`edgeseg eval --model`: a deploy graph scored on a ShapesWorld folder and on the same images as a
user's COCO set (renamed files, renumbered images and categories), against an independent reference:
the calibration evaluator, which reads the graph's raw outputs without the runtime (issue 16)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edgeseg.cli import main

pytest.importorskip("onnxruntime")

MODEL = "mask_rcnn"
IMAGES = 8


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from edgeseg.data.shapes import generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("eval-model") / "val", "val", IMAGES, size=320, seed=11,
                            progress=False)


@pytest.fixture(scope="module")
def user_set(shapes: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same images as a user's COCO data: other file names and ids, categories numbered from 100."""
    root = tmp_path_factory.mktemp("user")
    doc = json.loads((shapes / "annotations" / "instances_val.json").read_text())
    new_image = {im["id"]: 1000 + 7 * im["id"] for im in doc["images"]}
    new_cat = {c["id"]: 100 + c["id"] for c in doc["categories"]}
    (root / "photos").mkdir()
    for im in doc["images"]:
        name = f"photo_{new_image[im['id']]}.png"
        shutil.copyfile(shapes / "images" / "val" / im["file_name"], root / "photos" / name)
        im.update(id=new_image[im["id"]], file_name=name)
    for ann in doc["annotations"]:
        ann.update(image_id=new_image[ann["image_id"]], category_id=new_cat[ann["category_id"]])
    for cat in doc["categories"]:
        cat["id"] = new_cat[cat["id"]]
    (root / "instances.json").write_text(json.dumps(doc))
    return root / "instances.json", root / "photos"


def _metrics(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, dict[str, float]]:
    assert main(["eval", "--model", MODEL, "--no-progress", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def reference(shapes: Path) -> dict[str, float]:
    """Box and mask AP (points) from the calibration evaluator on the zoo graph's raw outputs."""
    import onnx

    from edgeseg.calibration.evaluate import load_held_out, score_graph
    from edgeseg.runtime.resolve import find_model

    return score_graph(onnx.load(str(find_model(MODEL))), load_held_out(shapes, "val"))


def test_shapesworld_folder_matches_the_raw_output_reference(shapes: Path, reference: dict[str, float],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    got = _metrics(capsys, "--gt", str(shapes), "--task", "all")
    assert set(got) == {"bbox", "segm"}
    assert got["bbox"]["AP"] * 100 == pytest.approx(reference["bbox"], abs=0.5)
    assert got["segm"]["AP"] * 100 == pytest.approx(reference["segm"], abs=0.5)
    assert got["bbox"]["AP"] > 0.2  # a trained model on its own kind of data, not an empty result


def test_user_coco_set_gives_the_same_numbers(shapes: Path, user_set: tuple[Path, Path],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = _metrics(capsys, "--gt", str(shapes), "--task", "bbox")
    gt_json, photos = user_set
    user = _metrics(capsys, "--gt", str(gt_json), "--images", str(photos), "--task", "bbox")
    assert user["bbox"]["AP"] == pytest.approx(folder["bbox"]["AP"], abs=1e-9)
    assert user["bbox"]["AR100"] == pytest.approx(folder["bbox"]["AR100"], abs=1e-9)


def test_limit_scores_only_the_images_run(shapes: Path, capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    got = _metrics(capsys, "--gt", str(shapes), "--task", "bbox", "--limit", "3",
                   "--keep-pred", str(tmp_path))
    ids = {e["image_id"] for e in json.loads((tmp_path / "bbox.json").read_text())}
    assert len(ids) <= 3 and got["bbox"]["AP"] > 0


@pytest.mark.parametrize("args, message", [
    (["--gt", "{json}", "--task", "bbox"], "--images DIR is needed"),
    (["--pred", "gt", "--gt", "{folder}", "--task", "bbox"], "not both"),
    (["--gt", "{folder}", "--task", "keypoints"], "gives no keypoints"),
    (["--gt", "{folder}", "--task", "bbox", "--limit", "0"], "--limit must be >= 1"),
    (["--gt", "{folder}", "--task", "semantic", "--limit", "2"], "--task semantic needs a dataset folder"),
])
def test_bad_requests_are_one_line_errors(args: list[str], message: str, shapes: Path,
                                          user_set: tuple[Path, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    args = [a.format(json=user_set[0], folder=shapes) for a in args]
    assert main(["eval", "--model", MODEL, "--no-progress", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
