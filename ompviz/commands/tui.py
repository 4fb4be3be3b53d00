"""The interactive explorer (no subcommand). Textual is imported only here and in ompviz.tui."""

from __future__ import annotations

import argparse
import gc

from ompviz.commands.common import add_plan_arguments, add_topology_argument
from ompviz.errors import OmpvizError


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_topology_argument(p)
    p.add_argument("--config", metavar="FILE", default=None, help="open a saved config")
    p.add_argument("--screenshot", metavar="FILE.svg", default=None, help="render headless to an SVG and exit")
    p.add_argument("--size", metavar="WxH", default="160x50", help="terminal size for --screenshot")
    p.add_argument("--force", action="store_true", help="let --screenshot overwrite FILE.svg if it exists")
    add_plan_arguments(p)


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise OmpvizError(f"--size {text!r}: write WIDTHxHEIGHT, e.g. 160x50") from None
    if not (20 <= w <= 1000 and 8 <= h <= 500):
        raise OmpvizError(f"--size {text!r}: width 20-1000 and height 8-500, e.g. 160x50")
    return w, h


def build_app(args: argparse.Namespace):
    """The app for these arguments; raises OmpvizError for bad input before any terminal is touched."""
    # Loading and the first plan build many long-lived objects and no garbage cycles: pause the cycle collector
    # while they are made, then freeze them (and the imported modules) so later collections skip them. This was a
    # tenth of the explorer's start-up CPU time on a 384-PU machine.
    gc.disable()
    try:
        return _build_app(args)
    finally:
        gc.freeze()
        gc.enable()


def _build_app(args: argparse.Namespace):
    from ompviz.commands.common import request_from_args
    from ompviz.topology import load

    notes: tuple[str, ...] = ()
    command = list(getattr(args, "worker_command", None) or []) or None
    if getattr(args, "config", None):
        from ompviz.export.config import load_config

        # the saved request, on the embedded machine unless --topology overrides it; flags override the request
        cfg = load_config(args.config, topology=args.topology)
        topo, base, notes = cfg.topology, cfg.request, cfg.notes
        command = command or (list(cfg.command) if cfg.command else None)
    else:
        topo, base = load(args.topology or "live"), None
    request = request_from_args(args, base)

    from ompviz.tui.app import OmpvizApp

    return OmpvizApp(topo, request, notes=notes, command=command)


def check_screenshot_path(path: str, *, force: bool) -> None:
    """Refuse an existing FILE.svg (without --force), a directory or a missing directory before the app is built
    and rendered, not after.

    Same rules and words as every other writer of ompviz (``write_atomic``: export/dump/plan -o), which checks
    again at the end so a file that appears meanwhile is still not overwritten."""
    from ompviz.fileio import check_writable

    check_writable(path, force=force)


def screenshot(app, path: str, size: tuple[int, int], *, force: bool = False) -> None:
    """Run the app headless at ``size``, wait for the first settled frame, save an SVG and exit.

    An existing ``path`` is refused unless ``force`` (as export/dump/plan -o refuse without --force)."""
    from ompviz.fileio import write_atomic

    captured: list[str] = []

    async def shoot(pilot) -> None:
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        captured.append(pilot.app.export_screenshot())
        pilot.app.exit()

    app.run(headless=True, size=size, auto_pilot=shoot)
    if not captured:
        raise OmpvizError("--screenshot: the app exited before its first frame")
    write_atomic(path, captured[0], force=force)


def run(args: argparse.Namespace) -> int:
    size = parse_size(args.size)
    force = bool(getattr(args, "force", False))
    if args.screenshot:
        check_screenshot_path(args.screenshot, force=force)
    elif force:
        raise OmpvizError("--force works with --screenshot FILE.svg only (the explorer asks before overwriting)")
    app = build_app(args)
    if args.screenshot:
        screenshot(app, args.screenshot, size, force=force)
        return 0
    app.run()
    return 0
