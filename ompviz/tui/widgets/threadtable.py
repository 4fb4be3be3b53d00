"""Live tables: one row per thread (planned vs actual binding and its verdict) and one row per worker (state,
throughput, verdict). They only display what ompviz.live computed (samples, verdicts)."""

from __future__ import annotations

import signal
from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable

from ompviz.live.sampler import Sample, WorkerSample
from ompviz.live.verify import RunVerdict, ThreadVerdict
from ompviz.tui.widgets.topomap import rank_style

# ANSI colour names: every terminal and every theme maps them to something readable.
VERDICT_STYLE = {
    "ok": "bold green",
    "wider": "bold yellow",
    "outside": "bold red",
    "different": "bold red",
    "unplanned": "bold red",
    "unknown": "dim",
    "mismatch": "bold red",
    "unverified": "bold yellow",
}
SPARKS = "▁▂▃▄▅▆▇█"


def verdict_text(verdict: str) -> Text:
    icon = "✔ " if verdict == "ok" else ("· " if verdict == "unknown" else "✖ ")
    return Text(icon + verdict, VERDICT_STYLE.get(verdict, ""))


def rate_text(x: float | None) -> str:
    """Iterations per second with an SI suffix (the kernel's rates span 1e3..1e10)."""
    if x is None:
        return "—"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.2f}{suffix}"
    return f"{x:.0f}"


def last_rate(history: Sequence[float | None]) -> float | None:
    """The last throughput a worker reported while it ran (None: it reported none)."""
    return next((v for v in reversed(history) if v is not None), None)


def signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def state_text(ws: WorkerSample | None) -> Text:
    """running / stopped / killed by SIGKILL / exit N — a dead worker says how it died."""
    if ws is None:
        return Text("not started", "dim")
    if ws.alive:
        return Text("running", "green")
    if ws.stopped:
        return Text("stopped by ompviz", "dim")
    if ws.exit_signal is not None:
        return Text(f"✝ killed by {signal_name(ws.exit_signal)}", "bold red")
    return Text(f"exited {ws.exit_code}", "bold" if ws.exit_code == 0 else "bold red")


def sparkline(values: Sequence[float | None], width: int = 12) -> str:
    vals = list(values)[-width:]
    known = [v for v in vals if v is not None]
    if not known:
        return ""
    top = max(known) or 1.0
    return "".join(" " if v is None else SPARKS[min(len(SPARKS) - 1, int(v / top * (len(SPARKS) - 1)))] for v in vals)


def rebuild_table(table: DataTable, columns, rows: list[tuple[str, tuple]]) -> tuple[str, ...]:
    """Refill the table, keeping its scroll position. Column widths are computed here from the current content:
    DataTable's own auto widths only ever grow and are settled lazily, which made the view depend on timing."""
    x, y = table.scroll_offset
    table.clear(columns=True)
    for i, (label, key) in enumerate(columns):
        width = max([cell_len(label)] + [cell_len(str(cells[i])) for _, cells in rows])
        table.add_column(label, key=key, width=width)
    for key, cells in rows:
        table.add_row(*cells, key=key)
    table.scroll_to(x, y, animate=False, immediate=True)
    return tuple(k for k, _ in rows)


def thread_key(tv: ThreadVerdict) -> str:
    return f"{tv.rank}:{tv.tid}" if tv.tid is not None else f"{tv.rank}:omp{tv.omp_thread}"


