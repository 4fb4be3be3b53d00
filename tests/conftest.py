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
