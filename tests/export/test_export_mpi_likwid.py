"""Run the generated ``openmpi`` and ``likwid`` exports with the real tools and check the binding the OS applied.

Open MPI (Debian's openmpi-bin, 4.1.x here) and likwid-pin (Debian's likwid) are optional: every test skips with
the reason when the tool is absent. The machine may have only 2 CPUs (0 and 1, where hwloc logical = OS ids), so
the logical <-> OS conversion of the rankfile is checked by handing Open MPI a fake hwloc topology
(``OMPI_MCA_hwloc_base_topo_file``) whose logical order differs from the OS order while the CPUs the ranks use
(0 and 1) exist on this machine.

What was seen by hand with Open MPI 4.1.4 and written down here as the reasons for the checks:
- a rank bound to a PU that does not exist is only a WARNING: the job runs unbound. So the checks read each
  rank's own affinity, never just mpirun's exit status.
- ``-x VAR=...`` given before the first app context of an MPMD line reaches that context only, so the export sets
  per-rank OMP_* with ``env`` inside each context; the env each rank received is checked here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_export_exec import PROBE_C, two_cpus
from test_export_golden import hand_plan

from ompviz.cpuset import CpuSet
from ompviz.export import render
from ompviz.plan.model import Plan, ThreadPlacement, Worker

BASH = shutil.which("bash")
MPIRUN = shutil.which("mpirun")
LIKWID_PIN = shutil.which("likwid-pin")
OMP = ("OMP_PLACES", "OMP_PROC_BIND", "OMP_NUM_THREADS")


def _allowed() -> set[int]:
    return set(os.sched_getaffinity(0))


def _open_mpi_version() -> str | None:
    if MPIRUN is None:
        return None
    try:
        out = subprocess.run([MPIRUN, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        if "(Open MPI)" in line:
            return line.split("(Open MPI)")[1].strip()
    return None


OMPI = _open_mpi_version()
needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")
needs_cpu01 = pytest.mark.skipif(not {0, 1} <= _allowed(), reason="needs CPUs 0 and 1 in this process's affinity")
needs_ompi = pytest.mark.skipif(
    OMPI is None, reason="Open MPI's mpirun is not installed (Debian: apt-get install openmpi-bin)"
)
needs_likwid = pytest.mark.skipif(
    LIKWID_PIN is None, reason="likwid-pin is not installed (Debian: apt-get install likwid)"
)

# One write(2) per rank, so lines of concurrent ranks cannot interleave.
MPI_PROBE = """\
import json, os
e = os.environ
d = {"rank": int(e["OMPI_COMM_WORLD_RANK"]), "cpus": sorted(os.sched_getaffinity(0)),
     "env": {k: e.get(k) for k in ("OMP_PLACES", "OMP_PROC_BIND", "OMP_NUM_THREADS")}}
