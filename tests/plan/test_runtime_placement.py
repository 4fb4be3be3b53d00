"""place_threads() against the real OpenMP runtimes.

A tiny OpenMP program (tests/plan/omp_probe.c, built with `cc -fopenmp -O1`) prints omp_get_place_num() of every
thread. Any number of places works on a 2-CPU machine by repeating CPUs: OMP_PLACES="{0},{1},{0},..." has P places.
It runs under the system libgomp and under LLVM libomp from the cmeel-libomp wheel, for every
(places 1..8) x (threads 1..16) x OMP_PROC_BIND close/spread/primary/true, plus false, plus nested regions whose
primary thread sits on place j > 0.

How LLVM libomp is loaded matters: the probe is built by gcc, so it has DT_NEEDED libgomp.so.1. With only
LD_PRELOAD=libomp.so, libgomp is still loaded and its constructor reads OMP_PLACES and binds the initial thread to
place 0's CPUs *before* libomp starts; libomp then takes that narrowed mask as the whole machine ("Ignoring invalid
OS proc ID 1") and collapses the places. So libgomp.so.1 is made to resolve to libomp itself (LD_LIBRARY_PATH to a
directory with libgomp.so.1 -> libomp.so), and the probe reports which runtime actually ran.
"""

from __future__ import annotations

import glob
import os
import shutil
import site
import subprocess
import sys
import sysconfig
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ompviz.plan.runtime import caveats, default_bind, effective_bind, place_threads

HERE = Path(__file__).parent
PROBE_SRC = HERE / "omp_probe.c"
MAX_PLACES = 8
MAX_THREADS = 16
BINDS = ("close", "spread", "primary", "true")
# CPUs of the 2-CPU probe places: place p is {p % 2}; as a sched_getaffinity() bitmask that is 1 << (p % 2).
NCPU = 2

BASE_ENV = {
    "OMP_WAIT_POLICY": "passive",  # idle threads sleep: the machine is shared
    "OMP_DYNAMIC": "false",  # exactly num_threads(T) threads, never fewer
    "OMP_THREAD_LIMIT": "1024",
}
# Which rules predict each runtime, and what the probe reports as the runtime that ran (LLVM and Intel both export
# __kmpc_fork_call).
RULES = {"gnu": "gnu", "llvm": "llvm", "intel": "llvm"}
RUNTIMES = tuple(RULES)


def _compiler() -> str | None:
    for cc in ("cc", "gcc", "clang"):
        if shutil.which(cc):
            return cc
    return None


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> Path:
    cc = _compiler()
    if cc is None:
        pytest.skip("no C compiler (cc/gcc/clang) on PATH: cannot build the OpenMP probe")
    out = tmp_path_factory.mktemp("probe") / "omp_probe"
    res = subprocess.run([cc, "-fopenmp", "-O1", "-o", str(out), str(PROBE_SRC)], capture_output=True, text=True)
    if res.returncode != 0:
        if "omp.h" in res.stderr or "fopenmp" in res.stderr:
            pytest.skip(f"{cc} has no OpenMP support: {res.stderr.strip().splitlines()[0]}")
        pytest.fail(f"building the probe failed:\n{res.stderr}")
    return out


def _find_libomp() -> Path | None:
    """libomp.so from the cmeel-libomp wheel (site-packages/cmeel.prefix/lib)."""
    roots = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()}
    if site.ENABLE_USER_SITE:
        roots.add(site.getusersitepackages())
    for root in sorted(roots):
        for hit in sorted(glob.glob(os.path.join(root, "cmeel.prefix", "lib", "libomp.so*"))):
            return Path(hit)
    return None


@pytest.fixture(scope="module")
def llvm_env(tmp_path_factory) -> dict[str, str]:
    lib = _find_libomp()
    if lib is None:
        pytest.skip(
            "LLVM libomp not found (pip install cmeel-libomp provides site-packages/cmeel.prefix/lib/libomp.so)"
        )
    d = tmp_path_factory.mktemp("llvmlib")
    (d / "libgomp.so.1").symlink_to(lib)
    return {"LD_LIBRARY_PATH": str(d)}


