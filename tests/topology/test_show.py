"""ompviz show: the text tree and the public JSON schema.

The text is checked by reading it back: every ``Core L#.. = PU ..`` run is expanded with the notation the README
documents and must give exactly the cores (and their PUs by OS index) of the topology, so a compact line can
never silently claim a wrong sibling.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ompviz.cpuset import CpuSet, parse_list
from ompviz.topology import build_topology, load
from ompviz.topology.model import PURecord
from ompviz.topology.presets import PRESETS
from ompviz.topology.show import to_json, to_text

CPU_KEYS = {"os_index", "logical_index", "package", "numa", "l3", "core", "kind", "online", "allowed"}
TOP_KEYS = {"name", "packages", "numa_nodes", "l3_caches", "cores", "pus", "cpus"}


# -- reading the text back --------------------------------------------------------------------------


def logical_lines(text: str) -> list[str]:
    """Undo the wrapping: a line indented 4+ deeper than the current logical line continues it."""
    out: list[tuple[int, str]] = []
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        if out and indent >= out[-1][0] + 4:
            # a CPU list cut after a comma continues without a space
            glue = "" if out[-1][1].endswith(",") else " "
            out[-1] = (out[-1][0], out[-1][1] + glue + line.strip())
        else:
            out.append((indent, line.strip()))
    return [s for _, s in out]


TOKEN = re.compile(r"(?<!')Core L#(\d+)(?:-(\d+))? = PU (.+?)(?=; Core L#|$)")


def _range(s: str) -> list[int]:
    return list(parse_list(s))


def parse_cores(text: str) -> tuple[dict[int, CpuSet], CpuSet, dict[int, str]]:
    """Expand every core run: {core L#: PUs}, PUs marked not allowed, {core L#: kind}."""
    cores: dict[int, CpuSet] = {}
    kinds: dict[int, str] = {}
    bad = CpuSet()
    for line in logical_lines(text):
        if line.startswith("PU numbers are"):
            continue
        for m in TOKEN.finditer(line):
            a = int(m.group(1))
            b = int(m.group(2)) if m.group(2) else a
            body = m.group(3)
            na = re.search(r" \(not allowed(?:: ([0-9,\-]+))?\)$", body)
            if na:
                body = body[: na.start()]
            kind = re.search(r" \[([^\]]+)\]$", body)
            if kind:
                body = body[: kind.start()]
            n = b - a + 1
            per = re.fullmatch(r"(\d+)-(\d+) \((\d+) per core\)", body)
            run: dict[int, set[int]] = {}
            if per:
                lo, hi, k = map(int, per.groups())
                assert hi - lo + 1 == n * k
                for j in range(n):
                    run[a + j] = set(range(lo + j * k, lo + (j + 1) * k))
            elif n == 1:
                run[a] = {c for part in body.split("+") for c in _range(part)}
            else:
                run = {a + j: set() for j in range(n)}
                for item in body.split(" + "):
                    span, _, step = item.partition(":")
                    ids = _range(item) if step else _range(span)
                    assert len(ids) == n, (line, item)
                    for j, c in enumerate(ids):
                        run[a + j].add(c)
            for li, cs in run.items():
                assert li not in cores, f"core L#{li} listed twice"
                cores[li] = CpuSet(cs)
                if kind:
                    kinds[li] = kind.group(1)
            if na:
                allc = CpuSet.union_all(CpuSet(v) for v in run.values())
                bad = bad | (parse_list(na.group(1)) if na.group(1) else allc)
    return cores, bad, kinds


def check_text(t, width: int = 80) -> str:
    text = to_text(t)
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines), [line for line in lines if len(line) > width]
    cores, bad, kinds = parse_cores(text)
    assert cores == {c.logical_index: c.cpus for c in t.cores}
    assert bad == t.disallowed
    if t.kinds:
        assert kinds == {c.logical_index: c.kind for c in t.cores if c.kind}
    joined = " ".join(logical_lines(text))
    check_headers(t, text, cores)
    for g in t.packages:
        assert f"Package P#{g.index}" in joined
    for g in t.numa_nodes:
        assert f"NUMA P#{g.index}" in joined
    for g in t.l3s:
        assert f"L3 L#{g.index}" in joined
    if t.offline:
        assert f"Offline: PU {t.offline.to_list()} " in joined
    else:
        assert "Offline" not in joined
    assert lines[0] == f"Machine: {t.name}"[:width] or lines[0].startswith("Machine:")
    return text


LABEL = r"(?:(?:Package|Die|NUMA) P#\d+|L3 L#\d+)(?: \([^)]*\))?"
HEADER = re.compile(rf"^({LABEL}(?: \+ {LABEL})*): (?:(\d+) cores?, PU ([0-9,\-]+)$|(Core L#.*))")


