"""Fast constructors for the frozen slots dataclasses built in hot loops (thread placements, live samples).

A frozen dataclass's generated ``__init__`` sets each field through ``object.__setattr__`` (it must bypass its own
``__setattr__``), about twice the cost of setting the slots directly. A 4,096-PU plan makes thousands of
ThreadPlacements and the live sampler a ThreadSample per thread and sample, so those are made by ``maker(cls)``:
a function with the same positional parameters that sets the slots directly, generated once per class (as
dataclasses generates ``__init__``) so it follows the class's fields instead of a hand-kept copy of them.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from typing import Any


def setters(cls: type) -> tuple[Callable[[Any, Any], None], ...]:
    """Each field's slot setter, in field order, for code that fills an object of ``cls`` field by field."""
    if not dataclasses.is_dataclass(cls) or not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__} is not a frozen dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__ that a fast constructor would skip")
    out = []
    for f in dataclasses.fields(cls):
        slot = cls.__dict__.get(f.name)
        if not f.init or not isinstance(slot, types.MemberDescriptorType):
            raise TypeError(f"{cls.__name__}.{f.name} is not a slot set by __init__")
        out.append(slot.__set__)
    return tuple(out)


def maker(cls: type) -> Callable[..., Any]:
    """``make(*fields)`` equal to ``cls(*fields)`` (every field given, in order, by position or name), without the
    frozen ``__init__``. For frozen slots dataclasses without ``__post_init__``; anything else is a TypeError."""
    sets = setters(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    if any(n == "o" or n.startswith("_") for n in names):  # the generated function's own names
        raise TypeError(f"{cls.__name__}: a field is named 'o' or starts with '_'")
    body = "".join(f"    _set{i}(o, {n})\n" for i, n in enumerate(names))
    source = f"def make({', '.join(names)}):\n    o = _new(_cls)\n{body}    return o\n"
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    namespace.update({f"_set{i}": s for i, s in enumerate(sets)})
    exec(source, namespace)  # noqa: S102 - source built above from the class's own field names
    make = namespace["make"]
    make.__qualname__ = make.__name__ = f"make_{cls.__name__}"
    make.__doc__ = f"{cls.__name__}({', '.join(names)}) without the frozen __init__ (ompviz.records.maker)."
    return make
