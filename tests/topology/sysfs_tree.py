"""Write small fake Linux sysfs/proc trees (and tarballs of them) for the sysfs reader's tests.

A tree is described as ``{relative path: file text}``; ``cpu_files`` produces the usual per-CPU files so a
test only spells out what it is about. Import with ``from sysfs_tree import ...`` (tests/topology is on
sys.path through pytest's rootdir-relative imports).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

CPU = "sys/devices/system/cpu"
NODE = "sys/devices/system/node"


def cpu_files(
    cpu: int,
    *,
    package: int | None = 0,
    core_cpus: str | None = None,
    core_id: int | None = None,
    die: int | None = None,
    l3: str | None = None,
    l3_size: str = "16384K",
    l2_size: str = "1024K",
    l1d_size: str = "32K",
    capacity: int | None = None,
    base_freq: int | None = None,
    max_freq: int | None = None,
    online: str | None = None,
) -> dict[str, str]:
    """The files of one online CPU with topology; None leaves a file out."""
    t = f"{CPU}/cpu{cpu}/topology/"
    c = f"{CPU}/cpu{cpu}/cache/"
    files = {
        t + "core_id": f"{cpu if core_id is None else core_id}\n",
        t + "core_cpus_list": f"{core_cpus if core_cpus is not None else cpu}\n",
        t + "thread_siblings_list": f"{core_cpus if core_cpus is not None else cpu}\n",
        c + "index0/level": "1\n",
        c + "index0/type": "Data\n",
        c + "index0/size": l1d_size + "\n",
        c + "index0/shared_cpu_list": f"{core_cpus if core_cpus is not None else cpu}\n",
        c + "index2/level": "2\n",
        c + "index2/type": "Unified\n",
        c + "index2/size": l2_size + "\n",
        c + "index2/shared_cpu_list": f"{core_cpus if core_cpus is not None else cpu}\n",
    }
    if package is not None:
        files[t + "physical_package_id"] = f"{package}\n"
    if die is not None:
        files[t + "die_id"] = f"{die}\n"
    if l3 is not None:
        files.update(
            {
                c + "index3/level": "3\n",
                c + "index3/type": "Unified\n",
                c + "index3/size": l3_size + "\n",
                c + "index3/shared_cpu_list": l3 + "\n",
            }
        )
    if capacity is not None:
        files[f"{CPU}/cpu{cpu}/cpu_capacity"] = f"{capacity}\n"
    if base_freq is not None:
        files[f"{CPU}/cpu{cpu}/cpufreq/base_frequency"] = f"{base_freq}\n"
    if max_freq is not None:
        files[f"{CPU}/cpu{cpu}/cpufreq/cpuinfo_max_freq"] = f"{max_freq}\n"
    if online is not None:
        files[f"{CPU}/cpu{cpu}/online"] = online + "\n"
    return files


def offline_cpu_files(cpu: int) -> dict[str, str]:
    """An offline CPU: the kernel keeps cpuN/online (= 0) and drops the topology directory."""
    return {f"{CPU}/cpu{cpu}/online": "0\n"}


def node_files(node: int, cpulist: str, mem_kb: int = 8 * 1024 * 1024) -> dict[str, str]:
    return {
        f"{NODE}/node{node}/cpulist": cpulist + "\n",
        f"{NODE}/node{node}/meminfo": f"Node {node} MemTotal:       {mem_kb} kB\nNode {node} MemFree: 1 kB\n",
    }


def cpuinfo(model: str, n: int, vendor: str = "GenuineIntel") -> dict[str, str]:
    body = "".join(f"processor\t: {i}\nvendor_id\t: {vendor}\nmodel name\t: {model}\n\n" for i in range(n))
    return {"proc/cpuinfo": body}


def two_socket_smt(**overrides) -> dict[str, str]:
    """2 packages x 2 cores x SMT2, siblings N and N+4, one NUMA node and one L3 per package.

    By hand: package 0 = CPUs 0,1,4,5 (cores {0,4} and {1,5}); package 1 = CPUs 2,3,6,7 (cores {2,6},
    {3,7}); OS order 0..7 puts SMT siblings 4 apart, like most x86 servers.
    """
    files: dict[str, str] = {f"{CPU}/online": "0-7\n", f"{CPU}/possible": "0-7\n", f"{CPU}/present": "0-7\n"}
    for cpu in range(8):
        pkg = (cpu % 4) // 2
        core = cpu % 4
        files.update(
            cpu_files(
                cpu,
                package=pkg,
                core_id=core % 2,
                core_cpus=f"{core},{core + 4}",
                l3="0-1,4-5" if pkg == 0 else "2-3,6-7",
            )
        )
    files.update(node_files(0, "0-1,4-5", 4 * 1024 * 1024))
    files.update(node_files(1, "2-3,6-7", 2 * 1024 * 1024))
    files.update(cpuinfo("Test CPU 9000", 8))
    files.update(overrides)
    return files


def write_tree(root: Path, files: dict[str, str | None]) -> Path:
    """Write files (None values are skipped, so overrides can delete a file) under root; returns root."""
    for rel, text in files.items():
        if text is None:
            continue
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def make_tar(files: dict[str, str | None], out: Path, *, top: str = "machine", mode: str = "w:bz2") -> Path:
    """A tarball of the tree with its files under ``top/`` (as in ../shared/topologies/sysfs)."""
    with tarfile.open(out, mode) as tf:
        for rel, text in sorted(files.items()):
            if text is None:
                continue
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{rel}" if top else rel)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return out
