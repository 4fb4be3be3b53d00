"""Hypothesis properties of plan() on random machines (random shape, numbering, offline/disallowed CPUs,
reserve, SMT policy): no overlap, no empty rank, only allowed & unreserved CPUs, balanced sizes, and OMP_PLACES
that parses back to exactly the planned places in every notation."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ompviz.cpuset import CpuSet
from ompviz.plan import PlanRequest, plan
from ompviz.plan.places import parse_places
from ompviz.topology.model import PURecord, build_topology


@st.composite
def machines(draw):
    pkgs = draw(st.integers(1, 3))
    numa = draw(st.integers(1, 2))
    l3 = draw(st.integers(1, 2))
    cores = draw(st.integers(1, 4))
    smt = draw(st.integers(1, 2))
    adjacent = draw(st.booleans())
    n_cores = pkgs * numa * l3 * cores
    recs = []
    c = 0
    for p in range(pkgs):
        for nn in range(numa):
            for ll in range(l3):
                for _ in range(cores):
                    for t in range(smt):
                        cpu = c * smt + t if adjacent else c + t * n_cores
                        recs.append([cpu, p, p * numa + nn, (p, nn, ll), c])
                    c += 1
    n = len(recs)
    # CPU 0 always stays online and allowed so the machine is never empty
    offline = draw(st.sets(st.integers(1, n - 1), max_size=2)) if n > 1 else set()
    disallowed = draw(st.sets(st.integers(1, n - 1), max_size=2)) if n > 1 else set()
    out = [
        PURecord(
            cpu, package=p, numa=nu, l3_key=l3k, core_key=co, online=cpu not in offline, allowed=cpu not in disallowed
        )
        for cpu, p, nu, l3k, co in recs
    ]
    return build_topology(out, name="random", source="test", source_kind="synthetic")


@st.composite
def cases(draw):
    m = draw(machines())
    allowed = m.allowed.ids
    reserve = CpuSet(draw(st.sets(st.sampled_from(allowed), max_size=max(0, len(allowed) - 1))))
    req = PlanRequest(
        ranks=1,
        strategy=draw(st.sampled_from(["compact", "spread", "numa", "l3", "distrib"])),
        smt=draw(st.sampled_from(["all", "one", "one-last"])),
        reserve=reserve,
        places=draw(st.sampled_from(["threads", "cores", "ll_caches", "numa_domains", "sockets"])),
        notation=draw(st.sampled_from(["explicit", "intervals", "abstract"])),
        bind=draw(st.sampled_from(["close", "spread", "primary", "true", "false"])),
    )
    return m, req


def n_cores(topo, cpus):
    return len({topo.pu(c).core for c in cpus})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.integers(1, 40))
def test_plan_properties(case, ranks):
    m, req = case
    from ompviz.plan.planner import candidate_cpus

    cand = candidate_cpus(m, req)
    cores = len({m.pu(c).core for c in cand})
    ranks = max(1, min(ranks, len(cand)))
    req = PlanRequest(**{**{f: getattr(req, f) for f in req.__dataclass_fields__}, "ranks": ranks})
    p = plan(m, req)
    assert len(p.workers) == ranks
    seen = 0
    for w in p.workers:
        assert w.cpus, "every rank non-empty"
        assert w.cpus.mask & seen == 0, "ranks never overlap"
        seen |= w.cpus.mask
        assert w.cpus <= m.allowed - req.reserve
        # OMP_PLACES parses back to exactly the planned places (abstract names expand like libgomp does)
        assert parse_places(w.env_dict["OMP_PLACES"], m) == w.places
        assert CpuSet.union_all(w.places) == w.cpus
    if req.strategy in ("compact", "spread") and ranks <= cores:
        sizes = [n_cores(m, w.cpus) for w in p.workers]
        assert max(sizes) - min(sizes) <= 1, sizes
    if req.strategy == "spread" and ranks <= cores:
        sizes = [n_cores(m, w.cpus) for w in p.workers]
        assert len(set(sizes)) == 1, f"spread gives every rank the same number of cores: {sizes}"
    if req.strategy == "compact":
        assert CpuSet.from_mask(seen) == cand, "compact uses every candidate CPU"
    # usable CPUs no rank got are named, exactly, in one info warning
    idle = [w.cpus for w in p.warnings if w.code == "idle-cpus"]
    assert idle == ([cand - CpuSet.from_mask(seen)] if cand - CpuSet.from_mask(seen) else [])


@settings(max_examples=40, deadline=None)
@given(machines(), st.lists(st.frozensets(st.integers(0, 40), min_size=1, max_size=5), min_size=1, max_size=4))
def test_manual_overlap_only_from_lists(m, lists):
    text = "|".join(CpuSet(s).to_list() for s in lists)
    p = plan(m, PlanRequest(strategy="manual", cpus=text))
    # each list is used as written, restricted to the CPUs the machine has (the others are a cpu-not-exist error)
    ranks = [CpuSet(s) & m.all_cpus for s in lists]
    overlap = any(a.intersects(b) for i, a in enumerate(ranks) for b in ranks[i + 1 :])
    assert ("overlap" in {w.code for w in p.warnings}) == overlap
    assert [w.cpus for w in p.workers] == ranks
    missing = [k for k, s in enumerate(lists) if CpuSet(s) - m.all_cpus]
    assert sorted(r for w in p.warnings if w.code == "cpu-not-exist" for r in w.ranks) == missing
