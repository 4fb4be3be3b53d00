"""place_threads() / runtime_differs() / describe() on hand-worked cases and properties.

Expected values are worked out by hand from the runtimes' source (libgomp team.c gomp_team_start, LLVM
kmp_runtime.cpp __kmp_partition_places), written down next to each case. test_runtime_placement.py checks the same
function against the real runtimes.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ompviz.plan.runtime import (
    BINDS,
    RUNTIMES,
    caveats,
    default_bind,
    describe,
    effective_bind,
    place_threads,
    runtime_differs,
)

CASES = [
    # (runtime, bind, P, T, primary, expected places)
    # GUIDE §4: libgomp close T>P: s=T//P=2 per place, r=1 extra thread (4) back on place 0 -> {0,1,4}{2,3}
    ("gnu", "close", 2, 5, 0, (0, 0, 1, 1, 0)),
    # LLVM close T>P: S=2, rem=1, gap=P//rem=2; place 0 is the first "gap" place and takes S+1 -> {0,1,2}{3,4}
    ("llvm", "close", 2, 5, 0, (0, 0, 0, 1, 1)),
    # LLVM T=10, P=4: S=2, rem=2, gap=2: places 0 and 2 take 3 -> {0,1,2}{3,4}{5,6,7}{8,9}
    ("llvm", "close", 4, 10, 0, (0, 0, 0, 1, 1, 2, 2, 2, 3, 3)),
    # libgomp T=10, P=4: blocks of 2 for threads 0..7, then 8, 9 on places 0, 1
    ("gnu", "close", 4, 10, 0, (0, 0, 1, 1, 2, 2, 3, 3, 0, 1)),
    # libgomp T=7, P=3: blocks of 2 (0..5), thread 6 back on place 0
    ("gnu", "close", 3, 7, 0, (0, 0, 1, 1, 2, 2, 0)),
    # LLVM T=7, P=3: S=2, rem=1, gap=3: place 0 takes 3
    ("llvm", "close", 3, 7, 0, (0, 0, 0, 1, 1, 2, 2)),
    # GUIDE §4 spread T=3, P=16: libgomp sub-partitions 6,5,5 -> 0,6,11; LLVM floor(i*17/3) -> 0,5,11
    ("gnu", "spread", 16, 3, 0, (0, 6, 11)),
    ("llvm", "spread", 16, 3, 0, (0, 5, 11)),
    # spread T=3, P=7: libgomp 3,2,2 -> 0,3,5; LLVM floor(i*8/3) = 0, 2, 5
    ("gnu", "spread", 7, 3, 0, (0, 3, 5)),
    ("llvm", "spread", 7, 3, 0, (0, 2, 5)),
    # spread T=3, P=8: libgomp 3,3,2 -> 0,3,6; LLVM i*9/3 = 0,3,6
    ("gnu", "spread", 8, 3, 0, (0, 3, 6)),
    ("llvm", "spread", 8, 3, 0, (0, 3, 6)),
    # spread T>P is the close T>P rule in both runtimes
    ("gnu", "spread", 2, 5, 0, (0, 0, 1, 1, 0)),
    ("llvm", "spread", 2, 5, 0, (0, 0, 0, 1, 1)),
    # close T<=P from the primary's place, wrapping: P=4, primary 2 -> 2,3,0
    ("gnu", "close", 4, 3, 2, (2, 3, 0)),
    ("llvm", "close", 4, 3, 2, (2, 3, 0)),
    # libgomp spread T=2, P=4, primary on 1: sub-partitions [0,1] [2,3]; the primary stays on 1, thread 1 on 2
    ("gnu", "spread", 4, 2, 1, (1, 2)),
    # LLVM spread T=2, P=4, primary on 1: 1 + 2.5 = 3.5 -> 3
    ("llvm", "spread", 4, 2, 1, (1, 3)),
    # LLVM spread wrap-around: P=7, T=3, primary 5: 5, 7.67 -> 7-7 = 0, 10.33 -> 10-7 = 3
    ("llvm", "spread", 7, 3, 5, (5, 0, 3)),
    # libgomp close T>P from primary 2, P=3, T=7: blocks 2,2,2 from place 2, thread 6 back on place 2
    ("gnu", "close", 3, 7, 2, (2, 2, 0, 0, 1, 1, 2)),
    # primary: everyone on the primary's place
    ("gnu", "primary", 4, 3, 3, (3, 3, 3)),
    ("llvm", "primary", 4, 3, 1, (1, 1, 1)),
    # true: libgomp = close, LLVM = spread
    ("gnu", "true", 16, 3, 0, (0, 1, 2)),
    ("llvm", "true", 16, 3, 0, (0, 5, 11)),
    # false: not bound
    ("gnu", "false", 4, 3, 0, (None, None, None)),
    ("llvm", "false", 4, 2, 0, (None, None)),
    # one thread / no threads
    ("gnu", "spread", 5, 1, 3, (3,)),
    ("llvm", "close", 5, 0, 0, ()),
]


@pytest.mark.parametrize(("runtime", "bind", "places", "threads", "primary", "expected"), CASES)
def test_hand_worked_cases(runtime, bind, places, threads, primary, expected):
    assert place_threads(runtime, bind, places, threads, primary) == expected


def test_effective_and_default_bind():
    assert effective_bind("gnu", "true") == "close"
    assert effective_bind("llvm", "true") == "spread"
    assert effective_bind("gnu", "spread") == "spread"
    assert default_bind("gnu", places_set=True) == "true"
    assert default_bind("llvm", places_set=True) == "spread"
    assert default_bind("llvm", places_set=False) == "false"


def test_runtime_differs():
    assert runtime_differs("close", 2, 5)
    assert runtime_differs("spread", 16, 3)
    assert not runtime_differs("close", 4, 4)
    assert not runtime_differs("close", 4, 8)  # divides evenly: blocks of 2 in both
    assert not runtime_differs("primary", 4, 9)
    assert not runtime_differs("false", 4, 9)
    assert runtime_differs("true", 16, 3)  # close vs spread


def test_describe_names_rule_and_result():
    text = describe("gnu", "close", 2, 5)
    assert text.startswith("libgomp: 5 threads on 2 places:")
    assert "extra thread (4)" in text and "{0,1,4}{2,3}" in text
    text = describe("llvm", "close", 4, 10)
    assert text.startswith("LLVM libomp: 10 threads on 4 places:")
    assert "every 2nd place" in text and "{0,1,2}{3,4}{5,6,7}{8,9}" in text
    assert "true means close" in describe("gnu", "true", 2, 2)
    assert "true means spread" in describe("llvm", "true", 2, 2)
    assert "not bound" in describe("llvm", "false", 2, 2)
    assert "sub-partitions" in describe("gnu", "spread", 16, 3)
    assert "(P+1)/T" in describe("llvm", "spread", 16, 3)


def test_caveats():
    assert caveats("llvm", "close") == ()
    assert caveats("gnu", "primary") == ()
    assert len(caveats("gnu", "true")) == 2
    assert all(text.startswith("libgomp") for text in caveats("gnu", "close"))


@pytest.mark.parametrize(
    "args",
    [("icc", "close", 2, 2, 0), ("gnu", "master", 2, 2, 0), ("gnu", "close", 0, 2, 0), ("gnu", "close", 2, -1, 0)]
    + [("gnu", "close", 2, 2, 2), ("llvm", "close", 2, 2, -1)],
)
def test_bad_arguments(args):
    with pytest.raises(ValueError):
        place_threads(*args)


@settings(max_examples=80, deadline=None)
@given(
    runtime=st.sampled_from(RUNTIMES),
    bind=st.sampled_from(BINDS),
    num_places=st.integers(1, 64),
    num_threads=st.integers(0, 200),
    data=st.data(),
)
def test_properties(runtime, bind, num_places, num_threads, data):
    primary = data.draw(st.integers(0, num_places - 1))
    placed = place_threads(runtime, bind, num_places, num_threads, primary)
    assert len(placed) == num_threads
    if bind == "false":
        assert set(placed) <= {None}
        return
    assert all(0 <= p < num_places for p in placed)
    if num_threads:
        assert placed[0] == primary  # neither runtime moves the primary thread
    policy = effective_bind(runtime, bind)
    if policy == "primary":
        assert set(placed) <= {primary}
    elif num_threads > num_places:
        # T > P (close and spread alike): every place gets floor(T/P) or ceil(T/P) threads
        counts = [placed.count(p) for p in range(num_places)]
        assert min(counts) == num_threads // num_places
        assert max(counts) == -(-num_threads // num_places)
    elif policy == "close":
        assert list(placed) == [(primary + i) % num_places for i in range(num_threads)]
    else:  # spread T <= P: one thread per place, all places distinct
        assert len(set(placed)) == num_threads


def test_describe_folds_runs_of_empty_places():
    # 4 threads spread over 192 places (libgomp): sub-partitions of 48, threads on places 0, 48, 96, 144,
    # so each thread is followed by 47 empty places; short runs (< 3) stay spelled out.
    text = describe("gnu", "spread", 192, 4)
    assert "Threads per place: {0}{}x47{1}{}x47{2}{}x47{3}{}x47." in text
    assert describe("gnu", "spread", 4, 2).endswith("Threads per place: {0}{}{1}{}.")
