"""Run what the exporters generate with the real tools (bash, taskset, numactl, libgomp, LLVM libomp, shellcheck)
and check the binding the OS applied is the one the export promises.

The machine may have only 2 CPUs, so plans here use CPUs 0 and 1 of a 2-CPU topology (self-built, so the
planner is not under test). Hostile commands are run as ARGUMENTS of a harmless probe: the probe must receive
them verbatim, and none of the injection attempts may create its marker file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_export_golden import PLANS, build, hand_plan

from ompviz.export import render
from ompviz.export.shell import env_file
from ompviz.topology.model import PURecord, build_topology

BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="bash is not installed")

PROBE_C = r"""
#define _GNU_SOURCE
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
int main(void) {
  const char *tag = getenv("OMP_PLACES");
  if (!tag) tag = getenv("GOMP_CPU_AFFINITY");
  if (!tag) tag = getenv("KMP_AFFINITY");
  #pragma omp parallel
  {
    cpu_set_t s; CPU_ZERO(&s);
    sched_getaffinity(0, sizeof s, &s);  /* 0 = the calling thread */
    char buf[1024]; int n = 0;
    for (int c = 0; c < 1024 && n < 1000; c++)
      if (CPU_ISSET(c, &s)) n += snprintf(buf + n, sizeof buf - n, "%s%d", n ? "," : "", c);
    #pragma omp critical
    printf("%s|%d|%s\n", tag ? tag : "-", omp_get_thread_num(), buf);
  }
  return 0;
}
"""


def two_cpus():
    """1 package, 2 cores, CPUs 0 and 1: the CPUs this test machine has."""
    recs = [PURecord(c, package=0, numa=0, l3_key=0, core_key=c) for c in (0, 1)]
    return build_topology(recs, name="two-cpu test box", source="test:two", source_kind="synthetic")


def _allowed() -> set[int]:
    return set(os.sched_getaffinity(0))


needs_cpu01 = pytest.mark.skipif(not {0, 1} <= _allowed(), reason="needs CPUs 0 and 1 in this process's affinity")


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> str:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler (cc/gcc) to build the OpenMP probe")
    d = tmp_path_factory.mktemp("probe")
    src = d / "probe.c"
    src.write_text(PROBE_C)
    exe = d / "probe"
    subprocess.run([cc, "-O1", "-fopenmp", str(src), "-o", str(exe)], check=True, capture_output=True, timeout=60)
    return str(exe)


def run_bash(script: str, tmp_path: Path, **kw) -> subprocess.CompletedProcess:
    path = tmp_path / "gen.sh"
    path.write_text(script)
    return subprocess.run([BASH, str(path)], capture_output=True, text=True, timeout=60, cwd=tmp_path, **kw)


def parse_probe(out: str) -> dict[tuple[str, int], set[int]]:
    res = {}
    for line in out.splitlines():
        tag, thread, cpus = line.split("|")
        res[(tag, int(thread))] = {int(c) for c in cpus.split(",")}
    return res


# -- hostile command in sh --------------------------------------------------------------------------------------
def hostile_args(marker_dir: Path) -> list[str]:
    m = str(marker_dir)
    return [
        f"$(touch {m}/p1)",
        f"`touch {m}/p2`",
        f"'; touch {m}/p3; '",
        f'"; touch {m}/p4; "',
        f"x\ntouch {m}/p5",
        f"; touch {m}/p6",
        f"${{IFS}}$(touch {m}/p7)",
        "*",
        "$HOME",
        "a b\tc",
        "",
    ]


@pytest.mark.parametrize("fmt", ["sh", "taskset", "numactl", "gomp", "kmp"])
def test_hostile_command_is_inert(fmt, tmp_path):
    if fmt in ("taskset", "numactl") and shutil.which(fmt) is None:
        pytest.skip(f"{fmt} is not installed")
    if fmt in ("taskset", "numactl") and not {0, 1} <= _allowed():
        pytest.skip("needs CPUs 0 and 1")
    marker = tmp_path / "markers"
    marker.mkdir()
    out = tmp_path / "argv.jsonl"
    args = hostile_args(marker)
    probe = [sys.executable, "-c", "import sys,json; open(sys.argv[1],'a').write(json.dumps(sys.argv[2:])+'\\n')"]
    command = [*probe, str(out), *args]
    topo = two_cpus()
    plan = hand_plan(topo, ["0", "1"], places="threads")
    r = run_bash(render(fmt, plan, topo, command=command), tmp_path)
    assert r.returncode == 0, r.stderr
    assert list(marker.iterdir()) == [], "an injection attempt ran"
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert got == [args, args]


def test_generated_sh_passes_bash_n_and_shellcheck(tmp_path):
    sc = shutil.which("shellcheck")
    scripts = []
    for name in PLANS["small"]:
        topo, plan, command = build("small", name)
        scripts.append(render("sh", plan, topo, command=command))
        scripts.append(render("sh", plan, topo, command=None))
    topo = two_cpus()
    scripts.append(render("sh", hand_plan(topo, ["0", "1"], places="threads"), topo, command=hostile_args(tmp_path)))
    for i, text in enumerate(scripts):
        path = tmp_path / f"s{i}.sh"
        path.write_text(text)
        r = subprocess.run([BASH, "-n", str(path)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        if sc:
            r = subprocess.run([sc, "-s", "bash", str(path)], capture_output=True, text=True)
            assert r.returncode == 0, r.stdout
    if sc is None:
        pytest.skip("shellcheck is not installed (bash -n passed)")


def test_other_scripts_parse_with_bash_n(tmp_path):
    for fmt in ("slurm", "openmpi", "taskset", "numactl", "docker", "likwid", "kmp", "gomp"):
        for name in PLANS["small"]:
            topo, plan, command = build("small", name)
            path = tmp_path / f"{fmt}-{name}.sh"
            path.write_text(render(fmt, plan, topo, command=command))
            r = subprocess.run([BASH, "-n", str(path)], capture_output=True, text=True)
            assert r.returncode == 0, (fmt, name, r.stderr)


# -- the binding the OS applies ---------------------------------------------------------------------------------
@needs_cpu01
def test_sh_binds_threads_as_planned(probe, tmp_path):
    topo = two_cpus()
    # rank 0: one thread on {1}; rank 1: two threads on places {0},{1} (thread i -> place i, close)
    plan = hand_plan(topo, ["1", "0-1"], places="threads")
    r = run_bash(render("sh", plan, topo, command=[probe]), tmp_path)
    assert r.returncode == 0, r.stderr
    got = parse_probe(r.stdout)
    assert got == {("{1}", 0): {1}, ("{0},{1}", 0): {0}, ("{0},{1}", 1): {1}}


@needs_cpu01
def test_env_files_bind_threads_as_planned(probe, tmp_path):
    topo = two_cpus()
    plan = hand_plan(topo, ["1", "0-1"], places="threads")
    lines = []
    for w in plan.workers:
        (tmp_path / f"rank-{w.rank}.env").write_text(env_file(plan, topo, w.rank))
        lines.append(f"(set -a; . ./rank-{w.rank}.env; set +a; exec {probe})")
    r = run_bash("set -eu\n" + "\n".join(lines) + "\n", tmp_path)
    assert r.returncode == 0, r.stderr
    assert parse_probe(r.stdout) == {("{1}", 0): {1}, ("{0},{1}", 0): {0}, ("{0},{1}", 1): {1}}
    # and the one-file form holds the same blocks
    text = render("env", plan, topo)
    for w in plan.workers:
        assert env_file(plan, topo, w.rank).split("\n", 5)[-1] in text


@needs_cpu01
def test_gomp_cpu_affinity_binds_threads_as_planned(probe, tmp_path):
    topo = two_cpus()
    plan = hand_plan(topo, ["1", "0-1"], places="threads")
    r = run_bash(render("gomp", plan, topo, command=[probe]), tmp_path, env={**os.environ, "OMP_PLACES": "{0}"})
    assert r.returncode == 0, r.stderr
    # the script unsets the caller's OMP_PLACES (it would override GOMP_CPU_AFFINITY)
    # GOMP_CPU_AFFINITY lists thread i's CPU at position i: "0 1" for rank 1
    assert parse_probe(r.stdout) == {("1", 0): {1}, ("0 1", 0): {0}, ("0 1", 1): {1}}


def _libomp() -> str | None:
    try:
        import cmeel  # noqa: F401
    except ImportError:
        pass
    for base in sys.path:
        p = Path(base) / "cmeel.prefix" / "lib" / "libomp.so"
        if p.exists():
            return str(p)
    return None


@needs_cpu01
def test_kmp_affinity_binds_threads_as_planned_with_llvm_libomp(probe, tmp_path):
    lib = _libomp()
    if lib is None:
        pytest.skip("LLVM libomp (pip install cmeel-libomp) not found")
    topo = two_cpus()
    plan = hand_plan(topo, ["1", "0-1"], places="threads")
    env = {**os.environ, "LD_PRELOAD": lib, "KMP_WARNINGS": "0"}
    r = run_bash(render("kmp", plan, topo, command=[probe]), tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    kmp0 = "granularity=fine,explicit,proclist=[1]"
    kmp1 = "granularity=fine,explicit,proclist=[0,1]"
    assert parse_probe(r.stdout) == {(kmp0, 0): {1}, (kmp1, 0): {0}, (kmp1, 1): {1}}


# one write(2) per process: lines of concurrent ranks cannot interleave
PY_PROBE = "import os; os.write(1, f\"{os.environ.get('OMP_PLACES')} {sorted(os.sched_getaffinity(0))}\\n\".encode())"


@needs_cpu01
@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset is not installed")
def test_taskset_lines_apply_the_rank_cpus(tmp_path):
    topo = two_cpus()
    plan = hand_plan(topo, ["1", "0", "0-1"], places="threads")
    r = run_bash(render("taskset", plan, topo, command=[sys.executable, "-c", PY_PROBE]), tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == sorted(["{1} [1]", "{0} [0]", "{0},{1} [0, 1]"])


@needs_cpu01
@pytest.mark.skipif(shutil.which("numactl") is None, reason="numactl is not installed")
def test_numactl_lines_apply_cpus_and_membind(tmp_path):
    topo = two_cpus()
    plan = hand_plan(topo, ["1", "0"], places="threads")
    r = run_bash(render("numactl", plan, topo, command=[sys.executable, "-c", PY_PROBE]), tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == sorted(["{1} [1]", "{0} [0]"])
    # numactl --show run under the generated line reports the policy it inherited
    plan1 = hand_plan(topo, ["1"], places="threads")
    r = run_bash(render("numactl", plan1, topo, command=["numactl", "--show"]), tmp_path)
    assert r.returncode == 0, r.stderr
    show = dict(line.split(":", 1) for line in r.stdout.splitlines() if ":" in line)
    assert show["policy"].strip() == "bind"
    assert show["physcpubind"].split() == ["1"]
    assert show["membind"].split() == ["0"]
