"""Which place each OpenMP thread lands on, per runtime: libgomp (GCC) and LLVM libomp (also Intel libiomp5).

Both runtimes implement the same OpenMP rules for `close`, `spread` and `primary`, but they disagree on how to
share out threads and places that do not divide evenly. The functions here are step-by-step ports of the two
runtimes' own loops, so that they also agree in the uneven and wrapped-around cases:

- libgomp: `gomp_team_start()` in libgomp/team.c (the `switch (bind)` before and inside the thread loops);
- LLVM: `__kmp_partition_places()` in openmp/runtime/src/kmp_runtime.cpp.

Everything describes the first parallel region of a process whose place partition is the whole place list
(places 0..P-1), with the primary thread on place `primary`. At start-up both runtimes bind the initial thread to
place 0 of the places that survive (both drop CPUs outside the process's initial affinity, and places left empty:
under `taskset -c 1`, OMP_PLACES="{0,1},{1},{0}" becomes {1},{1}), so `primary` is 0 for a process; it is > 0 only
for a nested region (e.g. OMP_PROC_BIND="close,spread": inner team j starts on place j of the full list).
Later regions of the same process: LLVM matches again; libgomp may deviate, see caveats().

Verified against the real runtimes by tests/plan/test_runtime_placement.py: a probe program under libgomp, LLVM
libomp (and Intel libiomp5 when present) for every (places 1..8) x (threads 1..16) x close/spread/primary/true in
fresh processes, nested regions with the primary on every place, and spot checks up to 32 places.
"""

from __future__ import annotations

RUNTIMES = ("gnu", "llvm")
BINDS = ("close", "spread", "primary", "true", "false")

_RUNTIME_NAMES = {"gnu": "libgomp", "llvm": "LLVM libomp"}


def default_bind(runtime: str, places_set: bool) -> str:
    """The OMP_PROC_BIND a runtime uses when the variable is unset (why ompviz always emits it).

    With OMP_PLACES set: libgomp uses `true` (acts as close), LLVM `spread` (omp_get_proc_bind() = 4, and
    OMP_DISPLAY_ENV shows 'spread'); without OMP_PLACES both leave threads unbound. Checked against both runtimes.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown OpenMP runtime {runtime!r}; expected one of {', '.join(RUNTIMES)}")
    if not places_set:
        return "false"
    return "true" if runtime == "gnu" else "spread"


def _check(runtime: str, bind: str, num_places: int, num_threads: int, primary: int) -> None:
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown OpenMP runtime {runtime!r}; expected one of {', '.join(RUNTIMES)}")
    if bind not in BINDS:
        raise ValueError(f"unknown OMP_PROC_BIND {bind!r}; expected one of {', '.join(BINDS)}")
    if num_places < 1:
        raise ValueError(f"num_places must be >= 1, got {num_places}")
    if num_threads < 0:
        raise ValueError(f"num_threads must be >= 0, got {num_threads}")
    if not 0 <= primary < num_places:
        raise ValueError(f"primary place {primary} is outside 0..{num_places - 1}")


def effective_bind(runtime: str, bind: str) -> str:
    """The policy the runtime actually applies for OMP_PROC_BIND=`bind` (resolves `true`).

    libgomp handles `true` exactly like `close` (team.c: `case omp_proc_bind_true: case omp_proc_bind_close:`).
    LLVM libomp turns `true` into `spread` when it reads the environment (kmp_settings.cpp).
    """
    if bind == "true":
        return "close" if runtime == "gnu" else "spread"
    return bind


def _gnu(bind: str, num_places: int, num_threads: int, primary: int) -> list[int]:
    """Port of the place computation in libgomp's gomp_team_start(), partition = all places."""
    off, plen = 0, num_places  # the primary's place partition (thr->ts.place_partition_off/len)
    p = primary
    places = [primary]  # thread 0 is the primary and never moves
    s = rest = k = 0
    if bind == "close":
        if num_threads > plen:
            # T > P: s threads per place, then the last `rest` threads one by one from the primary's place again.
            s, rest = divmod(num_threads, plen)
        else:
            s = 1
        k = 1
    elif bind == "spread":
        if num_threads <= plen:
            # T <= P: sub-partitions of s+1 places (the first `rest`) or s places; `rest` becomes a place index.
            s, rest = divmod(plen, num_threads)
            rest = (s + 1) * rest + off
            # The primary's sub-partition is the one containing its place; later threads start at the next ones.
            p -= (p - off) % (s + 1) if p < rest else (p - rest) % s
        else:
            s, rest = divmod(num_threads, plen)
            k = 1
    for i in range(1, num_threads):
        if bind == "close" or (bind == "spread" and k != 0):
            if k == s:
                p += 1
                if p == off + plen:
                    p = off
                k = 1
                if i == num_threads - rest:
                    s = 1
            else:
                k += 1
        elif bind == "spread":
            p += s + 1 if p < rest else s
            if p == off + plen:
                p = off
        places.append(p)
    return places


