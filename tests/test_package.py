"""The package imports without torch and the CLI answers."""
import subprocess
import sys


def test_import_without_torch():
    code = "import sys, edgeseg, edgeseg.cli, edgeseg.runtime.backend; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cli_help_lists_verbs():
    out = subprocess.run([sys.executable, "-m", "edgeseg.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "data" in out.stdout and "eval" in out.stdout


def test_cli_without_verb_exits_2():
    out = subprocess.run([sys.executable, "-m", "edgeseg.cli"], capture_output=True, text=True)
    assert out.returncode == 2
