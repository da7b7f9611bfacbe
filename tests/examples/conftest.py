"""A deploy graph for the example and `edgeseg run` tests: exported once per session.

The shapes_rcnn architecture (box, mask, keypoint and semantic heads, so every result field and the
panoptic fusion run) with random weights: these tests check plumbing, not accuracy, so they need no
trained zoo file and stay the same when the zoo is retrained.
"""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def deploy_graph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = pytest.importorskip("torch")
    from edgeseg.export.onnx_export import export

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    try:
        return export("shapes_rcnn", tmp_path_factory.mktemp("graph") / "shapes_rcnn.onnx", random_init=True)
    finally:
        torch.set_num_threads(threads)
