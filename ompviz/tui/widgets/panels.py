"""Read-only views of a Plan: header, legend, per-worker table, thread mapping, warnings, explanation, PU info."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable, OptionList
from textual.widgets.option_list import Option

from ompviz.cpuset import CpuSet
from ompviz.plan.model import Plan, PlanWarning, Worker
from ompviz.topology.model import Topology
from ompviz.tui.widgets.topomap import MARKS, PALETTE, rank_style

SOURCE_NAMES = {
    "live": "live machine",
    "sysfs": "sysfs dump",
    "hwloc-xml": "hwloc XML",
    "synthetic": "synthetic",
    "lscpu": "lscpu output",
    "preset": "preset",
    "snapshot": "snapshot",
    "fallback": "best-effort (psutil)",
}


def header_text(topo: Topology) -> Text:
    s = topo.summary()
    t = Text()
    t.append(" ompviz ", "bold reverse")
    t.append(f" {topo.name} ", "bold")
    t.append("│ ", "dim")
    t.append(
        f"{s['packages']} pkg · {s['numa_nodes']} NUMA · {s['l3_caches']} L3 · {s['cores']} cores · {s['pus']} PUs"
    )
    extra = []
    if topo.kinds:
        extra.append("kinds " + "/".join(topo.kinds))
    if topo.offline:
        extra.append(f"{len(topo.offline)} offline")
    if topo.disallowed:
        extra.append(f"{len(topo.disallowed)} disallowed")
    if extra:
        t.append(" (" + ", ".join(extra) + ")", "italic")
    t.append(" │ ", "dim")
    kind = SOURCE_NAMES.get(topo.source_kind, topo.source_kind)
    t.append(kind if topo.source in ("live", "") else f"{kind}: {topo.source}", "italic")
    return t


def legend_text(plan: Plan | None) -> Text:
    t = Text()
    if plan is not None and plan.workers:
        n = len(plan.workers)
        shown = min(n, len(PALETTE))
        for i in range(shown):
            same = list(range(i, n, len(PALETTE)))
            label = ",".join(map(str, same[:3])) + ("…" if len(same) > 3 else "")
            t.append(f" {label} ", rank_style(i))
            t.append(" ")
        t.append(" ", "dim")
    for mark, what in (
        ("reserved", "reserved"),
        ("disallowed", "disallowed"),
        ("offline", "offline"),
        ("overlap", "shared"),
        ("highlight", "warning"),
    ):
        t.append(MARKS[mark], "bold #000000 on #ffff5f" if mark == "highlight" else "bold")
        t.append(f" {what} ", "dim")
    return t


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


class WorkerTable(DataTable):
    """One row per worker: rank, CPUs, OMP_PLACES, OMP_PROC_BIND, OMP_NUM_THREADS."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_column("Rank", key="rank")
        self.add_column("CPUs", key="cpus")
        self.add_column("OMP_NUM_THREADS", key="num")
        self.add_column("OMP_PROC_BIND", key="bind")
        self.add_column("OMP_PLACES", key="places")

    def show_plan(self, plan: Plan | None) -> None:
        keep = self.cursor_row
        self.clear()
        if plan is None:
            return
        for w in plan.workers:
            env = w.env_dict
            self.add_row(
                Text(f" {w.rank} ", rank_style(w.rank)),
                _clip(w.cpus.to_list(), 32),
                env.get("OMP_NUM_THREADS", "(unset)"),
                env.get("OMP_PROC_BIND", "(unset)"),
                _clip(env.get("OMP_PLACES", "(unset)"), 48),
                key=str(w.rank),
            )
        if plan.workers:
            self.move_cursor(row=min(max(keep, 0), len(plan.workers) - 1), animate=False)


class ThreadTable(DataTable):
    """The selected worker's threads under libgomp and LLVM side by side; rows that differ are highlighted."""

    def on_mount(self) -> None:
        self.cursor_type = "none"
        self.zebra_stripes = True
        self.add_column("thr", key="t")
        self.add_column("libgomp: place → CPUs", key="gnu")
        self.add_column("LLVM libomp: place → CPUs", key="llvm")

    def show_worker(self, worker: Worker | None, runtime: str) -> int:
        """Returns the number of threads placed differently by the two runtimes."""
        self.clear()
        if worker is None:
            self.border_title = "Threads"
            return 0
        diff = 0
        n = max(len(worker.gnu), len(worker.llvm))
        for i in range(n):
            g = worker.gnu[i] if i < len(worker.gnu) else None
            ll = worker.llvm[i] if i < len(worker.llvm) else None
            differs = (g is None) != (ll is None) or (g is not None and ll is not None and g.cpus != ll.cpus)
            diff += differs
            self.add_row(
                Text(str(i)),
                Text(_placement(g), style="bold red" if differs else ""),
                Text(_placement(ll), style="bold red" if differs else ""),
            )
        first = "libgomp" if runtime == "gnu" else "LLVM"
        self.border_title = f"Rank {worker.rank}: {n} threads"
        self.border_subtitle = (
            f"{diff} thread(s) differ between runtimes" if diff else f"same placement in both runtimes ({first} shown)"
        )
        return diff


