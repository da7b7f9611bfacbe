"""--dla refuses FP32 engines, which the DLA cannot run (every layer would fall back to the GPU)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from edgeseg.engine import builder
from edgeseg.errors import EdgesegError


def test_fp32_on_dla_is_a_one_line_error() -> None:
    with pytest.raises(EdgesegError) as err:
        builder.check_dla("fp32")
    message = str(err.value)
    assert "--dla needs --precision fp16 or int8" in message and "GPU" in message
    assert "\n" not in message


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_fp16_and_int8_may_use_dla(precision: str) -> None:
    builder.check_dla(precision)


def test_use_dla_refuses_before_touching_the_config() -> None:
    """The refusal comes first: no DLA device type, core or GPU fallback is set on the config."""
    config = SimpleNamespace()
    with pytest.raises(EdgesegError, match="--dla needs"):
        builder._use_dla(SimpleNamespace(num_DLA_cores=2), config, 0, "fp32")
    assert vars(config) == {}
