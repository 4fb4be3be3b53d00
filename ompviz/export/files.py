"""Writing the per-rank ``rank-N.env`` files (``--format env --per-rank-dir DIR``), shared by the CLI and the TUI.

All-or-nothing on refusal: every check (the directory, files already there) runs before the first write, so a
refused save never leaves a half-updated set of files. Each file is written by ``write_atomic``.
"""

from __future__ import annotations

import os

from ompviz.errors import OmpvizError
from ompviz.export.shell import env_file
from ompviz.fileio import write_atomic
from ompviz.plan.model import Plan
from ompviz.topology.model import Topology


def rank_env_files(plan: Plan, topology: Topology, directory: str) -> list[tuple[str, str]]:
    """(path, text) of every ``DIR/rank-N.env`` file, in rank order; nothing is touched on disk."""
    return [(os.path.join(directory, f"rank-{w.rank}.env"), env_file(plan, topology, w.rank)) for w in plan.workers]


def check_rank_dir(directory: str) -> str:
    """``directory`` with ~ expanded; raises when it exists as something other than a directory."""
    d = os.path.expanduser(directory)
    if os.path.exists(d) and not os.path.isdir(d):
        raise OmpvizError(f"{directory}: exists and is not a directory")
    return d


def existing_files(files: list[tuple[str, str]]) -> list[str]:
    """Paths among ``files`` that are already there (those an overwrite would replace)."""
    return [path for path, _ in files if os.path.exists(path)]


def write_rank_env_files(plan: Plan, topology: Topology, directory: str, *, force: bool = False) -> list[str]:
    """Write ``DIR/rank-N.env`` for every rank (creating DIR); returns the paths written.

    Without ``force`` an existing file is refused before anything is written. Errors are one-line OmpvizErrors
    naming the path as the user gave it.
    """
    d = check_rank_dir(directory)
    files = rank_env_files(plan, topology, d)
    if not force:
        existing = existing_files(files)
        if existing:
            raise OmpvizError(f"{existing[0]}: already exists; use --force to overwrite it")
    try:
        os.makedirs(d, exist_ok=True)
    except OSError as e:
        raise OmpvizError(f"{directory}: cannot create directory: {e.strerror or e}") from None
    for path, text in files:
        write_atomic(path, text, force=force)
    return [path for path, _ in files]


__all__ = ["check_rank_dir", "existing_files", "rank_env_files", "write_rank_env_files"]
