"""ompviz presets: the curated machines, one line each."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from ompviz.topology.presets import PRESETS

    width = max(len(n) for n in PRESETS)
    print("Built-in machines (use as --topology preset:NAME):")
    for name, preset in PRESETS.items():
        print(f"  {name:<{width}}  {preset.title}")
    return 0
