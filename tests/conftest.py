"""Shared test helpers: the recorded machines in ../shared/topologies (skip with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_TOPOLOGIES = REPO.parent / "shared" / "topologies"


def shared(rel: str) -> Path:
    """Path of a recorded machine under ../shared/topologies; skips the test when it is not there.

    A fresh clone outside the project workspace has no ../shared: those tests skip, the rest still run.
    """
    p = SHARED_TOPOLOGIES / rel
    if not p.exists():
        pytest.skip(f"recorded topology {rel} not available (../shared/topologies is absent in this checkout)")
    return p


@pytest.fixture
def shared_topology():
    return shared


def pytest_configure(config):
    # Without ../shared the snapshot tests of recorded machines skip, which leaves their snapshot files unused, and
    # syrupy fails a run with unused snapshots: a fresh clone's `pytest` would exit 1 with every test passed. Only
    # then are unused snapshots a warning; with ../shared present a stale snapshot still fails the run.
    if not SHARED_TOPOLOGIES.is_dir() and hasattr(config.option, "warn_unused_snapshots"):
        config.option.warn_unused_snapshots = True


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not SHARED_TOPOLOGIES.is_dir():
        terminalreporter.write_line(
            "note: ../shared/topologies is absent, so the tests of recorded machines skipped and their snapshots are "
            "unused: keep them (do not run --snapshot-update to delete them)"
        )
