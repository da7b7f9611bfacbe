"""`edgeseg eval` end to end on the hand-made dataset: the sanity check, a prediction folder, bad input."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from edgeseg.cli import main
from edgeseg.data.categories import semantic_index

CIRCLE, SKY = 1, 6


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(["eval", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def _last_json(out: str) -> dict[str, Any]:
    return json.loads(out.strip().splitlines()[-1])


def test_ground_truth_as_predictions_is_perfect_on_every_task(gt_dir: Path, capsys) -> None:
    rc, out, _ = _run(capsys, "--gt", str(gt_dir), "--split", "val", "--pred", "gt", "--task", "all",
                      "--json")
    assert rc == 0
    metrics = _last_json(out)
    assert set(metrics) == {"bbox", "segm", "keypoints", "semantic", "panoptic"}
    for task in ("bbox", "segm", "keypoints"):
        assert metrics[task]["AP"] == 1.0
    assert metrics["semantic"]["mIoU"] == 1.0 and metrics["semantic"]["pixel_accuracy"] == 1.0
    for group in ("All", "Things", "Stuff"):
        assert metrics["panoptic"][group]["PQ"] == 1.0
    assert "task" in out.splitlines()[0]  # the table comes first


def test_help_has_an_example(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["eval", "--help"])
    assert info.value.code == 0
    assert "edgeseg eval --gt" in capsys.readouterr().out


def _prediction_folder(gt_dir: Path, pred: Path) -> None:
    """Predictions equal to the ground truth except that image 1's circle is missed everywhere:
    no box for it, its pixels labelled sky in the semantic map, and no segment for it in the panoptic map."""
    instances = json.loads((gt_dir / "annotations" / "instances_val.json").read_text())
    boxes = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
             for a in instances["annotations"] if not a["iscrowd"] and a["category_id"] != CIRCLE]
    pred.mkdir()
    (pred / "bbox.json").write_text(json.dumps(boxes))
    shutil.copytree(gt_dir / "semantic" / "val", pred / "semantic")
    labels = np.array(Image.open(pred / "semantic" / "000001.png"))
    labels[labels == semantic_index(CIRCLE)] = semantic_index(SKY)
    Image.fromarray(labels).save(pred / "semantic" / "000001.png")
    panoptic = json.loads((gt_dir / "annotations" / "panoptic_val.json").read_text())
    shutil.copytree(gt_dir / "panoptic" / "val", pred / "panoptic")
    ann = next(a for a in panoptic["annotations"] if a["image_id"] == 1)
    circle_id = next(s["id"] for s in ann["segments_info"] if s["category_id"] == CIRCLE)
    ann["segments_info"] = [s for s in ann["segments_info"] if s["id"] != circle_id]
    rgb = np.array(Image.open(pred / "panoptic" / "000001.png"))
    wide = rgb.astype(np.int64)
    ids = wide[..., 0] + 256 * wide[..., 1] + 65536 * wide[..., 2]
    rgb[ids == circle_id] = 0
    Image.fromarray(rgb).save(pred / "panoptic" / "000001.png")
    (pred / "panoptic.json").write_text(json.dumps(panoptic))


def test_prediction_folder_with_a_missed_object(gt_dir: Path, tmp_path: Path, capsys) -> None:
    pred = tmp_path / "pred"
    _prediction_folder(gt_dir, pred)
    rc, out, err = _run(capsys, "--gt", str(gt_dir), "--pred", str(pred), "--task", "all", "--json")
    assert rc == 0
    metrics = _last_json(out)
    assert set(metrics) == {"bbox", "semantic", "panoptic"}  # no segm.json / keypoints.json: skipped
    # bbox: 5 categories with one non-crowd instance each; circle has recall 0 -> AP 0, the others 1.
    assert metrics["bbox"]["AP"] == pytest.approx(4 / 5, abs=1e-6)
    # semantic: circle IoU 0; sky gains the circle's pixels as false positives: IoU = sky / (sky + circle).
    gt_sem = [np.array(Image.open(p)) for p in sorted((gt_dir / "semantic" / "val").glob("*.png"))]
    sky = sum(int((g == semantic_index(SKY)).sum()) for g in gt_sem)
    circle = sum(int((g == semantic_index(CIRCLE)).sum()) for g in gt_sem)
    present = len({int(v) for g in gt_sem for v in np.unique(g)} - {255})
    assert metrics["semantic"]["per_class"]["circle"] == 0.0
    assert metrics["semantic"]["per_class"]["sky"] == pytest.approx(sky / (sky + circle), abs=1e-6)
    expected_miou = (present - 2 + sky / (sky + circle)) / present  # all other present classes: IoU 1
    assert metrics["semantic"]["mIoU"] == pytest.approx(expected_miou, abs=1e-6)
    # panoptic: 8 categories counted; circle is one FN (PQ 0), the rest perfect.
    assert metrics["panoptic"]["per_class"]["circle"]["FN"] == 1
    assert metrics["panoptic"]["All"]["PQ"] == pytest.approx(7 / 8, abs=1e-6)
    assert metrics["panoptic"]["Things"]["PQ"] == pytest.approx(4 / 5, abs=1e-6)
    assert metrics["panoptic"]["Stuff"]["PQ"] == pytest.approx(1.0, abs=1e-6)


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("task", "content", "message"), [
    ("bbox", {"annotations": []}, "is not COCO bbox results format"),
    ("bbox", [{"image_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}], "lacks 'category_id'"),
    ("bbox", [{"image_id": 999, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}],
     "different image sets"),
    ("segm", [{"image_id": 1, "category_id": 1, "segmentation": [[0, 0, 5, 0, 5, 5]], "score": 0.5}], "RLE"),
    ("keypoints", [{"image_id": 1, "category_id": 5, "keypoints": [], "score": 0.5}], "51 numbers"),
    ("panoptic", [], "is not a COCO panoptic JSON"),
    ("panoptic", {"annotations": [{"image_id": 999, "file_name": "x.png", "segments_info": []}]},
     "different image sets"),
])
def test_bad_prediction_files_exit_2_with_one_line(gt_dir: Path, tmp_path: Path, capsys, task: str,
                                                   content: Any, message: str) -> None:
    pred = _write(tmp_path / "pred.json", content)
    rc, out, err = _run(capsys, "--gt", str(gt_dir), "--pred", str(pred), "--task", task, "--json")
    assert rc == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert out == ""


def test_other_bad_input_exits_2(gt_dir: Path, tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('[{"image_id": 1,')
    cases = [
        (["--gt", str(gt_dir), "--pred", str(broken), "--task", "bbox"], "not valid JSON"),
        (["--gt", str(gt_dir), "--pred", str(tmp_path / "nope.json"), "--task", "bbox"], "not found"),
        (["--gt", str(tmp_path / "no_dataset"), "--pred", "gt", "--task", "bbox"], "edgeseg data shapes"),
        (["--gt", str(gt_dir), "--split", "train", "--pred", "gt", "--task", "bbox"], "no split 'train'"),
        (["--gt", str(gt_dir), "--split", "train", "--pred", "gt", "--task", "semantic"], "no split 'train'"),
        (["--gt", str(gt_dir), "--pred", str(broken), "--task", "all"], "--task all needs"),
        (["--gt", str(gt_dir), "--pred", str(tmp_path), "--task", "all"], "holds no predictions"),
    ]
    for args, message in cases:
        rc, _, err = _run(capsys, *args)
        assert rc == 2, args
        assert message in err, (args, err)
        assert len(err.strip().splitlines()) == 1
