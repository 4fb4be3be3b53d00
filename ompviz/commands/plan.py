"""ompviz plan: plan ranks x threads, print the plan (text/json) or a launcher config (export formats).

Exit codes: 0 ok; 1 the plan has error-severity warnings (the output is still printed/written); 2 bad input
(raised as OmpvizError and mapped by the CLI).
"""

from __future__ import annotations

import argparse
import sys

from ompviz.commands.common import add_plan_arguments, add_topology_argument
from ompviz.words import plural


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ompviz.export import FORMATS

    add_topology_argument(p)
    add_plan_arguments(p)
    p.add_argument(
        "--format",
        "-f",
        default="text",
        choices=tuple(FORMATS),
        metavar="FORMAT",
        help="; ".join(f"{f.name}: {f.description}" for f in FORMATS.values()),
    )
    p.add_argument("-o", "--output", metavar="FILE", default=None, help="write to FILE (atomically)")
    p.add_argument("--force", action="store_true", help="overwrite FILE (or rank-N.env files) if it exists")
    p.add_argument("--config", metavar="FILE", default=None, help="replan a saved config (flags override it)")
    p.add_argument("--per-rank-dir", metavar="DIR", default=None, help="env format: write DIR/rank-N.env files")


def _note(msg: str) -> None:
    print(f"ompviz: {msg}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from ompviz.commands.common import request_from_args
    from ompviz.errors import OmpvizError
    from ompviz.export import EXECUTABLE, render
    from ompviz.fileio import write_atomic
    from ompviz.plan import plan as make_plan

    command = list(getattr(args, "worker_command", None) or []) or None
    saved_plan = None
    if args.config:
        from ompviz.export.config import load_config

        loaded = load_config(args.config, topology=args.topology)
        for n in loaded.notes:
            _note(n)
        topo = loaded.topology
        request = request_from_args(args, base=loaded.request)
        saved_plan = loaded.saved_plan if request == loaded.request else None
        if command is None and loaded.command:
            command = list(loaded.command)
    else:
        from ompviz.topology import load

        topo = load(args.topology or "live")
        request = request_from_args(args)
    p = make_plan(topo, request)
    if saved_plan is not None:
        from ompviz.export.config import plan_matches_saved

        if not plan_matches_saved(p, saved_plan):
            _note(f"{args.config}: replanning gives a different plan than the one saved (ompviz or topology changed)")

    if args.per_rank_dir is not None:
        if args.format != "env":
            raise OmpvizError("--per-rank-dir works with --format env only")
        if args.output:
            raise OmpvizError("give either -o FILE or --per-rank-dir DIR, not both")
        from ompviz.export.files import write_rank_env_files

        paths = write_rank_env_files(p, topo, args.per_rank_dir, force=args.force)
        _note(f"wrote {plural(len(paths), 'file')}: {', '.join(paths)}")
    else:
        text = render(args.format, p, topo, command=command)
        if args.output:
            mode = 0o755 if args.format in EXECUTABLE else None
            write_atomic(args.output, text, force=args.force, mode=mode)
            _note(f"wrote {args.output} ({args.format})")
        else:
            sys.stdout.write(text)

    if not p.ok:
        for w in p.warnings:
            if w.severity == "error":
                _note(f"plan error: {w.message}")
        return 1
    return 0
