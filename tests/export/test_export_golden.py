"""Golden tests: every export format x three hand-built plans x three machines (a self-built 16-PU box that needs
nothing from ../shared, AMD Zen4 2x9654 from hwloc XML, Kunpeng 920 from a sysfs tarball).

Plans are built by hand here (not by the planner) so the goldens test the exporters alone. Golden files live in
tests/export/golden/; regenerate with OMPVIZ_UPDATE_GOLDEN=1 and READ the diff before committing. Besides the
goldens, the masks / logical ids / NUMA nodes that matter are asserted from hand reasoning written below.

Other test modules import the builders from here (``from test_export_golden import ...``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
from conftest import shared

from ompviz.cpuset import CpuSet, parse_list
from ompviz.export import FORMATS, render
from ompviz.plan.model import Plan, PlanRequest, PlanWarning, ThreadPlacement, Worker
from ompviz.topology import load
from ompviz.topology.model import PURecord, Topology, build_topology

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("OMPVIZ_UPDATE_GOLDEN") == "1"


# -- machines ---------------------------------------------------------------------------------------------------
@functools.cache
def small_box() -> Topology:
    """2 packages x (1 NUMA node, 2 L3 groups x 2 cores x 2 PUs); SMT siblings are N and N+8 (Zen-style ids).

    core k (0..7): PUs k and k+8, package/NUMA k//4, L3 k//2. hwloc logical order: core 0 -> L#0 (P#0), L#1 (P#8);
    core 1 -> L#2 (P#1), L#3 (P#9); ... core k -> L#2k (P#k), L#2k+1 (P#k+8).
    """
    recs = []
    for k in range(8):
        for os_index in (k, k + 8):
            recs.append(PURecord(os_index, package=k // 4, numa=k // 4, l3_key=k // 2, core_key=k))
    return build_topology(recs, name="ompviz test box", source="test:small-box", source_kind="synthetic")


@functools.cache
def zen4() -> Topology:
    return load(str(shared("hwloc-xml/AMD-19h-Zen4-2xEpyc-9654.xml")))


@functools.cache
def kunpeng() -> Topology:
    return load(str(shared("sysfs/128arm-2pa2n8cluster4co.tar.bz2")))


MACHINES = {"small": small_box, "zen4": zen4, "kunpeng": kunpeng}


# -- hand-built plans -------------------------------------------------------------------------------------------
def hand_plan(
    topo: Topology,
    rank_lists: list[str],
    *,
    places: str,
    threads: int | None = None,
    bind: str = "close",
    warnings: tuple[PlanWarning, ...] = (),
) -> Plan:
    """A plan as the planner would shape it: places of the rank's CPUs at ``places`` granularity (cores/threads),
    OMP_PLACES listing them explicitly, T threads (default one per place, T <= P), thread i on place i (close)."""
    workers = []
    for rank, text in enumerate(rank_lists):
        cpus = parse_list(text)
        if places == "cores":
            seen: dict[int, CpuSet] = {}
            for c in cpus:
                core = topo.pu(c).core
                seen[core] = seen.get(core, CpuSet()) | CpuSet([c])
            pl = tuple(seen[k] for k in sorted(seen))
        else:
            pl = tuple(CpuSet([c]) for c in cpus)
        t = len(pl) if threads is None else threads
        assert t <= len(pl)
        env = (
            ("OMP_PLACES", ",".join(p.to_braces() for p in pl)),
            ("OMP_PROC_BIND", bind),
            ("OMP_NUM_THREADS", str(t)),
        )
        th = tuple(ThreadPlacement(i, i, pl[i]) for i in range(t))
        workers.append(Worker(rank, cpus, pl, env, t, th, th))
    req = PlanRequest(
        ranks=len(rank_lists), threads=threads, strategy="manual", places=places, bind=bind, cpus="|".join(rank_lists)
    )
    return Plan(req, topo.summary(), tuple(workers), warnings)


HOSTILE = ["sh", "-c", "echo $(id) `uname`; rm -rf \"x\" 'y'\nnext;", "$HOME"]

# (rank CPU lists, places, threads, warnings, command) per machine and plan name
PLANS = {
    "small": {
        "packages": (["0-3,8-11", "4-7,12-15"], "cores", None, (), ["./stream", "--size", "1G"]),
        "l3-smt-one": (["0-1", "2-3", "4-5", "6-7"], "threads", None, (), None),
        "one-cpu": (
            ["0", "5", "10"],
            "threads",
            1,
            (PlanWarning("split-smt", "warning", "CPU 10 and CPU 2 are SMT siblings of one core", (2,)),),
            HOSTILE,
        ),
    },
    "zen4": {
        "packages": (["0-95,192-287", "96-191,288-383"], "cores", None, (), ["./stream", "--size", "1G"]),
        "l3-smt-one": (["0-7", "8-15", "16-23", "24-31"], "threads", None, (), None),
        "one-cpu": (["0", "8", "200"], "threads", 1, (), HOSTILE),
    },
    "kunpeng": {
        "numa": (["0-31", "32-63", "64-95", "96-127"], "cores", None, (), ["./stream", "--size", "1G"]),
        "packages-8t": (["0-63", "64-127"], "cores", 8, (), None),
        "one-cpu": (["0", "32", "64", "96"], "threads", 1, (), HOSTILE),
    },
}

EXPORT_FORMATS = [f for f in FORMATS if f not in ("text", "json")]
# vllm's text holds the verdict of the planner's vLLM emulation: its goldens were read against vLLM's rules by
# hand (test_vllm_goldens_by_hand below), so a changed verdict shows up as a golden diff to review.
GOLDEN_FORMATS = EXPORT_FORMATS

# Plans vLLM reproduces (ranks listed in the order vLLM hands out its places), for the vllm goldens only: the
# three plans above all come out in NUMA/id order, which vLLM reverses (see test_vllm_goldens_by_hand).
VLLM_PLANS = {
    "small": {"vllm-order": (["4-7", "0-3"], "threads", None, (), None)},
    "zen4": {"vllm-order": (["96-191", "0-95"], "threads", None, (), None)},
    "kunpeng": {"vllm-order": (["96-127", "64-95", "32-63", "0-31"], "threads", 24, (), None)},
}


def build(machine: str, name: str) -> tuple[Topology, Plan, list[str] | None]:
    topo = MACHINES[machine]()
    lists, places, threads, warns, command = {**PLANS[machine], **VLLM_PLANS[machine]}[name]
    return topo, hand_plan(topo, lists, places=places, threads=threads, warnings=warns), command


CASES = (
    [(m, p, f) for m in PLANS for p in PLANS[m] for f in GOLDEN_FORMATS]
    + [(m, p, "json") for m in PLANS for p in PLANS[m]]
    + [(m, p, "vllm") for m in VLLM_PLANS for p in VLLM_PLANS[m]]
)


def portable(text: str) -> str:
    """Goldens name the recorded machines relative to the repo, wherever the checkout (and ../shared) lives."""
    from conftest import SHARED_TOPOLOGIES

    return text.replace(str(SHARED_TOPOLOGIES), "../shared/topologies")


def _check_golden(path: Path, text: str) -> None:
    text = portable(text)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden {path.name}: run with OMPVIZ_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(), f"{path.name} differs from the golden file"


@pytest.mark.parametrize(("machine", "plan_name", "fmt"), CASES)
def test_golden(machine, plan_name, fmt):
    topo, plan, command = build(machine, plan_name)
    text = render(fmt, plan, topo, command=command)
    suffix = "json" if fmt == "json" else "txt"
    _check_golden(GOLDEN / f"{machine}-{plan_name}.{fmt}.{suffix}", text)


# -- the facts, by hand -----------------------------------------------------------------------------------------
def _line_with(text: str, needle: str) -> str:
    hits = [ln for ln in text.splitlines() if needle in ln]
    assert hits, f"no line with {needle!r}"
    return hits[0]


@pytest.mark.parametrize("fmt", EXPORT_FORMATS + ["json"])
def test_header_names_machine_request_version(fmt):
    from ompviz import __version__

    topo, plan, command = build("small", "packages")
    text = render(fmt, plan, topo, command=command)
    if fmt == "json":
        import json

        d = json.loads(text)
        assert d["ompviz_version"] == __version__ and d["topology"]["name"] == "ompviz test box"
        assert d["request"]["cpus"] == "0-3,8-11|4-7,12-15"
        return
    lines = text.splitlines()
    if lines[0].startswith("#!"):
        lines = lines[1:]
    assert lines[0] == f"# generated by ompviz {__version__} (format: {fmt})"
    assert lines[1].startswith("# machine: ompviz test box (2 packages, 2 NUMA nodes, 8 cores, 16 PUs")
    assert lines[2].startswith("# request: --ranks 2 --threads auto --strategy manual")


def test_small_box_by_hand():
    topo, plan, command = build("small", "packages")
    # rank 0 = CPUs 0-3 and their siblings 8-11: bits 0-3 and 8-11 -> 0x0f0f; rank 1: 4-7,12-15 -> 0xf0f0
    assert "--cpu-bind=verbose,mask_cpu:0xf0f,0xf0f0" in render("slurm", plan, topo, command=command)
    # logical: core k -> L#2k, L#2k+1, so cores 0-3 -> L#0-7 and cores 4-7 -> L#8-15
    ompi = render("openmpi", plan, topo, command=command)
    assert "rank 0=localhost slot=0-7\n" in ompi and "rank 1=localhost slot=8-15\n" in ompi
    # package 0 = NUMA 0, package 1 = NUMA 1
    numa = render("numactl", plan, topo, command=command)
    assert "--physcpubind=0-3,8-11 --membind=0 -- ./stream --size 1G &" in numa
    assert "--physcpubind=4-7,12-15 --membind=1 -- ./stream --size 1G &" in numa
    docker = render("docker", plan, topo, command=command)
    assert "--cpuset-cpus=4-7,12-15 --cpuset-mems=1 " in docker
    # places are cores {0,8},{1,9},..: thread i on place i takes the place's first CPU -> 0,1,2,3
    assert "likwid-pin -q -c 0-3 ./stream" in render("likwid", plan, topo, command=command)
    assert "proclist=[4,5,6,7]" in render("kmp", plan, topo, command=command)
    assert "GOMP_CPU_AFFINITY=4-7 " in render("gomp", plan, topo, command=command)

    topo, plan, command = build("small", "l3-smt-one")
    # rank 1 = CPUs 2,3 = first PUs of cores 2 and 3 -> L#4 and L#6
    assert "rank 1=localhost slot=4,6\n" in render("openmpi", plan, topo, command=command)
    assert "mask_cpu:0x3,0xc,0x30,0xc0" in render("slurm", plan, topo, command=command)

    topo, plan, command = build("small", "one-cpu")
    slurm = render("slurm", plan, topo, command=command)
    assert "--cpu-bind=verbose,map_cpu:0,5,10" in slurm and "--cpus-per-task=1" in slurm
    # CPU 10 is the sibling of CPU 2 (core 2): L#5; CPU 5 = core 5 first PU: L#10
    ompi = render("openmpi", plan, topo, command=command)
    assert "rank 1=localhost slot=10\n" in ompi and "rank 2=localhost slot=5\n" in ompi
    assert "# WARNING: CPU 10 and CPU 2 are SMT siblings of one core (rank 2)" in ompi


def test_zen4_by_hand():
    topo, plan, command = build("zen4", "packages")
    # rank 0 = 0-95 and 192-287: 24 hex digits of f (bits 192-287), 24 of 0 (96-191), 24 of f (0-95)
    m0 = "0x" + "f" * 24 + "0" * 24 + "f" * 24
    # rank 1 = 96-191 and 288-383
    m1 = "0x" + "f" * 24 + "0" * 24 + "f" * 24 + "0" * 24
    assert f"mask_cpu:{m0},{m1}" in render("slurm", plan, topo, command=command)
    # package 0 holds cores 0-95 = PUs L#0-191 (siblings N, N+192 are L#2k, L#2k+1)
    ompi = render("openmpi", plan, topo, command=command)
    assert "rank 0=localhost slot=0-191\n" in ompi and "rank 1=localhost slot=192-383\n" in ompi
    # one NUMA node on this machine (NPS1 with one node reported)
    assert _line_with(render("numactl", plan, topo, command=command), "--physcpubind=96-191,288-383").count(
        "--membind=0 "
    )

    topo, plan, command = build("zen4", "one-cpu")
    # OS 8 = first PU of core 8 -> L#16; OS 200 = second PU of core 8 -> L#17
    ompi = render("openmpi", plan, topo, command=command)
    assert "rank 1=localhost slot=16\n" in ompi and "rank 2=localhost slot=17\n" in ompi
    assert "map_cpu:0,8,200" in render("slurm", plan, topo, command=command)


def test_kunpeng_by_hand():
    topo, plan, command = build("kunpeng", "numa")
    masks = ["0xffffffff", "0xffffffff00000000", "0xffffffff" + "0" * 16, "0xffffffff" + "0" * 24]
    assert "mask_cpu:" + ",".join(masks) in render("slurm", plan, topo, command=command)
    numa = render("numactl", plan, topo, command=command)
    for node, cpus in enumerate(["0-31", "32-63", "64-95", "96-127"]):
        assert f"--physcpubind={cpus} --membind={node} --" in numa
    # no SMT and cores in OS order: logical = OS
    assert "rank 3=localhost slot=96-127\n" in render("openmpi", plan, topo, command=command)

    topo, plan, command = build("kunpeng", "packages-8t")
    numa = render("numactl", plan, topo, command=command)
    assert "--physcpubind=0-63 --membind=0,1 --" in numa and "--physcpubind=64-127 --membind=2,3 --" in numa
    # 8 threads on the first 8 places (cores 64..71): likwid pins exactly those
    assert "likwid-pin -q -c 64-71 " in render("likwid", plan, topo, command=command)
    topo, plan, command = build("kunpeng", "one-cpu")
    assert "map_cpu:0,32,64,96" in render("slurm", plan, topo, command=command)


def _vllm_verdict(text: str) -> tuple[str, dict[int, str], str, str]:
    """(CHECKED|WARNING, {rank: CPUs vLLM would bind instead}, BIND value, RESERVED value) of a vllm export."""
    verdict = "CHECKED" if "# CHECKED:" in text else "WARNING" if "# WARNING: vLLM will NOT" in text else "?"
    wrong = {}
    for ln in text.splitlines():
        if ln.startswith("#   rank ") and "vLLM would bind" in ln:
            wrong[int(ln.split()[2].rstrip(":"))] = ln.rsplit(" ", 1)[1]
    bind = _line_with(text, "export VLLM_CPU_OMP_THREADS_BIND=").split("=", 1)[1].strip("'")
    reserved = _line_with(text, "export VLLM_CPU_NUM_OF_RESERVED_CPU=").split("=", 1)[1]
    return verdict, wrong, bind, reserved


# What vLLM itself binds, reasoned from its rules (as ompviz/plan/vllm.py documents them): each '|' segment is split
# per NUMA node keeping the lowest id of each core, places are sorted by "{len:04d}-{max:04d}" in REVERSE (largest
# first, ties to the higher top CPU), worker i takes place i; OMP_NUM_THREADS = place size - reserved.
VLLM_BY_HAND = {
    # small box: NUMA 0 = cores 0-3 (PUs 0-3 + siblings 8-11), NUMA 1 = cores 4-7. Segment 0-3,8-11 -> {0-3}
    # (siblings dropped), 4-7,12-15 -> {4-7}; equal sizes, top 7 > 3: worker 0 gets 4-7.
    ("small", "packages"): ("WARNING", {0: "4-7", 1: "0-3"}, "0-3,8-11|4-7,12-15", "0"),
    # four 2-CPU places; tops 1,3,5,7 -> reversed
    ("small", "l3-smt-one"): ("WARNING", {0: "6-7", 1: "4-5", 2: "2-3", 3: "0-1"}, "0-1|2-3|4-5|6-7", "0"),
    # one CPU each, tops 0,5,10 -> 10,5,0: rank 1 keeps 5, ranks 0 and 2 swap
    ("small", "one-cpu"): ("WARNING", {0: "10", 2: "0"}, "0|5|10", "0"),
    ("small", "vllm-order"): ("CHECKED", {}, "4-7|0-3", "0"),
    # Zen4: one NUMA node; siblings N and N+192, so 0-95,192-287 -> {0-95} and 96-191,288-383 -> {96-191}
    ("zen4", "packages"): ("WARNING", {0: "96-191", 1: "0-95"}, "0-95,192-287|96-191,288-383", "0"),
    ("zen4", "l3-smt-one"): ("WARNING", {0: "24-31", 1: "16-23", 2: "8-15", 3: "0-7"}, "0-7|8-15|16-23|24-31", "0"),
    ("zen4", "one-cpu"): ("WARNING", {0: "200", 2: "0"}, "0|8|200", "0"),  # 200 is 8's sibling, alone in its segment
    ("zen4", "vllm-order"): ("CHECKED", {}, "96-191|0-95", "0"),
    # Kunpeng: 4 NUMA nodes of 32 cores, no SMT
    ("kunpeng", "numa"): ("WARNING", {0: "96-127", 1: "64-95", 2: "32-63", 3: "0-31"}, "0-31|32-63|64-95|96-127", "0"),
    # 0-63 spans NUMA 0,1 -> two 32-CPU places, same for 64-127: places 96-127, 64-95, 32-63, 0-31; 2 workers take
    # the first two. 8 planned threads of 32 -> reserved 24 makes vLLM start 8.
    ("kunpeng", "packages-8t"): ("WARNING", {0: "96-127", 1: "64-95"}, "0-63|64-127", "24"),
    ("kunpeng", "one-cpu"): ("WARNING", {0: "96", 1: "64", 2: "32", 3: "0"}, "0|32|64|96", "0"),
    ("kunpeng", "vllm-order"): ("CHECKED", {}, "96-127|64-95|32-63|0-31", "8"),  # 24 threads of 32
}


@pytest.mark.parametrize(("machine", "plan_name"), list(VLLM_BY_HAND))
def test_vllm_goldens_by_hand(machine, plan_name):
    topo, plan, command = build(machine, plan_name)
    assert _vllm_verdict(render("vllm", plan, topo, command=command)) == VLLM_BY_HAND[(machine, plan_name)]


def test_json_goldens_by_hand():
    import json

    topo, plan, command = build("zen4", "one-cpu")
    d = json.loads(render("json", plan, topo, command=command))
    t = d["topology"]
    assert (t["packages"], t["numa_nodes"], t["cores"], t["pus"], t["l3_caches"]) == (2, 1, 192, 384, 24)
    pus = {p["os_index"]: p for p in t["snapshot"]["pus"]}
    # from the XML: P#8 and P#200 are the two PUs of one core in package 0, second L3 (CCD); P#96 opens package 1
    assert pus[8]["core_key"] == pus[200]["core_key"] and pus[8]["package"] == pus[200]["package"] == 0
    assert pus[8]["l3_key"] == pus[200]["l3_key"] == 1 and pus[96]["package"] == 1
    assert [w["env"]["OMP_PLACES"] for w in d["workers"]] == ["{0}", "{8}", "{200}"]
    assert d["command"] == HOSTILE and d["request"]["cpus"] == "0|8|200"

    topo, plan, command = build("kunpeng", "packages-8t")
    d = json.loads(render("json", plan, topo, command=command))
    t = d["topology"]
    assert (t["packages"], t["numa_nodes"], t["cores"], t["pus"]) == (2, 4, 128, 128)
    pus = {p["os_index"]: p for p in t["snapshot"]["pus"]}
    assert [pus[c]["numa"] for c in (0, 31, 32, 64, 127)] == [0, 0, 1, 2, 3]
    # 8 threads on the first 8 cores of each rank (places = cores, close)
    assert [w["threads"][-1]["cpus"] for w in d["workers"]] == ["7", "71"]
    assert d["command"] is None and d["request"]["threads"] == 8
