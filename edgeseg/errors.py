"""User-facing errors.

Anything a user can cause (bad paths, bad input files, missing optional packages) raises
`EdgesegError` with one line that says what is wrong and what to do. The CLI prints that line and
exits with code 2; library callers catch it like any exception. Bugs stay ordinary exceptions.
"""
from __future__ import annotations


class EdgesegError(Exception):
    """A problem with the user's input or environment, explained in one actionable line."""

    exit_code = 2


def missing_extra(package: str, extra: str) -> EdgesegError:
    """The error for an optional dependency that is not installed."""
    return EdgesegError(f"{package} is not installed: install it with `pip install 'edgeseg[{extra}]'`")
