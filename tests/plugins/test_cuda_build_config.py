"""The CMake build's CUDA settings, checked without a GPU: default architectures per nvcc version
(plugins/cmake/EdgesegCudaArchs.cmake, run by `cmake -P`) and the symbols the kernels library exports."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "plugins" / "cmake" / "EdgesegCudaArchs.cmake"


def default_archs(tmp_path: Path, version: str) -> subprocess.CompletedProcess[str]:
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("no cmake")
    script = tmp_path / "archs.cmake"
    script.write_text(
        f'include("{MODULE}")\n'
        f'edgeseg_default_cuda_archs("{version}" archs)\n'
        'message(STATUS "archs=${archs}")\n'
    )
    return subprocess.run([cmake, "-P", str(script)], capture_output=True, text=True)


@pytest.mark.parametrize(
    "version, want",
    [
        ("12.6.85", "75;86;87;89;90"),  # JetPack 6.1/6.2: no Thor target exists
        ("12.4.131", "75;86;87;89;90"),
        ("12.8.93", "75;86;87;89;90;101"),  # Thor is sm_101 before CUDA 13
        ("12.9.86", "75;86;87;89;90;101"),
        ("13.0.88", "75;86;87;89;90;110"),
    ],
)
def test_default_architectures_follow_nvcc_version(tmp_path: Path, version: str, want: str) -> None:
    out = default_archs(tmp_path, version)
    assert out.returncode == 0, out.stderr
    assert f"archs={want}" in out.stdout + out.stderr


def test_too_old_nvcc_is_refused(tmp_path: Path) -> None:
    out = default_archs(tmp_path, "11.4.0")
    assert out.returncode != 0 and "CUDA >= 11.8" in out.stderr


def test_cmakelists_has_no_fixed_architecture_list() -> None:
    text = (REPO / "plugins" / "CMakeLists.txt").read_text()
    assert "110" not in text and "edgeseg_default_cuda_archs(${CMAKE_CUDA_COMPILER_VERSION}" in text


def test_kernels_library_exports_only_the_c_api() -> None:
    """`make cuda-check` (run before pytest by `make test`) builds it; hidden CUDA visibility."""
    library = REPO / "build" / "cuda-check" / "libedgeseg_kernels.so"
    nm = shutil.which("nm")
    if not library.is_file() or nm is None:
        pytest.skip("no kernels library from `make cuda-check` (needs nvcc) or no nm")
    out = subprocess.run(
        [nm, "-D", "--defined-only", str(library)], capture_output=True, text=True, check=True
    )
    exported = {line.split()[-1] for line in out.stdout.splitlines() if line.strip()}
    assert exported and all(name.startswith("edgeseg_") for name in exported), sorted(exported)
    assert "edgeseg_roi_align" in exported and "edgeseg_nms" in exported
