"""The sysfs reader on small hand-built trees (tests/topology/sysfs_tree.py), the live machine and the
non-Linux fallback. Expected values are reasoned by hand in the comments next to them."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest
from sysfs_tree import CPU, cpu_files, cpuinfo, make_tar, node_files, offline_cpu_files, two_socket_smt, write_tree

from ompviz.cpuset import CpuSet
from ompviz.errors import OmpvizError
from ompviz.topology import fallback as fallback_mod
from ompviz.topology import load
from ompviz.topology import sysfs as sysfs_mod
from ompviz.topology.fallback import load_fallback
from ompviz.topology.sysfs import (
    load_live,
    load_live_root,
    load_sysfs,
    parse_cache_size,
    parse_cgroup_name,
    parse_cpuinfo_model,
    parse_cpumask,
    parse_memtotal,
)


def _tree(tmp_path: Path, files: dict) -> str:
    return str(write_tree(tmp_path / "root", files))


# -- parsers ---------------------------------------------------------------------------------------------
def test_small_parsers():
    assert parse_cpumask("00000000,0000ffff\n") == CpuSet.parse("0-15")
    assert parse_cpumask("00000001,00000000") == CpuSet([32])
    assert parse_cache_size("32K\n") == 32768 and parse_cache_size("30720K") == 30 << 20
    assert parse_cache_size("32M") == 32 << 20
    assert parse_memtotal("Node 3 MemTotal:  1024 kB\nNode 3 MemFree: 5 kB") == 1 << 20
    assert parse_memtotal("MemFree: 5 kB") is None
    # x86 "model name" wins; POWER has "cpu"; Arm only implementer/part (0x48/0xd01 = HiSilicon TSV110)
    assert parse_cpuinfo_model("processor : 0\nmodel name\t:   AMD  EPYC 9654\n") == "AMD EPYC 9654"
    assert parse_cpuinfo_model("cpu\t\t: POWER9 (raw)\n") == "POWER9 (raw)"
    assert "Kunpeng 920" in parse_cpuinfo_model("CPU implementer\t: 0x48\nCPU part\t: 0xd01\n")
    assert parse_cpuinfo_model("nothing here\n") is None
    # hwloc order: /proc/self/cpuset first, else the v1 ":cpuset:" or v2 "::" line of /proc/self/cgroup
    assert parse_cgroup_name("/job1\n", "0::/other") == "/job1"
    assert parse_cgroup_name(None, "3:memory:/x\n2:cpuset:/slurm/job\n0::/y\n") == "/slurm/job"
    assert parse_cgroup_name(None, "0::/user.slice\n") == "/user.slice"
    assert parse_cgroup_name(None, None) is None
    for bad in ("", "xyz", "1,,2", "123456789"):
        with pytest.raises(ValueError):
            parse_cpumask(bad)


# -- hand-built machines ---------------------------------------------------------------------------------
def test_two_socket_smt_tree(tmp_path):
    t = load_sysfs(_tree(tmp_path, two_socket_smt()), source="fake")
    # See two_socket_smt(): cores {0,4} {1,5} in package 0, {2,6} {3,7} in package 1; core_id repeats (0,1)
    # in both packages, so grouping by core_id alone would wrongly give 2 cores.
    assert t.summary()["cores"] == 4 and t.summary()["packages"] == 2
    assert t.siblings(0) == CpuSet.parse("0,4") and t.siblings(7) == CpuSet.parse("3,7")
    # depth-first: package 0 -> core {0,4} -> core {1,5}; package 1 -> {2,6} -> {3,7}
    assert t.logical_order == (0, 4, 1, 5, 2, 6, 3, 7)
    assert {g.index: g.cpus for g in t.numa_nodes} == {0: CpuSet.parse("0-1,4-5"), 1: CpuSet.parse("2-3,6-7")}
    assert {g.index: g.size for g in t.numa_nodes} == {0: 4 << 30, 1: 2 << 30}
    assert [g.cpus for g in t.l3s] == [CpuSet.parse("0-1,4-5"), CpuSet.parse("2-3,6-7")]
    assert t.cache_sizes == {"L1d": 32 << 10, "L2": 1 << 20, "L3": 16 << 20}
    assert t.l3s[0].size == 16 << 20
    assert t.name == "Test CPU 9000" and t.source_kind == "sysfs" and t.source == "fake"
    assert not t.dies  # no die_id: no die level
    assert t.kinds == () and t.allowed == CpuSet.parse("0-7")


def test_dies_only_when_a_package_has_several(tmp_path):
    files = two_socket_smt()
    for cpu in range(8):  # package 0: CPUs 0,4 on die 0, CPUs 1,5 on die 1; package 1 has one die 0
        files[f"{CPU}/cpu{cpu}/topology/die_id"] = "1\n" if cpu in (1, 5) else "0\n"
    t = load_sysfs(_tree(tmp_path, files), source="fake")
    assert sorted((g.index, str(g.cpus)) for g in t.dies) == [(0, "0,4"), (0, "2-3,6-7"), (1, "1,5")]
    files2 = two_socket_smt()
    for cpu in range(8):
        files2[f"{CPU}/cpu{cpu}/topology/die_id"] = "0\n"
    assert load_sysfs(_tree(tmp_path / "b", files2), source="fake").dies == ()


def test_hybrid_via_cpu_core_and_cpu_atom(tmp_path):
    # 2 P-cores with SMT (0,1 and 2,3) + 4 E-cores (4..7); the PMU directories name the kinds
    files = {f"{CPU}/online": "0-7\n", "sys/devices/cpu_core/cpus": "0-3\n", "sys/devices/cpu_atom/cpus": "4-7\n"}
    for cpu in range(8):
        core = f"{cpu & ~1}-{cpu | 1}" if cpu < 4 else str(cpu)
        files.update(cpu_files(cpu, core_cpus=core, l3="0-7"))
    files.update(node_files(0, "0-7"))
    t = load_sysfs(_tree(tmp_path, files), source="fake")
    assert [p.kind for p in t.pus] == ["P"] * 4 + ["E"] * 4
    assert t.summary()["cores"] == 6 and t.cores[0].kind == "P" and t.cores[-1].kind == "E"
    assert any("cpu_core" in n for n in t.notes)


def test_big_little_via_cpu_capacity(tmp_path):
    # Arm: capacity 1024 on the big cores, 446 on the little ones (values as on a Cortex-A76/A55 phone SoC)
    files = {f"{CPU}/online": "0-5\n"}
    for cpu in range(6):
        files.update(cpu_files(cpu, capacity=446 if cpu < 4 else 1024))
    t = load_sysfs(_tree(tmp_path, files), source="fake")
    assert [p.kind for p in t.pus] == ["little"] * 4 + ["big"] * 2
    # no node directory: one NUMA node 0 with every CPU (how hwloc shows a kernel without NUMA)
    assert {g.index: g.cpus for g in t.numa_nodes} == {0: CpuSet.parse("0-5")}


def test_uniform_capacity_means_no_kinds(tmp_path):
    files = {f"{CPU}/online": "0-3\n"}
    for cpu in range(4):
        files.update(cpu_files(cpu, capacity=1024))
    assert load_sysfs(_tree(tmp_path, files), source="fake").kinds == ()


def test_intel_kinds_from_cpufreq_and_turbo_boost_max_is_not_hybrid(tmp_path):
    files = {f"{CPU}/online": "0-3\n", **cpuinfo("Intel Core", 4)}
    # two CPUs base 1.9 GHz / max 5.0 GHz, two base 1.4 / max 3.9: hwloc's two cpukinds (as on the RaptorLake dump)
    for cpu in range(4):
        files.update(
            cpu_files(cpu, base_freq=1900000 if cpu < 2 else 1400000, max_freq=5000000 if cpu < 2 else 3900000)
        )
    t = load_sysfs(_tree(tmp_path, files), source="fake")
    assert [p.kind for p in t.pus] == ["P", "P", "E", "E"]
    # same base, max 4.0 vs 4.3 GHz: 7.5 % apart < hwloc's 10 % adjust threshold -> favoured cores, one kind
    files2 = {f"{CPU}/online": "0-3\n", **cpuinfo("Intel Xeon", 4)}
    for cpu in range(4):
        files2.update(cpu_files(cpu, base_freq=2000000, max_freq=4300000 if cpu == 0 else 4000000))
    assert load_sysfs(_tree(tmp_path / "b", files2), source="fake").kinds == ()


def test_offline_cpu_listed_offline(tmp_path):
    # CPU 3 offline: global online list says 0-2 and cpu3 has no topology directory
    files = {f"{CPU}/online": "0-2\n", **offline_cpu_files(3), **node_files(0, "0-2")}
    for cpu in range(3):
        files.update(cpu_files(cpu, l3="0-2"))
    t = load_sysfs(_tree(tmp_path, files), source="fake")
    assert t.offline == CpuSet([3]) and t.online == CpuSet.parse("0-2")
    assert t.pu(3).logical_index is None and t.pu(3).core is None
    assert t.summary()["pus"] == 3
    # without the global list, the per-CPU online files decide (cpu0 typically has none: online)
    files.pop(f"{CPU}/online")
    t2 = load_sysfs(_tree(tmp_path / "b", files), source="fake")
    assert t2.offline == CpuSet([3])


def test_online_cpu_without_topology_is_skipped_like_hwloc(tmp_path):
    files = {f"{CPU}/online": "0-2\n", f"{CPU}/cpu2/online": "1\n"}
    for cpu in range(2):
        files.update(cpu_files(cpu))
    t = load_sysfs(_tree(tmp_path, files), source="fake")
    assert t.online == CpuSet.parse("0-1") and t.offline == CpuSet([2])
    assert any("without topology" in n for n in t.notes)


def test_missing_optional_files(tmp_path):
    # old kernel: only hex masks (thread_siblings), no lists, no caches, no package id, no cpuinfo
    files = {}
    for cpu in range(4):
        core = 0x3 if cpu < 2 else 0xC
        files[f"{CPU}/cpu{cpu}/topology/thread_siblings"] = f"00000000,{core:08x}\n"
        files[f"{CPU}/cpu{cpu}/topology/core_id"] = f"{cpu // 2}\n"
    t = load_sysfs(_tree(tmp_path, files), source="fake")
    assert [c.cpus for c in t.cores] == [CpuSet.parse("0-1"), CpuSet.parse("2-3")]
    assert t.l3s == () and t.cache_sizes == {} and t.packages == ()
    assert any("L3" in n for n in t.notes)
    assert t.name == "root"  # no model name anywhere: the root's folder name


def test_no_sibling_lists_falls_back_to_ids_per_package(tmp_path):
    files = {}
    for cpu in range(4):  # core_id 0 in both packages: two different cores
        files[f"{CPU}/cpu{cpu}/topology/core_id"] = "0\n"
        files[f"{CPU}/cpu{cpu}/topology/physical_package_id"] = f"{cpu % 2}\n"
    t = load_sysfs(_tree(tmp_path, files), source="fake")
    assert sorted(str(c.cpus) for c in t.cores) == ["0,2", "1,3"]


def test_absurd_cpu_number_is_refused(tmp_path):
    files = two_socket_smt(**cpu_files(2_000_000))
    with pytest.raises(OmpvizError, match=r"^big: /sys/devices/system/cpu/cpu2000000: CPU number beyond"):
        load_sysfs(_tree(tmp_path, files), source="big")


def test_live_garbage_message_does_not_blame_a_dump(tmp_path):
    files = two_socket_smt(**{f"{CPU}/cpu1/topology/core_cpus_list": "zz\n"})
    with pytest.raises(OmpvizError, match=r"^live: .*core_cpus_list: .*unexpected kernel file content"):
        load_live_root(_tree(tmp_path, files), affinity={0})


def test_not_a_sysfs_root(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(OmpvizError, match="not a Linux sysfs dump"):
        load_sysfs(str(tmp_path / "empty"), source="empty-dir")


def test_directory_holding_one_extracted_root(tmp_path):
    write_tree(tmp_path / "outer" / "mymachine", two_socket_smt())
    t = load_sysfs(str(tmp_path / "outer"), source="outer")
    assert t.summary()["pus"] == 8


@pytest.mark.parametrize(
    ("rel", "text"),
    [
        (f"{CPU}/cpu1/topology/core_cpus_list", "zz\n"),
        (f"{CPU}/cpu1/topology/physical_package_id", "one\n"),
        (f"{CPU}/online", "0-7,\n"),
        ("sys/devices/system/node/node0/cpulist", "7-0\n"),
        (f"{CPU}/cpu0/cache/index3/size", "big\n"),
        (f"{CPU}/cpu5/topology/core_cpus_list", "0-99999999\n"),
    ],
)
def test_garbage_gives_one_line_naming_source_and_file(tmp_path, rel, text):
    files = two_socket_smt(**{rel: text})
    with pytest.raises(OmpvizError) as ei:
        load_sysfs(_tree(tmp_path, files), source="my-dump")
    msg = str(ei.value)
    assert "\n" not in msg and msg.startswith("my-dump: ") and rel in msg


# -- cgroup cpusets (recorded roots) ---------------------------------------------------------------------
def test_cgroup2_via_proc_mounts(tmp_path):
    # the layout of the 32amd64-4s2n4c-cgroup2 dump: cgroup2 mounted on /cgroup/unified, name in
    # /proc/self/cpuset, cpuset.cpus.effective under mount + name
    files = two_socket_smt()
    files.update(
        {
            "proc/mounts": "none /sys sysfs rw 0 0\nnone /cgroup/unified cgroup2 rw 0 0\n",
            "cgroup/unified/cgroup.controllers": "cpu cpuset io\n",
            "proc/self/cpuset": "/job/step\n",
            "cgroup/unified/job/step/cpuset.cpus.effective": "0-1,4\n",
        }
    )
    t = load_sysfs(_tree(tmp_path, files), source="fake")
    assert t.allowed == CpuSet.parse("0-1,4") and t.disallowed == CpuSet.parse("2-3,5-7")
    assert t.online == CpuSet.parse("0-7")


def test_cgroup1_standard_mount_and_cgroup_file(tmp_path):
    files = two_socket_smt()
    files.update(
        {
            "sys/fs/cgroup/cpuset/cpuset.cpus": "0-7\n",
            "proc/self/cgroup": "4:memory:/a\n3:cpuset:/slurm/uid_1/job_2\n0::/b\n",
            "sys/fs/cgroup/cpuset/slurm/uid_1/job_2/cpuset.cpus": "2-3,6-7\n",
        }
    )
    t = load_sysfs(_tree(tmp_path, files), source="fake")
    assert t.allowed == CpuSet.parse("2-3,6-7")
    # a cgroup2 controller list without cpuset is not used (hwloc keeps looking), nor an unreadable file
    files2 = two_socket_smt()
    files2.update(
        {
            "proc/mounts": "none /cg cgroup2 rw 0 0\n",
            "cg/cgroup.controllers": "cpu io\n",
            "proc/self/cgroup": "0::/x\n",
            "cg/x/cpuset.cpus.effective": "0\n",
        }
    )
    assert load_sysfs(_tree(tmp_path / "b", files2), source="fake").allowed == CpuSet.parse("0-7")


# -- tarballs --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("suffix", "mode"), [(".tar", "w"), (".tar.gz", "w:gz"), (".tar.bz2", "w:bz2"), (".tar.xz", "w:xz")]
)
def test_tarball_equals_directory(tmp_path, suffix, mode):
    files = two_socket_smt()
    want = load_sysfs(_tree(tmp_path, files), source="x")
    tar = make_tar(files, tmp_path / f"m{suffix}", mode=mode)
    got = load(str(tar))  # through the public dispatcher
    assert got.pus == want.pus and got.cores == want.cores and got.l3s == want.l3s
    assert got.numa_nodes == want.numa_nodes and got.name == want.name and got.cache_sizes == want.cache_sizes
    # no top folder works too
    assert load_sysfs(str(make_tar(files, tmp_path / f"flat{suffix}", top="", mode=mode)), source="y").pus == want.pus


def test_tar_symlinked_directories_are_followed(tmp_path):
    # sysfs links directories: cpuN/cpufreq -> ../cpufreq/policyN (the RaptorLake dump relies on it)
    files = {f"{CPU}/online": "0-1\n", **cpuinfo("Intel Core", 2)}
    for cpu in range(2):
        files.update(cpu_files(cpu))
        files[f"{CPU}/cpufreq/policy{cpu}/base_frequency"] = f"{1900000 if cpu == 0 else 1400000}\n"
        files[f"{CPU}/cpufreq/policy{cpu}/cpuinfo_max_freq"] = f"{5000000 if cpu == 0 else 3900000}\n"
    out = tmp_path / "links.tar"
    make_tar(files, out, mode="w")
    with tarfile.open(out, "a") as tf:
        for cpu in range(2):
            info = tarfile.TarInfo(f"machine/{CPU}/cpu{cpu}/cpufreq")
            info.type = tarfile.SYMTYPE
            info.linkname = f"../cpufreq/policy{cpu}"
            tf.addfile(info)
    t = load_sysfs(str(out), source="links")
    assert [p.kind for p in t.pus] == ["P", "E"]


def test_tar_index_matches_tarfile_on_shared_dumps():
    # our fast header reader must see exactly the members Python's tarfile sees
    from conftest import shared

    path = shared("sysfs/128arm-2pa2n8cluster4co.tar.bz2")
    import bz2

    # decompress once: tarfile's extractfile on a .bz2 stream re-decompresses from the start on every seek
    with tarfile.open(fileobj=io.BytesIO(bz2.decompress(path.read_bytes()))) as tf:
        members = {m.name: m for m in tf.getmembers()}
        fs = sysfs_mod.TarFs.open(str(path), "x")
        for name, m in members.items():
            if m.isfile():
                assert fs.read_text(name) == tf.extractfile(m).read().split(b"\0", 1)[0].decode()
            elif m.isdir():
                assert fs.exists(name)
        # the longest name (101 chars) needs the GNU long-name or ustar prefix header
        longest = max(members, key=len)
        assert len(longest) > 100 and fs.exists(longest)


def test_truncated_and_corrupt_tarballs(tmp_path):
    tar = make_tar(two_socket_smt(), tmp_path / "m.tar.bz2")
    data = tar.read_bytes()
    cut = tmp_path / "cut.tar.bz2"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(OmpvizError, match="cut.tar.bz2: .*truncated"):
        load_sysfs(str(cut), source=str(cut))
    plain = make_tar(two_socket_smt(), tmp_path / "p.tar", mode="w")
    raw = plain.read_bytes()
    cut2 = tmp_path / "cut2.tar"
    cut2.write_bytes(raw[:1536])
    with pytest.raises(OmpvizError, match="cut2.tar"):
        load_sysfs(str(cut2), source=str(cut2))
    flipped = tmp_path / "flip.tar"
    flipped.write_bytes(raw[:100] + b"\xff" + raw[101:])  # inside the first header: checksum mismatch
    with pytest.raises(OmpvizError, match="flip.tar: .*checksum"):
        load_sysfs(str(flipped), source=str(flipped))
    other = make_tar({"etc/hosts": "x\n"}, tmp_path / "o.tar.gz", mode="w:gz")
    with pytest.raises(OmpvizError, match="o.tar.gz: archive holds no sys/devices/system/cpu"):
        load_sysfs(str(other), source=str(other))


# -- the live machine ------------------------------------------------------------------------------------
@pytest.mark.skipif(not os.path.isdir("/sys/devices/system/cpu"), reason="needs Linux sysfs")
def test_load_live_matches_this_machine():
    t = load_live()
    assert t.source == "live" and t.source_kind == "live"
    online = CpuSet.parse(Path("/sys/devices/system/cpu/online").read_text())
    assert t.online == online
    assert t.allowed == CpuSet(os.sched_getaffinity(0)) & online
    for cpu in online:
        sib = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list").read_text()
        assert t.siblings(cpu) == CpuSet.parse(sib) & online
        pkg = int(Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/physical_package_id").read_text())
        assert t.pu(cpu).package == (pkg if pkg >= 0 else t.pu(cpu).package)
    assert t.name  # /proc/cpuinfo model name or py-cpuinfo's brand


def test_live_restricted_to_affinity(tmp_path):
    t = load_live_root(_tree(tmp_path, two_socket_smt()), affinity={0, 4})
    assert t.allowed == CpuSet.parse("0,4") and t.disallowed == CpuSet.parse("1-3,5-7")
    assert any("sched_getaffinity" in n for n in t.notes) and t.source_kind == "live"


def test_live_without_model_name_uses_given_or_py_cpuinfo(tmp_path):
    files = {k: v for k, v in two_socket_smt().items() if k != "proc/cpuinfo"}
    t = load_live_root(_tree(tmp_path, files), affinity=set(range(8)), model_name="Named By Caller")
    assert t.name == "Named By Caller" and t.pu(3).os_index == 3  # _by_os survives the rename


def test_load_live_on_non_linux_uses_fallback(monkeypatch):
    monkeypatch.setattr(fallback_mod, "_brand", lambda: "Some CPU")  # py-cpuinfo takes ~1 s: tested below
    real_isdir = os.path.isdir
    monkeypatch.setattr(
        sysfs_mod.os.path, "isdir", lambda p: False if p == "/sys/devices/system/cpu" else real_isdir(p)
    )
    assert load_live().source_kind == "fallback"


# -- the fallback ----------------------------------------------------------------------------------------
def _fake_counts(monkeypatch, logical, physical):
    import psutil

    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: logical_n if logical else physical)
    logical_n = logical
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(logical)), raising=False)


def test_fallback_smt_from_counts(monkeypatch):
    _fake_counts(monkeypatch, 8, 4)
    t = load_fallback()
    # 8 logical / 4 physical = SMT2, assumed numbered core-major: {0,1} {2,3} {4,5} {6,7}
    assert t.source_kind == "fallback" and t.summary()["pus"] == 8 and t.summary()["cores"] == 4
    assert t.siblings(2) == CpuSet.parse("2-3")
    assert t.numa_nodes == () and t.l3s == ()
    assert any("best-effort" in n and "no NUMA or L3" in n for n in t.notes)
    # the name comes from py-cpuinfo, which on Linux reads the same "model name" line
    if Path("/proc/cpuinfo").exists():
        assert t.name == parse_cpuinfo_model(Path("/proc/cpuinfo").read_text())


def test_fallback_uneven_counts(monkeypatch):
    _fake_counts(monkeypatch, 6, 4)
    monkeypatch.setattr(fallback_mod, "_brand", lambda: None)
    t = load_fallback()
    assert t.summary()["cores"] == 6  # 6 is not a multiple of 4: no grouping guessed
    assert t.name == "this machine"  # no brand from py-cpuinfo
    assert any("core grouping unknown" in n for n in t.notes)


def test_pax_long_names_absolute_links_and_missing_trailer(tmp_path):
    files = two_socket_smt()
    out = tmp_path / "pax.tar"
    top = "a-very-long-machine-folder-name-" + "x" * 90  # > 100 chars per path: needs pax "path" records
    make_tar(files, out, top=top, mode="w")
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        # an absolute link means "inside the dump root", as in a recorded /sys
        info = tarfile.TarInfo(f"{top}/sys/devices/system/cpu/cpu0/cpu_capacity")
        info.type = tarfile.SYMTYPE
        info.linkname = "/caps/cpu0"
        tf.addfile(info)
        cap = b"512\n"
        info = tarfile.TarInfo(f"{top}/caps/cpu0")
        info.size = len(cap)
        tf.addfile(info, io.BytesIO(cap))
    fs = sysfs_mod.TarFs.open(str(out), "pax")
    fs.prefix = top
    assert fs.read_text("sys/devices/system/cpu/cpu0/cpu_capacity") == "512\n"
    assert load_sysfs(str(out), source="pax").summary()["pus"] == 8
    # drop the two zero blocks at the end (and tarfile's padding): still readable
    raw = out.read_bytes().rstrip(b"\0")
    raw += b"\0" * (-len(raw) % 512)
    trimmed = tmp_path / "trim.tar"
    trimmed.write_bytes(raw)
    assert load_sysfs(str(trimmed), source="trim").summary()["pus"] == 8


def test_negative_tar_size_does_not_loop(tmp_path):
    # a header whose size field says -1000 (octal with a sign) must be refused, not walk backwards forever
    info = tarfile.TarInfo("m/sys/devices/system/cpu/online")
    info.size = 4
    hdr = bytearray(info.tobuf(format=tarfile.USTAR_FORMAT))
    hdr[124:136] = b"-0001750\0\0\0\0"
    hdr[148:156] = b" " * 8
    hdr[148:156] = f"{sum(hdr):06o}\0 ".encode()
    p = tmp_path / "neg.tar"
    p.write_bytes(bytes(hdr) + b"0-3\n".ljust(512, b"\0") + b"\0" * 1024)
    with pytest.raises(OmpvizError, match="neg.tar: .*size"):
        load_sysfs(str(p), source=str(p))


def test_amd_before_zen5_has_no_frequency_kinds(tmp_path):
    # hwloc ignores cpufreq-based kinds on AMD family < 1Ah: the per-core boost limits of a Zen 3 are not kinds
    def tree(family: int) -> dict:
        files = {f"{CPU}/online": "0-1\n"}
        files["proc/cpuinfo"] = "".join(
            f"processor\t: {i}\nvendor_id\t: AuthenticAMD\ncpu family\t: {family}\nmodel name\t: AMD X\n\n"
            for i in range(2)
        )
        for cpu in range(2):
            files.update(cpu_files(cpu, max_freq=4_900_000 if cpu == 0 else 3_300_000))
        return files

    assert load_sysfs(_tree(tmp_path, tree(25)), source="zen3").kinds == ()
    # family 26 (Zen 5, e.g. Zen 5 + Zen 5c parts): frequencies do tell kinds apart; not Intel: big/little
    t = load_sysfs(_tree(tmp_path / "z5", tree(26)), source="zen5")
    assert [p.kind for p in t.pus] == ["big", "little"]
