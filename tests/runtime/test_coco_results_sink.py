"""`edgeseg run --sink preds.json`: a COCO results list that pycocotools loads, written as frames come."""
from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from runtime_doubles import NumberAdapter, NumberBackend, known_result, numbered_frames

from edgeseg.errors import EdgesegError
from edgeseg.runtime.coco_results import coco_entries
from edgeseg.runtime.pipeline import Pipeline
from edgeseg.runtime.sinks import CocoResultsSink, open_sink


def test_entries_carry_box_mask_and_keypoints_of_each_detection():
    result = known_result()
    entries = coco_entries(result, image_id=42, category_map={5: 105})
    assert [e["image_id"] for e in entries] == [42, 42]
    assert [e["category_id"] for e in entries] == [1, 105]  # unmapped ids stay
    assert entries[0]["bbox"] == [30.0, 20.0, 40.0, 40.0] and entries[1]["score"] == pytest.approx(0.66)
    masks = result.full_masks()
    for k, entry in enumerate(entries):
        rle = dict(entry["segmentation"], counts=entry["segmentation"]["counts"].encode())
        np.testing.assert_array_equal(mask_utils.decode(rle).astype(bool), masks[k])
    assert entries[1]["keypoints"] == [float(v) for v in result.keypoints[1].reshape(-1)]


def test_sink_writes_a_list_pycocotools_loads(tmp_path):
    path = tmp_path / "preds.json"
    sink = open_sink(str(path))
    assert isinstance(sink, CocoResultsSink)
    first, second = known_result(), known_result()
    second.frame_id = 8
    sink.write(first, None)
    sink.write(second, None)
    sink.close()
    entries = json.loads(path.read_text())
    assert [e["image_id"] for e in entries] == [7, 7, 8, 8]
    gt = COCO()
    gt.dataset = {"images": [{"id": i, "height": 96, "width": 128} for i in (7, 8)],
                  "annotations": [], "categories": [{"id": 1, "name": "a"}, {"id": 5, "name": "b"}]}
    gt.createIndex()
    assert len(gt.loadRes(str(path)).getAnnIds()) == 4


def test_pipeline_frames_become_image_ids_in_order(tmp_path):
    path = tmp_path / "preds.json"
    Pipeline(numbered_frames(12), model=NumberAdapter(), backend=NumberBackend(), sinks=[str(path)]).run()
    entries = json.loads(path.read_text())
    assert [e["image_id"] for e in entries] == list(range(12))


def test_a_failed_write_keeps_the_whole_entries_and_a_valid_list(tmp_path, monkeypatch):
    path = tmp_path / "preds.json"
    sink = CocoResultsSink(path)
    sink.write(known_result(), None)

    def full_disk(text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sink._file, "write", full_disk)
    with pytest.raises(EdgesegError, match="preds.json"):
        sink.write(known_result(), None)
    assert len(json.loads(path.read_text())) == 2  # the first frame's two entries, list closed
