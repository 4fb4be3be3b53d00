"""The planner's mask-algebra fast paths against their plain per-CPU / per-core definitions.

The fast paths (TopologyIndex.core_closure/one_per_core, CpuSet ids/runs/to_list scans, group_places by masks,
format_intervals over runs of steps, the spans/smt-split warnings by masks) replaced per-CPU loops to make planning
64 ranks on 4,096 PUs fit in a frame. Each test states the definition in a few obvious lines and checks the fast
path against it on random machines (irregular SMT numbering, single-PU and 3-PU cores, offline/disallowed CPUs,
CPUs the machine does not have).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ompviz.cpuset import CpuSet
from ompviz.plan import PlanRequest, plan
from ompviz.plan.places import format_intervals, group_places
from ompviz.topology.model import PURecord, build_topology

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def machines(draw):
    """Cores of 1-3 PUs with arbitrary, shuffled OS numbering; some PUs offline or disallowed; NUMA/L3 optional."""
    n_cores = draw(st.integers(1, 12))
    sizes = draw(st.lists(st.integers(1, 3), min_size=n_cores, max_size=n_cores))
    n = sum(sizes)
    ids = draw(st.permutations(list(range(0, 3 * n, draw(st.sampled_from([1, 2, 3]))))[:n]))
    offline = draw(st.sets(st.sampled_from(ids), max_size=2)) if n > 1 else set()
    recs, k = [], 0
    for core, size in enumerate(sizes):
        for _ in range(size):
            cpu = ids[k]
            k += 1
            recs.append(
                PURecord(
                    cpu,
                    package=core % 2,
                    numa=None if core == 0 and draw(st.booleans()) else core % 3,
                    l3_key=core // 3,
                    core_key=core,
                    online=cpu not in offline or cpu == ids[0],
                    allowed=draw(st.booleans()) or cpu == ids[0],
                )
            )
    return build_topology(recs, name="random", source="test", source_kind="synthetic")


def masks_for(draw, topo):
    """Random CPU sets: subsets of the machine's CPUs plus, sometimes, CPUs it does not have."""
    all_ids = sorted(p.os_index for p in topo.pus)
    picked = draw(st.sets(st.sampled_from(all_ids)))
    extra = draw(st.sets(st.integers(0, 3 * len(all_ids) + 5), max_size=2))
    return CpuSet(picked | extra)


@FAST
@given(st.data())
def test_core_closure_and_one_per_core_match_per_core_definitions(data):
    topo = data.draw(machines())
    idx = topo.index
    for _ in range(5):
        s = masks_for(data.draw, topo)
        # closure: every PU of every core that has a PU in s
        want = CpuSet.union_all(c.cpus for c in topo.cores if c.cpus & s)
        assert idx.core_closure(s.mask) == want.mask
        # one per core: the lowest (or highest) CPU of s in each core; CPUs in no core stay
        in_cores = CpuSet.union_all(c.cpus for c in topo.cores)
        for last in (False, True):
            keep = [max((c.cpus & s).ids) if last else min((c.cpus & s).ids) for c in topo.cores if c.cpus & s]
            assert idx.one_per_core(s.mask, last) == (CpuSet(keep) | (s - in_cores)).mask


@FAST
@given(st.data())
def test_group_places_match_the_per_cpu_definition(data):
    topo = data.draw(machines())
    s = masks_for(data.draw, topo)
    attr = {"cores": "core", "ll_caches": "l3", "numa_domains": "numa", "sockets": "package"}
    for gran in ("threads", "cores", "ll_caches", "numa_domains", "sockets"):
        # definition: walk the CPUs upwards; a CPU joins the place of its core/L3/node/package, opened at the
        # first CPU seen; CPUs without one (offline, unknown) are places of their own
        places: dict[object, list[int]] = {}
        for c in s.ids:
            pu = topo._by_os.get(c)
            v = None if gran == "threads" or pu is None else getattr(pu, attr[gran])
            places.setdefault(("cpu", c) if v is None else v, []).append(c)
        assert group_places(topo, s, gran) == tuple(CpuSet(ids) for ids in places.values())


