"""The explorer app. It owns no planning logic: it holds the current Topology and PlanRequest, gets the core's
``plan()`` for every change, and hands the resulting immutable Plan to the widgets inside one batch update. Plans
are kept by request, and the requests one key or click away are planned while the user is quiet
(ompviz.tui.plancache): the plan a change shows is always the planner's plan for that request."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from collections.abc import Callable, Iterable

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult, ScreenStackError, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.reactive import Reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static

from ompviz.cpuset import CpuSet
from ompviz.errors import OmpvizError
from ompviz.plan.model import BIND_POLICIES, PLACES, SMT_POLICIES, STRATEGIES, Plan, PlanRequest, PlanWarning, Worker
from ompviz.topology.model import Topology
from ompviz.tui.idlegc import TICK, IdleCollector
from ompviz.tui.memo import IdentityMemo
from ompviz.tui.plancache import PlanCache
from ompviz.tui.widgets.controls import Controls
from ompviz.tui.widgets.panels import (
    KeyBar,
    LineTable,
    TabBar,
    TextLine,
    TextView,
    ThreadTable,
    WarningList,
    WorkerTable,
    explain_text,
    header_text,
    legend_text,
    pu_info_text,
    set_border_title,
    worker_env_text,
)
from ompviz.tui.widgets.stylescache import KeepsLines
from ompviz.tui.widgets.topomap import MapState, TopologyMap

# Dialogs provided by the export and live issues; the keys are offered only once these modules exist.
OPTIONAL_SCREENS = {
    "export": ("ompviz.tui.screens.export", "ExportScreen"),
    "run_live": ("ompviz.tui.screens.live", "LiveScreen"),
}


# One line per strategy for the command palette (the planner module's docstring has the full rules).
STRATEGY_HELP = {
    "compact": "consecutive cores in hwloc logical order, all cores used, few boundary crossings",
    "spread": "ranks dealt over packages, NUMA nodes, L3 groups; equal cores each, leftovers idle",
    "numa": "whole NUMA nodes per rank, or an equal slice of one when ranks outnumber nodes",
    "l3": "whole L3 groups per rank, or an equal slice of one when ranks outnumber groups",
    "distrib": "hwloc_distrib() over the usable CPUs, like hwloc-distrib",
    "manual": "your own CPU list per rank (A|B|...), starting from the current split",
    "vllm": "what vLLM's CPU backend binds (VLLM_CPU_OMP_THREADS_BIND and friends)",
}


def _cycle(options: tuple[str, ...], current: str) -> str:
    return options[(options.index(current) + 1) % len(options)] if current in options else options[0]


def _ranks(delta: int) -> Callable[[PlanRequest], PlanRequest]:
    return lambda r: dataclasses.replace(r, ranks=max(1, r.ranks + delta))


def _next(field: str, options: tuple[str, ...]) -> Callable[[PlanRequest], PlanRequest]:
    return lambda r: dataclasses.replace(r, **{field: _cycle(options, getattr(r, field))})


def _toggle_reserved(request: PlanRequest, cpu: int) -> PlanRequest:
    """The request a click on PU ``cpu`` makes: that PU reserved, or no longer reserved."""
    return dataclasses.replace(request, reserve=request.reserve ^ CpuSet([cpu]))


def _selection(plan: Plan, rank: int | None) -> int | None:
    """The rank selected once ``plan`` is shown: the same one while it exists, else the first (or none)."""
    if rank is not None and rank >= len(plan.workers):
        return 0 if plan.workers else None
    return rank


def _worker_of(plan: Plan | None, rank: int | None) -> Worker | None:
    if plan is None or rank is None:
        return None
    return next((w for w in plan.workers if w.rank == rank), None)


# The request each planning key makes from the current one: the actions use these, and the look-ahead plans them
# while the user is quiet, so the next key press finds its plan made (ompviz.tui.plancache).
KEY_STEPS: dict[str, Callable[[PlanRequest], PlanRequest]] = {
    "ranks(1)": _ranks(1),
    "ranks(-1)": _ranks(-1),
    "next_strategy": _next("strategy", STRATEGIES),
    "next_bind": _next("bind", BIND_POLICIES),
    "next_smt": _next("smt", SMT_POLICIES),
    "next_places": _next("places", PLACES),
}


def default_planner() -> Callable[[Topology, PlanRequest], Plan] | None:
    try:
        from ompviz.plan import plan
    except ImportError:
        return None
    return plan


def default_loader(source: str) -> Topology:
    from ompviz.topology import load

    return load(source)


class Column(KeepsLines, Vertical):
    """A Vertical whose unchanged lines are not rendered again under another widget's repaint (KeepsLines)."""


