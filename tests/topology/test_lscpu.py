"""lscpu -J -e / lscpu -p reader. Fixtures are written by hand in the formats util-linux prints (2.38 here:
numbers and booleans in JSON; older versions print every value as a string, "yes"/"no", and "-" when unknown)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ompviz.cpuset import CpuSet, parse_list
from ompviz.errors import OmpvizError
from ompviz.topology import load
from ompviz.topology.lscpu import parse_lscpu

# `lscpu -J -e` exactly as util-linux 2.38.1 prints it on this project's 2-CPU VM.
REAL_JSON_238 = """{
   "cpus": [
      {
         "cpu": 0,
         "node": 0,
         "socket": 0,
         "core": 0,
         "l1d:l1i:l2:l3": "0:0:0:0",
         "online": true
      },{
         "cpu": 1,
         "node": 0,
         "socket": 0,
         "core": 1,
         "l1d:l1i:l2:l3": "1:1:1:0",
         "online": true
      }
   ]
}
"""

# Old util-linux (before typed JSON columns): every value a string, online "yes"/"no", "-" for unknown,
# MHz columns present. 2 sockets x 2 cores x SMT2, x86 numbering (siblings N and N+4), CPU 7 offline.
OLD_JSON_STRINGS = """{
   "cpus": [
      {"cpu": "0", "node": "0", "socket": "0", "core": "0", "l1d:l1i:l2:l3": "0:0:0:0", "online": "yes",
       "maxmhz": "3700.0000", "minmhz": "1200.0000"},
      {"cpu": "1", "node": "0", "socket": "0", "core": "1", "l1d:l1i:l2:l3": "1:1:1:0", "online": "yes",
       "maxmhz": "3700.0000", "minmhz": "1200.0000"},
      {"cpu": "2", "node": "1", "socket": "1", "core": "2", "l1d:l1i:l2:l3": "2:2:2:1", "online": "yes",
       "maxmhz": "3700.0000", "minmhz": "1200.0000"},
      {"cpu": "3", "node": "1", "socket": "1", "core": "3", "l1d:l1i:l2:l3": "3:3:3:1", "online": "yes",
       "maxmhz": "3700.0000", "minmhz": "1200.0000"},
      {"cpu": "4", "node": "0", "socket": "0", "core": "0", "l1d:l1i:l2:l3": "0:0:0:0", "online": "yes",
       "maxmhz": "3700.0000", "minmhz": "1200.0000"},
      {"cpu": "5", "node": "0", "socket": "0", "core": "1", "l1d:l1i:l2:l3": "1:1:1:0", "online": "yes",
       "maxmhz": "3700.0000", "minmhz": "1200.0000"},
      {"cpu": "6", "node": "1", "socket": "1", "core": "2", "l1d:l1i:l2:l3": "2:2:2:1", "online": "yes",
       "maxmhz": "3700.0000", "minmhz": "1200.0000"},
      {"cpu": "7", "node": "-", "socket": "-", "core": "-", "l1d:l1i:l2:l3": "-", "online": "no",
       "maxmhz": "-", "minmhz": "-"}
   ]
}
"""

# The same machine in the typed JSON of util-linux >= 2.37 (offline CPU: null ids, online false).
NEW_JSON_NUMBERS = json.dumps(
    {
        "cpus": [
            {"cpu": 0, "node": 0, "socket": 0, "core": 0, "l1d:l1i:l2:l3": "0:0:0:0", "online": True},
            {"cpu": 1, "node": 0, "socket": 0, "core": 1, "l1d:l1i:l2:l3": "1:1:1:0", "online": True},
            {"cpu": 2, "node": 1, "socket": 1, "core": 2, "l1d:l1i:l2:l3": "2:2:2:1", "online": True},
            {"cpu": 3, "node": 1, "socket": 1, "core": 3, "l1d:l1i:l2:l3": "3:3:3:1", "online": True},
            {"cpu": 4, "node": 0, "socket": 0, "core": 0, "l1d:l1i:l2:l3": "0:0:0:0", "online": True},
            {"cpu": 5, "node": 0, "socket": 0, "core": 1, "l1d:l1i:l2:l3": "1:1:1:0", "online": True},
            {"cpu": 6, "node": 1, "socket": 1, "core": 2, "l1d:l1i:l2:l3": "2:2:2:1", "online": True},
            {"cpu": 7, "node": None, "socket": None, "core": None, "l1d:l1i:l2:l3": None, "online": False},
        ]
    },
    indent=3,
)

# `lscpu -p` of a hand-made 2-socket machine: 2 x 4 cores x SMT2, siblings N and N+8, NUMA node = socket,
# one L3 per socket. -p lists online CPUs only (its default), so offline CPU 15 is absent.
MULTI_SOCKET_P = """\
# The following is the parsable format, which can be fed to other
# programs. Each different item in every column has an unique ID
# starting usually from zero.
# CPU,Core,Socket,Node,,L1d,L1i,L2,L3
0,0,0,0,,0,0,0,0
1,1,0,0,,1,1,1,0
2,2,0,0,,2,2,2,0
3,3,0,0,,3,3,3,0
4,4,1,1,,4,4,4,1
5,5,1,1,,5,5,5,1
6,6,1,1,,6,6,6,1
7,7,1,1,,7,7,7,1
8,0,0,0,,0,0,0,0
9,1,0,0,,1,1,1,0
10,2,0,0,,2,2,2,0
11,3,0,0,,3,3,3,0
12,4,1,1,,4,4,4,1
13,5,1,1,,5,5,5,1
14,6,1,1,,6,6,6,1
"""

# `lscpu -p=CPU,CORE,SOCKET,NODE,CACHE,ONLINE -a` in the old "user defined" style: one CACHE column with
# ':'-separated ids, empty cells for the offline CPU, Y/N online.
OLD_P_USER_COLUMNS = """\
# The following is the parsable format, which can be fed to other
# programs. Each different item in every column has an unique ID
# starting from zero.
# CPU,Core,Socket,Node,L1d:L1i:L2:L3,Online
0,0,0,0,0:0:0:0,Y
1,1,0,0,1:1:1:0,Y
2,2,1,1,2:2:2:1,Y
3,3,1,1,3:3:3:1,Y
4,0,0,0,0:0:0:0,Y
5,1,0,0,1:1:1:0,Y
6,2,1,1,2:2:2:1,Y
7,,,,,N
"""

# util-linux 2.38 `lscpu -p=CPU,CORE,SOCKET,NODE,BOOK,DRAWER,CACHE,...`: caches as separate columns after an
# empty one, polarization "U", Online Y (verbatim layout from this VM, values of the 2-CPU machine).
P_ALL_COLUMNS_238 = """\
# The following is the parsable format, which can be fed to other
# programs. Each different item in every column has an unique ID
# starting usually from zero.
# CPU,Core,Socket,Node,Book,DRAWER,,L1d,L1i,L2,L3,Polarization,Address,Configured,Online,Maxmhz,Minmhz
0,0,0,0,,,,0,0,0,0,U,,,Y,,
1,1,0,0,,,,1,1,1,0,U,,,Y,,
"""


def _load(tmp_path, text: str, name: str = "lscpu.out"):
    p = tmp_path / name
    p.write_text(text)
    return load(str(p))


def test_real_238_json(tmp_path):
    t = _load(tmp_path, REAL_JSON_238, "lscpu.json")
    assert t.source_kind == "lscpu"
    # two cores (core ids 0 and 1), one socket, one NUMA node, one shared L3 (L3 id 0 on both)
    assert t.summary() | {"name": "", "source": ""} == {
        "name": "",
        "source": "",
        "source_kind": "lscpu",
        "packages": 1,
        "numa_nodes": 1,
        "l3_caches": 1,
        "cores": 2,
        "pus": 2,
    }
    assert t.siblings(0) == CpuSet([0])
    assert t.l3_cpus(0) == CpuSet([0, 1])


@pytest.mark.parametrize("text", [OLD_JSON_STRINGS, NEW_JSON_NUMBERS], ids=["strings", "numbers"])
def test_two_socket_json_both_value_styles(tmp_path, text):
    t = _load(tmp_path, text, "lscpu.json")
    s = t.summary()
    # hand count: CPUs 0-6 online = 7 PUs; cores {0,4} {1,5} {2,6} {3}; sockets 0 and 1; nodes 0 and 1
    assert (s["packages"], s["numa_nodes"], s["l3_caches"], s["cores"], s["pus"]) == (2, 2, 2, 4, 7)
    assert t.offline == CpuSet([7])
    assert t.siblings(0) == CpuSet([0, 4])
    assert t.siblings(2) == CpuSet([2, 6])
    assert t.siblings(3) == CpuSet([3])
    assert t.numa_cpus(1) == CpuSet([2, 3, 6])
    assert t.package_cpus(0) == CpuSet([0, 1, 4, 5])
    assert t.allowed == parse_list("0-6")
    # hwloc-style logical order: package 0 core {0,4} first -> PU 0 L#0, PU 4 L#1, PU 1 L#2
    assert t.logical_order[:4] == (0, 4, 1, 5)


def test_string_and_number_styles_agree(tmp_path):
    a = _load(tmp_path, OLD_JSON_STRINGS, "a.json")
    b = _load(tmp_path, NEW_JSON_NUMBERS, "b.json")
    assert a.pus == b.pus and a.cores == b.cores and a.l3s == b.l3s and a.numa_nodes == b.numa_nodes


def test_old_user_columns_p_matches_json(tmp_path):
    a = _load(tmp_path, OLD_P_USER_COLUMNS, "p.csv")
    b = _load(tmp_path, NEW_JSON_NUMBERS, "b.json")
    assert a.pus == b.pus and a.cores == b.cores and a.l3s == b.l3s and a.numa_nodes == b.numa_nodes


def test_multi_socket_parsable(tmp_path):
    t = _load(tmp_path, MULTI_SOCKET_P, "p.csv")
    s = t.summary()
    # hand count: 15 online PUs, 8 cores (core 7 = CPU 7 alone since 15 is not listed), 2 sockets/NUMA/L3
    assert (s["packages"], s["numa_nodes"], s["l3_caches"], s["cores"], s["pus"]) == (2, 2, 2, 8, 15)
    assert t.siblings(0) == CpuSet([0, 8])
    assert t.siblings(14) == CpuSet([6, 14])
    assert t.siblings(7) == CpuSet([7])
    assert t.l3_cpus(1) == parse_list("4-7,12-14")
    assert t.numa_cpus(0) == parse_list("0-3,8-11")
    assert t.pu(4).logical_index == 8  # package 1 starts after the 8 PUs of package 0


def test_all_columns_238_parsable(tmp_path):
    t = _load(tmp_path, P_ALL_COLUMNS_238, "p.csv")
    assert len(t.cores) == 2 and len(t.l3s) == 1 and t.online == CpuSet([0, 1])


def test_json_number_and_string_ids_mixed(tmp_path):
    text = json.dumps({"cpus": [{"cpu": 0, "core": "0", "socket": 0, "node": "0", "online": "yes"}]})
    t = _load(tmp_path, text, "x.json")
    assert t.summary()["pus"] == 1 and not t.l3s
    assert any("no L3" in n for n in t.notes)


def test_cache_ids_that_do_not_line_up_are_unknown(tmp_path):
    # new lscpu skips caches a CPU lacks: "0:0:0" under l1d:l1i:l2:l3 cannot be placed -> no L3 claim
    text = json.dumps({"cpus": [{"cpu": 0, "core": 0, "socket": 0, "node": 0, "l1d:l1i:l2:l3": "0:0:0"}]})
    assert not _load(tmp_path, text, "x.json").l3s


def test_model_name_column_used_when_present(tmp_path):
    text = json.dumps({"cpus": [{"cpu": 0, "core": 0, "socket": 0, "modelname": "Neoverse-V2"}]})
    assert _load(tmp_path, text, "x.json").name == "Neoverse-V2"


@pytest.mark.parametrize(
    "text, needle",
    [
        ('{"lscpu": [{"field": "Architecture:", "data": "x86_64"}]}', "lscpu -J -e"),
        ('{"cpus": [', "broken JSON"),
        ('{"cpus": 3}', '"cpus" list'),
        ('{"cpus": []}', "empty"),
        ('{"cpus": [{"core": 0}]}', "no CPU number"),
        ('{"cpus": [{"cpu": "zero"}]}', "expected a number"),
        ('{"cpus": [{"cpu": -1}]}', "out of range"),
        ('{"cpus": [{"cpu": 0, "online": "maybe"}]}', "yes/no"),
        ('{"cpus": [{"cpu": 0}, {"cpu": 0}]}', "listed twice"),
        ('{"cpus": [{"cpu": 0, "online": false}]}', "offline"),
        ("0,0,0,0\n", "header"),
        ("# CPU,Core,Socket\n0,0\n", "columns"),
        ("# CPU,Core\n", "no CPU lines"),
        ("# hello\n# world\n", "header"),
    ],
)
def test_bad_input_one_line_error(tmp_path, text, needle):
    with pytest.raises(OmpvizError) as e:
        _load(tmp_path, text, "bad.out")
    msg = str(e.value)
    assert needle in msg and "\n" not in msg and "bad.out" in msg


def test_not_utf8(tmp_path):
    p = tmp_path / "bin.csv"
    p.write_bytes(b"# CPU,\xff\xfe\n")
    with pytest.raises(OmpvizError, match="UTF-8"):
        load(str(p))


@pytest.mark.skipif(shutil.which("lscpu") is None, reason="lscpu (util-linux) is not installed")
@pytest.mark.parametrize("args", [["-J", "-e"], ["-p"], ["-J", "-e=cpu,node,socket,core,online"]])
def test_live_lscpu_output(tmp_path, args):
    out = subprocess.run(["lscpu", *args], capture_output=True, text=True, check=True).stdout
    t = _load(tmp_path, out, "live.out")
    with open("/sys/devices/system/cpu/online") as f:
        online = parse_list(f.read().strip())
    assert t.online == online


# -- fuzzing: only OmpvizError may escape ---------------------------------------------------------

SEEDS = [REAL_JSON_238, OLD_JSON_STRINGS, NEW_JSON_NUMBERS, MULTI_SOCKET_P, OLD_P_USER_COLUMNS, P_ALL_COLUMNS_238]


def _parse_or_error(text: str) -> None:
    try:
        parse_lscpu(text, source="fuzz")
    except OmpvizError as e:
        assert "\n" not in str(e) and str(e)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_fuzz_random_text(text):
    _parse_or_error(text)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SEEDS),
    st.integers(min_value=0, max_value=2000),
    st.integers(min_value=0, max_value=40),
    st.text(alphabet='0123456789,:-#{}[]"yesnoYN \n', max_size=12),
)
def test_fuzz_mutated_and_truncated_real_outputs(seed, at, cut, insert):
    at %= len(seed) + 1
    _parse_or_error(seed[:at] + insert + seed[at + cut :])
    _parse_or_error(seed[:at])


def test_deeply_nested_json_is_a_clean_error():
    with pytest.raises(OmpvizError):
        parse_lscpu("{" + '"a":[' * 100_000, source="deep")