class LiveThreadTable(DataTable):
    """rank, OpenMP thread, tid, planned place, allowed set, current CPU, CPU%, migrations, verdict."""

    COLUMNS = (
        ("Rank", "rank"),
        ("Thr", "thr"),
        ("TID", "tid"),
        ("Planned", "planned"),
        ("Allowed", "allowed"),
        ("CPU", "cpu"),
        ("CPU%", "pct"),
        ("Migr", "migr"),
        ("Verdict", "verdict"),
    )

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.verdicts: dict[str, ThreadVerdict] = {}
        self._keys: tuple[str, ...] = ()

    def show(self, verdict: RunVerdict | None, sample: Sample | None) -> None:
        """Rows from the verdicts (each worker's steady state); CPU and CPU% from the current sample."""
        now = {w.rank: w for w in sample.workers} if sample is not None else {}
        rows: list[tuple[str, tuple]] = []
        self.verdicts = {}
        for wv in verdict.workers if verdict is not None else ():
            ws = now.get(wv.rank)
            ended = None
            if ws is not None and not ws.alive:  # stopped by ompviz is an end, not a death
                ended = Text("stopped", "dim") if ws.stopped else Text("dead", "bold red")
            for tv in wv.threads:
                key = thread_key(tv)
                self.verdicts[key] = tv
                rows.append((key, self._cells(tv, ended)))
        cursor_key = self._keys[self.cursor_row] if 0 <= self.cursor_row < len(self._keys) else None
        self._keys = rebuild_table(self, self.COLUMNS, rows)
        if cursor_key in self._keys:
            self.move_cursor(row=self._keys.index(cursor_key), animate=False, scroll=False)

    @staticmethod
    def _cells(tv: ThreadVerdict, ended: Text | None) -> tuple:
        s = tv.sample
        if tv.planned is None:
            planned = "—"
        elif tv.planned_place is None:
            planned = f"unbound {{{tv.planned}}}"
        else:
            planned = f"p{tv.planned_place} {{{tv.planned}}}"
        if ended is not None:
            cpu: Text | str = ended
            pct = "—"
        else:
            cpu = "—" if s is None or s.cpu is None else str(s.cpu)
            pct = "—" if s is None else f"{s.cpu_percent:.0f}"
        verdict = verdict_text(tv.verdict)
        if tv.detail and tv.verdict != "ok":
            verdict.append(f"  {tv.detail}", "dim")
        return (
            Text(f" {tv.rank} ", rank_style(tv.rank)),
            "?" if tv.omp_thread is None else str(tv.omp_thread),
            "(report)" if tv.tid is None else str(tv.tid),
            planned,
            f"{{{tv.allowed}}}",
            cpu,
            pct,
            "—" if s is None else str(s.migrations),
            verdict,
        )

    def selected(self) -> ThreadVerdict | None:
        if 0 <= self.cursor_row < len(self._keys):
            return self.verdicts.get(self._keys[self.cursor_row])
        return None


class LiveWorkerTable(DataTable):
    """rank, pid, state, team (seen/expected), throughput now and its trend, verdict. A worker that ended keeps
    the last throughput it reported while running (dim): the run's numbers stay readable after a stop."""

    COLUMNS = (
        ("Rank", "rank"),
        ("PID", "pid"),
        ("State", "state"),
        ("Team", "team"),
        ("iter/s", "rate"),
        ("trend", "trend"),
        ("Verdict", "verdict"),
    )

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="none", zebra_stripes=True)
        self._keys: tuple[str, ...] = ()

    def show(
        self,
        verdict: RunVerdict | None,
        sample: Sample | None,
        history: dict[int, Sequence[float | None]] | None = None,
    ) -> None:
        now = {w.rank: w for w in sample.workers} if sample is not None else {}
        history = history or {}
        rows = []
        for wv in verdict.workers if verdict is not None else ():
            ws = now.get(wv.rank)
            team = f"{'?' if wv.team_size is None else wv.team_size}/{wv.expected_team}"
            if ws is not None and not ws.alive:
                rate: Text | str = Text(rate_text(last_rate(history.get(wv.rank, ()))), "dim")
            else:
                rate = rate_text(None if ws is None else ws.throughput)
            rows.append(
                (
                    str(wv.rank),
                    (
                        Text(f" {wv.rank} ", rank_style(wv.rank)),
                        "—" if ws is None else str(ws.pid),
                        state_text(ws),
                        team,
                        rate,
                        sparkline(history.get(wv.rank, ())),
                        verdict_text(wv.verdict),
                    ),
                )
            )
        self._keys = rebuild_table(self, self.COLUMNS, rows)