os.write(1, (json.dumps(d) + "\\n").encode())
"""


def _clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without OMP_* / OMPI_* (they would leak into the ranks), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "OMPI_", "GOMP_", "KMP_"))}
    if os.geteuid() == 0:
        # mpirun refuses to run as root unless told twice (containers and CI run as root)
        env["OMPI_ALLOW_RUN_AS_ROOT"] = env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    env.update(extra)
    return env


def _run(script: str, tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    path = tmp_path / "gen.sh"
    path.write_text(script)
    return subprocess.run([BASH, str(path)], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)


def _mpi_ranks(plan: Plan, tmp_path: Path, topo, **extra_env: str) -> dict[int, dict]:
    probe = tmp_path / "probe.py"
    probe.write_text(MPI_PROBE)
    script = render("openmpi", plan, topo, command=[sys.executable, str(probe)])
    r = _run(script, tmp_path, _clean_env(**extra_env))
    assert r.returncode == 0, r.stderr
    got = {}
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            d = json.loads(line)
            got[d["rank"]] = d
    return got


# -- Open MPI: the binding and the env every rank got ------------------------------------------------------------
HAND_MPI = {
    # rank lists, expected CPUs per rank (by hand: plain OS ids on a machine where logical = OS)
    "two-ranks-reversed": (["1", "0"], {0: [1], 1: [0]}),  # per-rank OMP_PLACES: MPMD contexts with env
    "one-rank-both": (["0-1"], {0: [0, 1]}),  # a single rank: SPMD line with -x
    "three-ranks-overlap": (["1", "0", "0-1"], {0: [1], 1: [0], 2: [0, 1]}),  # more ranks than CPUs
}


@needs_bash
@needs_ompi
@needs_cpu01
@pytest.mark.parametrize("name", list(HAND_MPI))
def test_openmpi_ranks_get_planned_cpus_and_env(name, tmp_path):
    lists, expected = HAND_MPI[name]
    topo = two_cpus()
    plan = hand_plan(topo, lists, places="threads")
    got = _mpi_ranks(plan, tmp_path, topo)
    assert {r: d["cpus"] for r, d in got.items()} == expected
    for w in plan.workers:
        assert got[w.rank]["env"] == dict(w.env), f"rank {w.rank} env"


@needs_bash
@needs_ompi
@needs_cpu01
def test_openmpi_same_env_for_all_ranks_goes_through_x(tmp_path):
    # Every rank with the same OMP_* values: the export uses one -np N context and -x, which must reach all ranks.
    topo = two_cpus()
    base = hand_plan(topo, ["1", "0"], places="threads")
    env = (("OMP_PLACES", "threads"), ("OMP_PROC_BIND", "close"), ("OMP_NUM_THREADS", "1"))
    workers = tuple(Worker(w.rank, w.cpus, w.places, env, 1, w.gnu, w.llvm) for w in base.workers)
    plan = Plan(base.request, base.topology_summary, workers, ())
    script = render("openmpi", plan, topo, command=["probe"])
    assert " -x OMP_PLACES=threads " in script and " -np 2 probe" in script
    got = _mpi_ranks(plan, tmp_path, topo)
    assert {r: d["cpus"] for r, d in got.items()} == {0: [1], 1: [0]}
    assert all(d["env"] == dict(env) for d in got.values())


@needs_bash
@needs_ompi
def test_openmpi_live_plans_bind_as_planned(tmp_path):
    """The real planner on this machine (its live topology), the export run by mpirun: each rank's affinity and
    OMP_* are the plan's. On 2 CPUs: 2 ranks x 1 CPU, one rank on everything, 3 ranks (overlap), SMT one."""
    from ompviz.plan import plan as make_plan
    from ompviz.plan.model import PlanRequest
    from ompviz.topology import load

    topo = load("live")
    if topo.disallowed:
        pytest.skip("this process may not use every CPU: mpirun would bind outside the allowed set")
    requests = [
        PlanRequest(ranks=2, threads=1),
        PlanRequest(ranks=1),
        PlanRequest(ranks=3, threads=1),
        PlanRequest(ranks=2, smt="one", places="threads"),
    ]
    for i, req in enumerate(requests):
        plan = make_plan(topo, req)
        d = tmp_path / f"r{i}"
        d.mkdir()
        got = _mpi_ranks(plan, d, topo)
        workers = [w for w in plan.workers if w.cpus]
        assert sorted(got) == list(range(len(workers))), req
        for r, w in enumerate(workers):
            assert got[r]["cpus"] == list(w.cpus), (req, r)
            assert got[r]["env"] == dict(w.env), (req, r)


# Two cores with two PUs each, SMT siblings numbered N and N+2 (Zen-style). hwloc numbers PUs depth-first:
# core 0 = P#0, P#2 -> L#0, L#1; core 1 = P#1, P#3 -> L#2, L#3 (checked with lstopo -l / -p). OS CPU 1 is
# logical PU 2, so a rankfile with OS ids would name P#2 (L#1), absent on a 2-CPU machine: with Open MPI 4.1.4
# that rank then runs unbound on CPUs 0,1 (seen by hand), and a missing --use-hwthread-cpus makes slot=2 the
# third CORE, which does not exist: mpirun fails. Only a correct export binds rank 0 to CPU 1.
FAKE = "pack:1 core:2 pu:2(indexes=2*2:1*2)"


@needs_bash
@needs_ompi
@needs_cpu01
def test_openmpi_rankfile_logical_ids_where_they_differ_from_os_ids(tmp_path):
    lstopo = shutil.which("lstopo-no-graphics") or shutil.which("lstopo")
    if lstopo is None:
        pytest.skip("hwloc's lstopo is not installed (needed to write the fake topology XML)")
    from ompviz.topology import load

    xml = tmp_path / "fake.xml"
    subprocess.run([lstopo, "--input", FAKE, "--of", "xml", str(xml)], check=True, capture_output=True, timeout=60)
    topo = load(str(xml))  # the same file Open MPI reads, so both see one machine
    plan = hand_plan(topo, ["1", "0"], places="threads")
    script = render("openmpi", plan, topo, command=["probe"])
    assert "rank 0=localhost slot=2\n" in script and "rank 1=localhost slot=0\n" in script
    got = _mpi_ranks(plan, tmp_path, topo, OMPI_MCA_hwloc_base_topo_file=str(xml))
    assert {r: d["cpus"] for r, d in got.items()} == {0: [1], 1: [0]}
    assert got[0]["env"]["OMP_PLACES"] == "{1}" and got[1]["env"]["OMP_PLACES"] == "{0}"


