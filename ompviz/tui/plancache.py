"""The explorer's plans by request, made when asked or ahead of time while the user is quiet.

A plan is a pure function of (topology, request) and a Plan is immutable, so a plan made once is the plan for its
request: pressing `-` after `+` needs no planner call, and the requests one key or click away from the current one
(ranks +1/-1, next strategy, bind, SMT policy, places; the PU under the pointer reserved or freed) can be planned
between changes. On the 4,096-PU machine a plan and its CPU -> ranks map take 2-5 ms, a sixth to a third of a frame,
and a key press also repaints most of the screen (issue 4, bench/bench_replan.py). No Textual import: the app
schedules the look-ahead; this keeps the plans.

A failed plan is kept as its error, raised again for the same request (the planner is deterministic).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from ompviz.plan.model import Plan, PlanRequest
from ompviz.topology.model import Topology

Planner = Callable[[Topology, PlanRequest], Plan]


class PlanCache:
    """The last ``size`` plans (with their CPU -> ranks maps) for one topology, by request. ``size=0`` keeps none:
    every request calls the planner (bench/bench_replan.py measures that as "cold"). The default keeps the plan
    shown and the twelve at most the explorer's look-ahead makes after a change (six keys and the PU under the
    pointer; in the form, a character deleted either side of the caret and ten digits, or a choice's two neighbours
    and the six keys): a 4,096-PU plan and its map take ~270 KiB."""

    def __init__(self, planner: Planner, topology: Topology, size: int = 13) -> None:
        if size < 0:
            raise ValueError("a plan cache cannot hold fewer than no plans")
        self._planner = planner
        self._topology = topology
        self._size = size
        self._entries: OrderedDict[PlanRequest, tuple[Plan, dict] | BaseException] = OrderedDict()

    @property
    def topology(self) -> Topology:
        return self._topology

    def set_topology(self, topology: Topology) -> None:
        """Plans are for one machine: another one starts empty."""
        if topology is not self._topology:
            self._topology = topology
            self._entries.clear()

    def __contains__(self, request: PlanRequest) -> bool:
        return request in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def plan(self, request: PlanRequest) -> tuple[Plan, dict]:
        """The plan for ``request`` and its owner map (``Plan.owner_map()``); the planner's error is raised."""
        entry = self._entries.get(request)
        if entry is None:
            entry = self._make(request)
        else:
            self._entries.move_to_end(request)
        if isinstance(entry, BaseException):
            raise entry.with_traceback(None)
        return entry

    def cached(self, request: PlanRequest) -> tuple[Plan, dict] | None:
        """The plan kept for ``request`` and its owner map, or None (never planned, or failed); no planner call."""
        entry = self._entries.get(request)
        return None if entry is None or isinstance(entry, BaseException) else entry

    def ahead(self, request: PlanRequest) -> bool:
        """Plan ``request`` now unless it is known; True when the planner was called. Never raises. Either way
        it becomes the most recent entry: the requests one change away from the current one are the ones to keep."""
        if request in self._entries:
            self._entries.move_to_end(request)
            return False
        self._make(request)
        return True

    def _make(self, request: PlanRequest) -> tuple[Plan, dict] | BaseException:
        entry: tuple[Plan, dict] | BaseException
        try:
            plan = self._planner(self._topology, request)
            entry = (plan, plan.owner_map())
        except Exception as e:  # kept, and raised to whoever asks for this request
            entry = e
        self._entries[request] = entry
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return entry
