"""Programs that end before (or soon after) a sample: verified from the runtime's own OMP_DISPLAY_AFFINITY lines.

A real tiny OpenMP program (compiled here with ``cc -fopenmp``, real libgomp) sleeps argv[1] ms, runs one parallel
region and exits. Expected placements by hand (GUIDE.md section 4): places {A},{B}, close, T = P = 2 -> thread i on
place i; when the process may only use A, libgomp drops the place {B} and both threads land on {A}.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from ompviz.cpuset import CpuSet
from ompviz.live import LiveSession
from ompviz.plan.model import ThreadPlacement, Worker

C = CpuSet
CPUS = sorted(os.sched_getaffinity(0))
CC = shutil.which("cc") or shutil.which("gcc")
pytestmark = [
    pytest.mark.skipif(len(CPUS) < 2, reason="needs at least 2 allowed CPUs"),
    pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc) on PATH"),
]
A, B = (CPUS[0], CPUS[1]) if len(CPUS) >= 2 else (0, 1)
LABEL = "verified from the runtime's OMP_DISPLAY_AFFINITY report; the threads exited before they could be sampled"

PROBE_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv) {
    long ms = argc > 1 ? atol(argv[1]) : 0;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    int n = 0;
    #pragma omp parallel
    {
        #pragma omp atomic
        n++;
    }
    printf("threads=%d\n", n);
    return 0;
}
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("probe")
    (d / "probe.c").write_text(PROBE_C)
    subprocess.run([CC, "-fopenmp", "-O1", "-o", str(d / "probe"), str(d / "probe.c")], check=True)
    return str(d / "probe")


def two_places() -> Worker:
    pl = (C([A]), C([B]))
    tp = (ThreadPlacement(0, 0, pl[0]), ThreadPlacement(1, 1, pl[1]))
    env = (("OMP_PLACES", f"{{{A}}},{{{B}}}"), ("OMP_PROC_BIND", "close"), ("OMP_NUM_THREADS", "2"))
    return Worker(0, C([A, B]), pl, env, 2, tp, tp)


def run_until_exit(session: LiveSession, argv: list[str], timeout: float = 10.0):
    session.start([two_places()], argv)
    try:
        deadline = time.monotonic() + timeout
        while not session.all_exited() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        summary = session.stop()
    return summary


def test_program_that_exits_at_once_is_verified_from_its_affinity_report(probe):
    summary = run_until_exit(LiveSession(interval=0.5), [probe, "0"])
    assert summary.final[0].exit_code == 0 and not summary.final[0].threads  # never caught alive in /proc
    assert summary.verdict.verified, summary.verdict
    (wv,) = summary.verdict.workers
    assert wv.source == "report" and wv.note == LABEL and wv.team_size == 2
    assert [(t.omp_thread, t.tid, t.allowed, t.verdict, t.source) for t in wv.threads] == [
        (0, None, C([A]), "ok", "report"),
        (1, None, C([B]), "ok", "report"),
    ]


def test_program_sampled_before_its_parallel_region_is_verified_from_the_report(probe):
    # 0.2 s samples catch the single initial thread sleeping (no report yet); the region runs after 0.5 s
    summary = run_until_exit(LiveSession(interval=0.2), [probe, "500"])
    assert any(s.workers[0].alive and s.workers[0].threads for s in summary.samples)
    assert summary.verdict.verified, summary.verdict
    (wv,) = summary.verdict.workers
    assert [(t.omp_thread, t.allowed) for t in wv.threads if t.omp_thread is not None] == [(0, C([A])), (1, C([B]))]


def ompviz_run(*args: str, affinity: list[int] | None = None) -> tuple[int, str, str]:
    pre = f"import os; os.sched_setaffinity(0, {affinity!r}); " if affinity else ""
    code = pre + "import sys; from ompviz.cli import main; sys.exit(main(sys.argv[1:]))"
    p = subprocess.run([sys.executable, "-c", code, "run", *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def test_cli_short_program_verified_and_labelled(probe):
    flags = ["-n", "1", "--threads", "2", "--cpus", f"{A},{B}", "--places", "threads"]
    rc, out, err = ompviz_run(*flags, "--", probe, "0")
    assert rc == 0, (out, err)
    assert f"rank 0: {LABEL}" in out and "(report)" in out
    rc, out, err = ompviz_run(*flags, "-f", "json", "--", probe, "0")
    (w,) = json.loads(out)["workers"]
    assert rc == 0 and w["verified_from"] == "report" and w["note"] == LABEL
    assert [(t["omp_thread"], t["allowed"], t["source"]) for t in w["threads"]] == [
        (0, str(A), "report"),
        (1, str(B), "report"),
    ]


def test_cli_short_program_the_runtime_could_not_honour_is_a_mismatch(probe):
    # ompviz (so the worker) may only use A: libgomp drops {B}, both threads report {A}; thread 1 was planned on B
    flags = ["-n", "1", "--threads", "2", "--cpus", f"{A},{B}", "--places", "threads", "-f", "json"]
    rc, out, err = ompviz_run(*flags, "--", probe, "0", affinity=[A])
    (w,) = json.loads(out)["workers"]
    assert rc == 3, (out, err)
    assert w["verdict"] == "mismatch" and w["note"].startswith("judged from the runtime's OMP_DISPLAY_AFFINITY")
    assert [(t["omp_thread"], t["allowed"], t["verdict"]) for t in w["threads"]] == [
        (0, str(A), "ok"),
        (1, str(A), "different"),
    ]
