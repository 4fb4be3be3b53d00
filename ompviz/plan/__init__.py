"""Planner: ``plan(topology, request) -> Plan`` and its data types (pure: no Textual, no processes)."""

from ompviz.plan.model import (
    BIND_POLICIES,
    NOTATIONS,
    PLACES,
    RUNTIMES,
    SEVERITIES,
    SMT_POLICIES,
    STRATEGIES,
    Plan,
    PlanRequest,
    PlanWarning,
    ThreadPlacement,
    Worker,
)

# plan / plan_to_dict / plan_to_text are loaded on first use (PEP 562): the CLI imports the request constants for
# every subcommand, and `ompviz show` or `--version` should not pay for importing the whole planner.
_LAZY = {
    "plan": "ompviz.plan.planner",
    "plan_to_dict": "ompviz.plan.serialize",
    "plan_to_text": "ompviz.plan.serialize",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ompviz.plan' has no attribute {name!r}")


__all__ = [
    "BIND_POLICIES",
    "NOTATIONS",
    "PLACES",
    "RUNTIMES",
    "SEVERITIES",
    "SMT_POLICIES",
    "STRATEGIES",
    "Plan",
    "PlanRequest",
    "PlanWarning",
    "ThreadPlacement",
    "Worker",
    "plan",
    "plan_to_dict",
    "plan_to_text",
]
