"""The CLI imports one module per verb and calls its `register`; `inspect` lives in `command`."""

from edgeseg.surgery.command import register_inspect as register

__all__ = ["register"]
