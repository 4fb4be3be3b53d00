"""IdentityMemo (ompviz.tui.memo): results by the identity of immutable objects and the value of plain values."""

from __future__ import annotations

import gc

import pytest

from ompviz.tui.memo import IdentityMemo


class Thing:
    """Equal to every other Thing: a memo by value would mix them up."""

    def __eq__(self, other) -> bool:
        return isinstance(other, Thing)

    def __hash__(self) -> int:
        return 0


def test_same_object_same_values_is_made_once():
    memo: IdentityMemo[list] = IdentityMemo()
    made = []
    a = Thing()

    def make():
        made.append(1)
        return ["result"]

    first = memo.get((a,), ("gnu",), make)
    assert memo.get((a,), ("gnu",), make) is first
    assert len(made) == 1
    memo.get((a,), ("llvm",), make)  # another value: another result
    assert len(made) == 2


def test_equal_but_different_objects_are_different_keys():
    memo: IdentityMemo[str] = IdentityMemo()
    a, b = Thing(), Thing()
    assert a == b
    assert memo.get((a,), (), lambda: "a") == "a"
    assert memo.get((b,), (), lambda: "b") == "b"
    assert memo.get((None,), (), lambda: "none") == "none"  # no object (no worker selected) is a key too
    assert memo.get((None,), (), lambda: "other") == "none"


def test_objects_are_kept_so_their_ids_are_not_reused():
    memo: IdentityMemo[int] = IdentityMemo(size=4)
    memo.get((Thing(),), (), lambda: 1)  # the only reference is the memo's
    gc.collect()
    fresh = [Thing() for _ in range(50)]  # would likely reuse the freed id, were it freed
    assert all(memo.get((t,), (), lambda: 2) == 2 for t in fresh[:3])


def test_oldest_entries_go_first_and_size_is_checked():
    memo: IdentityMemo[int] = IdentityMemo(size=2)
    a, b, c = Thing(), Thing(), Thing()
    memo.get((a,), (), lambda: 1)
    memo.get((b,), (), lambda: 2)
    memo.get((a,), (), lambda: 0)  # a is now the most recent
    memo.get((c,), (), lambda: 3)  # b goes
    assert len(memo) == 2
    assert memo.get((a,), (), lambda: -1) == 1
    assert memo.get((b,), (), lambda: -2) == -2
    with pytest.raises(ValueError):
        IdentityMemo(size=0)


def test_results_oldest_first_and_clear():
    memo: IdentityMemo[dict] = IdentityMemo(size=2)
    a, b, c = object(), object(), object()
    ra = memo.get((a,), (), dict)
    rb = memo.get((b,), (), dict)
    assert memo.results() == [ra, rb] and memo.results()[0] is ra
    memo.get((a,), (), dict)  # a is now the most recent
    rc = memo.get((c,), (), dict)  # b goes
    assert [id(r) for r in memo.results()] == [id(ra), id(rc)]
    memo.clear()
    assert len(memo) == 0 and memo.results() == []
