"""Engine file names, the sidecar round trip, and refusing engines built for another machine."""

import json

import pytest

from edgeseg.errors import EdgesegError
from edgeseg.trt.sidecar import (
    CacheKey,
    EngineMetadata,
    Target,
    check_engine_matches,
    gpu_slug,
    mismatch,
    read_sidecar,
    rebuild_reason,
    sidecar_path,
    write_sidecar,
)

ORIN = Target("10.3.0.30", "Orin", (8, 7))
H100 = Target("11.1.0.106", "NVIDIA H100 80GB HBM3", (9, 0))


def make_meta(engine_bytes=b"plan", target=ORIN, **extra):
    import hashlib

    return EngineMetadata(
        model_name="maskrcnn_shapes",
        model_sha256="3f2a9c1b0d4e" + "0" * 52,
        precision="int8",
        target=target,
        engine_sha256=hashlib.sha256(engine_bytes).hexdigest(),
        task="instance",
        classes=["circle", "square"],
        input_size=[320, 320],
        plugin_library_sha256="ab" * 32,
        build_flags={"strongly_typed": True, "profiles": {"images": {"min": [1, 3, 320, 320]}}},
        calibration_set_sha256="cd" * 32,
        accuracy_vs_fp32={"metric": "mask_ap", "fp32": 41.2, "engine": 40.7},
        **extra,
    )


@pytest.mark.parametrize(
    "name, slug",
    [
        ("NVIDIA GeForce RTX 4090", "geforce-rtx-4090"),
        ("Orin", "orin"),
        ("NVIDIA H100 80GB HBM3", "h100-80gb-hbm3"),
        ("  ", "gpu"),
        ("NVIDIA Thor (sm_110)", "thor-sm-110"),
    ],
)
def test_gpu_slug(name, slug):
    assert gpu_slug(name) == slug


def test_file_name_carries_the_cache_key():
    key = CacheKey("3f2a9c1b0d4e" + "f" * 52, "int8", ORIN)
    assert key.file_name("maskrcnn_shapes") == "maskrcnn_shapes.3f2a9c1b0d4e.int8.orin-sm87.trt10.3.0.engine"
    other = CacheKey(key.model_sha256, "int8", H100)
    expected = "maskrcnn_shapes.3f2a9c1b0d4e.int8.h100-80gb-hbm3-sm90.trt11.1.0.engine"
    assert other.file_name("maskrcnn_shapes") == expected
    fp16 = CacheKey(key.model_sha256, "fp16", ORIN)
    assert fp16.file_name("a b/c") == "a_b_c.3f2a9c1b0d4e.fp16.orin-sm87.trt10.3.0.engine"


def test_sidecar_round_trip(tmp_path):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"plan")
    meta = make_meta()
    path = write_sidecar(engine, meta)
    assert path == tmp_path / "m.engine.json" == sidecar_path(engine)
    data = json.loads(path.read_text())
    assert data["format"] == "edgeseg.engine/1"
    target = {
        "tensorrt_version": "10.3.0.30",
        "gpu_name": "Orin",
        "compute_capability": [8, 7],
        "flavour": "tensorrt",
        "aot_capabilities": [],
    }
    assert data["target"] == target
    design_fields = (
        "model_name",
        "model_sha256",
        "task",
        "classes",
        "input_size",
        "precision",
        "plugin_library_sha256",
        "build_flags",
        "calibration_set_sha256",
        "accuracy_vs_fp32",
    )
    for key in design_fields:
        assert key in data
    assert read_sidecar(engine) == meta


def test_sidecar_problems_are_clear_errors(tmp_path):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"plan")
    with pytest.raises(EdgesegError, match="has no sidecar"):
        read_sidecar(engine)
    sidecar_path(engine).write_text("{not json")
    with pytest.raises(EdgesegError, match="cannot read"):
        read_sidecar(engine)
    sidecar_path(engine).write_text(json.dumps({"format": "other/1"}))
    with pytest.raises(EdgesegError, match="not an edgeseg engine sidecar"):
        read_sidecar(engine)
    damaged = make_meta().to_json()
    del damaged["target"]["gpu_name"]
    sidecar_path(engine).write_text(json.dumps(damaged))
    with pytest.raises(EdgesegError, match="damaged"):
        read_sidecar(engine)


def test_mismatch_names_each_difference():
    meta = make_meta()
    assert mismatch(meta, ORIN) is None
    assert mismatch(meta, Target("10.3.0.26", "Orin", (8, 7))) == "TensorRT 10.3.0.30 != 10.3.0.26"
    both = mismatch(meta, H100)
    assert "TensorRT 10.3.0.30 != 11.1.0.106" in both and "compute capability 8.7 != 9.0" in both
    assert "GPU 'Orin' != 'NVIDIA H100 80GB HBM3'" in both
    assert mismatch(meta, Target("10.3.0.30", "Other Orin", (8, 7))) == "GPU 'Orin' != 'Other Orin'"


def test_engine_for_another_machine_is_refused_with_rebuild_advice(tmp_path):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"plan")
    meta = make_meta()
    check_engine_matches(engine, meta, ORIN)  # the machine it was built for: accepted
    with pytest.raises(EdgesegError) as err:
        check_engine_matches(engine, meta, H100)
    message = str(err.value)
    assert "TensorRT 10.3.0.30 on Orin" in message and "TensorRT 11.1.0.106 on NVIDIA H100" in message
    assert "edgeseg build maskrcnn_shapes --precision int8" in message


def test_replaced_engine_file_is_refused(tmp_path):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"another plan")
    with pytest.raises(EdgesegError, match="does not match the hash"):
        check_engine_matches(engine, make_meta(b"plan"), ORIN)


def test_rebuild_reason(tmp_path):
    engine = tmp_path / "m.engine"
    meta = make_meta()
    flags = meta.build_flags
    assert rebuild_reason(engine, meta.key, flags) == "no engine yet"
    engine.write_bytes(b"plan")
    assert "has no sidecar" in rebuild_reason(engine, meta.key, flags)
    write_sidecar(engine, meta)
    assert rebuild_reason(engine, meta.key, flags) is None
    as_tuples = {"strongly_typed": True, "profiles": {"images": {"min": (1, 3, 320, 320)}}}
    assert rebuild_reason(engine, meta.key, as_tuples) is None  # JSON lists == tuples
    changed = rebuild_reason(engine, meta.key, {**flags, "workspace_mb": 512})
    assert changed == "build options changed: workspace_mb"
    assert "another model" in rebuild_reason(engine, CacheKey(meta.model_sha256, "int8", H100), flags)
    engine.write_bytes(b"changed")
    assert rebuild_reason(engine, meta.key, flags) == "the engine file does not match its sidecar's hash"
