"""sha256 of a file: one helper for weights, graphs, engines, plugins and calibration frames.

A leaf module (standard library only) so the torch-free runtime and the build stage can both use it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks (engines and graphs can be hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
