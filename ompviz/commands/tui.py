"""The interactive explorer (no subcommand). Textual is imported only here and in ompviz.tui."""

from __future__ import annotations

import argparse

from ompviz.commands.common import add_plan_arguments, add_topology_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_topology_argument(p)
    p.add_argument("--config", metavar="FILE", default=None, help="open a saved config")
    p.add_argument("--screenshot", metavar="FILE.svg", default=None, help="render headless to an SVG and exit")
    p.add_argument("--size", metavar="WxH", default="160x50", help="terminal size for --screenshot")
    add_plan_arguments(p)


def run(args: argparse.Namespace) -> int:
    from ompviz.errors import OmpvizError

    raise OmpvizError("the interactive explorer is not available yet")
