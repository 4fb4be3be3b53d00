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
from ompviz.plan.planner import plan
from ompviz.plan.serialize import plan_to_dict, plan_to_text

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