def check_headers(t, text: str, cores: dict[int, CpuSet]) -> None:
    """Each object line names the right CPUs: its PU list, or the cores it lists inline."""
    groups = {("Package", g.index): g for g in t.packages}
    groups |= {("NUMA", g.index): g for g in t.numa_nodes}
    groups |= {("L3", g.index): g for g in t.l3s}
    seen = set()
    for line in logical_lines(text):
        m = HEADER.match(line)
        if not m:
            continue
        if m.group(3):
            cpus = parse_list(m.group(3))
            ncores = int(m.group(2))
        else:
            inline, _, _ = parse_cores(m.group(4))
            cpus = CpuSet.union_all(inline.values())
            ncores = len(inline)
        for kind, idx in re.findall(r"(Package|NUMA|L3|Die) [PL]#(\d+)", m.group(1)):
            if kind == "Die":
                continue
            g = groups[(kind, int(idx))]
            assert g.cpus == cpus, line
            assert ncores == sum(1 for c in cores.values() if c <= g.cpus), line
            seen.add((kind, int(idx)))
    assert seen == set(groups)


# -- presets -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_text_reads_back_exactly_for_every_preset(name):
    check_text(load(f"preset:{name}"))


def test_epyc_nps4_tree_by_hand():
    text = to_text(load("preset:epyc-9654-2p-nps4"))
    lines = text.splitlines()
    # 2 packages, 4 NUMA nodes each holding 3 CCDs of 8 cores; siblings N and N+192
    assert "  2 packages, 8 NUMA nodes, 24 L3, 192 cores, 384 PUs (SMT2)" in lines
    assert "Package P#0: 96 cores, PU 0-95,192-287" in lines
    assert "  NUMA P#1: 24 cores, PU 24-47,216-239" in lines
    assert "    L3 L#3 (32 MiB): Core L#24-31 = PU 24-31 + 216-223" in lines
    assert "Package P#1: 96 cores, PU 96-191,288-383" in lines
    assert len(lines) < 50  # 384 PUs stay one screen


def test_snc4_numa_nodes_nest_inside_the_package_l3():
    lines = to_text(load("preset:xeon-8480-2p-snc4")).splitlines()
    assert "Package P#0 + L3 L#0 (105 MiB): 56 cores, PU 0-55,112-167" in lines
    assert "  NUMA P#0: Core L#0-13 = PU 0-13 + 112-125" in lines


def test_hybrid_and_power_runs():
    lines = to_text(load("preset:core-i7-13700")).splitlines()
    assert "  Core L#0-7 = PU 0-15 (2 per core) [P]" in lines
    assert "  Core L#8-15 = PU 16-23 [E]" in lines
    assert "  1 package, 1 NUMA node, 1 L3, 16 cores, 24 PUs (SMT2; kinds P, E)" in lines
    assert "  L3 L#14 (8 MiB): Core L#14 = PU 112-119" in to_text(load("preset:power10-smt8")).splitlines()


# -- hand-built machines with offline and disallowed CPUs -------------------------------------------


def _machine():
    # 1 package, 2 NUMA nodes, 4 cores x SMT2 (siblings N, N+4); CPU 7 offline; CPUs 2 and 6 disallowed
    recs = []
    for cpu in range(8):
        core = cpu % 4
        recs.append(
            PURecord(
                cpu,
                package=0,
                numa=core // 2,
                l3_key=0,
                core_key=core,
                online=cpu != 7,
                allowed=cpu not in (2, 6),
            )
        )
    return build_topology(recs, name="hand machine", source="hand", source_kind="sysfs", l3_sizes={0: 6 << 20})


def test_offline_and_disallowed_marked():
    t = _machine()
    text = check_text(t)
    lines = text.splitlines()
    assert "Offline: PU 7 (not usable; no core or NUMA node known)" in lines
    assert "Not allowed for this process: PU 2,6" in lines
    assert "    Core L#2 = PU 2+6 (not allowed); Core L#3 = PU 3" in lines


def test_json_schema_exact():
    t = _machine()
    d = to_json(t)
    assert set(d) == TOP_KEYS
    # counts of online PUs and the objects holding them: 7 PUs, 4 cores, 2 NUMA, 1 L3, 1 package
    assert (d["packages"], d["numa_nodes"], d["l3_caches"], d["cores"], d["pus"]) == (1, 2, 1, 4, 7)
    assert [c["os_index"] for c in d["cpus"]] == list(range(8))
    assert all(set(c) == CPU_KEYS for c in d["cpus"])
    c7 = d["cpus"][7]
    assert c7["online"] is False and c7["logical_index"] is None and c7["core"] is None and c7["numa"] is None
    c6 = d["cpus"][6]
    assert c6["allowed"] is False and c6["online"] is True
    # package/numa by OS index, core/l3 by logical index: CPU 6 is the sibling of CPU 2 (core L#2, NUMA 1)
    assert (c6["package"], c6["numa"], c6["core"], c6["l3"]) == (0, 1, 2, 0)
    assert d["cpus"][4]["logical_index"] == 1  # L# order: core {0,4} first


