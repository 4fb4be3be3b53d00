"""Fuzzing the sysfs reader: whatever the files or the archive contain, only OmpvizError escapes, as one line
naming the source."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sysfs_tree import make_tar, two_socket_smt

from ompviz.errors import OmpvizError
from ompviz.topology.model import Topology
from ompviz.topology.sysfs import load_sysfs

BASE = two_socket_smt(
    **{
        "proc/mounts": "none /cg cgroup2 rw 0 0\n",
        "cg/cgroup.controllers": "cpuset\n",
        "proc/self/cgroup": "0::/job\n",
        "cg/job/cpuset.cpus.effective": "0-3\n",
        "sys/devices/system/cpu/cpu0/cpu_capacity": "1024\n",
        "sys/devices/system/cpu/cpu0/cpufreq/base_frequency": "2000000\n",
    }
)
PATHS = sorted(BASE)

# text that looks like sysfs content, plus arbitrary junk
_sysfsish = st.one_of(
    st.text(alphabet="0123456789-,:xabcdefK \n", max_size=30),
    st.text(max_size=30),
    st.sampled_from(["", "\n", "-1\n", "99999999999\n", "0-1048576\n", "ffffffff,ffffffff\n", "7-0", "1,,2"]),
)

mutation = st.tuples(
    st.sampled_from(PATHS),
    st.one_of(
        st.none(),  # delete the file
        _sysfsish,  # replace the content
        st.tuples(st.integers(0, 40), _sysfsish),  # insert junk at a position
    ),
)


def _apply(files: dict, muts) -> dict:
    out = dict(files)
    for path, m in muts:
        if m is None:
            out[path] = None
        elif isinstance(m, str):
            out[path] = m
        else:
            pos, junk = m
            old = out.get(path) or ""
            out[path] = old[:pos] + junk + old[pos:]
    return out


def _check(source: str, fn) -> None:
    try:
        t = fn()
    except OmpvizError as e:
        msg = str(e)
        assert "\n" not in msg and msg.startswith(source + ":"), msg
        return
    assert isinstance(t, Topology)
    assert t.pus and all(p.online or p.logical_index is None for p in t.pus)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, min_size=1, max_size=4))
def test_mutated_files_only_raise_ompviz_error(muts):
    files = _apply(BASE, muts)
    with tempfile.TemporaryDirectory() as d:
        # one plain tar per example instead of ~60 small files: same parsers, a fraction of the disk work
        tar = make_tar(files, Path(d) / "t.tar", mode="w")
        _check("fuzz", lambda: load_sysfs(str(tar), source="fuzz"))


_TAR = {}


def _tar_bytes(mode: str) -> bytes:
    if mode not in _TAR:
        with tempfile.TemporaryDirectory() as d:
            _TAR[mode] = make_tar(BASE, Path(d) / "m.tar", mode=mode).read_bytes()
    return _TAR[mode]


@settings(max_examples=80, deadline=None)
@given(
    mode=st.sampled_from(["w", "w:bz2", "w:gz"]),
    cut=st.one_of(st.none(), st.integers(0, 20000)),
    flips=st.lists(st.tuples(st.integers(0, 20000), st.integers(0, 255)), max_size=4),
)
def test_corrupted_archives_only_raise_ompviz_error(mode, cut, flips):
    data = bytearray(_tar_bytes(mode))
    for pos, val in flips:
        if pos < len(data):
            data[pos] = val
    if cut is not None:
        data = data[:cut]
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.tar"
        p.write_bytes(bytes(data))
        _check(str(p), lambda: load_sysfs(str(p), source=str(p)))


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_as_archive(blob):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "r.tar.gz"
        p.write_bytes(blob)
        _check(str(p), lambda: load_sysfs(str(p), source=str(p)))


_names = st.one_of(
    st.integers(0, 10**9).map(str),
    st.text(alphabet="0123456789abc-", min_size=1, max_size=9),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(["cpu", "node", "index"]), _names), max_size=3))
def test_renamed_directories_only_raise_ompviz_error(renames):
    # cpuN / nodeN / indexK directories with odd or enormous numbers
    files = dict(BASE)
    for path, prefix, new in renames:
        if path not in files:
            continue
        parts = path.split("/")
        for i, part in enumerate(parts):
            if part.startswith(prefix) and part[len(prefix) :].isdigit():
                parts[i] = prefix + new
                break
        files["/".join(parts)] = files.pop(path)
    with tempfile.TemporaryDirectory() as d:
        tar = make_tar(files, Path(d) / "t.tar", mode="w")
        _check("fuzz", lambda: load_sysfs(str(tar), source="fuzz"))
