"""ompviz plan: plan ranks x threads, print the plan (text/json) or a launcher config (export formats)."""

from __future__ import annotations

import argparse

from ompviz.commands.common import add_plan_arguments, add_topology_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_topology_argument(p)
    add_plan_arguments(p)
    p.add_argument("--format", "-f", default="text", help="text | json | an export format (see README)")
    p.add_argument("-o", "--output", metavar="FILE", default=None, help="write to FILE (atomically)")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument("--config", metavar="FILE", default=None, help="replan a saved config (flags override it)")
    p.add_argument("--per-rank-dir", metavar="DIR", default=None, help="env format: write DIR/rank-N.env files")


def run(args: argparse.Namespace) -> int:
    from ompviz.errors import OmpvizError

    raise OmpvizError("ompviz plan is not available yet")
