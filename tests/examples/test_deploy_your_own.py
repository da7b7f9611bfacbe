"""docs/deploy-your-own.md's walk-through, run as written (slow: a MobileNetV3 Faster R-CNN is exported,
evaluated, calibrated and run on the CPU; about 2 minutes on two cores). The test reads the commands
from the page, so the page cannot drift from what works."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy-your-own.md"


def walkthrough_commands() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    pattern = r"<!-- walkthrough:start -->\s*```bash\n(.*?)```\s*<!-- walkthrough:end -->"
    block = re.search(pattern, text, re.S)
    assert block, "docs/deploy-your-own.md lost its walk-through block"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_the_walkthrough_block_is_found_and_has_every_step() -> None:
    verbs = [c.split()[1] for c in walkthrough_commands() if c.startswith("edgeseg ")]
    assert verbs == ["data", "export", "eval", "calibrate", "run"]


@pytest.mark.slow
def test_the_walkthrough_runs_on_a_fresh_folder(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    outputs = []
    for command in walkthrough_commands():
        done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=900)
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        outputs.append(done.stdout)
    metrics = json.loads(outputs[4].strip().splitlines()[-1])  # the eval step's --json line
    assert set(metrics) == {"bbox"} and 0.0 <= metrics["bbox"]["AP"] <= 1.0
    graph_labels = [json.loads(line)["annotations"] for line in (tmp_path / "results.jsonl").open()]
    names = {a.get("category_name") for frame in graph_labels for a in frame}
    assert names <= {"person", "circle", "square", "triangle", "star"}  # the user's names, no one else's
    for written in ("my_detector.int8.onnx", "my_detector.cpu-int8.onnx"):
        assert (tmp_path / written).is_file()
    assert isinstance(json.loads((tmp_path / "preds.json").read_text()), list)
