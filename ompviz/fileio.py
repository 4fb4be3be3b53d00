"""Writing user files safely: atomic (temp file in the same directory, fsync, rename), no silent overwrite."""

from __future__ import annotations

import os
import tempfile

from ompviz.errors import OmpvizError


def _umask() -> int:
    # Linux tells the umask without changing it; elsewhere set-and-restore (the CLI is single-threaded there).
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def check_writable(path: str, *, force: bool = False) -> tuple[str, str]:
    """(expanded path, its directory) when ``path`` may be written: not a directory, not an existing file without
    ``force``, in a directory that exists. Otherwise one OmpvizError line saying so (the rules of every writer)."""
    path = os.path.expanduser(path)
    if os.path.isdir(path):
        raise OmpvizError(f"{path}: is a directory; give a file name")
    if os.path.exists(path) and not force:
        raise OmpvizError(f"{path}: already exists; use --force to overwrite it")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise OmpvizError(f"{path}: directory {directory} does not exist")
    return path, directory


def write_atomic(path: str, text: str, *, force: bool = False, mode: int | None = None) -> None:
    """Write ``text`` to ``path`` atomically. Refuses to overwrite without ``force``; one-line errors.

    The file gets ``mode`` (e.g. 0o755 for scripts), else what a plain ``open(path, "w")`` would give (0o666 less
    the umask): mkstemp's private 0o600 would surprise users handing rank files to a service account."""
    if not path or not str(path).strip():
        raise OmpvizError("empty output path: give a file name, e.g. -o launch.sh")
    path, directory = check_writable(path, force=force)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".ompviz-", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, (mode if mode is not None else 0o666) & ~_umask())
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