class Row(KeepsLines, Horizontal):
    """A Horizontal whose unchanged lines are not rendered again under another widget's repaint (KeepsLines)."""


class MainScreen(KeepsLines, Screen):
    """The explorer's screen. Textual restyles every widget of a screen each time it becomes active (ScreenResume),
    to catch theme or class changes made while another screen was on top. The first activation follows the
    mount by a few milliseconds, with styles just computed; restyling all widgets and their component classes then
    costs ~15-20 ms of the benchmarked start-up (issue 4) for nothing, so only that first one is skipped."""

    _resumed = False

    # Textual repaints the whole screen when the focus moves (Screen.focused repaints), yet the widgets gaining and
    # losing focus are restyled and repaint themselves (the map's :focus border, a table's tint, the form's cursor):
    # on 4,096 PUs a click that moved the focus to a table cost a full repaint (6-10 ms) on top of its own work.
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    def _on_screen_resume(self, event) -> None:
        # Runs before Screen._on_screen_resume (Textual calls each class's handler along the MRO, subclass first).
        if not self._resumed:
            self._resumed = True
            event.refresh_styles = False


class OmpvizApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "ompviz"
    AUTO_FOCUS = "#map"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]

    BINDINGS = [
        Binding("plus,equals_sign", "ranks(1)", "Rank+", key_display="+"),
        Binding("minus", "ranks(-1)", "Rank-", key_display="-"),
        Binding("s", "next_strategy", "Strategy"),
        Binding("b", "next_bind", "Bind"),
        Binding("t", "next_smt", "SMT"),
        Binding("p", "next_places", "Places", show=False),
        Binding("o", "toggle_numbering", "OS/L#"),
        Binding("z", "fold", "Fold"),
        Binding("c", "toggle_controls", "Controls", show=False),
        Binding("e", "export", "Export"),
        Binding("r", "run_live", "Run"),
        Binding("l", "load", "Load"),
        Binding("escape", "clear_highlight", "Clear", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    # Narrow footers (80 columns): shorter labels, and which keys to keep, most important first (`c` brings back
    # the form the narrow layout hides); the rest stay in the help screen and the command palette.
    FOOTER_SHORT = {"next_strategy": "Strat"}
    FOOTER_PRIORITY = (
        "quit",
        "help",
        "toggle_controls",
        "load",
        "next_strategy",
        "ranks(1)",
        "ranks(-1)",
        "run_live",
        "export",
        "next_bind",
        "next_smt",
        "fold",
        "toggle_numbering",
    )

    def __init__(
        self,
        topology: Topology,
        request: PlanRequest | None = None,
        *,
        planner: Callable[[Topology, PlanRequest], Plan] | None = None,
        loader: Callable[[str], Topology] | None = None,
        optional_screens: dict[str, tuple[str, str]] | None = None,
        notes: tuple[str, ...] = (),
        command: list[str] | tuple[str, ...] | None = None,
    ) -> None:
        super().__init__()
        # The worker command (`ompviz ... -- CMD` or a saved config's); the export dialog starts from it.
        self.command = list(command) if command else None
        self._notes = notes  # one-line messages to show once the screen is up (e.g. from a loaded config)
        # Which export/live dialogs to look for (tests pin this so snapshots do not depend on other modules).
        self._optional = OPTIONAL_SCREENS if optional_screens is None else optional_screens
        self.topology = topology
        self.request = request or PlanRequest()
        self._planner = planner or default_planner()
        self._plans = PlanCache(self._planner, topology) if self._planner is not None else None
        self._ahead: list[PlanRequest] = []  # requests one key away, still to plan while the user is quiet
        self._ahead_timer: Timer | None = None
        self._env_texts: IdentityMemo[Text] = IdentityMemo()  # the environment pane's text by worker
        self._legends: IdentityMemo[Text] = IdentityMemo()  # the legend by plan
        self._pu_texts: IdentityMemo[Text] = IdentityMemo()  # the PU details by plan, owners and cell
        self._loader = loader or default_loader
        self.plan: Plan | None = None
        self.plan_error: str | None = None
        self.selected_rank: int | None = 0
        self.warning: PlanWarning | None = None
        self._owners: dict = {}  # the current plan's cpu -> ranks, computed once per plan
        self._tab_plan: dict[str, Plan | None] = {}  # which plan each lazily built pane shows
        self._optional_found: dict[str, bool] = {}
        self._legend: Text | None = None  # what the legend shows
        self.idle_gc = IdleCollector()  # cycle collection when the user is quiet, not inside a key press
        self._replan(self.request, notify=False)

    # -- layout ----------------------------------------------------------------------------------
    # Start-up is a benchmark (issue 4: first frame <= 1.25x a bare Textual app), so the screen is a handful of
    # line-drawn widgets: the form, the map, the tables, the tab bar and the footer each draw themselves as ONE
    # widget, and the Warnings / Explain panes are only built the first time they are shown.
    TABS = {"tab-preview": "Preview", "tab-warnings": "Warnings", "tab-explain": "Explain"}

    def get_default_screen(self) -> Screen:
        return MainScreen(id="_default")

    def _breakpoint_classes(self) -> dict[str, bool]:
        """The screen classes Textual's breakpoints give this terminal size (Screen._on_resize's rule)."""
        width, height = self.size
        out = {}
        for size, breakpoints in ((width, self.HORIZONTAL_BREAKPOINTS), (height, self.VERTICAL_BREAKPOINTS)):
            chosen = next((name for at, name in sorted(breakpoints, reverse=True) if size >= at), None)
            out.update({name: name == chosen for _, name in breakpoints})
        return out

    def compose(self) -> ComposeResult:
        # Give the screen its breakpoint classes before anything is mounted: set by the first Resize instead, they
        # would restyle every widget and lay the screen out once more before the first frame is complete.
        self.screen.update_classes(self._breakpoint_classes(), animate=False)
        # No wrapper containers: the screen itself lays the sidebar and the main column side by side, and the tab
        # bar and panes sit in the main column (every widget costs style, layout and paint work at start-up).
        self.screen.styles.layout = "horizontal"
        yield TextLine(header_text(self.topology), id="header")
        with Column(id="sidebar"):
            yield Controls(self.request, id="controls")
            yield TextView(id="worker-env")
            details = TextView(id="pu-info")
            details.can_focus = False  # (clipped, nothing to scroll: no stop for Tab, as when it was a Static)
            yield details
        with Column(id="main"):
            yield TextLine(id="legend")
            yield TopologyMap(self.topology, id="map")
            yield TabBar(self.TABS, "tab-preview", id="tabs")
            with Row(id="tab-preview", classes="pane"):
                yield WorkerTable(id="workers")
                yield ThreadTable(id="threads")
        yield KeyBar(short=self.FOOTER_SHORT, priority=self.FOOTER_PRIORITY)

    def on_mount(self) -> None:
        self.idle_gc.start()
        self.set_interval(TICK, self.idle_gc.tick, name="idle-gc")
        self.query_one("#sidebar").border_title = "Plan request"
        self.query_one("#pu-info").border_title = "PU under the mouse"
        self._show_pu(CpuSet(), None)
        self.query_one("#workers").border_title = "Workers"
        self._show_plan()
        # Not straight after the first frame: start-up is benchmarked, and a user reads the screen first.
        self.set_timer(0.3, self._plan_ahead_soon, name="plan-ahead-start")
        for note in self._notes:
            self.notify(note, severity="warning", timeout=8)

    def on_unmount(self) -> None:
        self.idle_gc.stop()
        self._ahead = []
        if self._ahead_timer is not None:
            self._ahead_timer.stop()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.idle_gc.activity()
        await super().on_event(event)

    @property
    def active_tab(self) -> str:
        return self.query_one(TabBar).active

    def show_tab(self, tab: str) -> None:
        """Switch the panel below the map; Warnings and Explain are built on first use."""
        if tab not in self.TABS:
            return
        panels = self.query_one("#main")
        if tab == "tab-warnings" and not self.query("#warnings"):
            panels.mount(WarningList(self.plan, id="warnings", classes="pane"))
            self._tab_plan[tab] = self.plan
        if tab == "tab-explain" and not self.query("#explain-scroll"):
            text = explain_text(self.plan, self._explanation())
            panels.mount(VerticalScroll(Static(text, id="explain"), id="explain-scroll", classes="pane"))
            self._tab_plan[tab] = self.plan
        for pane in panels.query(".pane"):
            pane.display = pane.id == self.PANE_IDS[tab]
        self.query_one(TabBar).set_active(tab)
        self._show_tab_content()

    PANE_IDS = {"tab-preview": "tab-preview", "tab-warnings": "warnings", "tab-explain": "explain-scroll"}

    def on_tab_bar_activated(self, event: TabBar.Activated) -> None:
        self.show_tab(event.tab)

    def _show_tab_content(self) -> None:
        """Bring the visible hidden-until-now pane up to the current plan (hidden panes wait until shown)."""
        tab = self.active_tab
        if self._tab_plan.get(tab, False) is self.plan:
            return
        if tab == "tab-warnings" and self.query("#warnings"):
            self.query_one(WarningList).show_plan(self.plan)
        elif tab == "tab-explain" and self.query("#explain"):
            self.query_one("#explain", Static).update(explain_text(self.plan, self._explanation()))
        else:
            return
        self._tab_plan[tab] = self.plan

    # -- core calls ------------------------------------------------------------------------------
    def _replan(self, request: PlanRequest, *, notify: bool = True) -> bool:
        """Plan ``request``; on success it becomes the current request. Errors are shown, never raised."""
        if self._plans is None:
            self.request, self.plan = request, None
            self.plan_error = "the planner (ompviz.plan) is not available in this installation"
            return False
        try:
            plan, owners = self._plans.plan(request)
        except OmpvizError as e:
            self.plan_error = str(e)
        except Exception as e:  # a planner bug must not take the explorer down with the user's session
            self.plan_error = f"planner failed: {type(e).__name__}: {e}"
        else:
            self.request, self.plan, self.plan_error = request, plan, None
            self._owners = owners
            self.selected_rank = _selection(plan, self.selected_rank)
            self.warning = None
            return True
        if notify:
            self.notify(self.plan_error, title="Cannot plan", severity="error", timeout=6)
        return False

    def set_request(self, request: PlanRequest) -> None:
        """Every control, key and click ends here: replan and repaint in one batch."""
        request = self._manual_lists(request)
        ok = self._replan(request)
        if self.is_mounted:
            with self.batch_update():
                self._show_plan(reflect_controls=ok)
                self._show_form_error()
            self._plan_ahead_soon()

    # -- look-ahead ------------------------------------------------------------------------------
    # Textual paints on its screen-update timer, up to a frame after the key's handler returned, and its "after
    # refresh" callbacks run before that paint; messages queued for the app are handled without giving the event
    # loop back. So the look-ahead runs from timers: it starts once the key's paint is done, and gives the loop
    # back between plans, so a key pressed meanwhile waits for at most one plan.
    AHEAD_DELAY = 0.03  # s after a change: Textual's next paint (60 Hz) comes first

    # A plan cannot be interrupted: a key pressed while one is made ahead waits for it. On 4,096 PUs a plan takes
    # ~2 ms + 40 us a rank (256 ranks: ~12 ms); a digit typed in the ranks field can ask for ten times as many ranks
    # as now. Requests beyond these are planned when they are made.
    AHEAD_MAX_RANKS = 256
    AHEAD_MAX_THREADS = 1024

    def _plan_ahead_soon(self) -> None:
        """Plan the requests one key away from the current one, after the screen shows the current plan: the
        planning keys' (the map or a table has the focus), or the form field's (a digit typed, a character deleted,
        a choice cycled), with the planning keys a choice field leaves to the app."""
        if self._plans is None:
            return
        try:
            screen = self.screen
        except ScreenStackError:  # closing (a start-up timer may fire then)
            return
        self._looking_ahead = True
        requests = [step(self.request) for step in KEY_STEPS.values()]
        form = screen.focused if isinstance(screen, MainScreen) and isinstance(screen.focused, Controls) else None
        if form is not None:
            typed = [
                r
                for r in form.requests_one_key_away()
                if r.ranks <= self.AHEAD_MAX_RANKS and (r.threads or 0) <= self.AHEAD_MAX_THREADS
            ]
            requests = typed if form.typing else typed + requests
        self._ahead = [self._manual_lists(r) for r in requests]
        self._restart_look_ahead()

    # The look-ahead starts 0.3 s after the first frame (on_mount), or with the first change. The first focus
    # (at mount) must not start it: it ran during start-up (a benchmark), and kept ~2 MiB of lines drawn ahead there.
    _looking_ahead = False

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if self._looking_ahead and isinstance(event.widget.screen, MainScreen):
            self._plan_ahead_soon()  # the form or the map: other keys are one press away

    def on_controls_field_selected(self, event: Controls.FieldSelected) -> None:
        if self._looking_ahead:
            self._plan_ahead_soon()

    def _plan_click_ahead(self, pu: int) -> None:
        """The pointer rests on a PU: a click would toggle it reserved. Plan that first (then what is left)."""
        if self._plans is not None:
            self._ahead.insert(0, self._manual_lists(_toggle_reserved(self.request, pu)))
            self._restart_look_ahead()

    def _restart_look_ahead(self) -> None:
        current = self.request
        ahead = [r for r in dict.fromkeys(self._ahead) if r != current]
        # The plan shown is brought up to date first: with as many requests ahead as the cache holds besides it
        # (typing a digit), it would otherwise be the least recently used, and dropped (backspace planned again).
        self._ahead = [current, *ahead] if ahead else []
        if self._ahead_timer is not None:
            self._ahead_timer.stop()
            self._ahead_timer = None
        if self._ahead:
            self._ahead_timer = self.set_timer(self.AHEAD_DELAY, self._plan_ahead, name="plan-ahead")

    def _plan_ahead(self) -> None:
        """One plan, or the drawing of one plan's view, per turn of the event loop (a key pressed meanwhile waits
        for at most that); requests planned and drawn before are only brought up to date (kept as the most recent
        plans, their view prepared again if it was forgotten)."""
        self._ahead_timer = None
        plans = self._plans
        while self._ahead and plans is not None:
            request = self._ahead[0]
            if plans.ahead(request):
                break  # planned this turn: its view is prepared in the next one
            self._ahead.pop(0)
            made = plans.cached(request)
            if made is not None and self._prepare_view(request, *made):
                break
        if self._ahead:
            self._ahead_timer = self.set_timer(0.001, self._plan_ahead, name="plan-ahead")  # (0 divides by 0)

    def _manual_lists(self, request: PlanRequest) -> PlanRequest:
        """Switching to manual without lists starts from the current plan's worker CPU sets (the natural thing
        to edit), so the key, palette and form never get stuck on "manual needs --cpus". Leaving manual drops
        the lists: other strategies ignore them and exports would otherwise carry a stray --cpus."""
        if request.strategy == "manual" and not request.cpus and self.plan is not None and self.plan.workers:
            lists = "|".join(w.cpus.to_list() for w in self.plan.workers if w.cpus)
            if lists:
                return dataclasses.replace(request, cpus=lists)
        if request.strategy != "manual" and self.request.strategy == "manual" and request.cpus:
            return dataclasses.replace(request, cpus=None)
        return request

    # -- painting --------------------------------------------------------------------------------
    def _show_form_error(self) -> None:
        self.query_one(Controls).set_extra_error(self.plan_error)

    def _show_plan(self, reflect_controls: bool = True) -> None:
        plan = self.plan
        if reflect_controls:
            self.query_one(Controls).show_request(self.request)
        legend = self._legend_text(plan)
        if legend != self._legend:  # the same number of ranks draws the same legend
            self._legend = legend
            self.query_one("#legend", TextLine).update(legend)
        self.query_one(WorkerTable).show_plan(plan, self.selected_rank)
        n_warn = len(plan.warnings) if plan else 0
        errors = sum(1 for w in plan.warnings if w.severity == "error") if plan else 0
        self.query_one(TabBar).set_label("tab-warnings", f"Warnings ({n_warn})" + (" ✖" if errors else ""))
        self._show_tab_content()
        self._show_worker()
        self._show_form_error()
        self._update_map()

    def _explanation(self) -> tuple[str, ...]:
        if self.plan is None:
            return ()
        if self.plan.explanation:
            return self.plan.explanation
        try:
            mod = importlib.import_module("ompviz.plan.explain")
            fn = getattr(mod, "explain", None)
            return tuple(fn(self.topology, self.plan)) if fn else ()
        except Exception:
            return ()

    def _worker(self) -> Worker | None:
        return _worker_of(self.plan, self.selected_rank)

    def _prepare_view(self, request: PlanRequest, plan: Plan, owners: dict) -> bool:
        """What the widgets would show for a plan made ahead: rows, environment text, its folded lines, and the
        lines on screen it changes, drawn and taken through the rest of a paint. Built now, while the user is
        quiet; the change that shows the plan finds them ready (ompviz.tui.memo, TopologyMap.prepare_state).
        True when the map had lines to draw (the costly part)."""
        selected = _selection(plan, self.selected_rank)
        worker = _worker_of(plan, selected)
        try:
            table, threads = self.query_one(WorkerTable), self.query_one(ThreadTable)
            env = self.query_one("#worker-env", TextView)
            legend = self.query_one("#legend", TextLine)
            topology_map = self.query_one(TopologyMap)
        except NoMatches:  # a dialog is on top, or the app is closing: built when shown, as without look-ahead
            return False
        try:
            table.prepare(plan, selected)
            threads.prepare(worker)
            env.prepare(self._env_text(worker, None))
            legend.prepare(self._legend_text(plan))
            hover = topology_map.hovered  # a click there shows this plan with the cell's details
            if hover is not None and hover.cpus:
                self.query_one("#pu-info", TextView).prepare(self._pu_text(plan, owners, hover.cpus, hover.pu))
            return topology_map.prepare_state(self._map_state(plan, owners, request, None, worker)) > 0
        except Exception:  # nobody asked for this plan yet: a fault shows (or not) when it is, not from a timer
            return False

    def _legend_text(self, plan: Plan | None) -> Text:
        return self._legends.get((plan,), (), lambda: legend_text(plan))

    def _env_text(self, worker, error: str | None) -> Text:
        return self._env_texts.get((worker,), (error,), lambda: worker_env_text(worker, error))

    def _show_worker(self) -> None:
        worker = self._worker()
        self.query_one(ThreadTable).show_worker(worker)
        env = self.query_one("#worker-env", TextView)
        env.update(self._env_text(worker, self.plan_error))
        title = "Worker environment" if worker is None else f"Rank {worker.rank} environment"
        set_border_title(env, title)

    def _update_map(self) -> None:
        self.query_one(TopologyMap).set_state(
            self._map_state(self.plan, self._owners, self.request, self.warning, self._worker())
        )

    @staticmethod
    def _map_state(plan: Plan | None, owners: dict, request: PlanRequest, warning, worker: Worker | None) -> MapState:
        highlight = CpuSet()
        if warning is not None and plan is not None:
            highlight = warning.cpus
            for w in plan.workers:
                if w.rank in warning.ranks and not warning.cpus:
                    highlight = highlight | w.cpus
        return MapState(
            owners if plan else {},
            request.reserve,
            highlight,
            worker.cpus if worker is not None else CpuSet(),
            {w.rank: w.cpus for w in plan.workers} if plan else {},
        )

    # -- messages from widgets ---------------------------------------------------------------------
    def on_controls_request_changed(self, event: Controls.RequestChanged) -> None:
        self.set_request(event.request)

    def on_topology_map_pu_clicked(self, event: TopologyMap.PuClicked) -> None:
        if not isinstance(event.control.screen, MainScreen):
            return  # the live view's heat map: a click there must not edit the plan being verified
        self.set_request(_toggle_reserved(self.request, event.cpu))
        self._show_pu(CpuSet([event.cpu]), event.cpu)

    def on_topology_map_cell_hovered(self, event: TopologyMap.CellHovered) -> None:
        if not isinstance(event.control.screen, MainScreen):
            return
        self._show_pu(event.cpus, event.pu)
        if event.role == "pu" and event.pu is not None:
            self._plan_click_ahead(event.pu)

    def _show_pu(self, cpus: CpuSet, pu: int | None) -> None:
        # drawn line by line, only the lines that change (as a Static it was laid out through Textual's content
        # pipeline on each hover and click: ~1.4 ms on 4,096 PUs)
        self.query_one("#pu-info", TextView).update(self._pu_text(self.plan, self._owners, cpus, pu))

    def _pu_text(self, plan: Plan | None, owners: dict, cpus: CpuSet, pu: int | None) -> Text:
        return self._pu_texts.get(
            (plan, owners), (cpus.mask, pu), lambda: pu_info_text(self.topology, plan, cpus, pu, owners)
        )

    def on_line_table_row_highlighted(self, event: LineTable.RowHighlighted) -> None:
        if not isinstance(event.table, WorkerTable) or event.key is None:
            return
        rank = int(event.key)
        if rank != self.selected_rank:
            self.selected_rank = rank
            self._show_worker()
            self._update_map()

    def on_warning_list_selected(self, event: WarningList.Selected) -> None:
        self.warning = event.warning
        self._update_map()

    # -- actions ---------------------------------------------------------------------------------
    def action_ranks(self, delta: int) -> None:
        self.set_request(_ranks(delta)(self.request))

    def action_next_strategy(self) -> None:
        self.set_request(KEY_STEPS["next_strategy"](self.request))

    def action_next_bind(self) -> None:
        self.set_request(KEY_STEPS["next_bind"](self.request))

    def action_next_smt(self) -> None:
        self.set_request(KEY_STEPS["next_smt"](self.request))

    def action_next_places(self) -> None:
        self.set_request(KEY_STEPS["next_places"](self.request))

    def action_toggle_numbering(self) -> None:
        m = self.query_one(TopologyMap)
        m.set_numbering("logical" if m.numbering == "os" else "os")

    def action_fold(self) -> None:
        self.query_one(TopologyMap).next_fold()

    def action_toggle_controls(self) -> None:
        self.query_one("#sidebar").toggle_class("-toggled")

    def action_clear_highlight(self) -> None:
        if self.warning is not None:
            self.warning = None
            self._update_map()

    def action_help(self) -> None:
        from ompviz.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_load(self) -> None:
        from ompviz.tui.screens.load import LoadScreen

        self.push_screen(LoadScreen(self._loader), self._loaded)

    def _loaded(self, topology: Topology | None) -> None:
        if topology is not None:
            self.set_topology(topology)

    def set_topology(self, topology: Topology) -> None:
        self.topology = topology
        if self._plans is not None:
            self._plans.set_topology(topology)
        self._pu_texts = IdentityMemo()  # (a plan-less text is keyed by None: it described the old machine)
        self.selected_rank = 0
        with self.batch_update():
            self.query_one("#header", TextLine).update(header_text(topology))
            self.query_one(TopologyMap).set_topology(topology)
            # Reserved CPUs that do not exist on the new machine would only produce errors.
            keep = CpuSet(c for c in self.request.reserve if topology.has_pu(c))
            self.set_request(dataclasses.replace(self.request, reserve=keep))
            self._show_pu(CpuSet(), None)
        self.notify(f"Loaded {topology.name} ({topology.source})", timeout=3)

    def _optional_screen(self, action: str) -> type[Screen] | None:
        if action not in self._optional:
            return None
        mod_name, attr = self._optional[action]
        try:
            return getattr(importlib.import_module(mod_name), attr)
        except (ImportError, AttributeError):
            return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in OPTIONAL_SCREENS:
            # Only look for the module here (the footer asks at start-up); importing the export and live
            # dialogs would cost more than the rest of the first frame. They are imported when opened.
            if action not in self._optional_found:
                spec = None
                if action in self._optional:
                    try:
                        spec = importlib.util.find_spec(self._optional[action][0])
                    except (ImportError, ValueError):
                        spec = None
                self._optional_found[action] = spec is not None
            return self._optional_found[action]
        return True

    def action_export(self) -> None:
        screen = self._optional_screen("export")
        if screen is None or self.plan is None:
            return
        self.push_screen(screen(self.topology, self.plan, command=self.command))

    def action_run_live(self) -> None:
        self._open_optional("run_live")

    def _open_optional(self, action: str) -> None:
        screen = self._optional_screen(action)
        if screen is None or self.plan is None:
            return
        self.push_screen(screen(self.topology, self.plan))

    # -- command palette -------------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("One rank more", "ranks + 1 (+)", lambda: self.action_ranks(1))
        yield SystemCommand("One rank fewer", "ranks - 1 (-)", lambda: self.action_ranks(-1))
        for s in STRATEGIES:
            help_text = STRATEGY_HELP.get(s, "split the CPUs between ranks this way")
            yield SystemCommand(f"Strategy: {s}", help_text, self._setter("strategy", s))
        for b in BIND_POLICIES:
            yield SystemCommand(f"Bind: {b}", "OMP_PROC_BIND", self._setter("bind", b))
        for s in SMT_POLICIES:
            yield SystemCommand(f"SMT: {s}", "hardware threads used per core", self._setter("smt", s))
        for p in PLACES:
            yield SystemCommand(f"Places: {p}", "granularity of OMP_PLACES", self._setter("places", p))
        yield SystemCommand("Toggle OS / logical numbering", "map numbers (o)", self.action_toggle_numbering)
        yield SystemCommand("Fold level", "auto, PU, core, L3, NUMA (z)", self.action_fold)
        yield SystemCommand("Show/hide controls", "the request form (c)", self.action_toggle_controls)
        yield SystemCommand("Load topology", "file, preset or synthetic (l)", self.action_load)
        yield SystemCommand("Help", "keys and concepts (?)", self.action_help)
        if self.check_action("export", ()):
            yield SystemCommand("Export", "launch configs for this plan (e)", self.action_export)
        if self.check_action("run_live", ()):
            yield SystemCommand("Run live", "launch and verify the binding (r)", self.action_run_live)
        from ompviz.tui.screens.load import preset_items

        for name, title in preset_items():
            yield SystemCommand(f"Preset: {name}", title, self._preset_loader(name))

    def _setter(self, name: str, value: str) -> Callable[[], None]:
        return lambda: self.set_request(dataclasses.replace(self.request, **{name: value}))

    def _preset_loader(self, name: str) -> Callable[[], None]:
        def load() -> None:
            try:
                topo = self._loader(f"preset:{name}")
            except OmpvizError as e:
                self.notify(str(e), severity="error")
                return
            self.set_topology(topo)

        return load
