"""Regenerate the README screenshots from the real app: each is `ompviz ... --screenshot FILE.svg`.

Run from the repository root: python screenshots/make_screenshots.py
Recorded machines come from ../shared/topologies when present; presets and synthetic machines always work.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "topologies"

SHOTS = [
    # (file, topology source, extra flags)
    ("zen4-2x9654-spread.svg", "preset:epyc-9654-2p-nps4", ["--ranks", "8", "--strategy", "spread"]),
    ("zen4-2x9654-80x24.svg", "preset:epyc-9654-2p-nps4", ["--ranks", "8", "--size", "80x24"]),
    ("hybrid-core-i7.svg", "preset:core-i7-13700", ["--ranks", "2", "--smt", "one"]),
    ("manual-overlap.svg", "synthetic:pack:2 l3:2 core:4 pu:2", ["--cpus", "0-3|2-5", "--ranks", "2"]),
    ("synthetic-4096.svg", "synthetic:pack:4 numa:4 l3:4 core:16 pu:4", ["--ranks", "16", "--strategy", "numa"]),
]
RECORDED = [
    ("kunpeng-920-numa.svg", "sysfs/128arm-2pa2n8cluster4co.tar.bz2", ["--ranks", "4", "--strategy", "numa"]),
    ("knl-7210-smt4.svg", "hwloc-xml/Intel-KnightsLanding-XeonPhi-7210.xml", ["--ranks", "4", "--bind", "spread"]),
]


def shoot(name: str, source: str, flags: list[str], cwd: Path | None = None) -> None:
    out = HERE / name
    # --force: regenerating replaces the committed pictures (ompviz refuses to overwrite a file without it)
    cmd = [sys.executable, "-m", "ompviz", "--topology", source, "--screenshot", str(out), "--force", *flags]
    if "--size" not in flags:
        cmd += ["--size", "160x50"]
    subprocess.run(cmd, check=True, cwd=cwd)
    print(f"wrote {out.relative_to(HERE.parent)}")


def main() -> int:
    for name, source, flags in SHOTS:
        shoot(name, source, flags)
    for name, rel, flags in RECORDED:
        path = SHARED / rel
        if path.exists():
            shoot(name, path.name, flags, cwd=path.parent)  # header shows the file name, not this checkout's path
        else:
            print(f"skipped {name}: {rel} not available (../shared/topologies is absent)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
