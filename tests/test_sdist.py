"""`python -m build --sdist` makes an sdist that builds: it holds every C++ file setup.py compiles
and every header they include, and a wheel built from it alone has a working `edgeseg._C`.

The reference for "every header" is not MANIFEST.in but the sources themselves: the quoted
`#include`s of the compiled .cpp files are followed transitively (against the including file's
folder and `plugins/`, setup.py's include dir), so a new header that MANIFEST.in misses fails here.
The sdist is built from a copy of the checkout's git files, as from a fresh clone: setuptools
also packs whatever an old `edgeseg.egg-info/SOURCES.txt` lists, which hid a missing MANIFEST.in.
Both builds run without build isolation (no registry needed): `build` and `pybind11` come with the
[dev] extra. About 40 s, most of it compiling.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPILED = ["edgeseg/csrc/*.cpp", "plugins/*/*_cpu.cpp"]
REQUIRED = COMPILED + ["plugins/*/*.h", "plugins/common/*.h"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def included_files(sources: list[Path]) -> set[str]:
    """Repo-relative paths of the sources and every quoted include they reach."""
    seen: set[str] = set()
    todo = list(sources)
    while todo:
        path = todo.pop()
        rel = path.relative_to(ROOT).as_posix()
        if rel in seen:
            continue
        seen.add(rel)
        for name in INCLUDE.findall(path.read_text(encoding="utf-8")):
            hits = [d / name for d in (path.parent, ROOT / "plugins") if (d / name).is_file()]
            assert hits, f"{rel} includes {name!r}, found neither beside it nor under plugins/"
            todo.append(hits[0].resolve())
    return seen


def fresh_copy(dest: Path) -> Path:
    """The files git knows (tracked or not ignored), without build leftovers such as egg-info."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, check=True, capture_output=True, timeout=60).stdout
    for rel in filter(None, listing.decode().split("\0")):
        source = ROOT / rel
        if source.is_file() or source.is_symlink():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel, follow_symlinks=False)
    return dest


@pytest.mark.slow
def test_sdist_holds_the_cpp_sources_and_headers_and_builds_a_wheel(tmp_path: Path) -> None:
    pytest.importorskip("build")
    pytest.importorskip("pybind11")
    if not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to copy from")
    src, dist = fresh_copy(tmp_path / "src"), tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "-o", str(dist), str(src)],
                   cwd=src, check=True, capture_output=True, timeout=600)
    (sdist,) = dist.glob("edgeseg-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}

    required = {p.relative_to(ROOT).as_posix() for pattern in REQUIRED for p in ROOT.glob(pattern)}
    compiled = [p for pattern in COMPILED for p in ROOT.glob(pattern)]
    assert len(compiled) >= 3 and any(n.endswith("/_math.h") for n in required)
    reached = included_files(compiled)
    assert {"plugins/roi_align/_math.h", "plugins/nms/_math.h"} <= reached
    assert not (required | reached) - names, f"missing from the sdist: {sorted((required | reached) - names)}"

    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps",
                    str(sdist), "-w", str(wheels)], check=True, capture_output=True, timeout=900)
    (wheel,) = wheels.glob("edgeseg-*.whl")
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        assert any(re.fullmatch(r"edgeseg/_C\..*\.so", n) for n in zf.namelist())
        zf.extractall(unpacked)
    # the wheel's own _C, not the checkout's: two overlapping boxes of one class -> one kept
    probe = (
        "import edgeseg, numpy as np; from edgeseg.ops import cpu\n"
        f"assert edgeseg.__file__.startswith({str(unpacked)!r}), edgeseg.__file__\n"
        "b = np.array([[[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60]]], np.float32)\n"
        "s = np.array([[[0.9], [0.8], [0.7]]], np.float32)\n"
        "print(int(cpu.nms(b, s, max_detections=5)[4][0]))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={"PYTHONPATH": str(unpacked)},
                         check=True, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "2"
