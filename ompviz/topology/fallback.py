"""Best-effort topology where Linux sysfs is absent (macOS, Windows, BSD): psutil counts + py-cpuinfo name.

What it cannot know, it leaves unknown rather than guessing: no NUMA nodes, no L3 groups, one package.
SMT siblings are assumed to be numbered core-major (0,1 on core 0, 2,3 on core 1, ...) only when the logical
count is an exact multiple of the physical count; otherwise every PU is its own core.
"""

from __future__ import annotations

import os

from ompviz.errors import OmpvizError
from ompviz.topology.model import PURecord, Topology, build_topology

NOTE = (
    "best-effort model from psutil/py-cpuinfo (no Linux sysfs here): no NUMA or L3 information, "
    "one package assumed, core grouping guessed from CPU counts"
)


def load_fallback() -> Topology:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a runtime dependency
        psutil = None
    logical = physical = None
    if psutil is not None:
        try:
            logical = psutil.cpu_count(logical=True)
            physical = psutil.cpu_count(logical=False)
        except Exception:  # noqa: BLE001 - psutil raises platform-specific errors; counts stay unknown
            logical = physical = None
    logical = logical or os.cpu_count()
    if not logical or logical < 1:
        raise OmpvizError("live: cannot count this machine's CPUs (psutil and os.cpu_count gave nothing)")
    notes = [NOTE]
    smt = 1
    if physical and physical > 0 and logical % physical == 0:
        smt = logical // physical
    elif physical:
        notes.append(f"psutil reports {physical} cores for {logical} CPUs: core grouping unknown")
    try:
        allowed = set(os.sched_getaffinity(0))  # absent on macOS/Windows
    except (AttributeError, OSError):
        allowed = None
    records = [
        PURecord(
            cpu,
            package=0,
            core_key=("core", cpu // smt) if smt > 1 else None,
            allowed=allowed is None or cpu in allowed,
        )
        for cpu in range(logical)
    ]
    return build_topology(
        records,
        name=_brand() or "this machine",
        source="live",
        source_kind="fallback",
        notes=notes,
    )


def _brand() -> str | None:
    try:
        import cpuinfo  # py-cpuinfo

        return cpuinfo.get_cpu_info().get("brand_raw") or None
    except Exception:  # noqa: BLE001 - the name is cosmetic: never fail the load for it
        return None