@pytest.fixture(scope="module")
def intel_env(tmp_path_factory, probe) -> dict[str, str]:
    """Intel's libiomp5.so (pip install intel-openmp: a 50 MB wheel, so optional): $OMPVIZ_LIBIOMP5 or
    <prefix>/lib/libiomp5.so. cmeel-libomp also ships a libiomp5.so, but that is LLVM libomp renamed: the library is
    accepted only if KMP_VERSION says it is Intel's."""
    candidates = [os.environ.get("OMPVIZ_LIBIOMP5", "")]
    candidates += [os.path.join(prefix, "lib", "libiomp5.so") for prefix in (sys.prefix, sys.base_prefix)]
    for cand in filter(None, candidates):
        if not os.path.isfile(cand):
            continue
        d = tmp_path_factory.mktemp("iomp5")
        (d / "libgomp.so.1").symlink_to(cand)
        env = {"LD_LIBRARY_PATH": str(d)}
        res = subprocess.run([str(probe), "1"], env={**os.environ, **env, "KMP_VERSION": "1"}, capture_output=True)
        if b"Intel(R) OMP version" in res.stdout + res.stderr:
            return env
    pytest.skip("Intel libiomp5 not found: pip install intel-openmp (50 MB), or set OMPVIZ_LIBIOMP5=/path/libiomp5.so")


def _runtime_env(request, runtime: str) -> dict[str, str]:
    return {
        "gnu": lambda: {},
        "llvm": lambda: request.getfixturevalue("llvm_env"),
        "intel": lambda: request.getfixturevalue("intel_env"),
    }[runtime]()


