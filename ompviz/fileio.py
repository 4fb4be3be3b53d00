"""Writing user files safely: atomic (temp file in the same directory, fsync, rename), no silent overwrite."""

from __future__ import annotations

import os
import tempfile

from ompviz.errors import OmpvizError


def write_atomic(path: str, text: str, *, force: bool = False, mode: int | None = None) -> None:
    """Write ``text`` to ``path`` atomically. Refuses to overwrite without ``force``; one-line errors."""
    path = os.path.expanduser(path)
    if os.path.isdir(path):
        raise OmpvizError(f"{path}: is a directory; give a file name")
    if os.path.exists(path) and not force:
        raise OmpvizError(f"{path}: already exists; use --force to overwrite it")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise OmpvizError(f"{path}: directory {directory} does not exist")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".ompviz-", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise OmpvizError(f"{path}: cannot write: {e.strerror or e}") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
