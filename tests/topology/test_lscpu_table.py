"""Plain ``lscpu -e`` (the human table): the real one of this machine against ``lscpu -p`` read by the existing
path, and tables written here in the shapes util-linux prints (libsmartcols: a header line of column names, values
separated by blanks, '-' for an empty cell). Expected values are counted by hand in the comments.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ompviz.cpuset import CpuSet, parse_list
from ompviz.errors import OmpvizError
from ompviz.topology import load
from ompviz.topology.lscpu import parse_lscpu

HAS_LSCPU = shutil.which("lscpu") is not None
C_LOCALE = {**os.environ, "LC_ALL": "C"}  # lscpu -e translates yes/no; the tests compare English output


def _load(tmp_path, text: str, name: str = "lscpu-e.txt"):
    p = tmp_path / name
    p.write_text(text)
    return load(str(p))


def _lscpu(*args: str) -> str:
    return subprocess.run(["lscpu", *args], capture_output=True, text=True, check=True, env=C_LOCALE).stdout


def _shape(t):
    """Everything the model holds about the machine, independent of the file's name."""
    return (t.pus, t.cores, t.l3s, t.numa_nodes, t.packages, t.online, t.offline, t.allowed, t.logical_order)


# -- the real lscpu of this machine ----------------------------------------------------------------


@pytest.mark.skipif(not HAS_LSCPU, reason="lscpu (util-linux) is not installed")
def test_real_lscpu_e_same_topology_as_real_lscpu_p(tmp_path):
    e = _load(tmp_path, _lscpu("-e"), "e.txt")
    assert e.source_kind == "lscpu" and any("from lscpu -e output" in n for n in e.notes)
    # same columns through -p (user-defined list with the cache column, offline CPUs too, as -e lists them)
    p_same = _load(tmp_path, _lscpu("-p=CPU,NODE,SOCKET,CORE,CACHE,ONLINE", "-a"), "p-same.csv")
    assert _shape(e) == _shape(p_same)
    # the default -p (online CPUs only, no ONLINE column): the same online machine
    p = _load(tmp_path, _lscpu("-p"), "p.csv")
    assert (e.pus if not e.offline else tuple(x for x in e.pus if x.online)) == p.pus
    assert (e.cores, e.l3s, e.numa_nodes, e.packages) == (p.cores, p.l3s, p.numa_nodes, p.packages)
    with open("/sys/devices/system/cpu/online") as f:
        assert e.online == parse_list(f.read().strip())


@pytest.mark.skipif(not HAS_LSCPU, reason="lscpu (util-linux) is not installed")
@pytest.mark.parametrize("cols", ["CPU,CORE,SOCKET,NODE", "SOCKET,CPU,ONLINE,CORE", "CPU"])
def test_real_lscpu_e_column_subsets(tmp_path, cols):
    e = _load(tmp_path, _lscpu(f"-e={cols}"), "e.txt")
    p = _load(tmp_path, _lscpu(f"-p={cols}"), "p.csv")
    assert _shape(e) == _shape(p)


