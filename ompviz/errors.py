"""The one exception type for user-facing errors."""


class OmpvizError(Exception):
    """An error the user can fix: carries one line saying what is wrong and how to fix it.

    The CLI prints ``str(err)`` and exits 2; the TUI shows it as a notification. Library code raises it
    instead of printing or exiting.
    """

    def __init__(self, message: str) -> None:
        # Keep it one line whatever the caller passed: the CLI contract is one clear line.
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return str(self)