def _run(probe: Path, runtime_env: dict[str, str], env: dict[str, str], args: list[str]) -> str:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_", "KMP_", "LD_"))}
    full.update(BASE_ENV)
    full.update(runtime_env)
    full.update(env)
    res = subprocess.run([str(probe), *args], env=full, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"probe failed ({res.returncode}) with {env}: {res.stderr}"
    return res.stdout


def _places_env(num_places: int) -> str:
    return ",".join(f"{{{p % NCPU}}}" for p in range(num_places))


def _parallel(jobs):
    """Run the probe jobs a few at a time (2 CPUs, shared): each is quick, the cost is process start-up."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda job: job(), jobs))


def _parse_header(out: str) -> tuple[int, int, str]:
    first = out.splitlines()[0].split()
    assert first[0] == "I", out
    return int(first[1]), int(first[2]), first[3]


def _table(rows: list[tuple[int, int | None, int | None]]) -> str:
    lines = ["thread  predicted  actual"]
    for thread, want, got in rows:
        mark = "" if want == got else "   <-- differs"
        lines.append(f"{thread:6}  {str(want):>9}  {str(got):>6}{mark}")
    return "\n".join(lines)


def _parse_rows(out: str, tag: str) -> list[list[int]]:
    return [
        [int(x, 16) if i == len(parts) - 2 else int(x) for i, x in enumerate(parts[1:])]
        for parts in (line.split() for line in out.splitlines())
        if parts[0] == tag
    ]


def _outermost(probe: Path, runtime: str, runtime_env: dict[str, str], binds=BINDS) -> list[str]:
    """Run every (places, bind, threads) config, each in a fresh process (see test_libgomp_pool_reuse for why);
    return one failure description per mismatching config."""
    configs = [(p, b, t) for b in binds for p in range(1, MAX_PLACES + 1) for t in range(1, MAX_THREADS + 1)]
    outs = _parallel(
        [
            (
                lambda p=p, b=b, t=t: _run(
                    probe, runtime_env, {"OMP_PLACES": _places_env(p), "OMP_PROC_BIND": b}, [str(t)]
                )
            )
            for p, b, t in configs
        ]
    )
    failures = []
    for (num_places, bind, t), out in zip(configs, outs, strict=True):
        n, _, ran = _parse_header(out)
        assert ran == RULES[runtime], f"expected the {runtime} runtime to run the probe, got {ran}"
        assert n == num_places, f"{runtime} saw {n} places for OMP_PLACES={_places_env(num_places)}"
        rows = _parse_rows(out, "R")
        assert [r[1] for r in rows] == [t] * t, f"asked for {t} threads, got {rows}"
        actual = [r[3] for r in rows]
        masks = [r[4] for r in rows]
        want = place_threads(RULES[runtime], bind, num_places, t)
        # The thread's real CPU mask must be its place's CPU: the place number is not just a label.
        masks_ok = bind == "false" or all(m == 1 << (pl % NCPU) for m, pl in zip(masks, actual, strict=True))
        if bind == "false":
            actual = [None if pl == -1 else pl for pl in actual]
        if list(want) != actual or not masks_ok:
            failures.append(
                f"{runtime} OMP_PLACES={_places_env(num_places)} OMP_PROC_BIND={bind} threads={t}"
                + ("" if masks_ok else f" (CPU masks {[hex(m) for m in masks]})")
                + "\n"
                + _table(list(zip(range(t), want, actual, strict=True)))
            )
    return failures


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_outermost_region_matches_prediction(request, probe, runtime):
    """Every (places 1..8) x (threads 1..16) x close/spread/primary/true, each in a fresh process."""
    failures = _outermost(probe, runtime, _runtime_env(request, runtime))
    assert not failures, f"{len(failures)} configurations differ:\n\n" + "\n\n".join(failures[:20])


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_bind_false_leaves_threads_unbound(request, probe, runtime):
    """OMP_PROC_BIND=false: no thread is bound (each keeps the whole process mask), whatever OMP_PLACES says.

    The runtimes report it differently: libgomp drops the places (omp_get_num_places() = 0, place number -1);
    LLVM reports one place (the whole machine) and place number 0 for every thread."""
    env = _runtime_env(request, runtime)
    full_mask = sum(1 << c for c in os.sched_getaffinity(0) if c < 64)
    configs = [(p, t) for p in (1, 2, 3, 8) for t in (1, 2, 5, 16)]
    outs = _parallel(
        [
            (lambda p=p, t=t: _run(probe, env, {"OMP_PLACES": _places_env(p), "OMP_PROC_BIND": "false"}, [str(t)]))
            for p, t in configs
        ]
    )
    for (num_places, t), out in zip(configs, outs, strict=True):
        n, bind_var, ran = _parse_header(out)
        assert ran == RULES[runtime] and bind_var == 0  # omp_proc_bind_false
        assert n == (0 if runtime == "gnu" else 1)
        rows = _parse_rows(out, "R")
        assert len(rows) == t
        assert all(r[4] == full_mask for r in rows), f"{runtime} bound a thread under OMP_PROC_BIND=false: {rows}"
        assert all(r[3] == (-1 if runtime == "gnu" else 0) for r in rows)
        assert place_threads(RULES[runtime], "false", num_places, t) == (None,) * t


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_nested_primary_on_other_places(request, probe, runtime):
    """primary != 0: a nested region whose primary thread is outer thread j.

    OMP_PROC_BIND="close,X" with an outer team of P threads puts outer thread j on place j and leaves every
    thread's place partition the whole list (close does not narrow it), so each inner team of T threads is exactly
    place_threads(runtime, X, P, T, primary=j). X = true is left out: the spec allows true/false only as the whole
    value, not in a list; libgomp accepts "close,true" anyway, LLVM warns and ignores the whole OMP_PROC_BIND (so
    nothing is bound). `true` is the close (libgomp) / spread (LLVM) code path, covered here by those."""
    env = _runtime_env(request, runtime)
    configs = [
        (p, b, t)
        for b in ("close", "spread", "primary")
        for p in range(2, MAX_PLACES + 1)
        for t in range(1, MAX_THREADS + 1)
    ]
    outs = _parallel(
        [
            (
                lambda p=p, b=b, t=t: _run(
                    probe,
                    env,
                    {"OMP_PLACES": _places_env(p), "OMP_PROC_BIND": f"close,{b}", "OMP_MAX_ACTIVE_LEVELS": "2"},
                    ["-n", str(p), str(t)],
                )
            )
            for p, b, t in configs
        ]
    )
    failures = []
    for (num_places, bind, t), out in zip(configs, outs, strict=True):
        rows = _parse_rows(out, "N")  # T, outer thread, outer place, team size, thread, place, mask
        assert len(rows) == num_places * t, out
        for j in range(num_places):
            inner = [r for r in rows if r[1] == j]
            assert inner[0][2] == j, f"outer thread {j} is on place {inner[0][2]}, expected {j}"
            assert all(r[3] == t for r in inner), f"nested team smaller than {t}: nesting not active? {inner}"
            actual = [r[5] for r in inner]
            want = place_threads(RULES[runtime], bind, num_places, t, primary=j)
            masks_ok = all(r[6] == 1 << (r[5] % NCPU) for r in inner)
            if list(want) != actual or not masks_ok:
                failures.append(
                    f"{runtime} nested OMP_PLACES={_places_env(num_places)} OMP_PROC_BIND=close,{bind} "
                    f"primary={j} threads={t}"
                    + ("" if masks_ok else " (CPU masks differ)")
                    + "\n"
                    + _table(list(zip(range(t), want, actual, strict=True)))
                )
    assert not failures, f"{len(failures)} nested teams differ:\n\n" + "\n\n".join(failures[:20])


@pytest.mark.parametrize("runtime", ("gnu", "llvm"))
def test_libgomp_later_region_caveats(request, probe, runtime):
    """The claims of runtime.caveats(), reproduced: two regions in one process, 3 threads then 4, on 2 places.

    Hand trace of libgomp's gomp_team_start() for the second region (close, T=4, P=2: s=2, rest=0): the reuse loop
    advances its counter k for thread 3, finds no idle thread to permute and breaks; the thread-creation loop then
    advances k again, so p moves on to place 0 for thread 3 where the rule (and a fresh process) gives place 1.
    With OMP_PROC_BIND=true, 2 threads then 4: reused thread 1 keeps its CPU of place 1 while the rule says place 0.
    LLVM re-partitions every region: both sequences match the first-region prediction."""
    env = _runtime_env(request, runtime)
    growth = _parse_rows(_run(probe, env, {"OMP_PLACES": _places_env(2), "OMP_PROC_BIND": "close"}, ["3", "4"]), "R")
    second = [r[3] for r in growth[3:]]
    assert place_threads(runtime, "close", 2, 4) == (0, 0, 1, 1)
    assert second == ([0, 0, 1, 0] if runtime == "gnu" else [0, 0, 1, 1])
    assert bool(caveats(runtime, "close")) == (runtime == "gnu")

    true_rows = _parse_rows(_run(probe, env, {"OMP_PLACES": _places_env(2), "OMP_PROC_BIND": "true"}, ["2", "4"]), "R")
    second = true_rows[2:]
    reported = [r[3] for r in second]
    assert reported == list(place_threads(runtime, "true", 2, 4))  # the place numbers follow the rule ...
    really_on = [r[4] == 1 << (r[3] % NCPU) for r in second]  # ... but is each thread bound to that place's CPU?
    assert all(really_on) == (runtime != "gnu"), f"{runtime}: {second}"
    assert (len(caveats(runtime, "true")) == 2) == (runtime == "gnu")


OMP_PROC_BIND_VALUES = {0: "false", 1: "true", 2: "primary", 3: "close", 4: "spread"}  # omp_proc_bind_t


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_true_and_unset_bind(request, probe, runtime):
    """What OMP_PROC_BIND=true and an unset OMP_PROC_BIND become, as omp_get_proc_bind() reports it.

    libgomp keeps `true` (and acts as close: proved by the placement test); LLVM and Intel turn `true` into spread
    when reading the environment. Unset with OMP_PLACES set: libgomp true, LLVM spread; without places: false."""
    env = _runtime_env(request, runtime)
    rules = RULES[runtime]
    # libgomp keeps the ICV `true` (its placement = effective_bind's close); LLVM stores the resolved policy.
    reported_true = "true" if rules == "gnu" else effective_bind(rules, "true")
    cases = [
        ({"OMP_PLACES": _places_env(3), "OMP_PROC_BIND": "true"}, reported_true),
        ({"OMP_PLACES": _places_env(3)}, default_bind(rules, places_set=True)),
        ({}, default_bind(rules, places_set=False)),
    ]
    for case_env, want in cases:
        _, bind_var, _ = _parse_header(_run(probe, env, case_env, ["1"]))
        got = OMP_PROC_BIND_VALUES[bind_var]
        assert got == want, f"{runtime} with {case_env or 'no OMP variables'}: omp_get_proc_bind() = {got}"


def test_display_env_shows_each_runtime_view(request, probe, capsys):
    """OMP_DISPLAY_ENV once per runtime (printed with -s), checking the line that matters: how `true` is shown."""
    want = {"gnu": "OMP_PROC_BIND = 'TRUE'", "llvm": "OMP_PROC_BIND='spread'"}
    for runtime, needle in want.items():
        env = {**_runtime_env(request, runtime), "OMP_DISPLAY_ENV": "true"}
        full = {**{k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "LD_"))}, **BASE_ENV, **env}
        full.update({"OMP_PLACES": _places_env(3), "OMP_PROC_BIND": "true"})
        res = subprocess.run([str(probe), "1"], env=full, capture_output=True, text=True, timeout=60)
        shown = res.stdout + res.stderr
        with capsys.disabled():
            print(f"\n--- OMP_DISPLAY_ENV under {runtime} (OMP_PLACES={_places_env(3)} OMP_PROC_BIND=true)\n{shown}")
        assert needle in shown, shown


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_many_places_spot_checks(request, probe, runtime):
    """Beyond 8 places, where LLVM's floating-point spread spacing (P+1)/T is not exact (17/3, 21/5, ...)."""
    env = _runtime_env(request, runtime)
    configs = [(p, b, t) for p in (12, 16, 20, 31, 32) for t in (3, 5, 6, 7, 11, 40) for b in ("close", "spread")]
    outs = _parallel(
        [
            (lambda p=p, b=b, t=t: _run(probe, env, {"OMP_PLACES": _places_env(p), "OMP_PROC_BIND": b}, [str(t)]))
            for p, b, t in configs
        ]
    )
    failures = []
    for (num_places, bind, t), out in zip(configs, outs, strict=True):
        actual = [r[3] for r in _parse_rows(out, "R")]
        want = place_threads(RULES[runtime], bind, num_places, t)
        if list(want) != actual:
            failures.append(
                f"{runtime} {bind} places={num_places} threads={t}\n"
                + _table(list(zip(range(t), want, actual, strict=True)))
            )
    assert not failures, "\n\n".join(failures)
