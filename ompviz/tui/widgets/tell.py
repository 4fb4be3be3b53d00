"""Notices from the explorer's widgets to the app, answered in the frame that shows the widget's own change."""

from __future__ import annotations

import inspect

from textual.message import Message
from textual.widget import Widget


def tell_app(widget: Widget, message: Message) -> None:
    """Hand ``message`` to the app's handler for it now, instead of posting it up the DOM.

    Textual paints once the screen is idle, at most 60 times a second. A message bubbling up to the app let the
    screen paint the widget's own change first (a row cursor, a hovered cell, an edited field) and the app's answer
    to it (the new plan, the selected worker's threads, the PU's details) one frame later. Handled here, both are
    painted in the same frame. Without a plain (not async) handler on the app, the message is posted as usual.
    """
    handler = getattr(widget.app, message.handler_name, None)
    if handler is None or inspect.iscoroutinefunction(handler):
        widget.post_message(message)
    else:
        handler(message)
