"""edgeseg.plugins finds the built libraries, or says how to build them."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeseg import plugins
from edgeseg.errors import EdgesegError


def test_missing_library_explains_how_to_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(plugins.PLUGIN_ENV, str(tmp_path))
    monkeypatch.setattr(plugins, "_REPO", tmp_path / "no-checkout")
    with pytest.raises(EdgesegError) as err:
        plugins.library_path()
    message = str(err.value)
    assert plugins.PLUGIN_LIBRARY in message and str(tmp_path) in message
    assert "-DTENSORRT_ROOT=" in message  # desktop recipe
    assert "-DCMAKE_CUDA_ARCHITECTURES=87" in message  # Jetson recipe
    assert "\n" not in message


def test_env_folder_wins_and_variants_are_distinct(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (plugins.PLUGIN_LIBRARY, plugins.STATIC_PLUGIN_LIBRARY, plugins.KERNELS_LIBRARY):
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setenv(plugins.PLUGIN_ENV, str(tmp_path))
    assert plugins.library_path() == tmp_path / plugins.PLUGIN_LIBRARY
    assert plugins.library_path(static_registration=True) == tmp_path / plugins.STATIC_PLUGIN_LIBRARY
    assert plugins.kernels_library_path() == tmp_path / plugins.KERNELS_LIBRARY


def test_checkout_build_folder_is_searched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(plugins.PLUGIN_ENV, raising=False)
    monkeypatch.setattr(plugins, "_REPO", tmp_path)
    build = tmp_path / "build" / "plugins"
    build.mkdir(parents=True)
    (build / plugins.KERNELS_LIBRARY).write_bytes(b"")
    assert plugins.kernels_library_path() == build / plugins.KERNELS_LIBRARY
    with pytest.raises(EdgesegError):
        plugins.library_path()
