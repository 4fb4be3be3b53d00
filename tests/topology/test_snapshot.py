"""ompviz JSON snapshots: round trip (property), versioning, broken input, ompviz dump."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ompviz.errors import OmpvizError
from ompviz.topology import build_topology, load
from ompviz.topology.model import PURecord
from ompviz.topology.snapshot import SCHEMA_VERSION, dumps_snapshot, from_snapshot, load_snapshot, to_snapshot


def _same(a, b) -> None:
    assert a.pus == b.pus
    assert a.cores == b.cores
    assert a.packages == b.packages
    assert a.dies == b.dies
    assert a.numa_nodes == b.numa_nodes
    assert a.l3s == b.l3s
    assert a.name == b.name
    assert a.cache_sizes == b.cache_sizes
    assert a.logical_order == b.logical_order


small = st.one_of(st.none(), st.integers(0, 3))
record = st.builds(
    PURecord,
    os_index=st.integers(0, 300),
    package=small,
    die=small,
    numa=small,
    l3_key=st.one_of(st.none(), st.integers(0, 6), st.tuples(st.integers(0, 2), st.integers(0, 2))),
    core_key=st.one_of(st.none(), st.integers(0, 30), st.tuples(st.integers(0, 2), st.integers(0, 9))),
    kind=st.sampled_from([None, "P", "E"]),
    online=st.booleans(),
    allowed=st.booleans(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(record, min_size=1, max_size=40, unique_by=lambda r: r.os_index),
    st.dictionaries(st.integers(0, 3), st.integers(1, 1 << 40), max_size=3),
    st.dictionaries(st.sampled_from(["L1d", "L2", "L3"]), st.integers(1, 1 << 30), max_size=3),
)
def test_round_trip_property(records, numa_sizes, cache_sizes):
    assume(any(r.online for r in records))
    t = build_topology(
        records,
        name="random machine",
        source="synthetic:random",
        source_kind="synthetic",
        numa_sizes=numa_sizes,
        cache_sizes=cache_sizes,
        notes=("a note",),
    )
    d = json.loads(json.dumps(to_snapshot(t)))  # through real JSON, as a file would be
    back = from_snapshot(d, source="snap.json")
    _same(t, back)
    assert back.source == "snap.json" and back.source_kind == "snapshot"
    assert back.notes == ("a note", "snapshot of synthetic:random (synthetic)")
    assert json.loads(dumps_snapshot(t)) == to_snapshot(t)


@pytest.mark.parametrize("name", ["epyc-9654-2p-nps4", "core-i7-13700", "xeon-8480-2p-snc4", "power10-smt8"])
def test_presets_round_trip_through_a_file(tmp_path, name):
    t = load(f"preset:{name}")
    p = tmp_path / "snap.json"
    p.write_text(dumps_snapshot(t))
    back = load(str(p))  # the dispatcher recognises the snapshot by its version key
    _same(t, back)
    assert back.source_kind == "snapshot"
    assert back.notes[-1] == f"snapshot of preset:{name} (preset)"


def test_snapshot_schema_fields():
    d = to_snapshot(load("preset:teach-4c"))
    assert d["ompviz_snapshot"] == SCHEMA_VERSION == 1
    assert {"name", "source", "source_kind", "cache_sizes", "notes", "pus", "numa_sizes", "l3_sizes"} <= set(d)
    assert set(d["pus"][0]) == {
        "os_index",
        "package",
        "die",
        "numa",
        "l3_key",
        "core_key",
        "kind",
        "online",
        "allowed",
    }
    assert d["l3_sizes"] == {"0": 8 << 20}


def test_offline_and_disallowed_survive():
    recs = [PURecord(0, 0, None, 0, 0, 0), PURecord(1, 0, None, 0, 0, 0, allowed=False), PURecord(2, online=False)]
    t = build_topology(recs, name="m", source="s", source_kind="sysfs")
    back = from_snapshot(to_snapshot(t), source="x")
    _same(t, back)
    assert back.offline.ids == (2,) and back.disallowed.ids == (1,)


@pytest.mark.parametrize(
    "doc, needle",
    [
        ({"ompviz_snapshot": 2, "pus": []}, "version 2 is not supported"),
        ({"ompviz_snapshot": "1", "pus": []}, "version '1' is not supported"),
        ({"ompviz_snapshot": True, "pus": []}, "not supported"),
        ([1, 2], "version field"),
        ({"ompviz_snapshot": 1, "name": "m", "source": "s", "source_kind": "k"}, '"pus"'),
        ({"ompviz_snapshot": 1, "name": 3, "source": "s", "source_kind": "k", "pus": []}, "name"),
        ({"ompviz_snapshot": 1, "name": "m", "source": "s", "source_kind": "k", "pus": [{"numa": 0}]}, "os_index"),
        (
            {"ompviz_snapshot": 1, "name": "m", "source": "s", "source_kind": "k", "pus": [{"os_index": -4}]},
            "os_index",
        ),
        (
            {
                "ompviz_snapshot": 1,
                "name": "m",
                "source": "s",
                "source_kind": "k",
                "pus": [{"os_index": 0, "online": 1}],
            },
            "online",
        ),
        ({"ompviz_snapshot": 1, "name": "m", "source": "s", "source_kind": "k", "pus": []}, "no CPUs"),
        (
            {
                "ompviz_snapshot": 1,
                "name": "m",
                "source": "s",
                "source_kind": "k",
                "pus": [{"os_index": 0}],
                "numa_sizes": {"x": 1},
            },
            "numa_sizes",
        ),
    ],
)
def test_bad_snapshots_one_line(doc, needle):
    with pytest.raises(OmpvizError) as e:
        from_snapshot(doc, source="bad.json")
    assert needle in str(e.value) and "bad.json" in str(e.value) and "\n" not in str(e.value)


def test_broken_and_truncated_files(tmp_path):
    text = dumps_snapshot(load("preset:teach-4c"))
    p = tmp_path / "cut.json"
    p.write_text(text[: len(text) // 2])
    with pytest.raises(OmpvizError, match="broken snapshot JSON"):
        load(str(p))
    p.write_bytes(b'{"ompviz_snapshot": 1, \xff}')
    with pytest.raises(OmpvizError, match="UTF-8"):
        load(str(p))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(0, 30), st.text(alphabet='0123456789,:-{}[]"truefalsn ', max_size=8))
def test_fuzz_mutated_snapshot(tmp_path_factory, at, cut, insert):
    text = dumps_snapshot(load("preset:core-i7-13700"))
    at %= len(text) + 1
    p = tmp_path_factory.mktemp("fuzz") / "s.json"
    p.write_text(text[:at] + insert + text[at + cut :])
    try:
        load_snapshot(str(p), source="s.json")
    except OmpvizError as e:
        assert "\n" not in str(e)


def _ompviz(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ompviz", *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_dump_cli_writes_atomically_and_refuses_overwrite(tmp_path):
    out = tmp_path / "m.json"
    r = _ompviz("dump", "--topology", "preset:epyc-9654-2p-nps1", "-o", str(out))
    assert r.returncode == 0, r.stderr
    _same(load(str(out)), load("preset:epyc-9654-2p-nps1"))
    r = _ompviz("dump", "--topology", "preset:grace", "-o", str(out))
    assert r.returncode == 2 and "--force" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert load(str(out)).summary()["cores"] == 192  # untouched
    r = _ompviz("dump", "--topology", "preset:grace", "-o", str(out), "--force")
    assert r.returncode == 0 and load(str(out)).summary()["cores"] == 72
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]  # no temp files left behind


def test_dump_cli_stdout():
    r = _ompviz("dump", "-t", "preset:teach-4c")
    assert r.returncode == 0
    d = json.loads(r.stdout)
    assert d["ompviz_snapshot"] == 1 and len(d["pus"]) == 8 and d["source"] == "preset:teach-4c"
