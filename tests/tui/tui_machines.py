"""Self-built machines for the TUI tests (no ../shared needed), made with the real model builder."""

from __future__ import annotations

from ompviz.topology.model import PURecord, Topology, build_topology


def machine(
    packages: int,
    numa_per_package: int,
    l3_per_numa: int,
    cores_per_l3: int,
    smt: int,
    *,
    name: str = "test machine",
    offline: tuple[int, ...] = (),
    disallowed: tuple[int, ...] = (),
) -> Topology:
    """Like hwloc synthetic 'pack:P numa:N l3:L core:C pu:S(indexes=S*cores:1*S)': SMT sibling s of core k is
    OS index k + s * total_cores (the Linux/AMD numbering, e.g. Zen4 siblings N and N+192)."""
    total_cores = packages * numa_per_package * l3_per_numa * cores_per_l3
    recs = []
    core = 0
    for p in range(packages):
        for n in range(numa_per_package):
            numa = p * numa_per_package + n
            for li in range(l3_per_numa):
                l3 = numa * l3_per_numa + li
                for _ in range(cores_per_l3):
                    for s in range(smt):
                        cpu = core + s * total_cores
                        recs.append(
                            PURecord(
                                cpu,
                                package=p,
                                numa=numa,
                                l3_key=l3,
                                core_key=core,
                                online=cpu not in offline,
                                allowed=cpu not in disallowed,
                            )
                        )
                    core += 1
    return build_topology(recs, name=name, source="test", source_kind="synthetic")


def small() -> Topology:
    """2 packages x 1 NUMA x 2 L3 x 4 cores x SMT2 = 32 PUs (siblings N, N+16)."""
    return machine(2, 1, 2, 4, 2, name="small test box")


def zen4_like() -> Topology:
    """Shape of a 2x EPYC 9654 (NPS1): 2 packages, 12 L3 of 8 cores each, SMT2 siblings N and N+192."""
    return machine(2, 1, 12, 8, 2, name="2x 96-core (Zen4-like)")


def big4096() -> Topology:
    """4 packages x 4 NUMA x 4 L3 x 16 cores x SMT4 = 4,096 PUs."""
    return machine(4, 4, 4, 16, 4, name="synthetic 4096-PU machine")


def hybrid() -> Topology:
    """One package, one L3: 2 P-cores with SMT2 (0-3) then 4 single-thread E-cores (4-7)."""
    recs = [PURecord(c, package=0, numa=0, l3_key=0, core_key=c // 2, kind="P") for c in range(4)]
    recs += [PURecord(c, package=0, numa=0, l3_key=0, core_key=c, kind="E") for c in range(4, 8)]
    return build_topology(recs, name="hybrid test box", source="test", source_kind="synthetic")
