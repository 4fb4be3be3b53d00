"""ompviz dump: capture a topology (by default the live machine) as a JSON snapshot."""

from __future__ import annotations

import argparse

from ompviz.commands.common import add_topology_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_topology_argument(p)
    p.add_argument("-o", "--output", metavar="FILE", default=None, help="write to FILE instead of stdout")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")


def run(args: argparse.Namespace) -> int:
    from ompviz.topology import load
    from ompviz.topology.snapshot import dumps_snapshot

    text = dumps_snapshot(load(args.topology or "live"))
    if args.output and args.output != "-":
        from ompviz.fileio import write_atomic

        write_atomic(args.output, text, force=args.force)
    else:
        print(text, end="")
    return 0
