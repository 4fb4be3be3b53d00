"""Saved config (--format json): layout, save -> load -> plan round trip (hypothesis), malformed files, notes."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_export_exec import two_cpus
from test_export_golden import small_box

from ompviz.cpuset import CpuSet
from ompviz.errors import OmpvizError
from ompviz.export import render
from ompviz.export.config import SCHEMA, VERSION, load_config, plan_matches_saved
from ompviz.plan import plan
from ompviz.plan.model import BIND_POLICIES, NOTATIONS, PLACES, RUNTIMES, SMT_POLICIES, PlanRequest
from ompviz.topology.snapshot import dumps_snapshot

requests = st.builds(
    PlanRequest,
    ranks=st.integers(1, 5),
    threads=st.one_of(st.none(), st.integers(1, 9)),
    strategy=st.sampled_from(("compact", "spread", "numa", "l3", "distrib")),
    smt=st.sampled_from(SMT_POLICIES),
    reserve=st.sets(st.integers(0, 15), max_size=3).map(CpuSet),
    places=st.sampled_from(PLACES),
    notation=st.sampled_from(NOTATIONS),
    bind=st.sampled_from(BIND_POLICIES),
    runtime=st.sampled_from(RUNTIMES),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(req=requests)
def test_save_load_plan_gives_the_same_plan(req, tmp_path):
    topo = small_box()
    p = plan(topo, req)
    path = tmp_path / "cfg.json"
    path.write_text(render("json", p, topo, command=["./a.out", "x y"]))
    loaded = load_config(str(path), live=lambda: None)
    assert loaded.request == req
    assert loaded.notes == ()
    assert loaded.command == ("./a.out", "x y")
    p2 = plan(loaded.topology, loaded.request)
    assert p2.workers == p.workers
    assert p2.warnings == p.warnings
    assert plan_matches_saved(p2, loaded.saved_plan)


def test_layout_is_also_the_plan_json_layout(tmp_path):
    topo = small_box()
    p = plan(topo, PlanRequest(ranks=2))
    d = json.loads(render("json", p, topo))
    assert d["schema"] == SCHEMA and d["version"] == VERSION
    assert {"topology", "request", "workers", "warnings"} <= set(d)
    assert d["topology"]["pus"] == 16 and d["topology"]["source"] == "test:small-box"
    assert d["topology"]["snapshot"]["ompviz_snapshot"] == 1
    assert [w["cpus"] for w in d["workers"]] == [w.cpus.to_list() for w in p.workers]


def _write(tmp_path, obj) -> str:
    path = tmp_path / "c.json"
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return str(path)


def _good(tmp_path) -> dict:
    topo = small_box()
    return json.loads(render("json", plan(topo, PlanRequest(ranks=2)), topo))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: "{not json", "invalid JSON at line 1"),
        (lambda d: [1, 2], "not an ompviz config"),
        (lambda d: {**d, "schema": "other"}, "not an ompviz config"),
        (lambda d: {**d, "version": 2}, "config version 2 is not supported"),
        (lambda d: {**d, "request": {**d["request"], "ranks": 0}}, "request.ranks is 0"),
        (lambda d: {**d, "request": {**d["request"], "bind": "tight"}}, "request.bind is 'tight'"),
        (lambda d: {**d, "request": {**d["request"], "reserve": ["a"]}}, "request.reserve"),
        (lambda d: {**d, "topology": {**d["topology"], "snapshot": {"ompviz_snapshot": 9}}}, "embedded topology"),
    ],
)
def test_malformed_config_is_one_line(tmp_path, mutate, message):
    path = _write(tmp_path, mutate(_good(tmp_path)))
    with pytest.raises(OmpvizError) as e:
        load_config(path, live=lambda: None)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(OmpvizError, match="cannot read config"):
        load_config(str(tmp_path / "nope.json"))


def test_notes_when_the_saved_machine_differs(tmp_path):
    path = _write(tmp_path, _good(tmp_path))
    same = load_config(path, live=small_box)
    assert same.notes == ()
    other = load_config(path, live=two_cpus)
    assert other.topology.summary()["pus"] == 16  # the embedded snapshot is used by default
    (note,) = other.notes
    assert "differs from this machine 'two-cpu test box' (2 PUs" in note and "--topology live" in note
    # --topology overrides the snapshot, and says it is not the saved machine
    snap = tmp_path / "two.json"
    snap.write_text(dumps_snapshot(two_cpus()))
    over = load_config(path, topology=str(snap))
    assert over.topology.summary()["pus"] == 2
    (note,) = over.notes
    assert "not the machine the config was saved on 'ompviz test box' (16 PUs" in note
