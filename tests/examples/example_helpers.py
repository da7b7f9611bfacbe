"""Small readers shared by the example and `edgeseg run` tests."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def shapes(frames: int, size: str = "96x64", fps: int = 0) -> str:
    """A short unpaced synthetic clip: tiny frames keep the CPU cost of these tests low."""
    return f"shapes://?fps={fps}&size={size}&frames={frames}&seed=3"


def run_example(name: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def video_frames(path: Path) -> list[tuple[int, int]]:
    """(height, width) of every frame PyAV decodes from `path`: a file that does not play raises."""
    import av

    with av.open(str(path)) as container:
        return [(f.height, f.width) for f in container.decode(video=0)]


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