@needs_bash
def test_openmpi_script_refuses_another_mpirun(tmp_path):
    # MPICH's (Hydra) mpirun does not read Open MPI rankfiles: the script must stop, not launch unbound ranks.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    marker = tmp_path / "launched"
    (fake_bin / "mpirun").write_text(
        f"#!/bin/sh\ncase \"$1\" in --version) echo 'HYDRA build details:';; *) touch {marker};; esac\n"
    )
    (fake_bin / "mpirun").chmod(0o755)
    topo = two_cpus()
    script = render("openmpi", hand_plan(topo, ["0", "1"], places="threads"), topo, command=["true"])
    r = _run(script, tmp_path, {**_clean_env(), "PATH": f"{fake_bin}:{os.environ['PATH']}"})
    assert r.returncode == 1 and "needs Open MPI's mpirun (4.x or 5.x)" in r.stderr
    assert not marker.exists() and not (tmp_path / "ompviz.rankfile").exists()


# -- likwid-pin: every OpenMP thread on the CPU the plan gives it -------------------------------------------------
@pytest.fixture(scope="module")
def omp_probe(tmp_path_factory) -> str:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler (cc/gcc) to build the OpenMP probe")
    d = tmp_path_factory.mktemp("likwid-probe")
    (d / "probe.c").write_text(PROBE_C)
    exe = d / "probe"
    subprocess.run([cc, "-O1", "-fopenmp", str(d / "probe.c"), "-o", str(exe)], check=True, capture_output=True)
    return str(exe)


def _threads(out: str) -> list[tuple[int, list[int]]]:
    """(OpenMP thread number, its CPUs) per probe line, sorted; the probe prints tag|thread|cpus."""
    rows = []
    for line in out.splitlines():
        if line.count("|") == 2:
            _, thread, cpus = line.split("|")
            rows.append((int(thread), [int(c) for c in cpus.split(",")]))
    return sorted(rows)


def _reversed_places_plan(topo) -> Plan:
    """One rank, 2 threads on places {1},{0} (close): thread 0 -> CPU 1, thread 1 -> CPU 0 (by hand)."""
    base = hand_plan(topo, ["0-1"], places="threads")
    places = (CpuSet([1]), CpuSet([0]))
    th = (ThreadPlacement(0, 0, places[0]), ThreadPlacement(1, 1, places[1]))
    env = (("OMP_PLACES", "{1},{0}"), ("OMP_PROC_BIND", "close"), ("OMP_NUM_THREADS", "2"))
    w = Worker(0, CpuSet([0, 1]), places, env, 2, th, th)
    return Plan(base.request, base.topology_summary, (w,), ())


@needs_bash
@needs_likwid
@needs_cpu01
@pytest.mark.parametrize("runtime", ["gnu", "llvm"])
def test_likwid_pins_each_thread_in_order(omp_probe, tmp_path, runtime):
    topo = two_cpus()
    plan = _reversed_places_plan(topo)
    script = render("likwid", plan, topo, command=[omp_probe])
    assert "likwid-pin -q -c 1,0 " in script
    env = _clean_env(OMP_PLACES="{0}", OMP_PROC_BIND="true")  # the script must unset these
    if runtime == "llvm":
        from test_export_exec import _libomp

        lib = _libomp()
        if lib is None:
            pytest.skip("LLVM libomp (pip install cmeel-libomp) not found")
        env.update(LD_PRELOAD=lib, KMP_WARNINGS="0")
    r = _run(script, tmp_path, env)
    assert r.returncode == 0, r.stderr
    # likwid-pin pins threads in creation order, the primary first: thread i on the i-th CPU of -c
    assert _threads(r.stdout) == [(0, [1]), (1, [0])]


@needs_bash
@needs_likwid
@needs_cpu01
def test_likwid_one_line_per_rank(omp_probe, tmp_path):
    topo = two_cpus()
    plan = hand_plan(topo, ["1", "0"], places="threads")
    r = _run(render("likwid", plan, topo, command=[omp_probe]), tmp_path, _clean_env())
    assert r.returncode == 0, r.stderr
    # two single-thread ranks, one on CPU 1 and one on CPU 0
    assert _threads(r.stdout) == [(0, [0]), (0, [1])]
