"""vLLM emulation (vllm/utils/ompmultiprocessing.py, PR #36487): expected values reasoned from vLLM's code."""

from __future__ import annotations

import json

import pytest

from ompviz.plan import PlanRequest, plan
from ompviz.plan.vllm import vllm_parse_mask
from ompviz.topology.model import PURecord, build_topology


def machine():
    """2 NUMA nodes x 4 cores x 2 PUs; core c = CPUs {c, c+8}; node 0 = cores 0-3."""
    recs = [
        PURecord(c + 8 * t, package=c // 4, numa=c // 4, l3_key=c // 4, core_key=c) for c in range(8) for t in (0, 1)
    ]
    return build_topology(recs, name="2n4c2t", source="test", source_kind="synthetic")


M = machine()


def vplan(ranks=2, smt="one", **vars_):
    return plan(M, PlanRequest(ranks=ranks, strategy="vllm", smt=smt, vllm_vars=tuple(vars_.items())))


def codes(p):
    return {w.code for w in p.warnings}


def test_default_one_place_per_node_largest_then_highest_cpu_first():
    p = vplan()
    # places {0,1,2,3} (key "0004-0003") and {4,5,6,7} ("0004-0007"); reverse sort -> node 1 first
    assert [w.env_dict for w in p.workers] == [
        {"OMP_PLACES": "{4, 5, 6, 7}", "OMP_PROC_BIND": "TRUE", "OMP_NUM_THREADS": "4"},
        {"OMP_PLACES": "{0, 1, 2, 3}", "OMP_PROC_BIND": "TRUE", "OMP_NUM_THREADS": "4"},
    ]
    assert {"vllm-whole-node-place", "vllm-rank-order", "vllm-vs-numa"} <= codes(p)
    # one place, TRUE: every thread on place 0 (the whole node) in both runtimes
    assert all(t.place == 0 and str(t.cpus) == "4-7" for t in p.workers[0].gnu + p.workers[0].llvm)


def test_smt_all_keeps_siblings():
    p = vplan(smt="all")
    assert p.workers[1].env_dict["OMP_PLACES"] == "{0, 1, 2, 3, 8, 9, 10, 11}"
    assert p.workers[1].num_threads == 8


def test_segments_split_per_node_and_sorted_by_size():
    # "0-2|4-7": places {0,1,2} (3 CPUs) and {4..7} (4 CPUs): the larger goes to rank 0
    p = vplan(VLLM_CPU_OMP_THREADS_BIND="0-2|4-7")
    assert [str(w.cpus) for w in p.workers] == ["4-7", "0-2"]
    # "0-5" spans both nodes: split into {0,1,2,3} and {4,5}
    p = vplan(VLLM_CPU_OMP_THREADS_BIND="0-5")
    assert [str(w.cpus) for w in p.workers] == ["0-3", "4-5"]
    # vLLM's int() tolerates spaces; a negative id parses to -1 and matches no CPU
    assert str(vplan(ranks=1, VLLM_CPU_OMP_THREADS_BIND=" 0 - 3 ").workers[0].cpus) == "0-3"


def test_visible_memory_nodes():
    p = vplan(ranks=1, CPU_VISIBLE_MEMORY_NODES="0")
    assert str(p.workers[0].cpus) == "0-3"


def test_reserved_lowers_threads_only():
    p = vplan(VLLM_CPU_NUM_OF_RESERVED_CPU="1")
    assert p.workers[0].env_dict["OMP_NUM_THREADS"] == "3" and str(p.workers[0].cpus) == "4-7"
    assert "vllm-reserved-in-place" in codes(p)
    p = vplan(VLLM_CPU_NUM_OF_RESERVED_CPU="4")
    assert p.workers[0].env_dict["OMP_NUM_THREADS"] == "0" and "vllm-threads-lt-1" in codes(p) and not p.ok


def test_out_of_places_is_an_error_not_a_crash():
    p = vplan(ranks=3)
    assert p.workers[2].env == () and "vllm-out-of-places" in codes(p) and not p.ok


@pytest.mark.parametrize(
    "value,exc",
    [
        ("auto", "ValueError"),
        ("0xff", "ValueError"),
        ("0-7:2", "ValueError"),
        ("0,,1", "ValueError"),
        ("0-3|", "ValueError"),
        ("3-1", "IndexError"),
        ("1-2-3", "ValueError"),
    ],
)
def test_vllm_mask_errors_reported(value, exc):
    p = vplan(VLLM_CPU_OMP_THREADS_BIND=value)
    errs = [w for w in p.warnings if w.code == "vllm-error"]
    assert len(errs) == 1 and errs[0].severity == "error" and exc in errs[0].message


def test_other_vars_errors():
    assert "vllm-error" in codes(vplan(CPU_VISIBLE_MEMORY_NODES="all"))
    assert "vllm-error" in codes(vplan(VLLM_CPU_NUM_OF_RESERVED_CPU="two"))


def test_parse_mask_port():
    assert vllm_parse_mask("0-3,8") == {0, 1, 2, 3, 8}
    assert vllm_parse_mask("-1") == {-1}  # "".split -> int("") fails, then int("-1") succeeds, as in vLLM
    with pytest.raises(IndexError):
        vllm_parse_mask("5-2")


def test_nobind_sets_no_variables():
    p = vplan(VLLM_CPU_OMP_THREADS_BIND="nobind")
    assert all(w.env == () and str(w.cpus) == "0-15" for w in p.workers)
    assert "vllm-nobind" in codes(p)


def test_lscpu_json_topology(tmp_path):
    """vLLM reads `lscpu -J -e`; ompviz's lscpu loader must give the same places (strings or numbers)."""
    pytest.importorskip("ompviz.topology.lscpu", reason="lscpu loader not available in this checkout")
    from ompviz.topology import load

    cpus = []
    for c in range(8):
        for t in (0, 1):
            cpu = c + 8 * t
            cpus.append({"cpu": str(cpu), "node": str(c // 4), "socket": str(c // 4), "core": str(c), "online": "yes"})
    cpus.sort(key=lambda d: int(d["cpu"]))
    f = tmp_path / "lscpu.json"
    f.write_text(json.dumps({"cpus": cpus}))
    topo = load(str(f))
    p = plan(topo, PlanRequest(ranks=2, strategy="vllm", smt="one"))
    assert [w.env_dict["OMP_PLACES"] for w in p.workers] == ["{4, 5, 6, 7}", "{0, 1, 2, 3}"]


def test_messages_count_in_words():
    # node 0 = CPUs 0-3 with --smt one: one place of 4 CPUs; 4 reserved -> OMP_NUM_THREADS 0 for rank 0 alone
    p = vplan(ranks=1, VLLM_CPU_OMP_THREADS_BIND="0-3", VLLM_CPU_NUM_OF_RESERVED_CPU="4")
    low = next(w for w in p.warnings if w.code == "vllm-threads-lt-1")
    assert low.message.startswith("OMP_NUM_THREADS < 1 for rank 0: ")  # was "for ranks 0"
    # one place for 3 workers: ranks 1 and 2 run out ("only 1 place", was "1 place(s)")
    p = vplan(ranks=3, VLLM_CPU_OMP_THREADS_BIND="0-3")
    out = next(w for w in p.warnings if w.code == "vllm-out-of-places")
    assert "Out of OMP places for ranks 1-2: only 1 place (one per NUMA node per segment) for 3 workers" in out.message
