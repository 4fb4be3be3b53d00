"""Topology model and sources. ``load(source)`` picks the reader from the source string.

Sources: ``live`` (default), ``preset:NAME``, ``synthetic:DESC``, or a path to a recorded Linux root (directory
or .tar/.tar.gz/.tar.bz2 holding sys/ and proc/), an hwloc XML file (1.x, 2.0, 3.0), ``lscpu -J -e``,
``lscpu -p`` or plain ``lscpu -e`` output, or an ompviz JSON snapshot (``ompviz dump``).
"""

from __future__ import annotations

import os

from ompviz.errors import OmpvizError
from ompviz.topology.model import PU, Core, Group, PURecord, Topology, build_topology

__all__ = ["PU", "Core", "Group", "PURecord", "Topology", "build_topology", "load"]

_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


def load(source: str | None = "live") -> Topology:
    """Load a topology from any supported source; raises OmpvizError naming the source on failure."""
    src = (source or "live").strip()
    if src == "live":
        from ompviz.topology.sysfs import load_live

        return load_live()
    if src.startswith("preset:"):
        from ompviz.topology.presets import load_preset

        return load_preset(src[len("preset:") :])
    if src.startswith("synthetic:"):
        from ompviz.topology.synthetic import load_synthetic

        return load_synthetic(src[len("synthetic:") :], source=src)
    path = os.path.expanduser(src)
    if not os.path.exists(path):
        raise OmpvizError(
            f"{src}: no such file or directory; use 'live', preset:NAME (see 'ompviz presets'), "
            "synthetic:'pack:2 core:8 pu:2', or a path to an hwloc XML, lscpu output, sysfs dump or snapshot"
        )
    if os.path.isdir(path):
        from ompviz.topology.sysfs import load_sysfs

        return load_sysfs(path, source=src)
    if path.lower().endswith(_TAR_SUFFIXES):
        from ompviz.topology.sysfs import load_sysfs

        return load_sysfs(path, source=src)
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as e:
        raise OmpvizError(f"{src}: cannot read: {e.strerror or e}") from None
    text = head.lstrip()
    # A tarball under another name is looked for only when the first byte is not XML's '<' or JSON's '{'
    # (compressed data and a tar header's member name do not start so): the common sources skip tarfile.
    if not text.startswith((b"<", b"{")) and _is_tar(path):
        from ompviz.topology.sysfs import load_sysfs

        return load_sysfs(path, source=src)
    if text.startswith(b"<"):
        from ompviz.topology.hwloc_xml import load_hwloc_xml

        return load_hwloc_xml(path, source=src)
    if text.startswith(b"{"):
        if b'"ompviz-config"' in head:
            return _load_config_topology(path, src)
        if b'"ompviz_snapshot"' in head:
            from ompviz.topology.snapshot import load_snapshot

            return load_snapshot(path, source=src)
        from ompviz.topology.lscpu import load_lscpu

        return load_lscpu(path, source=src)
    first = text.split(b"\n", 1)[0]
    # lscpu -p starts with '#' comments (or is bare CSV); plain lscpu -e with its column names, one of them CPU;
    # plain lscpu's summary ("Architecture:") goes there too, for an error that names the forms to use instead.
    if (
        text.startswith(b"#")
        or b"," in head.split(b"\n", 1)[0]
        or b"cpu" in first.lower().split()
        or first.startswith(b"Architecture:")
    ):
        from ompviz.topology.lscpu import load_lscpu

        return load_lscpu(path, source=src)
    raise OmpvizError(
        f"{src}: not a topology ompviz can read (expected hwloc XML, lscpu -e / -p / -J -e output, an ompviz "
        "snapshot, or a sysfs dump directory/tarball)"
    )


def _load_config_topology(path: str, src: str) -> Topology:
    """The machine embedded in a saved config (``ompviz plan -f json``), so ``show -t cfg.json`` works too."""
    import json

    from ompviz.topology.snapshot import from_snapshot

    try:
        with open(path, encoding="utf-8") as f:
            snap = json.load(f)["topology"]["snapshot"]
    except OSError as e:
        raise OmpvizError(f"{src}: cannot read: {e.strerror or e}") from None
    except ValueError as e:
        raise OmpvizError(f"{src}: broken JSON ({e})") from None
    except (KeyError, TypeError):
        raise OmpvizError(
            f"{src}: an ompviz config without topology.snapshot; re-save it with 'ompviz plan -f json'"
        ) from None
    return from_snapshot(snap, source=src)


def _is_tar(path: str) -> bool:
    import tarfile  # only for files that are not XML/JSON by their first byte: keeps start-up light

    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False