@pytest.mark.skipif(not HAS_LSCPU, reason="lscpu (util-linux) is not installed")
def test_show_reads_real_lscpu_e(tmp_path):
    f = tmp_path / "e.txt"
    f.write_text(_lscpu("-e"))
    r = subprocess.run(
        [sys.executable, "-m", "ompviz", "show", "-t", str(f), "--format", "json"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert '"pus": ' in r.stdout


# -- crafted tables ---------------------------------------------------------------------------------

# 2 sockets x 2 cores x SMT2, siblings N and N+4: core (socket s, core c) = CPUs 2s+c and 2s+c+4; NUMA node =
# socket; one L3 per socket (L3 id = socket); CPU 7 offline: '-' everywhere lscpu knows nothing.
TWO_SOCKET_E = """\
CPU NODE SOCKET CORE L1d:L1i:L2:L3 ONLINE    MAXMHZ   MINMHZ       MHZ
  0    0      0    0 0:0:0:0          yes 3500.0000 800.0000 1200.0000
  1    0      0    1 1:1:1:0          yes 3500.0000 800.0000 1300.5000
  2    1      1    2 2:2:2:1          yes 3500.0000 800.0000  800.0000
  3    1      1    3 3:3:3:1          yes 3500.0000 800.0000 3400.0000
  4    0      0    0 0:0:0:0          yes 3500.0000 800.0000 1200.0000
  5    0      0    1 1:1:1:0          yes 3500.0000 800.0000 1200.0000
  6    1      1    2 2:2:2:1          yes 3500.0000 800.0000 1200.0000
  7    -      -    - -                 no         -        -         -
"""

# The same machine as `lscpu -p=CPU,NODE,SOCKET,CORE,CACHE,ONLINE -a` prints it (the existing -p path).
TWO_SOCKET_P = """\
# The following is the parsable format, which can be fed to other
# programs. Each different item in every column has an unique ID
# starting usually from zero.
# CPU,Node,Socket,Core,L1d:L1i:L2:L3,Online
0,0,0,0,0:0:0:0,Y
1,0,0,1,1:1:1:0,Y
2,1,1,2,2:2:2:1,Y
3,1,1,3,3:3:3:1,Y
4,0,0,0,0:0:0:0,Y
5,0,0,1,1:1:1:0,Y
6,1,1,2,2:2:2:1,Y
7,,,,,N
"""


def test_two_socket_table_by_hand(tmp_path):
    t = _load(tmp_path, TWO_SOCKET_E)
    s = t.summary()
    # online PUs 0-6 = 7; cores {0,4} {1,5} {2,6} {3}; packages/NUMA 0 = {0,1,4,5}, 1 = {2,3,6}; L3 = socket
    assert (s["packages"], s["numa_nodes"], s["l3_caches"], s["cores"], s["pus"]) == (2, 2, 2, 4, 7)
    assert t.offline == CpuSet([7]) and t.allowed == parse_list("0-6")  # an offline CPU is not usable
    assert t.siblings(0) == CpuSet([0, 4]) and t.siblings(2) == CpuSet([2, 6]) and t.siblings(3) == CpuSet([3])
    assert t.numa_cpus(1) == CpuSet([2, 3, 6]) and t.package_cpus(0) == CpuSet([0, 1, 4, 5])
    assert t.l3_cpus(0) == CpuSet([0, 1, 4, 5])
    # hwloc-style logical order: package 0, core {0,4} first -> PU 0 L#0, PU 4 L#1, PU 1 L#2, PU 5 L#3
    assert t.logical_order[:4] == (0, 4, 1, 5)


def test_table_and_parsable_give_the_same_model(tmp_path):
    assert _shape(_load(tmp_path, TWO_SOCKET_E, "e.txt")) == _shape(_load(tmp_path, TWO_SOCKET_P, "p.csv"))


def test_old_lscpu_offline_cache_cell(tmp_path):
    # util-linux before 2.37 printed an offline CPU's cache cell as the bare separators ':::' (no ids)
    old = TWO_SOCKET_E.replace("  7    -      -    - -                ", "  7    -      -    - :::              ")
    assert ":::" in old
    assert _shape(_load(tmp_path, old, "old.txt")) == _shape(_load(tmp_path, TWO_SOCKET_E, "new.txt"))


def test_column_subset_and_order(tmp_path):
    # lscpu -e=CPU,CORE,SOCKET,NODE: no cache, no ONLINE column -> every listed CPU online, no L3 claimed
    text = (
        "CPU CORE SOCKET NODE\n  0    0      0    0\n  1    1      0    0\n  2    0      1    1\n  3    1      1    1\n"
    )
    t = _load(tmp_path, text)
    s = t.summary()
    # 2 packages x 2 single-PU cores; core ids repeat per socket but are keyed with the socket (4 cores)
    assert (s["packages"], s["numa_nodes"], s["l3_caches"], s["cores"], s["pus"]) == (2, 2, 0, 4, 4)
    assert any("no L3" in n for n in t.notes)
    # the same table with the columns in another order (lscpu -e=SOCKET,ONLINE,CPU,NODE,CORE)
    shuffled = "SOCKET ONLINE CPU NODE CORE\n0 yes 0 0 0\n0 yes 1 0 1\n1 yes 2 1 0\n1 yes 3 1 1\n"
    assert _shape(_load(tmp_path, shuffled, "b.txt")) == _shape(t)


# ARM big.LITTLE-like (one cluster of 4 little + 4 big cores, no CLUSTER column, no L3 level, one L2 per core):
# 1 package, 1 NUMA node, 8 single-PU cores, 8 PUs, no L3 ids. lscpu says nothing about core kinds, and ompviz does
# not guess them from MAXMHZ (same model as the -p and -J paths).
ARM_HYBRID = """\
CPU NODE SOCKET CORE L1d:L1i:L2 ONLINE    MAXMHZ   MINMHZ
  0    0      0    0 0:0:0          yes 1800.0000 408.0000
  1    0      0    1 1:1:1          yes 1800.0000 408.0000
  2    0      0    2 2:2:2          yes 1800.0000 408.0000
  3    0      0    3 3:3:3          yes 1800.0000 408.0000
  4    0      0    4 4:4:4          yes 2400.0000 408.0000
  5    0      0    5 5:5:5          yes 2400.0000 408.0000
  6    0      0    6 6:6:6          yes 2400.0000 408.0000
  7    0      0    7 7:7:7          yes 2400.0000 408.0000
"""


def test_arm_hybrid_table_without_l3_or_cluster(tmp_path):
    t = _load(tmp_path, ARM_HYBRID)
    s = t.summary()
    assert (s["packages"], s["numa_nodes"], s["l3_caches"], s["cores"], s["pus"]) == (1, 1, 0, 8, 8)
    assert all(t.siblings(c) == CpuSet([c]) for c in range(8))
    assert any("no L3" in n for n in t.notes)
    # with lscpu 2.38's CLUSTER column (ARM: one cluster here) the model is the same: ompviz has no cluster level
    assert _shape(_load(tmp_path, ARM_HYBRID_CLUSTER, "c.txt")) == _shape(t)


ARM_HYBRID_CLUSTER = """\
CPU NODE SOCKET CLUSTER CORE L1d:L1i:L2 ONLINE    MAXMHZ   MINMHZ
  0    0      0       0    0 0:0:0          yes 1800.0000 408.0000
  1    0      0       0    1 1:1:1          yes 1800.0000 408.0000
  2    0      0       0    2 2:2:2          yes 1800.0000 408.0000
  3    0      0       0    3 3:3:3          yes 1800.0000 408.0000
  4    0      0       0    4 4:4:4          yes 2400.0000 408.0000
  5    0      0       0    5 5:5:5          yes 2400.0000 408.0000
  6    0      0       0    6 6:6:6          yes 2400.0000 408.0000
  7    0      0       0    7 7:7:7          yes 2400.0000 408.0000
"""


def test_model_name_with_blanks(tmp_path):
    text = (
        "CPU CORE SOCKET MODELNAME                              ONLINE\n"
        "  0    0      0 Intel(R) Core(TM) i7-13700             yes\n"
        "  1    1      0 Intel(R) Core(TM) i7-13700             yes\n"
    )
    t = _load(tmp_path, text)
    assert t.name == "Intel(R) Core(TM) i7-13700" and t.online == CpuSet([0, 1])


@pytest.mark.parametrize(
    "text, needle",
    [
        ("CPU NODE\n0 0 0\n", "3 values but the 'lscpu -e' header 'CPU NODE' has 2 columns"),
        ("CPU CORE\nx 0\n", "expected a number"),
        ("CPU CORE\n", "header but no CPU lines"),
        ("CPU CORE CPU\n0 0 0\n", "column CPU twice"),
        ("CPU ONLINE\n0 maybe\n", "expected yes/no"),
        ("CPU ONLINE\n0 是\n", "LC_ALL=C"),
        ("CPU CORE\n- 0\n", "no CPU number"),
        ("CPU CORE\n0 0\n0 1\n", "listed twice"),
        ("Architecture:            x86_64\n  CPU op-mode(s):        32-bit, 64-bit\n", "summary output"),
        ("hello world\nfoo bar\n", "not a topology ompviz can read"),
    ],
)
def test_garbage_is_one_clear_line(tmp_path, text, needle):
    with pytest.raises(OmpvizError) as e:
        _load(tmp_path, text, "bad.txt")
    msg = str(e.value)
    assert needle in msg and "\n" not in msg and "bad.txt" in msg, msg


def test_help_names_the_table_form():
    r = subprocess.run([sys.executable, "-m", "ompviz", "show", "--help"], capture_output=True, text=True)
    assert "lscpu -e / -p / -J -e output" in " ".join(r.stdout.split())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([TWO_SOCKET_E, ARM_HYBRID]),
    st.integers(min_value=0, max_value=800),
    st.integers(min_value=0, max_value=30),
    st.text(alphabet="0123456789:-yesno CPUNODE\n", max_size=12),
)
def test_fuzz_mutated_tables(seed, at, cut, insert):
    at %= len(seed) + 1
    for text in (seed[:at] + insert + seed[at + cut :], seed[:at]):
        try:
            parse_lscpu(text, source="fuzz")
        except OmpvizError as e:
            assert str(e) and "\n" not in str(e)