def test_json_counts_on_presets():
    d = to_json(load("preset:epyc-9654-2p-nps4"))
    assert (d["packages"], d["numa_nodes"], d["l3_caches"], d["cores"], d["pus"]) == (2, 8, 24, 192, 384)
    c = d["cpus"][200]  # sibling of CPU 8: core L#8 in CCD L3 L#1, NUMA 0
    assert (c["core"], c["l3"], c["numa"], c["package"]) == (8, 1, 0, 0)


# -- any topology: width and exact read-back (property) ---------------------------------------------

small = st.one_of(st.none(), st.integers(0, 3))
record = st.builds(
    PURecord,
    os_index=st.integers(0, 600),
    package=small,
    die=small,
    numa=st.one_of(st.none(), st.integers(0, 200)),
    l3_key=st.one_of(st.none(), st.integers(0, 6)),
    core_key=st.one_of(st.none(), st.integers(0, 40)),
    kind=st.sampled_from([None, "P", "E"]),
    online=st.booleans(),
    allowed=st.booleans(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(record, min_size=1, max_size=50, unique_by=lambda r: r.os_index))
def test_text_property_random_topologies(records):
    assume(any(r.online for r in records))
    t = build_topology(records, name="random " + "x" * 90, source="s" * 100, source_kind="synthetic")
    check_text(t)


def test_big_irregular_machine_fits_80_columns():
    # 1,024 PUs, 4 packages, SMT4 with scattered numbering: nothing compresses into runs
    import random

    rng = random.Random(7)
    ids = list(range(0, 4096, 4))
    rng.shuffle(ids)
    recs = [
        PURecord(cpu, package=i // 256, numa=i // 128, l3_key=i // 64, core_key=i // 4) for i, cpu in enumerate(ids)
    ]
    t = build_topology(recs, name="scattered", source="hand", source_kind="synthetic")
    check_text(t)


def _shared_files() -> list[str]:
    from conftest import SHARED_TOPOLOGIES

    found = sorted(
        str(p.relative_to(SHARED_TOPOLOGIES))
        for p in SHARED_TOPOLOGIES.glob("**/*")
        if p.is_file() and (p.suffix == ".xml" or ".tar" in p.name)
    )
    return found or ["hwloc-xml/AMD-19h-Zen4-2xEpyc-9654.xml"]  # absent checkout: shared() skips it


@pytest.mark.parametrize("rel", _shared_files())
def test_text_reads_back_on_recorded_machines(rel):
    from conftest import shared

    p = shared(rel)
    check_text(load(str(p)))


def test_strided_runs_by_hand():
    # Skylake-like numbering: package 0 holds even CPUs, siblings N and N+8 -> cores {0,8},{2,10},{4,12},{6,14}
    recs = [PURecord(c, package=c % 2, numa=0, l3_key=c % 2, core_key=(c % 2, c % 8)) for c in range(16)]
    lines = to_text(build_topology(recs, name="m", source="s", source_kind="synthetic")).splitlines()
    assert "  Package P#0 + L3 L#0: Core L#0-3 = PU 0-6:2 + 8-14:2" in lines
    assert parse_list("0-6:2") == CpuSet([0, 2, 4, 6])


# -- text nits: one plural helper, source kind once, one size format --------------------------------


def _one_core_box(source: str, kind: str, numa_sizes: dict[int, int] | None = None):
    """1 package, 1 NUMA node (or 2 with numa_sizes), 1 core per node, 1 PU each."""
    nodes = sorted(numa_sizes) if numa_sizes else [0]
    recs = [PURecord(k, package=0, numa=node, l3_key=node, core_key=k) for k, node in enumerate(nodes)]
    return build_topology(recs, name="box", source=source, source_kind=kind, numa_sizes=numa_sizes)


def test_counts_are_singular_for_one():
    head = to_text(_one_core_box("test", "synthetic")).splitlines()[2].strip()
    assert head == "1 package, 1 NUMA node, 1 L3, 1 core, 1 PU"


def test_source_kind_printed_only_when_it_adds_something():
    assert to_text(_one_core_box("live", "live")).splitlines()[1] == "  source: live"
    assert to_text(_one_core_box("/x/dump.tar.bz2", "sysfs")).splitlines()[1] == "  source: /x/dump.tar.bz2 (sysfs)"


def test_numa_sizes_share_one_format():
    # 16 GiB exactly and 16 GiB - 16 MiB = 15.984 GiB, which rounds to 16.0 at one decimal: both print "16 GiB";
    # 11.6 GiB keeps its decimal. (The cgroup2 dump printed "NUMA P#0 (16.0 GiB)" beside "NUMA P#1 (16 GiB)".)
    gib, mib = 1 << 30, 1 << 20
    text = to_text(_one_core_box("test", "synthetic", {0: 16 * gib - 16 * mib, 1: 16 * gib}))
    assert "NUMA P#0 (16 GiB)" in text and "NUMA P#1 (16 GiB)" in text
    text = to_text(_one_core_box("test", "synthetic", {0: int(11.6 * gib), 1: 16 * gib}))
    assert "NUMA P#0 (11.6 GiB)" in text and "16.0" not in text
