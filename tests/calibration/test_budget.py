"""Accuracy budget: a model built to fail INT8 (a planted outlier channel) is restored by the fallback."""

from __future__ import annotations

import json

import onnx
import pytest

from edgeseg.calibration.budget import fit_budget, metric_drop
from edgeseg.calibration.calibrate import calibrate_file
from edgeseg.calibration.evaluate import load_held_out, score_graph
from edgeseg.calibration.images import GraphInput, iter_feeds, list_images
from edgeseg.calibration.qdq import quantizable_nodes, trt_qdq_graph
from edgeseg.calibration.ranges import collect_ranges
from edgeseg.calibration.recipe import Recipe
from edgeseg.errors import EdgesegError

SMALL = Recipe(min_frames=8, held_out_frames=8, sensitivity_frames=4)


@pytest.fixture(scope="module")
def outlier(calib_set):
    model = onnx.load(str(calib_set.fcn_outlier))
    files = list_images(calib_set.frames)
    ranges = collect_ranges(model, iter_feeds(GraphInput.of(model), files), "entropy", progress=False)
    return model, ranges, load_held_out(calib_set.held_out, "val")


def test_outlier_model_fails_int8_and_fallback_restores_it(calib_set, outlier):
    model, ranges, held = outlier
    fp32_reference = score_graph(onnx.load(str(calib_set.fcn)), held)
    fp32 = score_graph(model, held)
    assert fp32["semantic"] == pytest.approx(fp32_reference["semantic"], abs=0.01)  # outlier kept FP32 intact

    def build(keep, only):
        return trt_qdq_graph(model, ranges, keep, only)

    result = fit_budget(model, build, [], quantizable_nodes(model), held, 1.0, 4, 8, progress=False)
    assert metric_drop(result.fp32, result.int8_initial) > 5.0  # built to fail: INT8 loses many points
    assert result.fallback[0] == "/conv2/Conv"  # the layer reading the outlier tensor is the most sensitive
    assert result.within_budget and result.drop <= 1.0
    # independent re-check: the final precision map, rebuilt and scored again, is within budget
    rescored = score_graph(build(result.fallback, []), held)
    assert metric_drop(fp32, rescored) <= 1.0
    assert "FP32" in result.table() and "/conv2/Conv" in result.table()


def test_calibrate_writes_graphs_cache_and_report(calib_set, tmp_path):
    out = tmp_path / "fcn_outlier.int8.onnx"
    outcome = calibrate_file(
        calib_set.fcn_outlier,
        calib_set.frames,
        out,
        recipe=SMALL,
        held_out=calib_set.held_out,
        cpu_out=tmp_path / "cpu.onnx",
        cache_out=tmp_path / "model.calib",
        progress=False,
    )
    report = json.loads(outcome.report_path.read_text())
    trt = report["graphs"]["trt_qdq"]
    assert trt["precision"]["/conv2/Conv"] == "fp32" and trt["accuracy"]["within_budget"]
    assert report["graphs"]["cpu_int8"]["accuracy"]["drop"] <= 1.0
    assert len(report["calibration_set_sha256"]) == 64 and report["frames"] == 16
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert (
        json.loads(meta["edgeseg.calibration"])["calibration_set_sha256"] == report["calibration_set_sha256"]
    )
    # what the report claims is what the written graph scores
    held = load_held_out(calib_set.held_out, "val")
    assert score_graph(onnx.load(str(out)), held)["semantic"] == pytest.approx(
        trt["accuracy"]["int8"]["semantic"]
    )
    assert outcome.calibration_cache is not None and outcome.calibration_cache.read_text().startswith(
        "TRT-100300-"
    )


def test_unreachable_budget_is_reported_and_writes_no_graph(calib_set, tmp_path):
    out = tmp_path / "bad.int8.onnx"
    recipe = Recipe(min_frames=8, held_out_frames=8, sensitivity_frames=4, max_fallback=0)
    with pytest.raises(EdgesegError, match="loses .* points") as err:
        calibrate_file(
            calib_set.fcn_outlier,
            calib_set.frames,
            out,
            recipe=recipe,
            held_out=calib_set.held_out,
            progress=False,
        )
    assert "report in" in str(err.value)
    assert not out.exists()
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["graphs"]["trt_qdq"]["accuracy"]["within_budget"] is False
