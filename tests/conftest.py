"""Shared fixtures and one collection guard. Marks (slow, needs_cuda, needs_trt, needs_camera) are
declared in pyproject.toml.

The guard exists because pytest silently skipped `tests/build/` for months (it ignores folders named
`build`): a whole-suite run now fails when a folder under tests/ that holds test files collects none.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

import pytest

TESTS_ROOT = Path(__file__).resolve().parent


def folders_with_test_files(root: Path) -> set[Path]:
    """Every folder under `root` (itself included) holding a test_*.py file, skipping caches."""
    return {p.parent for p in root.rglob("test_*.py") if "__pycache__" not in p.parts}


def silent_folders(root: Path, collected_files: set[Path]) -> list[Path]:
    """Folders with test files of which not one contributed a collected test."""
    return sorted(f for f in folders_with_test_files(root) if not any(c.parent == f for c in collected_files))


def _runs_whole_suite(config: pytest.Config) -> bool:
    args = [Path(a.split("::")[0]).resolve() for a in config.args]
    return any(a == TESTS_ROOT or a == TESTS_ROOT.parent for a in args)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Before marks deselect anything: every test folder must have collected at least one test."""
    if not _runs_whole_suite(config) or config.getoption("keyword") or config.getoption("lf", False):
        return
    missing = silent_folders(TESTS_ROOT, {Path(str(item.path)).resolve() for item in items})
    if missing:
        names = ", ".join(str(m.relative_to(TESTS_ROOT.parent)) for m in missing)
        raise pytest.UsageError(
            f"no test was collected from {names}: pytest skips folders named like build output "
            "(build, dist, venvs) and files that fail to match its patterns; rename the folder"
        )


@pytest.fixture
def make_read_only(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], Path]:
    """`make_read_only(folder)` creates `folder` as one nobody may write in, for output checks.

    We run as root, where permission bits do not stop writes, so the output check's write probe
    (`edgeseg.outputs._probe`) fails in that folder, and only there, as on a read-only mount.
    """
    import edgeseg.outputs as outputs

    real_probe = outputs._probe
    blocked: set[Path] = set()

    def probe(folder: Path) -> None:
        if Path(folder) in blocked:
            raise PermissionError(errno.EACCES, "Permission denied", str(folder))
        real_probe(folder)

    monkeypatch.setattr(outputs, "_probe", probe)

    def make(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        blocked.add(Path(folder))
        return folder

    return make
