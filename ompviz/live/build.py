"""Compile the C shipped in the package on first use: the built-in OpenMP kernel (``kernel.c``) and the sampler's
per-thread loop (``procscan.c``, a shared library loaded with ctypes).

Each is cached per user under ``$XDG_CACHE_HOME/ompviz/<key>/<name>`` (default ``~/.cache``), where the key
hashes the source, the compiler's path and its ``--version`` banner and the flags: editing the source or switching
compilers gives a fresh build, everything else reuses the cached one. The build writes a temporary file in the same
directory and renames it into place, so two ompviz processes building at once never see half a binary.

The kernel is needed to run it, so not finding a compiler is a clear error there; the sampler's library is only
faster than its pure-Python path, so :func:`procscan_library` returns None instead of failing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ompviz.errors import OmpvizError

KERNEL_SOURCE = Path(__file__).with_name("kernel.c")
FLAGS = ("-fopenmp", "-O2")
BINARY_NAME = "ompviz-kernel"
PROCSCAN_SOURCE = Path(__file__).with_name("procscan.c")
PROCSCAN_FLAGS = ("-O2", "-shared", "-fPIC")
PROCSCAN_NAME = "libompviz-procscan.so"


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


def _cache_dir(src: bytes, cc: str, flags: Sequence[str], cache: Path | None) -> Path:
    h = hashlib.sha256()
    for part in (src, cc.encode(), _compiler_banner(cc), " ".join(flags).encode()):
        h.update(part)
        h.update(b"\0")
    return (cache or cache_root()) / h.hexdigest()[:16]


def _compile(cc: str, flags: Sequence[str], source: Path, out: Path) -> subprocess.CompletedProcess:
    """Build ``out`` from ``source`` through a temporary file renamed into place; the finished process (a
    non-zero returncode leaves ``out`` untouched). OSError/SubprocessError when the compiler cannot run."""
    fd, tmp = tempfile.mkstemp(prefix=".build-", dir=out.parent)
    os.close(fd)
    try:
        proc = subprocess.run(
            [cc, *flags, "-o", tmp, str(source)], capture_output=True, text=True, timeout=120, errors="replace"
        )
        if proc.returncode == 0:
            os.chmod(tmp, 0o755)
            os.replace(tmp, out)
        return proc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def kernel_binary(source: Path = KERNEL_SOURCE, cache: Path | None = None) -> Path:
    """Path of the compiled kernel, building it when the cache has none for this source and compiler."""
    try:
        src = source.read_bytes()
    except OSError as e:
        raise OmpvizError(f"cannot read the built-in kernel source {source}: {e.strerror or e}") from None
    cc = find_compiler()
    out_dir = _cache_dir(src, cc, FLAGS, cache)
    binary = out_dir / BINARY_NAME
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OmpvizError(f"cannot create the kernel cache directory {out_dir}: {e.strerror or e}") from None
    try:
        proc = _compile(cc, FLAGS, source, binary)
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
    return binary


def procscan_library(source: Path = PROCSCAN_SOURCE, cache: Path | None = None) -> Path | None:
    """Path of the sampler's compiled per-thread loop, building it when needed; None when it cannot be had (not
    Linux, no compiler, unreadable source, unwritable cache, a failed build): the sampler then uses its pure-Python
    path, which gives the same samples, only at a higher CPU cost."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        src = source.read_bytes()
        cc = find_compiler()
        out_dir = _cache_dir(src, cc, PROCSCAN_FLAGS, cache)
        lib = out_dir / PROCSCAN_NAME
        if lib.is_file():
            return lib
        out_dir.mkdir(parents=True, exist_ok=True)
        proc = _compile(cc, PROCSCAN_FLAGS, source, lib)
    except (OSError, subprocess.SubprocessError, OmpvizError):
        return None
    return lib if proc.returncode == 0 and lib.is_file() else None
