"""Fuzzing the hwloc XML reader: whatever the bytes, only a one-line OmpvizError escapes."""

from __future__ import annotations

from conftest import SHARED_TOPOLOGIES
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_hwloc_xml import FIXTURE_V1, FIXTURE_V2, FIXTURE_V3_KINDS

from ompviz.errors import OmpvizError
from ompviz.topology.hwloc_xml import parse_hwloc_xml

_REAL = [FIXTURE_V1, FIXTURE_V2, FIXTURE_V3_KINDS]
for _rel in ("hwloc-xml/fakecpukinds.xml", "hwloc-xml/16em64t-4s2c2t-offlines.xml", "hwloc-xml/nvidia-dgx-gb10.xml"):
    _p = SHARED_TOPOLOGIES / _rel
    if _p.exists():
        _REAL.append(_p.read_bytes())


def _check(data: bytes) -> None:
    try:
        t = parse_hwloc_xml(data, source="fuzz.xml")
    except OmpvizError as e:
        msg = str(e)
        assert msg.startswith("fuzz.xml: ") and "\n" not in msg and len(msg) < 400
    else:
        assert t.pus


_SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes(data):
    _check(data)


@_SETTINGS
@given(st.text(alphabet=st.sampled_from(list('<>/="topologyobjectPUos_index cpuset0x1,&!;[]?')), max_size=200))
def test_random_xmlish_text(text):
    _check(text.encode())


@_SETTINGS
@given(st.sampled_from(range(len(_REAL))), st.floats(0, 1))
def test_truncated_real_files(which, frac):
    data = _REAL[which]
    _check(data[: int(len(data) * frac)])


@_SETTINGS
@given(
    st.sampled_from(range(len(_REAL))),
    st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=0, max_size=6)), min_size=1, max_size=4),
)
def test_mutated_real_files(which, edits):
    data = bytearray(_REAL[which])
    for where, new in edits:
        i = int(len(data) * where)
        data[i : i + len(new) or i + 1] = new
    _check(bytes(data))


@_SETTINGS
@given(
    st.sampled_from(range(len(_REAL))),
    st.sampled_from(
        [
            (b'os_index="', b'os_index="-'),
            (b'os_index="', b'os_index="x'),
            (b'cpuset="0x', b'cpuset="0xzz'),
            (b'cpuset="', b'cpuset="0xf...f,'),
            (b'type="PU"', b'type="Core"'),
            (b'type="Core"', b'type="PU"'),
            (b'type="Package"', b'type="Bogus"'),
            (b"<topology", b'<!DOCTYPE t [<!ENTITY a "b">]><topology'),
            (b'forced_efficiency="', b'forced_efficiency="x'),
            (b'local_memory="', b'local_memory="-'),
        ]
    ),
    st.integers(0, 50),
)
def test_attribute_level_mutations(which, swap, nth):
    data = _REAL[which]
    old, new = swap
    starts = [i for i in range(len(data)) if data.startswith(old, i)]
    assume(starts)
    i = starts[nth % len(starts)]
    _check(data[:i] + new + data[i + len(old) :])
