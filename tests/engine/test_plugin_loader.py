"""edgeseg.trt.plugin_loader with a fake TensorRT registry and a recorded dlopen (no TensorRT here)."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from edgeseg.trt import plugin_loader


class FakeRegistry:
    def __init__(self) -> None:
        self.all_creators: list[Any] = []
        self.loaded: list[str] = []

    def add(self, name: str) -> None:
        self.all_creators.append(SimpleNamespace(name=name, plugin_version="1", plugin_namespace="edgeseg"))

    def load_library(self, path: str) -> None:  # what IPluginRegistry.load_library does via getCreators
        self.loaded.append(path)
        self.add("EdgesegRoIAlign")
        self.add("EdgesegNMS")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SimpleNamespace:
    registry = FakeRegistry()
    trt = SimpleNamespace(get_plugin_registry=lambda: registry)
    monkeypatch.setattr(plugin_loader, "load_tensorrt", lambda: (trt, None))
    monkeypatch.setattr(plugin_loader, "_LOADED", {})
    calls: list[tuple[str, int]] = []

    def fake_cdll(path: str, mode: int = 0) -> Any:
        calls.append((path, mode))
        return SimpleNamespace(getCreators=object())  # the loadLibrary variant: registers nothing itself

    monkeypatch.setattr(ctypes, "CDLL", fake_cdll)
    library = tmp_path / "libedgeseg_trt_plugins.so"
    library.write_bytes(b"not really ELF")
    return SimpleNamespace(registry=registry, calls=calls, library=library)


def test_library_is_opened_rtld_local_and_now(fake: SimpleNamespace) -> None:
    loaded = plugin_loader.load_plugin_library(fake.library)
    [(path, mode)] = fake.calls
    assert path == str(fake.library.resolve())
    assert mode & os.RTLD_NOW and not mode & os.RTLD_GLOBAL  # RTLD_LOCAL is the absence of RTLD_GLOBAL
    assert fake.registry.loaded == [str(fake.library.resolve())]
    assert {n for n, _, _ in loaded.creators} == {"EdgesegRoIAlign", "EdgesegNMS"}


def test_second_load_reuses_the_first(fake: SimpleNamespace) -> None:
    first = plugin_loader.load_plugin_library(fake.library)
    assert plugin_loader.load_plugin_library(fake.library) is first
    assert len(fake.calls) == 1 and len(fake.registry.loaded) == 1
