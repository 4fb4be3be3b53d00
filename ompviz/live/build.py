"""Compile the built-in OpenMP kernel (``kernel.c``, shipped in the package) on first use.

The binary is cached per user under ``$XDG_CACHE_HOME/ompviz/<key>/ompviz-kernel`` (default ``~/.cache``), where
the key hashes the source, the compiler's path and its ``--version`` banner and the flags: editing the source or
switching compilers gives a fresh build, everything else reuses the cached one. The build writes a temporary file
in the same directory and renames it into place, so two ompviz processes building at once never see half a binary.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ompviz.errors import OmpvizError

KERNEL_SOURCE = Path(__file__).with_name("kernel.c")
FLAGS = ("-fopenmp", "-O2")
BINARY_NAME = "ompviz-kernel"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ompviz"


def find_compiler() -> str:
    """$CC when set, else the first of cc, gcc, clang on PATH."""
    cc = os.environ.get("CC")
    candidates = [cc] if cc else ["cc", "gcc", "clang"]
    for name in candidates:
        path = shutil.which(name)
        if path:
            return path
    raise OmpvizError(
        f"no C compiler found ({', '.join(candidates)}) to build the built-in OpenMP kernel: install gcc "
        "(e.g. apt install gcc) or set CC, or run your own program with 'ompviz run ... -- CMD'"
    )


def _compiler_banner(cc: str) -> bytes:
    try:
        return subprocess.run([cc, "--version"], capture_output=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return b""


def kernel_binary(source: Path = KERNEL_SOURCE, cache: Path | None = None) -> Path:
    """Path of the compiled kernel, building it when the cache has none for this source and compiler."""
    try:
        src = source.read_bytes()
    except OSError as e:
        raise OmpvizError(f"cannot read the built-in kernel source {source}: {e.strerror or e}") from None
    cc = find_compiler()
    h = hashlib.sha256()
    for part in (src, cc.encode(), _compiler_banner(cc), " ".join(FLAGS).encode()):
        h.update(part)
        h.update(b"\0")
    out_dir = (cache or cache_root()) / h.hexdigest()[:16]
    binary = out_dir / BINARY_NAME
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OmpvizError(f"cannot create the kernel cache directory {out_dir}: {e.strerror or e}") from None
    fd, tmp = tempfile.mkstemp(prefix=".build-", dir=out_dir)
    os.close(fd)
    try:
        try:
            proc = subprocess.run(
                [cc, *FLAGS, "-o", tmp, str(source)], capture_output=True, text=True, timeout=120, errors="replace"
            )
        except (OSError, subprocess.SubprocessError) as e:
            raise OmpvizError(f"running {cc} to build the OpenMP kernel failed: {e}") from None
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
            # the compiler's own diagnosis ("x.c:1:1: error: ...", "fatal error: omp.h: ...", "cannot find -lgomp")
            keys = (": error:", "fatal error", "cannot find", "unsupported", "unknown argument")
            detail = next((ln for ln in lines if any(k in ln for k in keys)), lines[0] if lines else "no output")
            raise OmpvizError(
                f"{cc} {' '.join(FLAGS)} could not build the OpenMP kernel ({detail.strip()}); "
                "install a compiler with OpenMP support (gcc + libgomp) or run your own program after '--'"
            )
        os.chmod(tmp, 0o755)
        os.replace(tmp, binary)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return binary