def _llvm(bind: str, num_places: int, num_threads: int, primary: int) -> list[int]:
    """Port of LLVM's __kmp_partition_places(), outermost team: first_place=0, last_place=num_masks-1."""
    n_places = num_masks = num_places
    first_place, last_place = 0, num_places - 1

    def nxt(place: int) -> int:
        if place == last_place:
            return first_place
        if place == num_masks - 1:
            return 0
        return place + 1

    n_th = num_threads
    if bind == "primary":
        return [primary] * n_th
    if bind == "close" and n_th <= n_places:
        places = [primary]
        place = primary
        for _ in range(1, n_th):
            place = nxt(place)
            places.append(place)
        return places
    if bind == "spread" and n_th <= n_places:
        # The whole place list is the partition (n_places == num_masks): LLVM's floating-point spacing branch.
        places = []
        current = float(primary)
        spacing = float(n_places + 1) / float(n_th)
        for _ in range(n_th):
            first = int(current)
            if first >= n_places:
                # Wrap-around, mirrored from the C code including its adjustments (their debug asserts say these
                # only happen for the one-past-the-end iteration, but release builds apply them to every thread).
                if primary:
                    first -= n_places
                    if first == primary + 1:
                        first -= 1
                else:
                    first = 0
            places.append(first)
            current += spacing
        return places
    # close or spread with T > P: S per place, the `rem` extra threads on every `gap`-th place.
    S, rem = divmod(n_th, n_places)
    gap = n_places // rem if rem > 0 else n_places
    place, gap_ct, s_count = primary, gap, 0
    places = []
    for _ in range(n_th):
        places.append(place)
        s_count += 1
        if s_count == S and rem and gap_ct == gap:
            pass  # this place takes one extra thread
        elif s_count == S + 1 and rem and gap_ct == gap:
            place = nxt(place)
            s_count, gap_ct = 0, 1
            rem -= 1
        elif s_count == S:
            place = nxt(place)
            gap_ct += 1
            s_count = 0
    return places


def place_threads(
    runtime: str, bind: str, num_places: int, num_threads: int, primary: int = 0
) -> tuple[int | None, ...]:
    """Place index of each OpenMP thread 0..num_threads-1 of the outermost parallel region.

    `runtime` is "gnu" (libgomp) or "llvm" (LLVM libomp and Intel libiomp5); `bind` is the OMP_PROC_BIND value;
    `primary` is the place of the primary thread (0 for the initial thread: both runtimes bind it to place 0).
    Returns None for every thread when the runtime does not bind (`false`).
    """
    _check(runtime, bind, num_places, num_threads, primary)
    if bind == "false":
        return (None,) * num_threads
    if num_threads == 0:
        return ()
    policy = effective_bind(runtime, bind)
    if policy == "primary":
        return (primary,) * num_threads
    fn = _gnu if runtime == "gnu" else _llvm
    return tuple(fn(policy, num_places, num_threads, primary))


def runtime_differs(bind: str, num_places: int, num_threads: int, primary: int = 0) -> bool:
    """True when libgomp and LLVM libomp put at least one thread on a different place."""
    return place_threads("gnu", bind, num_places, num_threads, primary) != place_threads(
        "llvm", bind, num_places, num_threads, primary
    )


