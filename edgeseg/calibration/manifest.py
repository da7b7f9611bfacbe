"""Calibration-set manifests: which frames calibrated a model, provably.

A manifest is JSON: {"version": 1, "files": [{"name", "sha256", "bytes"}...], "set_sha256"}.
`set_sha256` is the sha256 of the lines "<sha256>  <name>\\n" over the files sorted by name: it
changes when any frame changes, is added or removed, and goes into the engine metadata.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from edgeseg.hashing import sha256_file

MANIFEST_NAME = "manifest.json"


def build_manifest(files: list[Path]) -> dict[str, Any]:
    entries = sorted(
        ({"name": p.name, "sha256": sha256_file(p), "bytes": p.stat().st_size} for p in files),
        key=lambda e: str(e["name"]),
    )
    return {"version": 1, "files": entries, "set_sha256": set_hash(entries)}


def set_hash(entries: list[dict[str, Any]]) -> str:
    text = "".join(f"{e['sha256']}  {e['name']}\n" for e in sorted(entries, key=lambda e: str(e["name"])))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_manifest(folder: Path, files: list[Path]) -> dict[str, Any]:
    manifest = build_manifest(files)
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest
