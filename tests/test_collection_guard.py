"""The collection guard in tests/conftest.py: a test folder that collects nothing fails the run."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

CONFTEST = Path(__file__).with_name("conftest.py")


def load_guard():
    spec = importlib.util.spec_from_file_location("edgeseg_tests_guard", CONFTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_suite(root: Path) -> Path:
    tests = root / "tests"
    for folder in ("ok", "build"):
        (tests / folder).mkdir(parents=True)
        (tests / folder / f"test_{folder}.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    shutil.copy(CONFTEST, tests / "conftest.py")
    return tests


def test_silent_folders_names_only_the_folder_without_collected_tests(tmp_path):
    tests = make_suite(tmp_path)
    guard = load_guard()
    collected = {(tests / "ok" / "test_ok.py").resolve()}
    assert guard.silent_folders(tests.resolve(), collected) == [(tests / "build").resolve()]
    collected.add((tests / "build" / "test_build.py").resolve())
    assert guard.silent_folders(tests.resolve(), collected) == []


def test_a_whole_suite_run_fails_when_pytest_skips_a_build_folder(tmp_path):
    tests = make_suite(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode != 0
    assert "no test was collected from tests/build" in run.stdout + run.stderr
    shutil.rmtree(tests / "build")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
