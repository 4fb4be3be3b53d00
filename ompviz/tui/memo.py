"""Results of pure functions of immutable objects, remembered by the objects' identity.

The explorer derives what its widgets show (table rows, environment text, folded lines) from immutable plans and
workers. Those hash and compare by value, over every field: too slow for a lookup on each key press, and never
needed, since the plan cache (ompviz.tui.plancache) hands out the same objects for the same request. So the look-ahead
can prepare the rows and texts of a plan it made ahead, and the key press that shows it finds them ready.
No Textual import.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class IdentityMemo(Generic[T]):
    """The last ``size`` results of ``make()``, by the identity of ``objects`` and the value of ``values``.

    The objects are kept with their entry, so their ids cannot be reused by other objects while it exists. The
    default size covers what the explorer's look-ahead prepares after one change (at most twelve requests, see
    ompviz.tui.plancache.PlanCache) and the plan shown; more would keep plans alive that the plan cache has already
    let go (270 KiB each at 4,096 PUs)."""

    def __init__(self, size: int = 13) -> None:
        if size < 1:
            raise ValueError("an identity memo holds at least one result")
        self._size = size
        self._entries: OrderedDict[tuple, tuple[tuple, T]] = OrderedDict()

    def get(self, objects: tuple, values: tuple[Hashable, ...], make: Callable[[], T]) -> T:
        key = (*map(id, objects), *values)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry[1]
        result = make()
        self._entries[key] = (objects, result)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return result

    def __len__(self) -> int:
        return len(self._entries)

    def results(self) -> list[T]:
        """The results kept, oldest first."""
        return [result for _, result in self._entries.values()]

    def clear(self) -> None:
        self._entries.clear()
