"""Export every zoo model into edgeseg/zoo/<name>.onnx and record the files' sha256 in onnx.json.

`CPU_TWINS` also get `cpu/<name>.onnx`, recorded under their entry's "cpu" key: a subfolder and
no models of their own, so tools that list the zoo's graphs or walk the index (TensorRT builds,
`doctor`) see the static graphs only.

The zoo ships these graphs beside the weights so that a runtime-only install (no torch) can run
every zoo model. Run after training: `edgeseg export --zoo` (models without weights are skipped
and listed). The index is a separate file from zoo.json, which belongs to the training side.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeseg.export.onnx_export import DEFAULT_OPSET, export

MAX_BYTES = 25 * 1024 * 1024
# Zoo graphs that also ship a `cpu/<name>.onnx` twin whose mask head skips empty detection slots
# (ONNX Runtime only: data-dependent shapes); the ORT backend runs it in their place. Kept to the
# models the CPU path and the README demo use, since every twin adds ~6.5 MB to the repository.
CPU_TWINS = ("mask_rcnn", "panoptic_rcnn")


def zoo_dir() -> Path:
    from edgeseg.models.zoo import ZOO_DIR

    return ZOO_DIR


def export_zoo(out_dir: str | Path | None = None, names: list[str] | None = None, opset: int = DEFAULT_OPSET,
               random_init: bool = False) -> dict[str, Any]:
    """Export `names` (default: all) and write `onnx.json` in `out_dir`; returns that index.

    random_init exports untrained weights (for tests and dry runs; never for shipping).
    """
    from edgeseg.errors import EdgesegError
    from edgeseg.hashing import sha256_file
    from edgeseg.models import zoo

    target = Path(out_dir) if out_dir is not None else zoo_dir()
    index_path = target / "onnx.json"
    index: dict[str, Any] = {"version": 1, "models": {}, "skipped": {}}
    if index_path.is_file():
        index["models"] = dict(json.loads(index_path.read_text(encoding="utf-8")).get("models", {}))
    for name in names or zoo.names():
        try:
            path = export(name, target / f"{name}.onnx", opset=opset, random_init=random_init)
        except EdgesegError as exc:
            index["skipped"][name] = str(exc)
            continue
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise EdgesegError(f"{path} is {size / 2**20:.1f} MiB, over the zoo's 25 MiB per graph: "
                               "shrink the model before shipping it")
        index["models"][name] = {"file": path.name, "sha256": sha256_file(path), "bytes": size,
                                 "opset": opset, "ops": "edgeseg", "random_init": random_init}
        if name in CPU_TWINS:
            (target / "cpu").mkdir(exist_ok=True)
            twin = export(name, target / "cpu" / f"{name}.onnx", opset=opset, random_init=random_init,
                          mask_slots="valid")
            index["models"][name]["cpu"] = {"file": f"cpu/{twin.name}", "sha256": sha256_file(twin),
                                            "bytes": twin.stat().st_size, "mask_slots": "valid"}
    index_path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return index
