"""What the sampler's cheaper per-sample path relies on: a worker's OutputState hands out the same snapshot while
nothing changed and a new one as soon as a line changes something; rate lines parsed without the regex give what
the general key=value parse gives; stale rate reports are dropped whatever the caching. Expected values are the
lines fed here, by hand."""

from __future__ import annotations

import time

from test_live_sampler import FakeProc, Helper

from ompviz.cpuset import CpuSet
from ompviz.live.launcher import OutputState, Rate
from ompviz.live.sampler import Sampler


def test_snapshot_is_reused_until_a_line_changes_something():
    o = OutputState(tail=2)
    s0 = o.snapshot()
    assert o.snapshot() is s0  # nothing fed
    o.feed("ompviz-thread thread=0 tid=11 team=2 place=0\n")
    s1 = o.snapshot()
    assert s1 is not s0 and [(k.thread, k.tid) for k in s1.kernel_threads] == [(0, 11)]
    assert o.snapshot() is s1
    o.feed("ompviz-rates ips=1.5,2500.5\n")
    s2 = o.snapshot()
    assert [(r.thread, r.ips) for r in s2.rates] == [(0, 1.5), (1, 2500.5)]
    assert s2.kernel_threads is s1.kernel_threads  # unchanged part: the very same tuple
    assert s2.rates[0] == Rate(0, 1.5, s2.rates[0].time)  # built without __init__, equal to one built with it
    o.feed("ompviz-rates ips=3,4,5\n")  # a new report replaces the old one entirely
    s3 = o.snapshot()
    assert [(r.thread, r.ips) for r in s3.rates] == [(0, 3.0), (1, 4.0), (2, 5.0)]
    assert s3.rates[0].time >= s2.rates[0].time
    o.feed("ompviz-affinity pid=7 tid=12 thread=1 team=2 level=1 aff={0,1}\n")
    s4 = o.snapshot()
    assert s4.affinity[-1].tid == 12 and s4.affinity[-1].affinity == CpuSet([0, 1])
    o.feed("hello\n")
    o.feed("world\n")
    o.feed("!\n")
    s5 = o.snapshot()
    assert s5.tail == ("world", "!") and s5.affinity is s4.affinity and s5.rates is s4.rates
    assert o.snapshot() is s5


def test_rate_line_forms():
    o = OutputState()
    o.feed("ompviz-rates extra=1 ips=7.5,8\n")  # another field first: the general parse still finds ips
    assert [(r.thread, r.ips) for r in o.snapshot().rates] == [(0, 7.5), (1, 8.0)]
    o.feed("ompviz-rates ips=1,x\n")  # not numbers: no report, kept as an other line
    snap = o.snapshot()
    assert [(r.thread, r.ips) for r in snap.rates] == [(0, 7.5), (1, 8.0)]
    assert snap.tail == ("ompviz-rates ips=1,x",)
    o.feed("ompviz-rates ips=\n")  # empty: nothing reported
    assert o.snapshot().tail[-1] == "ompviz-rates ips="


def test_many_affinity_lines_are_trimmed_and_the_snapshot_follows():
    o = OutputState()
    for i in range(4097):
        o.feed(f"ompviz-affinity pid=7 tid={i} thread=0 team=1 level=1 aff={{0}}\n")
    a = o.snapshot().affinity
    assert len(a) == 2049 and a[0].tid == 2048 and a[-1].tid == 4096  # 4097 > 4096: the oldest 2048 dropped
    o.feed("ompviz-affinity pid=7 tid=5000 thread=0 team=1 level=1 aff={0}\n")
    a = o.snapshot().affinity
    assert len(a) == 2050 and a[-1].tid == 5000


def test_stale_rates_are_dropped_on_both_paths():
    for native in (None, False):
        p = FakeProc()
        h = Helper()
        p.output.feed(f"ompviz-thread thread=0 tid={h.tid} team=1 place=-1\n")
        p.output.feed("ompviz-rates ips=42\n")
        s = Sampler([p], interval=1.0, rate_max_age=0.3, native=native)
        try:
            w = s.sample_once().workers[0]
            assert w.threads[0].tid == h.tid and w.threads[0].ips == 42.0 and w.throughput == 42.0
            time.sleep(0.35)  # older than rate_max_age now, and no new report
            w = s.sample_once().workers[0]
            assert w.threads[0].ips is None and w.throughput is None
            p.output.feed("ompviz-rates ips=43\n")
            w = s.sample_once().workers[0]
            assert w.threads[0].ips == 43.0 and w.throughput == 43.0
        finally:
            h.do("exit")
            s.close()
