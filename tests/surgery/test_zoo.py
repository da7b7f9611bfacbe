"""Ladder step 4: the patched export of every zoo model equals the unpatched one on ONNX Runtime."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeseg.surgery.io import load_model, save_model
from edgeseg.surgery.registry import DEFAULT_PASSES, apply


def _zoo_exports() -> list[Any]:
    try:
        export = importlib.import_module("edgeseg.export")
    except ImportError:
        return []
    return list(getattr(export, "zoo_exports", lambda: [])())


EXPORTS = _zoo_exports()


@pytest.mark.skipif(
    not EXPORTS, reason="edgeseg.export provides no zoo_exports() yet (export issue not landed)"
)
@pytest.mark.parametrize("entry", EXPORTS, ids=lambda e: getattr(e, "name", str(e)))
def test_patched_zoo_export_equals_unpatched(entry: Any, tmp_path: Path) -> None:
    from edgeseg.runtime.backends.ort import OrtBackend

    src = Path(entry.onnx_path)
    patched, _ = apply(load_model(src), list(DEFAULT_PASSES))
    save_model(patched, tmp_path / "patched.onnx")
    ref_backend, got_backend = OrtBackend(src, intra_op_threads=1), OrtBackend(tmp_path / "patched.onnx", 1)
    feed = {s.name: np.asarray(v) for s, v in zip(ref_backend.inputs(), entry.sample_inputs(), strict=True)}
    ref, got = ref_backend.infer(feed), got_backend.infer(feed)
    for name, value in ref.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-4, atol=1e-4, err_msg=name)
