"""Counts in export texts read as English: "1 package, 1 NUMA node", never "1 NUMA nodes" or "rank(s)".

The machines are built here from PU records, so the expected counts are known by construction: a one-PU box
(1 package, 1 NUMA node, 1 core, 1 PU) and a one-package box with 2 cores x 2 PUs (1 package, 1 NUMA node,
2 cores, 4 PUs).
"""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from test_export_golden import hand_plan

from ompviz.cpuset import CpuSet
from ompviz.export import FORMATS, render
from ompviz.export.config import load_config
from ompviz.plan import PlanRequest, Worker
from ompviz.plan import plan as make_plan
from ompviz.topology.model import PURecord, Topology, build_topology

# A count of exactly one followed by a plural noun, or a "(s)" / "(es)" hedge: both are what this guards against.
BAD_ONE = re.compile(
    r"(?<![\d.])1 (packages|NUMA nodes|nodes|cores|PUs|CPUs|threads|ranks|places|workers|files|samples|L3s)\b"
)
HEDGE = re.compile(r"[A-Za-z]\((s|es)\)")


def one_pu() -> Topology:
    return build_topology(
        [PURecord(0, package=0, numa=0, l3_key=0, core_key=0)],
        name="one-pu box",
        source="test:1",
        source_kind="synthetic",
    )


def one_package() -> Topology:
    """core k (0..1) = PUs k and k+2, all in package 0 / NUMA 0 / one L3."""
    recs = [PURecord(c, package=0, numa=0, l3_key=0, core_key=c % 2) for c in range(4)]
    return build_topology(recs, name="one-package box", source="test:1p", source_kind="synthetic")


def _assert_no_bad_plural(text: str) -> None:
    assert not BAD_ONE.findall(text), [ln for ln in text.splitlines() if BAD_ONE.search(ln)]
    assert not HEDGE.findall(text), [ln for ln in text.splitlines() if HEDGE.search(ln)]


def test_the_checks_can_fail():
    # the patterns catch the exact wording this file is about (so a passing test means something)
    for bad in ("(1 packages, 1 NUMA nodes, 8 cores", "1 PUs", "2 worker(s)", "planned 1 threads"):
        with pytest.raises(AssertionError):
            _assert_no_bad_plural(bad)
    _assert_no_bad_plural("(1 package, 1 NUMA node, 1 core, 1 PU; 11 cores, 21 PUs)")


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_one_pu_machine_every_format(fmt):
    topo = one_pu()
    plan = hand_plan(topo, ["0"], places="threads")
    text = render(fmt, plan, topo, command=["./a.out"])
    _assert_no_bad_plural(text)
    if fmt not in ("text", "json"):
        # the header, word by word: 1 of everything
        assert "# machine: one-pu box (1 package, 1 NUMA node, 1 core, 1 PU; source: test:1)" in text
        if fmt != "openmpi":  # the rankfile format has no rank comments
            assert "rank 0: CPUs 0, NUMA 0, 1 thread" in text


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_one_package_machine_every_format(fmt):
    topo = one_package()
    plan = hand_plan(topo, ["0-3"], places="cores")  # 2 places (cores), 2 threads
    text = render(fmt, plan, topo, command=None)
    _assert_no_bad_plural(text)
    if fmt not in ("text", "json"):
        assert "# machine: one-package box (1 package, 1 NUMA node, 2 cores, 4 PUs; source: test:1p)" in text


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_planner_plan_on_one_pu_machine(fmt):
    """The real planner's warnings and explanation on a 1-PU machine pass the same check in every format."""
    topo = one_pu()
    plan = make_plan(topo, PlanRequest(ranks=1))
    _assert_no_bad_plural(render(fmt, plan, topo))


def test_warning_of_one_rank_names_rank_singular():
    from ompviz.plan.model import PlanWarning

    topo = one_package()
    plan = hand_plan(topo, ["0", "1"], places="threads", warnings=(PlanWarning("x", "warning", "w", (1,)),))
    text = render("sh", plan, topo)
    assert "# WARNING: w (rank 1)" in text
    plan = hand_plan(topo, ["0", "1"], places="threads", warnings=(PlanWarning("x", "warning", "w", (0, 1)),))
    assert "# WARNING: w (ranks 0,1)" in render("sh", plan, topo)


def test_slurm_names_one_rank_without_cpus_in_singular():
    topo = one_package()
    plan = hand_plan(topo, ["0-1", "2-3"], places="threads")
    empty = Worker(2, CpuSet(), (), (), 0, (), ())
    plan = dataclasses.replace(plan, workers=(*plan.workers, empty))
    text = render("slurm", plan, topo)
    assert "# rank 2 has no CPUs in this plan and is left out" in text
    empty3 = Worker(3, CpuSet(), (), (), 0, (), ())
    plan = dataclasses.replace(plan, workers=(*plan.workers, empty3))
    assert "# ranks 2,3 have no CPUs in this plan and are left out" in render("slurm", plan, topo)


def test_openmpi_names_one_overlapping_rank_in_singular():
    topo = one_package()
    plan = hand_plan(topo, ["0-1", "1-2"], places="threads")  # rank 1 shares CPU 1 with rank 0
    assert "# rank 1 shares CPUs with lower ranks:" in render("openmpi", plan, topo)


def test_config_machine_note_in_singular(tmp_path):
    saved = one_pu()
    plan = hand_plan(saved, ["0"], places="threads")
    path = tmp_path / "c.json"
    path.write_text(render("json", plan, saved))
    cfg = load_config(str(path), live=one_package)
    (note,) = cfg.notes
    _assert_no_bad_plural(note)
    assert "saved on 'one-pu box' (1 PU, 1 NUMA node, 1 allowed)" in note
    assert "this machine 'one-package box' (4 PUs, 1 NUMA node, 4 allowed)" in note
    assert json.loads(path.read_text())["topology"]["numa_nodes"] == 1


def test_per_rank_dir_note_in_singular(tmp_path):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "ompviz", "plan", "--topology", "synthetic:core:2 pu:1", "--ranks", "1"]
        + ["--format", "env", "--per-rank-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert f"wrote 1 file: {tmp_path / 'd' / 'rank-0.env'}" in out.stderr


def test_run_report_head_in_singular():
    from ompviz.commands.run import format_text

    report = {
        "run_id": "0123456789",
        "workers": [],
        "duration": 1.0,
        "samples": 1,
        "runtime_lib": "gnu",
        "interrupted_by": None,
        "verified": False,
    }
    head = format_text({**report, "workers": [_worker()]}).splitlines()[0]
    assert head == "ompviz run 01234567: 1 worker, 1.0 s, 1 sample, runtime gnu"
    head = format_text({**report, "workers": [_worker(), _worker(1)], "samples": 3}).splitlines()[0]
    assert head == "ompviz run 01234567: 2 workers, 1.0 s, 3 samples, runtime gnu"


def _worker(rank: int = 0) -> dict:
    return {
        "rank": rank,
        "pid": 1,
        "state": "exited 0",
        "team_size": 1,
        "expected_team": 1,
        "throughput": None,
        "verdict": "ok",
        "threads": [],
        "problems": [],
        "signal": None,
        "exit": 0,
        "note": None,
        "last_output": None,
    }