def _intervals_by_definition(places: list[CpuSet]) -> str:
    """Greedy: from each place, the longest run of places each shifted by the same positive stride from the last."""
    out, i = [], 0
    while i < len(places):
        j = i + 1
        if j < len(places):
            stride = places[j].first - places[i].first
            while stride > 0 and j < len(places) and CpuSet(c + stride for c in places[j - 1]) == places[j]:
                j += 1
        if j > i + 1:
            out.append(f"{places[i].to_omp()}:{j - i}:{stride}")
            i = j
        else:
            out.append(places[i].to_omp())
            i += 1
    return ",".join(out)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(0, 40).map(lambda c: [c]),
            st.lists(st.integers(0, 40), min_size=1, max_size=3, unique=True),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_format_intervals_matches_the_greedy_definition(lists):
    places = [CpuSet(x) for x in lists]
    assert format_intervals(places) == _intervals_by_definition(places)


def test_format_intervals_runs_of_one_cpu_places():
    # worked by hand: steps 1,1,1 then 4 then 1 -> {0}:4:1 covers 0-3; from 7: step 1 to 8 -> {7}:2:1; then 20
    places = [CpuSet([c]) for c in (0, 1, 2, 3, 7, 8, 20)]
    assert format_intervals(places) == "{0}:4:1,{7}:2:1,{20}"
    # a descending step never makes an interval
    assert format_intervals([CpuSet([5]), CpuSet([3]), CpuSet([1])]) == "{5},{3},{1}"


@FAST
@given(st.data())
def test_span_and_smt_split_warnings_match_per_cpu_definitions(data):
    topo = data.draw(machines())
    allowed = topo.allowed.ids
    lists = data.draw(st.lists(st.sets(st.sampled_from(allowed), min_size=1), min_size=1, max_size=4))
    req = PlanRequest(ranks=len(lists), strategy="manual", cpus="|".join(CpuSet(x).to_list() for x in lists))
    got = {w.code: w for w in plan(topo, req).warnings}
    sets = [CpuSet(x) for x in lists]
    for attr, code in (("package", "spans-package"), ("numa", "spans-numa")):
        spanning = [k for k, s in enumerate(sets) if len({getattr(topo.pu(c), attr) for c in s} - {None}) > 1]
        assert (tuple(spanning) or None) == (got[code].ranks if code in got else None)
    # a core is split when its CPUs belong to two ranks (a CPU listed twice belongs to the first rank listing it)
    owner: dict[int, int] = {}
    for k, s in enumerate(sets):
        for c in s:
            owner.setdefault(c, k)
    split_cores = [c for c in topo.cores if len({owner[x] for x in c.cpus if x in owner}) > 1]
    split_ranks = sorted({owner[x] for c in split_cores for x in c.cpus if x in owner})
    if split_cores:
        assert got["smt-split"].ranks == tuple(split_ranks)
        assert got["smt-split"].cpus == CpuSet.union_all(c.cpus for c in split_cores)
    else:
        assert "smt-split" not in got


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(0, 5000), max_size=80), st.integers(0, 3000))
def test_cpuset_ids_runs_and_list_match_definitions(ids, shift):
    s = CpuSet(c + shift for c in ids)
    want = sorted(c + shift for c in ids)
    assert s.ids == tuple(want)
    runs: list[list[int]] = []
    for c in want:
        if runs and runs[-1][1] == c - 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    assert s.runs() == [tuple(r) for r in runs]
    assert s.to_list() == ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
    assert s.to_braces() == "{" + ",".join(map(str, want)) + "}"
    assert s.to_list() == s.to_list() and s.to_braces() == s.to_braces()  # remembered text stays the same


@FAST
@given(st.data())
def test_owner_map_matches_the_per_cpu_definition(data):
    """Plan.owner_map (per-worker dict.fromkeys when workers are disjoint) against: each CPU -> the ranks whose
    CPUs contain it, in rank order; with disjoint plans (compact/spread) and overlapping manual lists."""
    topo = data.draw(machines())
    usable = sorted(p.os_index for p in topo.pus if p.online and p.allowed)
    if data.draw(st.booleans()):
        lists = [data.draw(st.sets(st.sampled_from(usable), min_size=1)) for _ in range(data.draw(st.integers(1, 4)))]
        req = PlanRequest(ranks=len(lists), strategy="manual", cpus="|".join(CpuSet(s).to_list() for s in lists))
    else:
        req = PlanRequest(
            ranks=data.draw(st.integers(1, max(1, len(usable)))),
            strategy=data.draw(st.sampled_from(["compact", "spread"])),
        )
    p = plan(topo, req)
    want = {}
    for w in p.workers:
        for c in sorted(w.cpus.ids):
            want.setdefault(c, []).append(w.rank)
    got = p.owner_map()
    assert got == {c: tuple(r) for c, r in want.items()}
    assert all(type(v) is tuple for v in got.values())
