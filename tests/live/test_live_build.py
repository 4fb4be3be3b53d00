"""Kernel build cache and runtime-library discovery."""

from __future__ import annotations

import os
import shutil

import pytest

from ompviz.errors import OmpvizError
from ompviz.live import launcher
from ompviz.live.build import KERNEL_SOURCE, kernel_binary
from ompviz.plan.model import Worker

needs_cc = pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="no C compiler")


@needs_cc
def test_kernel_is_built_once_per_source(tmp_path):
    b1 = kernel_binary(cache=tmp_path)
    mtime = b1.stat().st_mtime_ns
    assert kernel_binary(cache=tmp_path) == b1 and b1.stat().st_mtime_ns == mtime  # cached, not rebuilt
    src = tmp_path / "k.c"
    src.write_text(KERNEL_SOURCE.read_text() + "\n/* changed */\n")
    b2 = kernel_binary(src, cache=tmp_path)
    assert b2 != b1 and os.access(b2, os.X_OK)
    assert not [p for p in b1.parent.iterdir() if p.name.startswith(".build-")]  # no temporary left behind


def test_no_compiler_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", "ompviz-no-such-cc")
    with pytest.raises(OmpvizError) as e:
        kernel_binary(cache=tmp_path)
    assert "no C compiler found" in str(e.value) and "\n" not in str(e.value)


@needs_cc
def test_compile_error_is_one_clear_line(tmp_path):
    src = tmp_path / "bad.c"
    src.write_text("int main(void) { return nope; }\n")
    with pytest.raises(OmpvizError) as e:
        kernel_binary(src, cache=tmp_path)
    assert "could not build the OpenMP kernel" in str(e.value) and "nope" in str(e.value)


def test_runtime_env(monkeypatch, tmp_path):
    assert launcher.runtime_env("gnu") == {}
    monkeypatch.setenv("OMPVIZ_LIBIOMP5", str(tmp_path / "missing.so"))
    with pytest.raises(OmpvizError, match="Intel libiomp5 not found: pip install intel-openmp"):
        launcher.runtime_env("intel")
    fake = tmp_path / "libomp.so"
    fake.write_bytes(b"")
    monkeypatch.setenv("OMPVIZ_LIBOMP", str(fake))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    env = launcher.runtime_env("llvm", base={"LD_PRELOAD": "libx.so"})
    assert env["LD_PRELOAD"] == f"{fake} libx.so"
    shim = env["LD_LIBRARY_PATH"]
    # the gcc-built program's libgomp.so.1 dependency resolves to the preloaded runtime itself
    assert os.path.realpath(os.path.join(shim, "libgomp.so.1")) == os.path.realpath(fake)


def test_worker_env_replaces_stale_omp_settings():
    w = Worker(2, None, (), (("OMP_PLACES", "{0}"), ("OMP_PROC_BIND", "close"), ("OMP_NUM_THREADS", "1")), 1, (), ())
    env = launcher.worker_env(w, world_size=4, run_id="abc", base={"GOMP_CPU_AFFINITY": "0-3", "PATH": "/bin"})
    assert "GOMP_CPU_AFFINITY" not in env and env["PATH"] == "/bin"
    assert env["OMP_PLACES"] == "{0}" and env["OMP_DISPLAY_AFFINITY"] == "true"
    assert env["OMP_AFFINITY_FORMAT"] == launcher.AFFINITY_FORMAT
    assert (env["OMPVIZ_RANK"], env["OMPVIZ_WORLD_SIZE"], env["OMPVIZ_RUN_ID"]) == ("2", "4", "abc")
