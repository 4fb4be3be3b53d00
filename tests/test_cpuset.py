import pytest
from hypothesis import given
from hypothesis import strategies as st

from ompviz.cpuset import MAX_CPU, CpuSet, parse_hex, parse_hwloc, parse_list, parse_omp_place
from ompviz.errors import OmpvizError

sets = st.frozensets(st.integers(0, 2000), max_size=64).map(CpuSet)


@pytest.mark.parametrize(
    "text,ids",
    [
        ("0-3,8,10-11", [0, 1, 2, 3, 8, 10, 11]),
        ("0-15:2", list(range(0, 16, 2))),
        ("", []),
        (" 5 ", [5]),
    ],
)
def test_parse_list(text, ids):
    assert list(parse_list(text)) == ids


@pytest.mark.parametrize(
    "text,needle",
    [
        ("3-1", "reversed"),
        ("0,,2", "empty item"),
        ("-1", "negative"),
        ("0-x", "not a CPU"),
        ("abc", "not a CPU"),
        (f"0-{MAX_CPU + 1}", "too large"),
        ("0-4:0", "stride 0"),
    ],
)
def test_parse_list_errors(text, needle):
    with pytest.raises(OmpvizError, match=needle):
        parse_list(text)


def test_hex_and_hwloc():
    assert list(parse_hex("0xff")) == list(range(8))
    assert list(parse_hex("ff")) == list(range(8))
    assert list(parse_hwloc("0x00000001,0xffffffff")) == list(range(33))
    # hwloc 3.0 abbreviates runs of zero words with empty fields
    s = parse_hwloc("0x00000001,,0x00000000")
    assert list(s) == [64]
    with pytest.raises(OmpvizError):
        parse_hwloc("0xzz")
    with pytest.raises(OmpvizError):
        parse_hex("0xg1")


def test_omp_place():
    assert list(parse_omp_place("{0:4:2}")) == [0, 2, 4, 6]
    assert list(parse_omp_place("{0,1,8:2}")) == [0, 1, 8, 9]
    assert list(parse_omp_place("{0:8,!3}")) == [0, 1, 2, 4, 5, 6, 7]
    with pytest.raises(OmpvizError):
        parse_omp_place("{}")
    with pytest.raises(OmpvizError):
        parse_omp_place("{0:4")


def test_algebra_and_immutability():
    a, b = CpuSet([0, 1, 2]), CpuSet([2, 3])
    assert a | b == CpuSet(range(4))
    assert a & b == CpuSet([2])
    assert a - b == CpuSet([0, 1])
    assert CpuSet([1]) <= a and not (b <= a)
    assert a.first == 0 and a.last == 2 and len(a) == 3 and 2 in a and 5 not in a
    with pytest.raises(AttributeError):
        a.x = 1


@given(sets)
def test_roundtrip_list(s):
    assert parse_list(s.to_list()) == s


@given(sets)
def test_roundtrip_hex(s):
    assert parse_hex(s.to_hex()) == s


@given(sets)
def test_roundtrip_hwloc(s):
    assert parse_hwloc(s.to_hwloc()) == s


@given(sets.filter(bool))
def test_roundtrip_omp(s):
    assert parse_omp_place(s.to_omp()) == s
    assert parse_omp_place(s.to_braces()) == s


@given(sets)
def test_parse_autodetect(s):
    assert CpuSet.parse(s.to_hwloc()) == s
    if s:
        assert CpuSet.parse(s.to_omp()) == s


@given(st.text(max_size=40))
def test_fuzz_only_ompviz_error(text):
    for fn in (parse_list, parse_hex, parse_hwloc, parse_omp_place, CpuSet.parse):
        try:
            fn(text)
        except OmpvizError as e:
            assert str(e) and "\n" not in str(e)
