"""Output paths checked before any long work: a run that would fail to write its result after minutes
of inference, export or calibration should fail in its first second instead, with one line.

Every verb that writes a file calls `check_output_file(path, flag)` (or `check_output_dir`) before it
loads a model or reads data. The check creates nothing the user can see: it probes the folder with a
temporary file that is removed at once, because permission bits do not tell the truth for root or
for read-only mounts.
"""
from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from edgeseg.errors import EdgesegError


def _probe(folder: Path) -> None:
    """Create and remove a temporary file in `folder`; raises OSError when that is impossible."""
    fd, name = tempfile.mkstemp(prefix=".edgeseg-probe-", dir=folder)
    os.close(fd)
    os.unlink(name)


def _nearest_existing(folder: Path) -> Path:
    """`folder` or its closest existing ancestor (the one that must let us create the rest)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _check_folder(folder: Path, path: Path, flag: str) -> None:
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise EdgesegError(f"{flag} {path}: cannot write there, {existing} is a file, not a folder; "
                           "choose another path")
    try:
        _probe(existing)
    except OSError as err:
        reason = "the disk is full" if err.errno == errno.ENOSPC else \
            "the folder is read-only" if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else \
            err.strerror or str(err)
        raise EdgesegError(f"{flag} {path}: cannot write in {existing} ({reason}); choose a writable "
                           "path") from None


def check_output_file(path: str | Path, flag: str = "output") -> Path:
    """Raise EdgesegError unless a file can be written at `path` (its folders may still be missing).

    `flag` names the option in the message, e.g. "--sink" or "-o". Returns `path` as a Path.
    """
    path = Path(path)
    if path.is_dir():
        raise EdgesegError(f"{flag} {path} is a folder, not a file: give a file path (e.g. a name "
                           "inside that folder)")
    _check_folder(path.parent, path, flag)
    return path


def check_output_dir(path: str | Path, flag: str = "--out") -> Path:
    """Raise EdgesegError unless the folder `path` can be created (or written into, if it exists)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise EdgesegError(f"{flag} {path} is a file, not a folder: choose another path")
    _check_folder(path if path.exists() else path.parent, path, flag)
    return path
