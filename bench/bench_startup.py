"""Start-up and repaint cost of the explorer.

1. First frame: `ompviz --topology Zen4-2x9654.xml --screenshot` (load 384 PUs, plan, compose, render one frame,
   exit) against a bare Textual app with one Static doing the same (render one frame headless, exit), run as
   separate processes, alternating A/B/A/B in the same run. Reports median wall time and peak RSS and their
   ratios (goals: <= 1.25x time, <= 1.3x memory). Both wait for the first rendered frame and exit (no SVG).
   Wall time is what the goal speaks of; CPU time (user+sys of the child) is printed too because on a shared,
   loaded machine it is the steadier of the two. Both children run with a bytecode cache (in a temporary
   directory), as an installed ompviz and Textual have; --no-bytecode-cache measures compiling every ompviz module
   on each start instead (what PYTHONDONTWRITEBYTECODE=1 does to an editable install; Textual's own .pyc files
   are still used then).
2. Key press -> replan -> repaint on a 4,096-PU synthetic machine: bench/bench_replan.py (real key presses through
   Pilot; plan / app update / render split), run here with its defaults.

Run: python bench/bench_startup.py [--rounds N] [--xml PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ZEN4 = REPO.parent / "shared" / "topologies" / "hwloc-xml" / "AMD-19h-Zen4-2xEpyc-9654.xml"

BARE = """
import sys
from textual.app import App
from textual.widgets import Static

class Bare(App):
    def compose(self):
        yield Static("hello")

async def first_frame(pilot):
    await pilot.pause()
    pilot.app.exit()

Bare().run(headless=True, size=(160, 50), auto_pilot=first_frame)
"""

# The real CLI path (argument parsing, topology load, plan, app) up to the first frame, then exit.
OMPVIZ = """
import sys
from ompviz.cli import build_parser
from ompviz.commands.tui import build_app

args = build_parser().parse_args(["--topology", sys.argv[1], "--ranks", "4"])
args.worker_command = []

async def first_frame(pilot):
    await pilot.pause()
    pilot.app.exit()

build_app(args).run(headless=True, size=(160, 50), auto_pilot=first_frame)
"""


def run_child(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, float]:
    """(wall seconds, peak RSS in KiB, CPU seconds user+sys) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]}... failed: {proc.stderr.read().decode()[-500:]}")
    return wall, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def child_env(tmp: str, bytecode: bool) -> dict[str, str]:
    """The children's environment. With ``bytecode``, compiled modules are cached (in a temporary directory, not
    the checkout) as an installed package has them; without, every module is compiled from source on every start,
    which is what PYTHONDONTWRITEBYTECODE=1 does to an editable install."""
    env = dict(os.environ)
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def bench_first_frame(xml: Path, rounds: int, bytecode: bool = True) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bare_py = Path(tmp) / "bare.py"
        bare_py.write_text(BARE)
        ompviz_py = Path(tmp) / "ompviz_first_frame.py"
        ompviz_py.write_text(OMPVIZ)
        ompviz = [sys.executable, str(ompviz_py), str(xml)]
        bare = [sys.executable, str(bare_py)]
        env = child_env(tmp, bytecode)
        run_child(bare, env), run_child(ompviz, env)  # warm the page cache and the bytecode cache
        a_t, a_m, a_c, b_t, b_m, b_c = [], [], [], [], [], []
        for _ in range(rounds):
            t, m, c = run_child(bare, env)
            b_t.append(t)
            b_m.append(m)
            b_c.append(c)
            t, m, c = run_child(ompviz, env)
            a_t.append(t)
            a_m.append(m)
            a_c.append(c)
    bt, at = statistics.median(b_t), statistics.median(a_t)
    bm, am = statistics.median(b_m), statistics.median(a_m)
    bc, ac = statistics.median(b_c), statistics.median(a_c)
    cache = "cached bytecode" if bytecode else "no bytecode cache: every module compiled on each start"
    print(f"first frame, {rounds} alternating rounds (median), interpreter start included, {cache}:")
    print(f"  bare Textual app (one Static): {bt * 1000:7.0f} ms wall {bc * 1000:6.0f} ms CPU  {bm / 1024:6.1f} MiB")
    print(f"  ompviz, Zen4 2x9654 (384 PUs): {at * 1000:7.0f} ms wall {ac * 1000:6.0f} ms CPU  {am / 1024:6.1f} MiB")
    print(f"  time ratio   {at / bt:.2f}x wall, {ac / bc:.2f}x CPU  (goal <= 1.25x)")
    print(f"  memory ratio {am / bm:.2f}x  (goal <= 1.30x)")


def bench_replan(rounds: int) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    from bench_replan import bench, report

    for cpu in (False, True):
        med = bench(rounds, "pu", cpu=cpu)
        report(med, "CPU" if cpu else "wall", "PU", rounds * 3)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--xml", type=Path, default=ZEN4)
    ap.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="compile every module on each start (as with PYTHONDONTWRITEBYTECODE=1 on an editable install)",
    )
    args = ap.parse_args()
    if args.xml.exists():
        bench_first_frame(args.xml, args.rounds, bytecode=not args.no_bytecode_cache)
    else:
        print(f"skipped first-frame benchmark: {args.xml} not found (pass --xml)")
    bench_replan(max(args.rounds, 5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