def _groups(places: tuple[int | None, ...], num_places: int) -> str:
    """'{0,1,4}{2,3}': the threads on each place, in place order (empty places shown as {}).

    Runs of three or more empty places are folded ('{0}{}x47{1}') so 4 threads on 192 places stay one line."""
    by_place: list[list[int]] = [[] for _ in range(num_places)]
    for thread, place in enumerate(places):
        if place is not None:
            by_place[place].append(thread)
    out: list[str] = []
    empty = 0
    for ts in by_place + [None]:
        if ts == []:
            empty += 1
            continue
        if empty:
            out.append("{}" * empty if empty < 3 else f"{{}}x{empty}")
            empty = 0
        if ts is not None:
            out.append("{" + ",".join(map(str, ts)) + "}")
    return "".join(out)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe(runtime: str, bind: str, num_places: int, num_threads: int, primary: int = 0) -> str:
    """One or two plain-language sentences: which rule the runtime applies here and what it gives.

    e.g. "libgomp: 5 threads on 2 places: blocks of 2 consecutive threads per place, then the last extra thread
    (4) one per place from place 0 again. Threads per place: {0,1,4}{2,3}."
    """
    placed = place_threads(runtime, bind, num_places, num_threads, primary)
    name = _RUNTIME_NAMES[runtime]
    T, P = num_threads, num_places
    head = f"{name}: {_plural(T, 'thread')} on {_plural(P, 'place')}"
    if bind == "false":
        return f"{head}: OMP_PROC_BIND=false, threads are not bound; the OS may run them on any allowed CPU."
    policy = effective_bind(runtime, bind)
    prefix = f"OMP_PROC_BIND=true means {policy} in {name}. " if bind == "true" else ""
    start = f" from the primary's place {primary}" if primary else ""
    result = f" Threads per place: {_groups(placed, P)}."
    if T == 0:
        return f"{prefix}{head}: no threads."
    if policy == "primary":
        return f"{prefix}{head}: all threads on the primary thread's place {primary}."
    if T <= P and policy == "close":
        return f"{prefix}{head}: one thread per place on consecutive places{start}.{result}"
    if T <= P:  # spread
        if runtime == "gnu":
            sub, extra = divmod(P, T)
            rule = f"{T} sub-partitions of " + (f"{sub} consecutive places" if sub > 1 else "1 place")
            if extra:
                rule += " (the first gets" if extra == 1 else f" (the first {extra} get"
                rule += f" {sub + 1})"
            rule += ", each thread on the first place of its sub-partition"
            if primary:
                rule += f" (the primary stays on place {primary})"
        else:
            rule = f"thread i on place {primary} + i*(P+1)/T = {primary} + i*{(P + 1) / T:.3g}, rounded down"
            if primary:
                rule += ", wrapping around"
        return f"{prefix}{head}: spread, {rule}.{result}"
    per, extra = divmod(T, P)
    blocks = (f"blocks of {per} consecutive threads per place" if per > 1 else "one thread per place") + start
    if extra == 0:
        rule = blocks
    elif runtime == "gnu":
        first_extra = T - extra
        which = f"({first_extra})" if extra == 1 else f"({first_extra}-{T - 1})"
        rule = (
            f"{blocks}, then the last {'extra thread' if extra == 1 else f'{extra} extra threads'} {which} "
            f"one per place from place {primary} again"
        )
    else:
        gap = P // extra
        every = "every place" if gap == 1 else f"every {_ordinal(gap)} place"
        rule = (
            f"{blocks}; {every}{start or f' from place {primary}'} takes one more "
            f"({per + 1} consecutive threads) until "
            + ("the extra thread is placed" if extra == 1 else f"all {extra} extra threads are placed")
        )
    return f"{prefix}{head}: {rule}.{result}"


_GNU_GROWTH = (
    "libgomp: a later parallel region with more threads than the previous one (and more threads than places) may "
    "put the first newly created thread one place further than predicted (thread-pool reuse in gomp_team_start); "
    "the first region, and regions of the same or smaller size, match."
)
_GNU_TRUE = (
    "libgomp treats OMP_PROC_BIND=true as close in the first parallel region, but when a later region has a "
    "different number of threads it keeps reused threads where they were (omp_get_place_num() then names a place "
    "the thread is not bound to): use close to keep every thread on its predicted place."
)


def caveats(runtime: str, bind: str) -> tuple[str, ...]:
    """What the prediction does not cover, in plain language (for the explain panel and plan warnings).

    place_threads() is exact for the first parallel region of a process (checked against the real runtimes); later
    regions reuse threads. LLVM re-partitions every region and matches the rule every time; libgomp (GCC 12, same
    code in current team.c) deviates in two ways, both reproduced against the real runtime by
    tests/plan/test_runtime_placement.py (test_libgomp_later_region_caveats).
    """
    if runtime == "gnu" and bind == "true":
        return (_GNU_TRUE, _GNU_GROWTH)
    if runtime == "gnu" and bind in ("close", "spread"):
        return (_GNU_GROWTH,)
    return ()
