"""The request form: every PlanRequest field in one line-drawn widget. Emits a new PlanRequest on every valid change.

Validation is the core's own parsing (``parse_list``); invalid text marks the field and shows the one-line error
under it, and no request is sent until it is fixed.
"""

from __future__ import annotations

import dataclasses
import textwrap

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip

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
from ompviz.tui.widgets.tell import tell_app
from ompviz.tui.widgets.topomap import LineScrollView

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


TEXT_FIELDS = ("ranks", "threads", "reserve", "cpus", *VLLM_VARS)
PLACEHOLDERS = {"reserve": "e.g. 0-1", "cpus": "0-31|32-63", **{v: "(unset)" for v in VLLM_VARS}}
LABEL_WIDTH = 9


def _request_texts(r: PlanRequest) -> dict[str, str]:
    vv = dict(r.vllm_vars)
    out = {
        "ranks": str(r.ranks),
        "threads": "auto" if r.threads is None else str(r.threads),
        "reserve": r.reserve.to_list(),
        "cpus": r.cpus or "",
    }
    out.update({v: vv.get(v, "") for v in VLLM_VARS})
    return out


class Controls(LineScrollView, can_focus=True):
    """The request form as ONE line-drawn widget (GUIDE §2: one widget, not one per field).

    Rows: text fields (ranks, threads, reserve, manual lists, vLLM variables) edited in place, and choice fields
    (strategy, SMT, places, notation, bind, runtime) cycled with left/right/space/enter or a click. up/down move
    between fields. Invalid text is marked and explained under the form; no request is sent until it is fixed.
    """

    DEFAULT_CSS = """
    Controls { height: auto; background: $surface; }
    Controls > .controls--label { color: $text-muted; }
    Controls > .controls--input { background: $boost; }
    Controls > .controls--placeholder { color: $text-disabled; background: $boost; }
    Controls > .controls--invalid { background: $error-muted; color: $text-error; }
    Controls > .controls--hint { color: $text-muted; }
    Controls > .controls--current { background: $block-cursor-blurred-background; }
    Controls:focus > .controls--current { background: $block-cursor-background; color: $block-cursor-foreground; }
    Controls > .controls--error { color: $text-error; }
    """
    COMPONENT_CLASSES = {
        "controls--label",
        "controls--input",
        "controls--placeholder",
        "controls--invalid",
        "controls--hint",
        "controls--current",
        "controls--error",
    }

    class RequestChanged(Message):
        def __init__(self, request: PlanRequest) -> None:
            super().__init__()
            self.request = request

    class FieldSelected(Message):
        """Another field is current: the requests its next key can send changed (see ``requests_one_key_away``)."""

    def __init__(self, request: PlanRequest, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.request = request
        self._texts = _request_texts(request)
        self._errors: dict[str, str] = {}
        self.extra_error: str | None = None  # e.g. the planner's refusal, shown with the form's own errors
        self.current = "ranks"
        self._caret = len(self._texts["ranks"])
        self._lines: list[tuple[str, str | None, str]] | None = None  # (kind, field, text)
        self._painted: dict[int, tuple] = {}  # line index -> _line_key it was last drawn with

    # -- geometry --------------------------------------------------------------------------------
    def fields(self) -> list[str]:
        """The fields shown for the current strategy, in order."""
        out = ["ranks", "threads", *CHOICES, "reserve"]
        if self.request.strategy == "manual":
            out.append("cpus")
        if self.request.strategy == "vllm":
            out += VLLM_VARS
        return out

    def _layout(self) -> list[tuple[str, str | None, str]]:
        if self._lines is None:
            width = max(self.scrollable_content_region.width, 12)
            lines: list[tuple[str, str | None, str]] = []
            for f in self.fields():
                if f in VLLM_VARS:
                    lines.append(("name", None, f))
                lines.append(("field", f, ""))
                if f == "reserve" and "reserve" in self._errors:
                    lines += [("error", None, t) for t in _wrap(self._errors["reserve"], width)]
            msgs = [m for k, m in self._errors.items() if k != "reserve"]
            if self.extra_error:
                msgs.append(self.extra_error)
            for m in msgs:
                lines += [("error", None, t) for t in _wrap(m, width)]
            self._lines = lines
            # Only the height is content-sized (height: auto); a width here would make every resize a relayout.
            self.virtual_size = Size(0, len(lines))
        return self._lines

    def _changed(self) -> None:
        before = self._lines
        self._lines = None
        lines = self._layout()
        if before is None or len(lines) != len(before):
            # a relayout repaints the whole screen: only ask for one when the form grows or shrinks
            self.refresh(layout=True)
            return
        # Repaint only the lines that now look different (a key press changes one field).
        top = self.scroll_offset.y
        for i in range(top, min(top + self.size.height, len(lines))):
            if self._painted.get(i) != self._line_key(i, lines):
                self.refresh_lines(i)

    def _line_key(self, index: int, lines: list[tuple[str, str | None, str]]) -> tuple:
        """Everything render_line draws line ``index`` from (its width and styles aside: changing those repaints
        the whole widget anyway)."""
        kind, name, text = lines[index]
        if kind != "field" or name is None:
            return (kind, text)
        current = name == self.current
        if name in CHOICES:
            return (name, getattr(self.request, name), current)
        focus = current and self.has_focus
        return (name, self._texts[name], current, focus, self._caret if focus else 0, name in self._errors)

    def on_resize(self) -> None:
        self._changed()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.refresh()

    # -- drawing ---------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        lines = self._layout()
        _, scroll_y, width = self.line_box()
        index = scroll_y + y
        if index >= len(lines):
            return Strip.blank(width, self.base_style)
        self._painted[index] = self._line_key(index, lines)
        kind, field_name, text = lines[index]
        cs = self.component_style
        if kind == "name":
            return Strip([Segment(text[:width], cs("controls--hint"))]).extend_cell_length(width, self.base_style)
        if kind == "error":
            return Strip([Segment(text, cs("controls--error"))]).extend_cell_length(width, self.base_style)
        assert field_name is not None
        vw = width - LABEL_WIDTH
        label = LABELS.get(field_name, "")
        segs = [Segment((label if field_name not in VLLM_VARS else "").ljust(LABEL_WIDTH), cs("controls--label"))]
        current = field_name == self.current
        if field_name in CHOICES:
            value = getattr(self.request, field_name)
            style = cs("controls--current") if current else self.base_style
            segs.append(Segment(value[: vw - 2].ljust(vw - 2), style))
            segs.append(Segment("◂▸", cs("controls--hint") + (style if current else Style())))
        else:
            value = self._texts[field_name]
            if field_name in self._errors:
                style = cs("controls--invalid")
            elif current:
                style = cs("controls--current")
            else:
                style = cs("controls--input")
            if not value and not (current and self.has_focus):
                segs.append(Segment(PLACEHOLDERS.get(field_name, "")[:vw].ljust(vw), cs("controls--placeholder")))
            elif current and self.has_focus:
                caret = min(self._caret, len(value))
                start = max(0, caret - vw + 1)  # keep the caret visible in long lists
                shown = value[start : start + vw]
                c = caret - start
                segs.append(Segment(shown[:c], style))
                segs.append(Segment(shown[c : c + 1] or " ", style + Style(reverse=True)))
                segs.append(Segment(shown[c + 1 :].ljust(vw - c - 1), style))
            else:
                shown = value if len(value) <= vw else value[: vw - 1] + "…"
                segs.append(Segment(shown.ljust(vw), style))
        return Strip(segs).crop_extend(0, width, self.base_style)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- keys and mouse --------------------------------------------------------------------------
    def select_field(self, name: str) -> None:
        if name in self.fields():
            moved = name != self.current
            self.current = name
            self._caret = len(self._texts.get(name, ""))
            self._scroll_to_current()
            self.refresh()
            if moved:
                self.post_message(self.FieldSelected())

    def _scroll_to_current(self) -> None:
        for i, (kind, f, _) in enumerate(self._layout()):
            if kind == "field" and f == self.current:
                self.scroll_to_region(Region(0, i, 1, 1), animate=False)
                return

    def _move(self, delta: int) -> None:
        fs = self.fields()
        i = fs.index(self.current) if self.current in fs else 0
        self.select_field(fs[min(max(i + delta, 0), len(fs) - 1)])

    def _cycle(self, name: str, delta: int) -> None:
        self._emit(self._cycled(name, delta))

    def _cycled(self, name: str, delta: int) -> PlanRequest:
        """The request with choice field ``name`` moved ``delta`` options on (wrapping around)."""
        options = CHOICES[name]
        cur = getattr(self.request, name)
        i = options.index(cur) if cur in options else 0
        return dataclasses.replace(self.request, **{name: options[(i + delta) % len(options)]})

    def _field(self) -> str:
        """The field keys go to."""
        return self.current if self.current in self.fields() else "ranks"

    @property
    def typing(self) -> bool:
        """Whether keys go to a text field, which takes every printable character (a choice field leaves the
        app's planning keys to the app)."""
        return self._field() not in CHOICES

    def _edited(self, name: str, key: str, char: str | None) -> tuple[str, int] | None:
        """Text field ``name``'s text and caret after ``key`` edits it; None when the key edits nothing."""
        text, caret = self._texts[name], min(self._caret, len(self._texts[name]))
        if char is not None and key != "tab":
            return text[:caret] + char + text[caret:], caret + len(char)
        if key == "backspace" and caret > 0:
            return text[: caret - 1] + text[caret:], caret - 1
        if key == "delete" and caret < len(text):
            return text[:caret] + text[caret + 1 :], caret
        return None

    async def _on_key(self, event: events.Key) -> None:
        if self._handle_key(event.key, event.character if event.is_printable else None):
            event.stop()
            event.prevent_default()

    def _handle_key(self, key: str, char: str | None) -> bool:
        name = self._field()
        if key == "up":
            self._move(-1)
        elif key == "down":
            self._move(1)
        elif name in CHOICES:
            if key == "left":
                self._cycle(name, -1)
            elif key in ("right", "space", "enter"):
                self._cycle(name, 1)
            else:
                return False
        else:
            text, caret = self._texts[name], min(self._caret, len(self._texts[name]))
            edited = self._edited(name, key, char)
            if edited is not None:
                self.edit(name, *edited)
            elif key in ("left", "right", "home", "end"):
                self._caret = {"left": max(caret - 1, 0), "right": min(caret + 1, len(text)), "home": 0}.get(
                    key, len(text)
                )
                self.refresh()
            elif key in ("backspace", "delete", "enter"):
                pass  # nothing to delete / already applied while typing
            else:
                return False
        return True

    def _on_paste(self, event: events.Paste) -> None:
        name = self.current
        if name in TEXT_FIELDS and event.text:
            piece = event.text.splitlines()[0] if event.text.splitlines() else ""
            text, caret = self._texts[name], min(self._caret, len(self._texts[name]))
            self.edit(name, text[:caret] + piece + text[caret:], caret + len(piece))
            event.stop()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = self.scroll_offset.y + offset.y
        lines = self._layout()
        if not 0 <= index < len(lines):
            return
        kind, name, _ = lines[index]
        if kind == "name" and index + 1 < len(lines):
            kind, name, _ = lines[index + 1]
        if kind != "field" or name is None:
            return
        self.focus()
        if name in CHOICES and name == self.current and offset.x >= LABEL_WIDTH:
            self._cycle(name, 1)
        self.select_field(name)
        if name in TEXT_FIELDS and offset.x >= LABEL_WIDTH:
            self._caret = min(offset.x - LABEL_WIDTH, len(self._texts[name]))

    # -- app -> form -----------------------------------------------------------------------------
    def show_request(self, request: PlanRequest) -> None:
        """Reflect a request (from keys, mouse or a loaded config) without echoing change messages back."""
        self.request = request
        for name, text in _request_texts(request).items():
            if name not in self._errors and self._texts[name] != text:
                self._texts[name] = text  # keep what the user is typing while it is invalid
                if name == self.current:
                    self._caret = len(text)
        if self.current not in self.fields():
            self.current = "reserve"
        self._changed()

    def set_extra_error(self, message: str | None) -> None:
        if message != self.extra_error:
            self.extra_error = message
            self._changed()

    def text(self, name: str) -> str:
        """What the field shows (text fields: what was typed; choices: the request's value)."""
        return getattr(self.request, name) if name in CHOICES else self._texts[name]

    def is_invalid(self, name: str) -> bool:
        return name in self._errors

    def error_lines(self) -> list[str]:
        return [t for kind, _, t in self._layout() if kind == "error"]

    # -- form -> app -----------------------------------------------------------------------------
    def edit(self, name: str, value: str, caret: int | None = None) -> None:
        """Set a text field as if typed: validated at once, a valid change is sent as a new request."""
        self._texts[name] = value
        self._caret = len(value) if caret is None else caret
        try:
            kw = self._parse(name, value.strip())
        except OmpvizError as e:
            self._errors[name] = str(e)
            self._changed()
            return
        self._errors.pop(name, None)
        self._changed()
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

    def requests_one_key_away(self) -> list[PlanRequest]:
        """The requests the next key in the current field can send (the explorer plans them while the user is
        quiet), most likely first: a choice field's next and previous value; in the ranks and threads fields, the
        character before the caret deleted, the one after it deleted, then each digit typed at the caret. Other
        text fields (CPU lists, vLLM variables): none, there are too many keys to guess from."""
        name = self._field()
        if name in CHOICES:
            cur = getattr(self.request, name)
            nearby = [self._cycled(name, 1), self._cycled(name, -1)]
            return [r for r in dict.fromkeys(nearby) if getattr(r, name) != cur]
        if name not in ("ranks", "threads"):
            return []
        keys = [("backspace", None), ("delete", None), *((digit, digit) for digit in "0123456789")]
        texts = [edited[0] for key, char in keys if (edited := self._edited(name, key, char)) is not None]
        out: list[PlanRequest] = []
        for candidate in texts:
            try:
                kw = self._parse(name, candidate.strip())
            except OmpvizError:
                continue
            request = dataclasses.replace(self.request, **kw)
            if request != self.request and request not in out:
                out.append(request)
        return out

    @property
    def errors(self) -> dict[str, str]:
        return dict(self._errors)

    def _emit(self, request: PlanRequest) -> None:
        self.request = request
        self._changed()
        tell_app(self, self.RequestChanged(request))  # the field and the new plan are painted in one frame


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width) or [""]


def _empty_or(value: str) -> CpuSet:
    return CpuSet() if not value else parse_list(value)
