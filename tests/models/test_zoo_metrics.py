"""`make zoo-metrics`: every zoo.json figure re-measured from a regenerated split (issue 19).

Fast tests check the bookkeeping on hand-made tables; the slow test regenerates the 500-image val
split and scores every zoo model (~25 min on one core), failing beyond 0.005 of zoo.json.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from edgeseg.models import zoo_metrics

INDEX = {
    "base": {"weights": "base.pt", "metrics": {"bbox.AP": 0.50, "segm.AP": 0.40, "seconds_per_image": 0.1}},
    "view": {"base": "base", "heads": ["box"], "metrics": {"bbox.AP": 0.50}},
    "fcn": {"weights": "fcn.pt", "metrics": {"semantic.mIoU": 0.80}},
}


def test_only_models_with_their_own_weights_are_measured() -> None:
    assert zoo_metrics.measured_models(INDEX) == ["base", "fcn"]


def test_views_take_their_heads_share_of_the_base() -> None:
    measured = {"base": {"bbox.AP": 0.51, "segm.AP": 0.41, "seconds_per_image": 0.2}}
    table = zoo_metrics.with_views(INDEX, measured)
    assert table["view"] == {"bbox.AP": 0.51}
    assert "fcn" not in table  # not measured, not invented


def test_differences_flag_beyond_the_tolerance_and_ignore_timing() -> None:
    table = {"base": {"bbox.AP": 0.5049, "segm.AP": 0.4051, "seconds_per_image": 9.0},
             "fcn": {"semantic.mIoU": 0.80, "semantic.extra": 0.1}}
    off = zoo_metrics.differences(INDEX, table)
    assert [(m, k) for m, k, _, _ in off] == [("base", "segm.AP"), ("fcn", "semantic.extra")]


@pytest.mark.slow
def test_every_zoo_metric_reproduces_from_a_regenerated_split(tmp_path: Path) -> None:
    assert zoo_metrics.main(["--data", str(tmp_path / "val"), "--check", "--no-progress"]) == 0


def test_write_replaces_metrics_but_keeps_the_recorded_time(tmp_path, monkeypatch):
    import json

    index = tmp_path / "zoo.json"
    index.write_text(json.dumps({"version": 1, "models": INDEX}))
    monkeypatch.setattr(zoo_metrics.zoo, "ZOO_INDEX", index)
    zoo_metrics.write({"base": {"bbox.AP": 0.3, "seconds_per_image": 7.0}})
    written = json.loads(index.read_text())["models"]
    assert written["base"]["metrics"] == {"bbox.AP": 0.3, "seconds_per_image": 0.1}
    assert written["fcn"] == INDEX["fcn"]
