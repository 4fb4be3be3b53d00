"""ompviz show: the topology as a compact text tree or JSON. Must not import Textual."""

from __future__ import annotations

import argparse
import json

from ompviz.commands.common import add_topology_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_topology_argument(p)
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    from ompviz.topology import load
    from ompviz.topology.show import to_json, to_text

    topo = load(args.topology or "live")
    if args.format == "json":
        print(json.dumps(to_json(topo), indent=2))
    else:
        print(to_text(topo))
    return 0
