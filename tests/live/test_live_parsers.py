"""Parsers of the live path, on recorded/handwritten text: /proc stat lines, /proc/stat, affinity and kernel lines,
and the tid <-> OpenMP thread mapping."""

from __future__ import annotations

from ompviz.cpuset import CpuSet
from ompviz.live.launcher import AFFINITY_FORMAT, OutputState, parse_affinity_line
from ompviz.live.sampler import cpu_util, map_omp_threads, parse_proc_stat, parse_task_stat

# A real line of /proc/PID/stat from this machine (bash), fields 1..52; field 39 (processor) is "1",
# fields 14/15 (utime/stime) are "2" and "4".
REAL_STAT = (
    "5270 (bash) S 5269 5270 5270 0 -1 4194560 6933 256894 0 53 2 4 979 419 20 0 1 0 48030 5251072 987 "
    "18446744073709551615 94616844742656 94616845532061 140733241191392 0 0 0 65536 4 1132560123 1 0 0 17 1 0 0 0 "
    "0 0 94616845765360 94616845813604 94617257988096 140733241199483 140733241199498 140733241199498 "
    "140733241204718 0"
)


def test_parse_task_stat_real_line():
    st = parse_task_stat(REAL_STAT)
    assert st is not None
    assert st.comm == "bash"
    assert st.state == "S"
    assert st.ticks == 2 + 4
    assert st.processor == 1


def test_parse_task_stat_comm_with_spaces_and_parens():
    # comm "a) b (c" contains ") " which would fool a split on the first ')': the parser must use the last one.
    fields_after = ["R"] + ["0"] * 10 + ["100", "50"] + ["0"] * 23 + ["7"] + ["0"] * 13
    line = "42 (a) b (c) " + " ".join(fields_after)
    st = parse_task_stat(line)
    assert st is not None
    assert st.comm == "a) b (c"
    assert st.state == "R"
    assert st.ticks == 150
    assert st.processor == 7


def test_parse_task_stat_garbage():
    assert parse_task_stat("") is None
    assert parse_task_stat("12 (x) S 1 2") is None


def test_proc_stat_and_util():
    before = parse_proc_stat("cpu  10 0 10 100 0 0 0 0 0 0\ncpu0 5 0 5 50 0 0 0 0 0 0\ncpu2 5 0 5 50 0 0 0 0\n")
    # cpu 1 offline (absent): its slot stays None. cpu0: +30 busy of +40 total = 75 %; cpu2: +0 busy of +10 = 0 %.
    after = parse_proc_stat("cpu  0\ncpu0 25 0 15 60 0 0 0 0 0 0\ncpu2 5 0 5 60 0 0 0 0 0 0\nintr 1 2\n")
    assert before == {0: (10, 60), 2: (10, 60)}
    assert cpu_util(before, after) == (75.0, None, 0.0)


def test_affinity_line_formats():
    assert "%i" in AFFINITY_FORMAT and "%A" in AFFINITY_FORMAT and "%n" in AFFINITY_FORMAT
    # as printed by libgomp (gcc 12) with our format: %i is the pthread_t, %A a range
    g = parse_affinity_line("ompviz-affinity pid=7095 tid=0x7f16761d56c0 thread=1 team=2 level=1 aff={0-1}")
    assert g is not None and g.pid == 7095 and g.tid is None and g.thread == 1 and g.team == 2
    assert g.affinity == CpuSet([0, 1])
    # as printed by LLVM libomp: %i is the native tid, %A a comma list
    ll = parse_affinity_line("ompviz-affinity pid=7927 tid=7928 thread=1 team=2 level=1 aff={0,1}")
    assert ll is not None and ll.tid == 7928 and ll.affinity == CpuSet([0, 1])
    assert parse_affinity_line("libgomp: Number of places reduced") is None


def test_output_state_routes_lines():
    out = OutputState(tail=3)
    out.feed("ompviz-thread thread=1 tid=101 team=2 place=1 cpu=1\n")
    out.feed("ompviz-thread thread=0 tid=100 team=2 place=-1 cpu=0\n")
    out.feed("ompviz-rates ips=1.5,2500.5\n")
    out.feed("ompviz-affinity pid=100 tid=0x7f00 thread=0 team=2 level=1 aff={0}\n")
    for i in range(5):
        out.feed(f"user line {i}\n")
    snap = out.snapshot()
    assert {(k.thread, k.tid, k.place) for k in snap.kernel_threads} == {(1, 101, 1), (0, 100, None)}
    assert [(r.thread, r.ips) for r in snap.rates] == [(0, 1.5), (1, 2500.5)]
    assert len(snap.affinity) == 1
    assert snap.tail == ("user line 2", "user line 3", "user line 4")


def _snap(lines: list[str]):
    out = OutputState()
    for ln in lines:
        out.feed(ln)
    return out.snapshot()


def test_map_kernel_lines_exact():
    snap = _snap(
        [
            "ompviz-thread thread=0 tid=100 team=2 place=0 cpu=0",
            "ompviz-thread thread=1 tid=101 team=2 place=1 cpu=1",
            "ompviz-affinity pid=100 tid=0x7f00 thread=1 team=2 level=1 aff={1}",
        ]
    )
    m = map_omp_threads(100, snap, {100: CpuSet([0]), 101: CpuSet([1]), 102: CpuSet([0, 1])})
    assert m == {100: (0, None, 0), 101: (1, CpuSet([1]), 1)}


def test_map_native_tid():
    snap = _snap(["ompviz-affinity pid=7 tid=8 thread=1 team=2 level=1 aff={1}"])
    assert map_omp_threads(7, snap, {7: CpuSet([0]), 8: CpuSet([1])}) == {8: (1, CpuSet([1]), None)}
    # another process's report is ignored
    assert map_omp_threads(9, snap, {9: CpuSet([0]), 8: CpuSet([1])}) == {}


def test_map_pthread_ids_only_when_unambiguous():
    # libgomp: no tid. Thread 1 reports {1}, matched by the one task whose allowed set is {1}. Threads 0 and 2 both
    # report {0}: ambiguous, so neither is guessed.
    snap = _snap(
        [
            "ompviz-affinity pid=5 tid=0x1 thread=0 team=3 level=1 aff={0}",
            "ompviz-affinity pid=5 tid=0x2 thread=1 team=3 level=1 aff={1}",
            "ompviz-affinity pid=5 tid=0x3 thread=2 team=3 level=1 aff={0}",
        ]
    )
    m = map_omp_threads(5, snap, {5: CpuSet([0]), 6: CpuSet([1]), 7: CpuSet([0])})
    assert m == {6: (1, CpuSet([1]), None)}
