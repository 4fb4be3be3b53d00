"""``ompviz show``: the topology as a compact text tree (like ``lstopo-no-graphics``) or as JSON.

The text tree nests packages, dies, NUMA nodes and L3 groups by cpuset containment (so Intel SNC, where one L3
spans several NUMA nodes, and AMD NPS4, where one NUMA node holds several L3s, both come out right), and
lists the cores of each innermost object as runs: ``Core L#0-7 = PU 0-7 + 192-199`` is eight cores, core L#0
holding PUs 0 and 192, L#1 holding 1 and 193, and so on. PU numbers are OS indices (P#), core and L3 numbers
logical (L#), packages and NUMA nodes by OS index, as in lstopo -p.

The JSON is a public interface (see README): keep its keys and meaning stable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ompviz.cpuset import CpuSet
from ompviz.topology.model import Core, Group, Topology
from ompviz.words import plural

WIDTH = 80
_ORDER = {"package": 0, "die": 1, "numa": 2, "l3": 3}  # outer to inner when two objects have the same cpus


def to_json(topo: Topology) -> dict:
    """The public ``show --format json`` schema: counts of online objects and one entry per PU."""
    s = topo.summary()
    return {
        "name": topo.name,
        "packages": s["packages"],
        "numa_nodes": s["numa_nodes"],
        "l3_caches": s["l3_caches"],
        "cores": s["cores"],
        "pus": s["pus"],
        "cpus": [
            {
                "os_index": p.os_index,
                "logical_index": p.logical_index,
                "package": p.package,
                "numa": p.numa,
                "l3": p.l3,
                "core": p.core,
                "kind": p.kind,
                "online": p.online,
                "allowed": p.allowed,
            }
            for p in topo.pus
        ],
    }


# -- text ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Node:
    group: Group | None  # None = the machine
    parent: _Node | None = None
    children: list[_Node] = field(default_factory=list)
    cores: list[Core] = field(default_factory=list)
    overlap: bool = False  # (root only) some objects overlap without nesting


def _size(n: int) -> str:
    """Bytes in the largest binary unit that fits, to one decimal without a trailing ``.0`` (``16 GiB``,
    ``11.6 GiB``): the decision is made on the rounded text, so a node of 15.98 GiB does not print as
    ``16.0 GiB`` next to an exact ``16 GiB`` one."""
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div:
            text = f"{n / div:.1f}"
            return f"{text.removesuffix('.0')} {unit}"
    return f"{n} B"


def _label(g: Group) -> str:
    if g.kind == "package":
        return f"Package P#{g.index}"
    if g.kind == "die":
        return f"Die P#{g.index}"
    if g.kind == "numa":
        return f"NUMA P#{g.index}" + (f" ({_size(g.size)})" if g.size else "")
    return f"L3 L#{g.index}" + (f" ({_size(g.size)})" if g.size else "")


def _tree(topo: Topology) -> _Node:
    root = _Node(None)
    groups = [*topo.packages, *topo.dies, *topo.numa_nodes, *topo.l3s]
    groups.sort(key=lambda g: (-len(g.cpus), _ORDER[g.kind], g.cpus.first or 0))
    deepest: dict[int, _Node] = {}  # cpu -> innermost node placed so far that holds it

    def parent_for(cpus: CpuSet) -> _Node:
        node = deepest.get(cpus.first, root) if cpus else root
        while node.group is not None and not cpus <= node.group.cpus:
            node = node.parent  # partial overlap (not a tree): climb to an object that holds it all
            root.overlap = True
        return node

    for g in groups:
        parent = parent_for(g.cpus)
        node = _Node(g, parent=parent)
        parent.children.append(node)
        for c in g.cpus:
            deepest[c] = node
    for core in topo.cores:
        node = parent_for(core.cpus)
        # cores arrive in logical order; children are ordered by first CPU below, as hwloc orders them
        node.cores.append(core)

    def order(node: _Node) -> None:
        node.children.sort(key=lambda n: n.group.cpus.first)
        for c in node.children:
            order(c)

    order(root)
    return root


@dataclass(frozen=True, slots=True)
class _Run:
    cores: tuple[Core, ...]
    step: int  # each PU of core k+1 = the same-rank PU of core k + step


def _runs(cores: list[Core], disallowed: CpuSet) -> list[_Run]:
    """Group consecutive cores of the same shape (size, kind, allowed pattern) whose PUs advance evenly."""

    def shape(c: Core) -> tuple:
        return (len(c.cpus), c.kind, tuple(i in disallowed for i in c.cpus.ids))

    runs: list[list[Core]] = []
    steps: list[int] = []
    for c in cores:
        if runs:
            last = runs[-1]
            prev = last[-1]
            a, b = prev.cpus.ids, c.cpus.ids
            same = shape(prev) == shape(c) and prev.logical_index + 1 == c.logical_index
            if same:
                d = b[0] - a[0]
                if d > 0 and all(y - x == d for x, y in zip(a, b, strict=True)) and (len(last) == 1 or steps[-1] == d):
                    last.append(c)
                    steps[-1] = d
                    continue
        runs.append([c])
        steps.append(0)
    return [_Run(tuple(r), s) for r, s in zip(runs, steps, strict=True)]


def _run_text(run: _Run, disallowed: CpuSet, kinds: bool) -> str:
    first, last = run.cores[0], run.cores[-1]
    ids = first.cpus.ids
    n, m = len(ids), len(run.cores)
    if m == 1:
        head = f"Core L#{first.logical_index}"
        pus = "PU " + "+".join(str(a) if a == b else f"{a}-{b}" for a, b in first.cpus.runs())
    else:
        head = f"Core L#{first.logical_index}-{last.logical_index}"
        if run.step == 1:
            pus = "PU " + " + ".join(f"{x}-{x + m - 1}" for x in ids)
        elif run.step == n and all(ids[s] == ids[0] + s for s in range(n)):
            pus = f"PU {ids[0]}-{ids[0] + m * n - 1} ({n} per core)"
        else:
            # strided ranges (likwid / ompviz list notation): 0-34:2 + 36-70:2 = cores {0,36}, {2,38}, ...
            pus = "PU " + " + ".join(f"{x}-{x + (m - 1) * run.step}:{run.step}" for x in ids)
    text = f"{head} = {pus}"
    if kinds and first.kind:
        text += f" [{first.kind}]"
    cpus = CpuSet.union_all(c.cpus for c in run.cores)
    bad = cpus & disallowed
    if bad:
        text += " (not allowed)" if bad == cpus else f" (not allowed: {bad.to_list()})"
    return text


def _wrap(text: str, indent: int, width: int = WIDTH) -> list[str]:
    """Greedy wrap at spaces; a word too long for a line (a long CPU list) breaks after one of its commas,
    never inside a number, so every piece still reads as cpulist notation."""
    first = " " * indent
    cont = first + "    "
    pieces: list[tuple[str, bool]] = []  # (text, needs a space before it when on the same line)
    for word in text.split():
        if len(cont) + len(word) <= width:
            pieces.append((word, True))
            continue
        if "," not in word:  # e.g. a very long model name: cut it, nothing else is possible
            room = width - len(cont)
            pieces += [(word[i : i + room], i == 0) for i in range(0, len(word), room)]
            continue
        chunk = ""
        glue = True
        for part in word.split(","):
            part_c = part + ","
            if chunk and len(cont) + len(chunk) + len(part_c) > width:
                pieces.append((chunk, glue))
                chunk, glue = "", False
            chunk += part_c
        pieces.append((chunk[:-1], glue))
    lines: list[str] = []
    line = first
    fresh = True
    for piece, space in pieces:
        sep = " " if space and not fresh else ""
        if not fresh and len(line) + len(sep) + len(piece) > width:
            lines.append(line)
            line, sep = cont, ""
        line += sep + piece
        fresh = False
    lines.append(line)
    return lines


def _gkey(g: Group) -> tuple:
    return (g.kind, g.index, g.cpus.first)  # die indices repeat across packages: first CPU tells them apart


def _cores_in_groups(topo: Topology) -> dict[tuple, int]:
    """How many cores lie wholly inside each object (linear in PUs: no set tests per pair)."""
    owner: dict[int, dict[str, tuple]] = {}
    for kind, groups in (("package", topo.packages), ("die", topo.dies), ("numa", topo.numa_nodes), ("l3", topo.l3s)):
        for g in groups:
            k = _gkey(g)
            for c in g.cpus:
                owner.setdefault(c, {})[kind] = k
    counts: dict[tuple, int] = {}
    for core in topo.cores:
        ids = core.cpus.ids
        first = owner.get(ids[0], {})
        for kind, k in first.items():
            if all(owner.get(c, {}).get(kind) == k for c in ids[1:]):
                counts[k] = counts.get(k, 0) + 1
    return counts


def _cores_word(n: int) -> str:
    return plural(n, "core")


def to_text(topo: Topology, width: int = WIDTH) -> str:
    """A compact tree, every line at most ``width`` columns."""
    s = topo.summary()
    kinds = bool(topo.kinds)
    disallowed = topo.disallowed
    out: list[str] = []
    out += _wrap(f"Machine: {topo.name}", 0, width)
    # the kind only when it says something the source does not ("source: live (live)" says it twice)
    kind = f" ({topo.source_kind})" if topo.source_kind and topo.source_kind != topo.source else ""
    out += _wrap(f"source: {topo.source}{kind}", 2, width)
    counts = (
        f"{plural(s['packages'], 'package')}, {plural(s['numa_nodes'], 'NUMA node')}, {s['l3_caches']} L3, "
        f"{_cores_word(s['cores'])}, {plural(s['pus'], 'PU')}"
    )
    extra = []
    if topo.smt > 1:
        extra.append(f"SMT{topo.smt}")
    if kinds:
        extra.append("kinds " + ", ".join(topo.kinds))
    if extra:
        counts += f" ({'; '.join(extra)})"
    out += _wrap(counts, 2, width)
    root = _tree(topo)
    ncores = _cores_in_groups(topo)
    legend_done = False

    def legend(run: _Run) -> None:
        nonlocal legend_done
        if legend_done or run.step != 1 or len(run.cores) < 2 or len(run.cores[0].cpus) < 2:
            return
        legend_done = True
        c0, c1 = run.cores[0], run.cores[1]
        out.insert(
            legend_at,
            f"  PU numbers are OS indices; '{_run_text(run, CpuSet(), False)}' pairs SMT siblings: "
            f"L#{c0.logical_index} = PU {{{c0.cpus.to_list()}}}, "
            f"L#{c1.logical_index} = PU {{{c1.cpus.to_list()}}}, ...",
        )

    legend_at = len(out)

    def emit(node: _Node, indent: int) -> None:
        labels = [_label(node.group)]
        while len(node.children) == 1 and not node.cores and node.children[0].group.cpus == node.group.cpus:
            node = node.children[0]
            labels.append(_label(node.group))
        head = " + ".join(labels)
        runs = _runs(node.cores, disallowed)
        for r in runs:
            legend(r)
        tokens = [_run_text(r, disallowed, kinds) for r in runs]
        inline_ok = CpuSet.union_all(c.cpus for c in node.cores) == node.group.cpus
        if not node.children and len(tokens) == 1 and inline_ok:
            line = f"{' ' * indent}{head}: {tokens[0]}"
            if len(line) <= width:
                out.append(line)
                return
        out.extend(
            _wrap(
                f"{head}: {_cores_word(ncores.get(_gkey(node.group), 0))}, PU {node.group.cpus.to_list()}",
                indent,
                width,
            )
        )
        for child in node.children:
            emit(child, indent + 2)
        _emit_tokens(tokens, indent + 2, width, out)

    for child in root.children:
        emit(child, 0)
    if root.cores:
        runs = _runs(root.cores, disallowed)
        for r in runs:
            legend(r)
        out.append("Cores outside any package/NUMA/L3:")
        _emit_tokens([_run_text(r, disallowed, kinds) for r in runs], 2, width, out)
    if topo.offline:
        out += _wrap(f"Offline: PU {topo.offline.to_list()} (not usable; no core or NUMA node known)", 0, width)
    if disallowed:
        out += _wrap(f"Not allowed for this process: PU {disallowed.to_list()}", 0, width)
    if root.overlap:
        out += _wrap(
            "note: some objects overlap without nesting; each core is listed once, under the innermost "
            "object holding all its PUs",
            0,
            width,
        )
    for note in topo.notes:
        out += _wrap(f"note: {note}", 0, width)
    # the legend line may be long: wrap it in place
    if legend_done:
        legend_line = out.pop(legend_at)
        out[legend_at:legend_at] = _wrap(legend_line.strip(), 2, width)
    return "\n".join(out)


def _emit_tokens(tokens: list[str], indent: int, width: int, out: list[str]) -> None:
    """One run per line; single cores (irregular numbering) packed several to a line."""
    pad = " " * indent
    line = ""
    for t in tokens:
        single = "-" not in t.split(" = ", 1)[0]
        if single and line and len(pad) + len(line) + 2 + len(t) <= width:
            line += "; " + t
            continue
        if line:
            out.extend(_wrap(line, indent, width))
        line = t
        if not single:
            out.extend(_wrap(line, indent, width))
            line = ""
    if line:
        out.extend(_wrap(line, indent, width))
