"""ompviz run: launch the plan, sample every thread, verify its binding (headless)."""

from __future__ import annotations

import argparse

from ompviz.commands.common import add_plan_arguments, add_topology_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_topology_argument(p)
    add_plan_arguments(p)
    p.add_argument("--duration", type=float, default=5.0, metavar="S", help="seconds to run (default 5)")
    p.add_argument("--interval", type=float, default=0.5, metavar="S", help="sampling interval (default 0.5)")
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")
    p.add_argument(
        "--runtime-lib",
        choices=("gnu", "llvm", "intel"),
        default="gnu",
        help="OpenMP runtime to run the workers with (llvm/intel via LD_PRELOAD)",
    )


def run(args: argparse.Namespace) -> int:
    from ompviz.errors import OmpvizError

    raise OmpvizError("ompviz run is not available yet")
