"""ompviz.records: the generated fast constructors equal the dataclasses' own, and refuse what they cannot build."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field

import pytest

from ompviz.cpuset import CpuSet
from ompviz.live.launcher import OutputSnapshot, Rate
from ompviz.live.sampler import Sample, ThreadSample, WorkerSample
from ompviz.plan.model import ThreadPlacement
from ompviz.records import maker, setters


@pytest.mark.parametrize("cls", [ThreadPlacement, Rate, OutputSnapshot, ThreadSample, WorkerSample, Sample])
def test_made_objects_equal_the_dataclass_constructor(cls):
    names = [f.name for f in dataclasses.fields(cls)]
    values = [(i, CpuSet([i])) if i % 2 else f"v{i}" for i in range(len(names))]  # distinct per field
    make = maker(cls)
    made, built = make(*values), cls(*values)
    assert type(made) is cls and made == built and repr(made) == repr(built) and hash(made) == hash(built)
    assert [getattr(made, n) for n in names] == values  # each value in its own field
    assert make(**dict(zip(names, values, strict=True))) == built  # by name too
    assert pickle.loads(pickle.dumps(made)) == built
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, names[0], None)
    with pytest.raises(TypeError):
        make(*values[:-1])  # every field must be given


def test_setters_fill_fields_in_order():
    o = object.__new__(Rate)
    for s, v in zip(setters(Rate), (3, 1.5, 9.0), strict=True):
        s(o, v)
    assert o == Rate(3, 1.5, 9.0)


def test_refuses_what_a_fast_constructor_would_get_wrong():
    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            raise ValueError

    @dataclass(frozen=True, slots=True)
    class Derived:
        a: int
        b: int = field(init=False, default=0)

    @dataclass(frozen=True, slots=True)
    class Clash:
        o: int

    for cls in (NoSlots, NotFrozen, Checked, Derived, Clash, int):
        with pytest.raises(TypeError):
            maker(cls)
