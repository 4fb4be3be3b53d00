"""`ompviz run` end to end: real workers (built-in kernel), real planner, real libgomp; teardown under signals.

Expected bindings are reasoned by hand: on a machine whose allowed CPUs are A < B (CI: 0 and 1, one core each),
2 ranks x 1 thread give rank 0 {A} and rank 1 {B}; 1 rank x 2 threads over places {A},{B} gives thread i place i
under close (T = P) and under spread (T = P: one place per sub-partition).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

CPUS = sorted(os.sched_getaffinity(0))
pytestmark = pytest.mark.skipif(len(CPUS) < 2, reason="needs at least 2 allowed CPUs")
A, B = (CPUS[0], CPUS[1]) if len(CPUS) >= 2 else (0, 1)
# Plans are restricted to A,B explicitly where the machine may have more CPUs.
PAIR = f"{A},{B}"


def ompviz(*args: str, affinity: list[int] | None = None, **kw) -> subprocess.Popen:
    pre = f"import os; os.sched_setaffinity(0, {affinity!r}); " if affinity else ""
    code = pre + "import sys; from ompviz.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw
    )


def run_json(*args: str, affinity=None, timeout=60) -> tuple[int, dict | None, str]:
    p = ompviz("run", *args, "--format", "json", affinity=affinity)
    out, err = p.communicate(timeout=timeout)
    return p.returncode, (json.loads(out) if out.strip() else None), err


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["-n", "2", "--threads", "1", "--bind", "close", "--cpus", f"{A}|{B}"], [[str(A)], [str(B)]]),
        (["-n", "2", "--threads", "1", "--bind", "spread", "--cpus", f"{A}|{B}"], [[str(A)], [str(B)]]),
        (["-n", "1", "--threads", "2", "--bind", "close", "--cpus", PAIR, "--places", "threads"], [[str(A), str(B)]]),
        (["-n", "1", "--threads", "2", "--bind", "spread", "--cpus", PAIR, "--places", "threads"], [[str(A), str(B)]]),
    ],
    ids=["2x1-close", "2x1-spread", "1x2-close", "1x2-spread"],
)
def test_run_verifies_small_plans(flags, expected):
    rc, rep, err = run_json(*flags, "--duration", "1", "--interval", "0.2")
    assert rc == 0, (err, rep)
    assert rep["verified"] is True
    assert [[t["allowed"] for t in w["threads"]] for w in rep["workers"]] == expected
    for w in rep["workers"]:
        assert w["throughput"] and w["throughput"] > 0
        assert w["team_size"] == w["expected_team"]
        assert w["state"] == "stopped by ompviz"
        assert all(t["ok"] and t["planned"] == t["allowed"] and t["tid"] for t in w["threads"])


def test_plan_the_runtime_cannot_honour_is_a_mismatch():
    # ompviz (and so its workers) may only use A; the plan still names B as thread 1's place. libgomp drops the
    # place {B} ("Number of places reduced") and binds both threads to {A}: thread 1 is not where planned.
    rc, rep, err = run_json(
        "--cpus", PAIR, "--places", "threads", "--threads", "2", "--duration", "1", "--interval", "0.2", affinity=[A]
    )
    assert rc == 3, (err, rep)
    assert rep["verified"] is False
    (w,) = rep["workers"]
    assert w["verdict"] == "mismatch"
    assert [(t["omp_thread"], t["verdict"], t["allowed"]) for t in w["threads"]] == [
        (0, "ok", str(A)),
        (1, "different", str(A)),
    ]


def test_shortest_interval_samples_at_its_pace_and_cpu_percent_stays_within_one_cpu():
    # 0.05 s is the smallest interval: about 20 samples a second (plus the start and the final ones at stop), and
    # each busy kernel thread reads at most 100 % of one CPU (QA saw 157 % from 10 ms clock ticks over ~1 ms gaps).
    rc, rep, err = run_json("-n", "2", "--threads", "1", "--cpus", f"{A}|{B}", "--duration", "1", "--interval", "0.05")
    assert rc == 0, (err, rep)
    assert 5 <= rep["samples"] <= 1.0 / 0.05 + 5
    pcts = [t["cpu_percent"] for w in rep["workers"] for t in w["threads"]]
    assert len(pcts) == 2 and all(0.0 <= p <= 100.0 for p in pcts), pcts


def test_text_report_and_user_command_env():
    script = 'echo "rank=$OMPVIZ_RANK world=$OMPVIZ_WORLD_SIZE aff=$OMP_DISPLAY_AFFINITY id=${#OMPVIZ_RUN_ID}"; exit 4'
    p = ompviz("run", "-n", "2", "--threads", "1", "--cpus", f"{A}|{B}", "--duration", "3", "--", "sh", "-c", script)
    out, err = p.communicate(timeout=30)
    # nothing OpenMP ran, so nothing could be verified: exit 3, and each worker's own exit status is reported
    assert p.returncode == 3, err
    assert "rank 0: exited 4; last output: rank=0 world=2 aff=true id=32" in out
    assert "rank 1: exited 4; last output: rank=1 world=2 aff=true id=32" in out
    assert "NOT verified" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--duration", "0"], "--duration"),
        (["--topology", "synthetic:core:2"], "drop --topology"),
        (["--runtime-lib", "gnu", "--", "/nonexistent/ompviz-test-cmd"], "not an executable"),
        (["--", "ompviz-no-such-command-xyz"], "command not found"),
        # QA: 1e-9 was accepted (8,067 samples in 2 s, ~4 CPU-s on 2 CPUs); the error states the allowed range
        (
            ["--interval", "1e-9", "--duration", "0.5"],
            "--interval 1e-09: the sampling interval must be 0.05 to 60 seconds",
        ),
        (["--interval", "0.01", "--duration", "0.5"], "must be 0.05 to 60 seconds"),
        (["--interval", "nan", "--duration", "0.5"], "must be 0.05 to 60 seconds"),
        (["--interval", "61", "--duration", "0.5"], "must be 0.05 to 60 seconds"),
    ],
)
def test_bad_input_exits_2(args, message):
    p = ompviz("run", *args)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 2
    assert message in err and err.count("\n") == 1


# -- teardown ------------------------------------------------------------------------------------------------------
def _environ(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return {}
    return dict(kv.decode(errors="replace").partition("=")[::2] for kv in raw.split(b"\0") if b"=" in kv)


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _children(ppid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == ppid and fields[0] != "Z":
                out.append(int(name))
    return out


def _with_run_id(run_id: str) -> list[int]:
    return [int(n) for n in os.listdir("/proc") if n.isdigit() and _environ(int(n)).get("OMPVIZ_RUN_ID") == run_id]


def _wait_workers(p: subprocess.Popen, n: int, timeout: float = 30) -> dict[int, dict[str, str]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert p.poll() is None, p.communicate()
        # wait until both exec'd the kernel (out of the trampoline): environ reads race with exec
        kids = {c: _environ(c) for c in _children(p.pid) if _comm(c) == "ompviz-kernel"}
        kids = {c: e for c, e in kids.items() if "OMPVIZ_RUN_ID" in e}
        if len(kids) == n:
            return kids
        time.sleep(0.05)
    raise AssertionError("workers did not start")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL], ids=lambda s: s.name)
def test_no_worker_survives_ompviz(sig):
    p = ompviz("run", "-n", "2", "--threads", "1", "--cpus", f"{A}|{B}", "--duration", "60", "--interval", "0.2")
    run_id = None
    try:
        kids = _wait_workers(p, 2)
        (run_id,) = {e["OMPVIZ_RUN_ID"] for e in kids.values()}
        assert sorted(_with_run_id(run_id)) == sorted(kids)
        time.sleep(0.3)
        p.send_signal(sig)
        out, _err = p.communicate(timeout=15)
        assert p.returncode == (-sig if sig == signal.SIGKILL else 128 + sig)
        if sig != signal.SIGKILL:
            assert f"interrupted by {sig.name}" in out
        deadline = time.monotonic() + 5
        while _with_run_id(run_id) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _with_run_id(run_id) == []
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
        for pid in _with_run_id(run_id) if run_id else ():  # a failed run must not leave busy loops behind
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_worker_killed_mid_run_is_reported_and_run_goes_on():
    t0 = time.monotonic()
    p = ompviz(
        "run", "-n", "2", "--threads", "1", "--cpus", f"{A}|{B}", "--duration", "2", "--interval", "0.2", "-f", "json"
    )
    kids = _wait_workers(p, 2)
    victim = next(pid for pid, e in kids.items() if e["OMPVIZ_RANK"] == "1")
    time.sleep(0.6)  # let a few samples prove its binding first
    os.kill(victim, signal.SIGKILL)
    out, err = p.communicate(timeout=30)
    rep = json.loads(out)
    assert time.monotonic() - t0 >= 2.0  # the run went on to its end
    w = {x["rank"]: x for x in rep["workers"]}
    assert w[1]["signal"] == "SIGKILL" and w[1]["state"] == "killed by SIGKILL" and w[1]["pid"] == victim
    assert w[0]["state"] == "stopped by ompviz" and w[0]["verdict"] == "ok"
    assert p.returncode == 0 and rep["verified"]
