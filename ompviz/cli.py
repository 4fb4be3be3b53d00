"""argparse front end. Maps OmpvizError to one line on stderr and exit 2; imports Textual only for the TUI.

Each subcommand lives in ``ompviz/commands/<name>.py`` with ``add_arguments(parser)`` and ``run(args) -> int``.
Everything after a bare ``--`` is the worker command (``plan``/``run``), kept out of argparse.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ompviz import __version__
from ompviz.errors import OmpvizError

SUBCOMMANDS = {
    "show": "print the machine topology (text tree or JSON)",
    "presets": "list the built-in machines (use as --topology preset:NAME)",
    "dump": "save a topology as an ompviz JSON snapshot (explore it elsewhere)",
    "plan": "plan ranks x threads and print OMP_PLACES / launch configs",
    "run": "launch the plan for real, sample every thread and verify its binding",
}


class _LazySubParsers(argparse._SubParsersAction):
    """Subcommand parsers whose arguments are added only when that subcommand is chosen.

    Each ``add_arguments`` imports its module (and e.g. the export formats for ``plan --format``); doing that for
    every subcommand on every start cost the explorer's start-up more than its own argument parsing. The
    top-level ``--help`` needs only the names and help texts, which SUBCOMMANDS holds.
    """

    def __call__(self, parser, namespace, values, option_string=None):
        name = values[0] if values else None
        sub = self._name_parser_map.get(name) if name else None
        if sub is not None and not getattr(sub, "_ompviz_filled", False):
            importlib.import_module(f"ompviz.commands.{name}").add_arguments(sub)
            sub._ompviz_filled = True
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    from ompviz.commands import tui

    parser = argparse.ArgumentParser(
        prog="ompviz",
        description="Plan, preview, launch and verify OpenMP thread binding on the real topology. "
        "With no subcommand, opens the interactive explorer.",
    )
    parser.add_argument("--version", action="version", version=f"ompviz {__version__}")
    tui.add_arguments(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", action=_LazySubParsers)
    for name, help_text in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text)
    return parser


# Options naming a source or a file: an empty value (e.g. an unset shell variable) must not silently mean
# "the live machine" or "stdout".
_PATH_OPTIONS = {
    "topology": "--topology",
    "output": "-o/--output",
    "config": "--config",
    "per_rank_dir": "--per-rank-dir",
    "screenshot": "--screenshot",
}


def _refuse_empty(args: argparse.Namespace) -> None:
    for dest, flag in _PATH_OPTIONS.items():
        value = getattr(args, dest, None)
        if value is not None and not str(value).strip():
            raise OmpvizError(f"{flag} is empty: give a value (is a shell variable unset?)")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, command = argv[:i], argv[i + 1 :]
    parser = build_parser()
    args = parser.parse_args(argv)
    args.worker_command = command
    name = args.command or "tui"
    try:
        _refuse_empty(args)
        mod = importlib.import_module(f"ompviz.commands.{name}")
        return int(mod.run(args) or 0)
    except OmpvizError as e:
        print(f"ompviz: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # stdout closed early (e.g. `ompviz show | head`): not an error worth a traceback
        try:
            sys.stdout = None  # type: ignore[assignment]
        except Exception:
            pass
        return 0


if __name__ == "__main__":
    sys.exit(main())