def _placement(tp) -> str:
    if tp is None:
        return "—"
    where = "unbound" if tp.place is None else f"place {tp.place}"
    return f"{where} → {tp.cpus.to_list()}"


SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "bold cyan"}
SEVERITY_ICON = {"error": "✖", "warning": "▲", "info": "ℹ"}


class WarningList(OptionList):
    """Planner warnings; highlighting one tells the app which PUs/ranks to highlight on the map."""

    @dataclass
    class Selected(Message):
        warning: PlanWarning | None

    def show_plan(self, plan: Plan | None) -> None:
        self._warnings: tuple[PlanWarning, ...] = plan.warnings if plan is not None else ()
        self.clear_options()
        if not self._warnings:
            self.add_option(Option(Text("No warnings for this plan.", "dim"), disabled=True))
            return
        for i, w in enumerate(self._warnings):
            t = Text()
            t.append(f"{SEVERITY_ICON.get(w.severity, '•')} ", SEVERITY_STYLE.get(w.severity, ""))
            t.append(w.message)
            refs = []
            if w.ranks:
                refs.append("ranks " + CpuSet(w.ranks).to_list())
            if w.cpus:
                refs.append("CPUs " + _clip(w.cpus.to_list(), 40))
            if refs:
                t.append("  [" + "; ".join(refs) + "]", "dim")
            t.append(f"  ({w.code})", "dim italic")
            self.add_option(Option(t, id=str(i)))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        ws = getattr(self, "_warnings", ())
        idx = event.option_index
        self.post_message(self.Selected(ws[idx] if 0 <= idx < len(ws) else None))

    def on_blur(self) -> None:
        pass


def explain_text(plan: Plan | None, lines: tuple[str, ...]) -> Text:
    t = Text()
    if plan is None:
        t.append("No plan yet.", "dim")
        return t
    r = plan.request
    t.append(f"{r.ranks} rank(s) · strategy {r.strategy} · SMT {r.smt} · places {r.places} · bind {r.bind}\n\n", "bold")
    for line in lines:
        t.append("• ", "bold")
        t.append(line + "\n")
    return t


def pu_info_text(topo: Topology, plan: Plan | None, cpus: CpuSet, pu: int | None) -> Text:
    """Details of the hovered cell: one PU, or a folded group of PUs."""
    t = Text()
    if not cpus:
        t.append("Hover a PU for details; click it to toggle reserved.", "dim")
        return t
    owners = plan.owner_map() if plan is not None else {}
    if pu is not None and topo.has_pu(pu):
        p = topo.pu(pu)
        t.append(f"PU P#{p.os_index}", "bold")
        t.append(f"  L#{p.logical_index if p.logical_index is not None else '-'}\n")
        where = []
        if p.core is not None:
            where.append(f"core L#{p.core}")
        if p.l3 is not None:
            where.append(f"L3 #{p.l3}")
        if p.numa is not None:
            where.append(f"NUMA {p.numa}")
        if p.package is not None:
            where.append(f"package {p.package}")
        if p.kind:
            where.append(f"kind {p.kind}")
        t.append(", ".join(where) + "\n")
        state = []
        if not p.online:
            state.append("offline")
        elif not p.allowed:
            state.append("not allowed for this process")
        if plan is not None and pu in plan.request.reserve:
            state.append("reserved")
        sib = topo.siblings(pu) if p.online else CpuSet()
        if len(sib) > 1:
            state.append("SMT siblings " + sib.to_list())
        if state:
            t.append(", ".join(state) + "\n")
        ranks = owners.get(pu, ())
        if plan is not None and ranks:
            for w in plan.workers:
                if w.rank in ranks:
                    rt = plan.request.runtime
                    thr = [tp.thread for tp in w.threads(rt) if pu in tp.cpus]
                    t.append(f"rank {w.rank}", rank_style(w.rank))
                    name = "libgomp" if rt == "gnu" else "LLVM"
                    t.append(f" threads {CpuSet(thr).to_list() or 'none'} ({name})\n" if thr else " (no thread here)\n")
        elif plan is not None:
            t.append("not used by any rank\n", "dim")
        return t
    t.append(f"{len(cpus)} PUs: ", "bold")
    t.append(_clip(cpus.to_list(), 60) + "\n")
    ranks = sorted({r for c in cpus for r in owners.get(c, ())})
    if ranks:
        t.append("ranks " + _clip(CpuSet(ranks).to_list(), 40) + "\n")
    return t


def worker_env_text(worker: Worker | None, error: str | None = None) -> Text:
    """The selected worker's full environment (OMP_PLACES unabridged) and its equivalents."""
    t = Text()
    if error:
        t.append(error + "\n\n", "bold red")
    if worker is None:
        t.append("No worker selected.", "dim")
        return t
    t.append(f"rank {worker.rank}", rank_style(worker.rank))
    t.append(f"  {len(worker.cpus)} CPUs: {worker.cpus.to_list()}\n")
    if not worker.env:
        t.append("no OpenMP variables (not bound)\n", "italic")
    for k, v in worker.env:
        t.append(k, "bold")
        t.append(f"={v}\n")
    for k, v in worker.alt_env:
        t.append(k, "dim bold")
        t.append(f"={v}\n", "dim")
    return t
