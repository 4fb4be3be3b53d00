"""plan_to_dict layout (issue 3) and plan_to_text (fits 100 columns)."""

from __future__ import annotations

import json

from ompviz.plan import PlanRequest, plan, plan_to_dict, plan_to_text
from ompviz.plan.planner import summary
from ompviz.topology.model import PURecord, build_topology


def machine(cores=8, smt=2):
    recs = [
        PURecord(c + t * cores, package=c * 2 // cores, numa=c * 2 // cores, l3_key=c * 2 // cores, core_key=c)
        for c in range(cores)
        for t in range(smt)
    ]
    return build_topology(recs, name="box", source="test", source_kind="synthetic")


def test_dict_layout():
    p = plan(machine(), PlanRequest(ranks=2, threads=3, places="cores", bind="spread", runtime="llvm"))
    d = json.loads(json.dumps(plan_to_dict(p)))
    assert set(d) == {"topology", "request", "workers", "warnings"}
    w = d["workers"][0]
    assert set(w) == {"rank", "cpus", "places", "env", "threads", "threads_by_runtime"}
    assert w["cpus"] == "0-3,8-11" and w["places"][:2] == ["0,8", "1,9"]
    assert w["env"] == {"OMP_PLACES": "{0,8},{1,9},{2,10},{3,11}", "OMP_PROC_BIND": "spread", "OMP_NUM_THREADS": "3"}
    # spread, T=3 <= P=4: LLVM spaces by (P+1)/T = 5/3 -> places 0,1,3; libgomp sub-partitions 2,1,1 -> 0,2,3
    assert [t["place"] for t in w["threads_by_runtime"]["llvm"]] == [0, 1, 3]
    assert [t["place"] for t in w["threads_by_runtime"]["gnu"]] == [0, 2, 3]
    assert w["threads"] == w["threads_by_runtime"]["llvm"]  # --runtime llvm is shown first
    assert w["threads"][2] == {"thread": 2, "place": 3, "cpus": "3,11"}
    assert d["request"]["threads"] == 3 and d["topology"]["pus"] == 16
    for wn in d["warnings"]:
        assert set(wn) == {"code", "severity", "message", "ranks"}
    assert "runtime-differs" in {wn["code"] for wn in d["warnings"]}


def test_summary_matches_topology():
    m = machine()
    assert summary(m) == m.summary()


def test_text_fits_100_columns_and_abbreviates():
    big = build_topology(
        [PURecord(c, package=0, numa=0, l3_key=0, core_key=c) for c in range(512)],
        name="a machine with a long model name, AMD EPYC 9654 96-Core Processor, to force wrapping",
        source="test",
        source_kind="synthetic",
    )
    p = plan(big, PlanRequest(ranks=3, places="threads", threads=4))
    text = plan_to_text(p)
    assert all(len(line) <= 100 for line in text.splitlines()), max(text.splitlines(), key=len)
    assert "rank | CPUs" in text and " ... " in text  # 170+ places per rank: first and last kept
    assert "warnings:" in text
    small = plan_to_text(plan(machine(), PlanRequest(ranks=2)))
    assert "{0,8},{1,9},{2,10},{3,11}" in small


def test_text_header_and_messages_count_in_words():
    from ompviz.cpuset import CpuSet

    m = machine(cores=2, smt=1)  # 2 cores, 1 PU each: CPUs 0 (package 0) and 1 (package 1)
    # --reserve takes both CPUs: 1 rank was asked for and none could be planned (the header said "0 rank(s)")
    text = plan_to_text(plan(m, PlanRequest(ranks=1, reserve=CpuSet([0, 1]))))
    assert "strategy compact, 1 rank requested, none planned, places cores" in " ".join(text.split())
    text = plan_to_text(plan(m, PlanRequest(ranks=1)))
    assert "strategy compact, 1 rank, places cores" in text and "(s)" not in text
    assert "strategy compact, 2 ranks," in plan_to_text(plan(m, PlanRequest(ranks=2)))
    # 2 ranks of one CPU, 3 threads each: "3 threads on 1 CPU"; places=sockets: "3 on 1 place"
    p = plan(m, PlanRequest(ranks=2, threads=3, places="sockets"))
    over = next(w for w in p.warnings if w.code == "oversubscribed")
    assert over.message.startswith("ranks 0-1: 3 threads on 1 CPU (oversubscribed")
    assert "| 3 on 1 place" in plan_to_text(p)
    # one rank over both packages: "rank 0 spans 2 packages" (was "rank 0 span 2 packages")
    p = plan(m, PlanRequest(ranks=1))
    assert [w.message for w in p.warnings if w.code == "spans-package"] == [
        "rank 0 spans 2 packages: memory and cache traffic cross the interconnect"
    ]
    assert p.explanation[0] == "box: 2 packages, 2 NUMA nodes, 2 L3 groups, 2 cores, 2 CPUs"
    one = plan(machine(cores=1, smt=1), PlanRequest(ranks=2))
    assert one.explanation[0] == "box: 1 package, 1 NUMA node, 1 L3 group, 1 core, 1 CPU"
    assert "2 ranks but only 1 usable CPU:" in " ".join(w.message for w in one.warnings)
