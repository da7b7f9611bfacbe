"""tools/gpu_check.sh (`make gpu-check`) on this machine, which has no GPU: its CPU-side parts.

The GPU steps themselves (build, needs_cuda tests, benchmark, sanitizers) need an NVIDIA GPU; here
we check that it parses, refuses cleanly without a GPU or nvcc, and writes its one report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tools" / "gpu_check.sh"


def run(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], str]:
    report = tmp_path / "gpu" / "report.md"
    full = {**os.environ, "EDGESEG_GPU_REPORT": str(report), **env}
    out = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=full, timeout=60)
    return out, report.read_text() if report.is_file() else ""


def fake_smi(tmp_path: Path, body: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    smi = bin_dir / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\n{body}\n")
    smi.chmod(0o755)
    return smi


def test_script_parses() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0


@pytest.mark.parametrize("smi", ["missing", "fails", "lists none"])
def test_no_gpu_is_refused_with_a_reason_and_a_report(tmp_path: Path, smi: str) -> None:
    path = {
        "missing": str(tmp_path / "no-such-nvidia-smi"),
        "fails": str(fake_smi(tmp_path, "echo 'NVIDIA-SMI has failed' >&2; exit 9")),
        "lists none": str(fake_smi(tmp_path, "exit 0")),
    }[smi]
    out, report = run(tmp_path, NVIDIA_SMI=path)
    assert out.returncode == 2
    assert "gpu-check: no NVIDIA GPU" in out.stderr and "report:" in out.stderr
    assert "result: NOT RUN: no NVIDIA GPU" in report and report.startswith("# edgeseg gpu-check")


def test_no_nvcc_is_refused(tmp_path: Path) -> None:
    smi = fake_smi(tmp_path, "echo 'GPU 0: Fake GPU (UUID: GPU-0)'")
    path = f"{smi.parent}:/usr/bin:/bin"  # nvcc lives elsewhere (e.g. /usr/local/bin or the CUDA prefix)
    if shutil.which("nvcc", path=path):
        pytest.skip("nvcc is in /usr/bin here")
    out, report = run(tmp_path, NVIDIA_SMI=str(smi), PATH=path)
    assert out.returncode == 2 and "nvcc not found" in out.stderr
    assert "NOT RUN: nvcc not found" in report


def test_budget_bounds_every_step_and_the_report_says_so(tmp_path: Path) -> None:
    """With a zero budget every GPU step is skipped (nothing built or run), the report lists each
    step and the run fails: a check that did not run never reads as passed."""
    if shutil.which("nvcc") is None:
        pytest.skip("needs nvcc on PATH to get past the toolchain check")
    smi = fake_smi(tmp_path, "echo 'GPU 0: Fake GPU (UUID: GPU-0)'")
    out, report = run(tmp_path, NVIDIA_SMI=str(smi), EDGESEG_GPU_BUDGET_S="0")
    assert out.returncode == 1 and "gpu-check: FAILED" in out.stdout
    assert "- GPU: GPU 0: Fake GPU" in report
    for name in ("build kernels", "needs_cuda tests", "benchmark"):
        assert f"| {name} | SKIP | out of the 0 s budget |" in report
    assert "memcheck" in report and "racecheck" in report
    assert "- result: FAIL" in report
    assert not (tmp_path / "gpu" / "logs" / "needs_cuda_tests.log").exists()
