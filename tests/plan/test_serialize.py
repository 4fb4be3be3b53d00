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
