"""The request form: one control per PlanRequest field. Emits a new PlanRequest on every valid change.

Validation is the core's own parsing (``parse_list``); invalid text marks the field and shows the one-line error
under it, and no request is sent until it is fixed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select, Static

from ompviz.commands.common import VLLM_VARS
from ompviz.cpuset import CpuSet, parse_list
from ompviz.errors import OmpvizError
from ompviz.plan.model import (
    BIND_POLICIES,
    NOTATIONS,
    PLACES,
    RUNTIMES,
    SMT_POLICIES,
    STRATEGIES,
    PlanRequest,
)

CHOICES = {
    "strategy": STRATEGIES,
    "smt": SMT_POLICIES,
    "places": PLACES,
    "notation": NOTATIONS,
    "bind": BIND_POLICIES,
    "runtime": RUNTIMES,
}
LABELS = {
    "ranks": "Ranks",
    "threads": "Threads",
    "strategy": "Strategy",
    "smt": "SMT",
    "places": "Places",
    "notation": "Notation",
    "bind": "Bind",
    "runtime": "Runtime",
    "reserve": "Reserve",
    "cpus": "Lists",
}


class Controls(VerticalScroll):
    """Compact form; the app owns the request and calls ``show_request`` after every replan."""

    @dataclass
    class RequestChanged(Message):
        request: PlanRequest

    def __init__(self, request: PlanRequest, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.request = request
        self._errors: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        r = self.request
        yield self._row("ranks", Input(str(r.ranks), id="ctl-ranks", compact=True, type="integer"))
        yield self._row(
            "threads",
            Input("auto" if r.threads is None else str(r.threads), id="ctl-threads", compact=True),
        )
        for name, options in CHOICES.items():
            yield self._row(
                name,
                Select(
                    [(o, o) for o in options],
                    value=getattr(r, name),
                    allow_blank=False,
                    compact=True,
                    id=f"ctl-{name}",
                ),
            )
        yield self._row("reserve", Input(r.reserve.to_list(), placeholder="e.g. 0-1", id="ctl-reserve", compact=True))
        yield Static("", id="err-reserve", classes="ctl-error")
        yield self._row(
            "cpus",
            Input(r.cpus or "", placeholder="0-31|32-63", id="ctl-cpus", compact=True),
            classes="only-manual",
        )
        vv = dict(r.vllm_vars)
        for var in VLLM_VARS:
            yield Label(var, classes="only-vllm vllm-name")
            yield Input(vv.get(var, ""), placeholder="(unset)", id=f"ctl-{var}", compact=True, classes="only-vllm")
        yield Static("", id="err-form", classes="ctl-error")

    def _row(self, name: str, widget, classes: str = "") -> Horizontal:
        return Horizontal(Label(LABELS[name], classes="ctl-label"), widget, classes=f"ctl-row {classes}".strip())

    def on_mount(self) -> None:
        self._show_mode(self.request.strategy)

    def _show_mode(self, strategy: str) -> None:
        self.set_class(strategy == "manual", "-manual")
        self.set_class(strategy == "vllm", "-vllm")

    # -- app -> form -----------------------------------------------------------------------------
    def show_request(self, request: PlanRequest) -> None:
        """Reflect a request (from keys, mouse or a loaded config) without echoing change messages back."""
        self.request = request
        with self.prevent(Input.Changed, Select.Changed):
            self._set_input("ctl-ranks", str(request.ranks), "ranks")
            self._set_input("ctl-threads", "auto" if request.threads is None else str(request.threads), "threads")
            for name in CHOICES:
                sel = self.query_one(f"#ctl-{name}", Select)
                if sel.value != getattr(request, name):
                    sel.value = getattr(request, name)
            self._set_input("ctl-reserve", request.reserve.to_list(), "reserve")
            self._set_input("ctl-cpus", request.cpus or "", "cpus")
            vv = dict(request.vllm_vars)
            for var in VLLM_VARS:
                self._set_input(f"ctl-{var}", vv.get(var, ""), var)
        self._show_mode(request.strategy)

    def _set_input(self, wid: str, text: str, field_name: str) -> None:
        inp = self.query_one(f"#{wid}", Input)
        if field_name in self._errors:
            return  # keep what the user is typing while it is invalid
        if inp.value != text:
            inp.value = text

    # -- form -> app -----------------------------------------------------------------------------
    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        name = (event.select.id or "").removeprefix("ctl-")
        if name in CHOICES and event.value != getattr(self.request, name):
            self._emit(dataclasses.replace(self.request, **{name: event.value}))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        wid = (event.input.id or "").removeprefix("ctl-")
        value = event.value.strip()
        try:
            kw = self._parse(wid, value)
        except OmpvizError as e:
            self._set_error(wid, event.input, str(e))
            return
        self._set_error(wid, event.input, None)
        new = dataclasses.replace(self.request, **kw)
        if new != self.request:
            self._emit(new)

    def _parse(self, wid: str, value: str) -> dict:
        if wid == "ranks":
            try:
                n = int(value)
            except ValueError:
                raise OmpvizError("ranks: give a whole number, at least 1") from None
            if n < 1:
                raise OmpvizError("ranks: need at least 1 rank")
            return {"ranks": n}
        if wid == "threads":
            if value.lower() in ("", "auto"):
                return {"threads": None}
            try:
                t = int(value)
            except ValueError:
                raise OmpvizError("threads: give a whole number or 'auto'") from None
            if t < 1:
                raise OmpvizError("threads: need at least 1 thread, or 'auto'")
            return {"threads": t}
        if wid == "reserve":
            try:
                return {"reserve": _empty_or(value)}
            except OmpvizError as e:
                raise OmpvizError(f"reserve: {e}") from None
        if wid == "cpus":
            return {"cpus": value or None}
        if wid in VLLM_VARS:
            vv = dict(self.request.vllm_vars)
            if value:
                vv[wid] = value
            else:
                vv.pop(wid, None)
            return {"vllm_vars": tuple((k, vv[k]) for k in VLLM_VARS if k in vv)}
        return {}

    def _set_error(self, wid: str, inp: Input, message: str | None) -> None:
        inp.set_class(message is not None, "-invalid")
        if message is None:
            self._errors.pop(wid, None)
        else:
            self._errors[wid] = message
        target = self.query_one("#err-reserve" if wid == "reserve" else "#err-form", Static)
        relevant = [m for k, m in self._errors.items() if (k == "reserve") == (wid == "reserve")]
        target.update("\n".join(relevant))
        target.set_class(bool(relevant), "-shown")

    @property
    def errors(self) -> dict[str, str]:
        return dict(self._errors)

    def _emit(self, request: PlanRequest) -> None:
        self.request = request
        self._show_mode(request.strategy)
        self.post_message(self.RequestChanged(request))


def _empty_or(value: str) -> CpuSet:
    return CpuSet() if not value else parse_list(value)
