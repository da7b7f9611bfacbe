"""Label sets travel with the model: file -> export metadata -> runtime (adapter, jsonl) and sidecar.

Each test pins one promise of issue 16's first item: a user's names reach every consumer, zoo graphs
exported before `edgeseg.labels` still get ShapesWorld's, and a graph without labels shows ids.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgeseg.errors import EdgesegError
from edgeseg.labels import (
    COCO,
    COCO_91,
    COCO_PANOPTIC,
    IDS,
    SHAPESWORLD,
    LabelSet,
    labels_from_metadata,
    load_labels,
    parse_labels,
)
from edgeseg.runtime.results import FrameResult
from edgeseg.runtime.task_adapters import DeployInfo

USER_YAML = """\
name: my-garden
categories:
{}
keypoints: [tip, base]
skeleton: [[1, 2]]
"""
USER_NAMES = ["rose", "tulip", "daisy", "bee", "snail", "soil", "lawn", "pond", "path", "fence"]


def user_label_file(tmp_path: Path) -> Path:
    rows = "\n".join(f"  - {{id: {k + 1}, name: {n}, isthing: {str(k < 5).lower()}}}"
                     for k, n in enumerate(USER_NAMES))
    path = tmp_path / "labels.yaml"
    path.write_text(USER_YAML.format(rows), encoding="utf-8")
    return path


def test_yaml_and_json_files_give_the_same_label_set(tmp_path):
    from_yaml = load_labels(user_label_file(tmp_path))
    assert [c.name for c in from_yaml.categories] == USER_NAMES
    assert [c.isthing for c in from_yaml.categories] == [True] * 5 + [False] * 5
    assert from_yaml.keypoints == ("tip", "base") and from_yaml.skeleton == ((1, 2),)
    as_json = tmp_path / "labels.json"
    as_json.write_text(json.dumps(from_yaml.to_json()), encoding="utf-8")
    assert load_labels(as_json) == from_yaml
    assert parse_labels(json.loads(from_yaml.dumps())) == from_yaml  # the metadata form round-trips
    names_only = parse_labels(["cup", "plate"])
    assert [(c.id, c.name, c.isthing) for c in names_only.categories] == [(1, "cup", True),
                                                                          (2, "plate", True)]


@pytest.mark.parametrize("text, why", [
    ("categories: [{id: 1, name: a}, {id: 1, name: b}]", "repeat"),
    ("categories: [{id: 1}]", "damaged"),
    ("keypoints: [a]\nskeleton: [[1, 2]]", "1-based"),
    ("categories: 3", "damaged"),
    ("[unclosed", "not valid"),
])
def test_bad_label_files_are_refused_with_a_reason(tmp_path, text, why):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(EdgesegError, match=why):
        load_labels(path)


def test_builtin_sets():
    assert SHAPESWORLD.name_of(1) == "circle" and SHAPESWORLD.get(6).isthing is False  # type: ignore[union-attr]
    assert len(COCO_91) == 91 and len(COCO.categories) == 80  # "N/A" ids are not categories
    assert COCO.name_of(1) == "person" and COCO.name_of(90) == "toothbrush" and COCO.name_of(12) == "class 12"
    assert len(COCO.keypoints) == 17 and len(COCO.skeleton) == 19
    assert len(COCO_PANOPTIC.categories) == 133 and len(COCO_PANOPTIC.stuff) == 53
    from edgeseg.data import categories  # the data side reads the same table

    assert SHAPESWORLD.categories == categories.CATEGORIES


def test_metadata_resolution_order():
    assert labels_from_metadata({"edgeseg.labels": COCO.dumps(), "edgeseg.model": "shapes_rcnn"}) == COCO
    assert labels_from_metadata({"edgeseg.model": "mask_rcnn"}) == SHAPESWORLD  # zoo graph from before labels
    assert labels_from_metadata({"edgeseg.model": "mask_rcnn", "edgeseg.family": "torchvision"}) == IDS
    assert labels_from_metadata({"edgeseg.model": "my_detector"}) == IDS
    with pytest.raises(EdgesegError, match="damaged"):
        labels_from_metadata({"edgeseg.labels": "{not json"})


def _props(**extra: str) -> dict[str, str]:
    props = {"edgeseg.task": "detection", "edgeseg.model": "my_detector", "edgeseg.classes": '["a"]',
             "edgeseg.input": '{"name": "images", "height": 32, "width": 32}',
             "edgeseg.outputs": '["boxes", "scores", "classes", "num_dets"]'}
    return {**props, **extra}


def test_a_graph_without_labels_shows_ids(tmp_path):
    from edgeseg.runtime.overlays import category_name
    from edgeseg.runtime.sinks import JsonlSink
    from edgeseg.runtime.task_adapters import decode

    info = DeployInfo.from_props(_props(), "g.onnx")
    assert info.labels == IDS and info.labels.is_ids
    outputs = {"boxes": np.array([[1, 2, 10, 12]], np.float32), "scores": np.array([0.9], np.float32),
               "classes": np.array([1], np.int32), "num_dets": np.array([1])}
    result = decode(outputs, info, FrameResult(0, 32, 32))
    assert category_name(1, result.labels) == "class 1"  # not ShapesWorld's circle, not COCO's person
    sink = JsonlSink(tmp_path / "r.jsonl")
    sink.write(result, None)
    sink.close()
    ann = json.loads((tmp_path / "r.jsonl").read_text())["annotations"][0]
    assert ann["category_id"] == 1 and "category_name" not in ann
    coco_info = DeployInfo.from_props(_props(**{"edgeseg.labels": COCO.dumps()}), "g.onnx")
    result = decode(outputs, coco_info, FrameResult(0, 32, 32))
    assert result.to_json()["annotations"][0]["category_name"] == "person"


def test_sidecar_keeps_the_label_set_and_old_sidecars_still_read():
    from edgeseg.trt.sidecar import EngineMetadata, Target

    target = Target("10.3.0", "Orin", (8, 7))
    meta = EngineMetadata("m", "0" * 64, "fp16", target, task="semantic", classes=["a"],
                          labels=LabelSet("mine", COCO.categories[:2]).to_json())
    back = EngineMetadata.from_json(json.loads(json.dumps(meta.to_json())))
    assert back.labels is not None and parse_labels(back.labels).name_of(2) == "bicycle"
    old = meta.to_json()
    del old["labels"]
    assert EngineMetadata.from_json(old).labels is None


def test_engine_info_reads_labels_from_the_sidecar():
    from edgeseg.runtime.backend import TensorSpec
    from edgeseg.runtime.resolve import engine_info
    from edgeseg.trt.sidecar import EngineMetadata, Target

    class Engine:
        def inputs(self) -> list[TensorSpec]:
            return [TensorSpec("images", (1, 32, 32, 3), np.dtype(np.uint8))]

        def outputs(self) -> list[TensorSpec]:
            return [TensorSpec("semantic", (1, 32, 32), np.dtype(np.uint8))]

    meta = EngineMetadata("my_segmenter", "0" * 64, "fp16", Target("10.3.0", "Orin", (8, 7)), task="semantic",
                          classes=["a"], labels=COCO.to_json())
    assert engine_info(meta, Engine(), "m.engine").labels == COCO  # type: ignore[arg-type]
    meta.labels = None  # a sidecar written before labels: ids (the model is no zoo model)
    assert engine_info(meta, Engine(), "m.engine").labels == IDS  # type: ignore[arg-type]


def test_user_label_file_round_trips_export_ort_jsonl_and_sidecar(tmp_path):
    """YAML file -> `export(..., labels=)` metadata -> OrtBackend + DeployAdapter -> jsonl names, and the
    builder's view of the graph (what goes into the sidecar) -> sidecar JSON."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from edgeseg.engine.onnx_info import summarize
    from edgeseg.export.onnx_export import export
    from edgeseg.runtime.backends.ort import OrtBackend
    from edgeseg.runtime.sinks import JsonlSink
    from edgeseg.runtime.task_adapters import DeployAdapter
    from edgeseg.trt.sidecar import EngineMetadata, Target

    user = load_labels(user_label_file(tmp_path))
    graph = export("fcn_nearest", tmp_path / "m.onnx", random_init=True, batch="1",
                   labels=user_label_file(tmp_path))
    adapter = DeployAdapter(graph)
    assert adapter.info.labels == user
    backend = OrtBackend(graph)
    try:
        size = (adapter.info.height, adapter.info.width, 3)
        frame = np.random.default_rng(0).integers(0, 255, size, np.uint8)
        inputs, box = adapter.preprocess(frame)
        outputs = {k: v[0] for k, v in backend.infer(inputs).items()}
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            close()
    result = FrameResult(0, frame.shape[0], frame.shape[1])
    adapter.postprocess(outputs, box, result)
    sink = JsonlSink(tmp_path / "r.jsonl")
    sink.write(result, None)
    sink.close()
    record = json.loads((tmp_path / "r.jsonl").read_text())
    assert record["semantic"]
    for entry in record["semantic"]:
        assert entry["category_name"] == USER_NAMES[entry["label"]]
        assert entry["category_id"] == entry["label"] + 1

    facts = summarize(graph).facts
    assert facts.labels is not None and parse_labels(facts.labels) == user
    meta = EngineMetadata("fcn_nearest", "0" * 64, "fp32", Target("10.3.0", "Orin", (8, 7)), task="semantic",
                          classes=facts.classes, labels=facts.labels)
    back = EngineMetadata.from_json(json.loads(json.dumps(meta.to_json())))
    assert back.labels is not None and parse_labels(back.labels) == user


def test_export_refuses_a_bad_label_file_before_torch(tmp_path):
    """`--labels` is checked before torch is imported or the model loaded (torch is made unimportable)."""
    import subprocess
    import sys

    code = ("import sys\n"
            "sys.modules['torch'] = None\n"
            "from edgeseg.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    bad = tmp_path / "labels.yaml"
    bad.write_text("categories: [{id: 1, name: a}, {id: 1, name: b}]", encoding="utf-8")
    run = subprocess.run([sys.executable, "-c", code, "export", "fcn_nearest", "-o", str(tmp_path / "m.onnx"),
                          "--labels", str(bad)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "ids repeat" in run.stderr, run.stderr
    assert not (tmp_path / "m.onnx").exists()
