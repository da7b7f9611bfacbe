"""The runtime knows no dataset: labels travel with the model, so no runtime module imports edgeseg.data.

The one exception is `shapes://`, the synthetic live scene, which `sources.py` imports lazily when
such a source is opened; this test never opens one.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ZOO_GRAPH = Path(__file__).resolve().parents[2] / "edgeseg" / "zoo" / "fcn_nearest.onnx"

CODE = """
import importlib, pkgutil, sys
import edgeseg.runtime as runtime
names = [m.name for m in pkgutil.walk_packages(runtime.__path__, "edgeseg.runtime.")]
for name in names:
    importlib.import_module(name)
from edgeseg.runtime.task_adapters import read_deploy_info
from edgeseg.runtime.overlays import render
from edgeseg.runtime.results import FrameResult
import numpy as np
info = read_deploy_info(sys.argv[1])  # a zoo graph: labels resolved from the zoo index
render(FrameResult(0, 8, 8, image=np.zeros((8, 8, 3), np.uint8), semantic=np.zeros((8, 8), np.uint8),
                   labels=info.labels))
print(len(names), info.labels.name)
print(sorted(m for m in sys.modules if m == "edgeseg.data" or m.startswith("edgeseg.data.")))
"""


def test_runtime_imports_no_dataset_module():
    out = subprocess.run([sys.executable, "-c", CODE, str(ZOO_GRAPH)], capture_output=True, text=True,
                         check=True)
    count_and_set, loaded = out.stdout.strip().splitlines()
    assert int(count_and_set.split()[0]) >= 15  # every runtime module was imported
    assert count_and_set.split()[1] == "shapesworld"
    assert loaded == "[]"
