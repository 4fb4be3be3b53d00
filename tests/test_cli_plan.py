"""`ompviz plan` end to end through ompviz.cli.main: formats, -o/--force, --per-rank-dir, --config, exit codes."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "export"))

from test_export_golden import small_box  # noqa: E402

from ompviz.cli import main  # noqa: E402
from ompviz.topology.snapshot import dumps_snapshot  # noqa: E402


@pytest.fixture
def box(tmp_path) -> str:
    """The 16-PU test box as a snapshot file: a --topology any checkout can load."""
    p = tmp_path / "box.json"
    p.write_text(dumps_snapshot(small_box()))
    return str(p)


def run(capsys, *argv) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_every_format_prints(capsys, box):
    from ompviz.export import FORMATS

    for fmt in FORMATS:
        rc, out, err = run(capsys, "plan", "-t", box, "-n", "2", "-f", fmt, "--", "./a.out", "$(x)")
        assert rc == 0, (fmt, err)
        assert out.strip(), fmt
    rc, out, _ = run(capsys, "plan", "-t", box, "-n", "2", "-f", "sh", "--", "./a.out", "$(x)")
    assert "CMD=(./a.out '$(x)')" in out


def test_output_file_is_atomic_and_never_overwritten_silently(capsys, box, tmp_path):
    target = tmp_path / "launch.sh"
    rc, out, err = run(capsys, "plan", "-t", box, "-n", "2", "-f", "sh", "-o", str(target))
    assert rc == 0 and out == "" and "wrote" in err
    assert target.read_text().startswith("#!/usr/bin/env bash\n")
    assert os.stat(target).st_mode & stat.S_IXUSR
    before = target.read_text()
    rc, out, err = run(capsys, "plan", "-t", box, "-n", "4", "-f", "sh", "-o", str(target))
    assert rc == 2 and "already exists; use --force" in err and err.count("\n") == 1
    assert target.read_text() == before
    rc, _, _ = run(capsys, "plan", "-t", box, "-n", "4", "-f", "sh", "-o", str(target), "--force")
    assert rc == 0 and target.read_text() != before


def test_unwritable_path_is_one_line(capsys, box, tmp_path):
    rc, _, err = run(capsys, "plan", "-t", box, "-f", "sh", "-o", str(tmp_path / "no" / "such" / "x.sh"))
    assert rc == 2 and "does not exist" in err and err.count("\n") == 1


def test_per_rank_dir(capsys, box, tmp_path):
    d = tmp_path / "ranks"
    rc, _, err = run(capsys, "plan", "-t", box, "-n", "2", "-f", "env", "--per-rank-dir", str(d))
    assert rc == 0, err
    assert sorted(os.listdir(d)) == ["rank-0.env", "rank-1.env"]
    assert "OMP_PLACES=" in (d / "rank-1.env").read_text()
    rc, _, err = run(capsys, "plan", "-t", box, "-n", "2", "-f", "env", "--per-rank-dir", str(d))
    assert rc == 2 and "already exists; use --force" in err
    rc, _, err = run(capsys, "plan", "-t", box, "-n", "2", "-f", "sh", "--per-rank-dir", str(d))
    assert rc == 2 and "--format env only" in err


def test_error_warnings_exit_1_but_still_print(capsys, box):
    # every CPU reserved: nothing left for the ranks is an error-severity warning
    rc, out, err = run(capsys, "plan", "-t", box, "-n", "2", "--reserve", "0-15", "-f", "sh")
    assert rc == 1
    assert out.startswith("#!/usr/bin/env bash")
    assert "plan error:" in err


def test_bad_input_exit_2(capsys, box, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["plan", "-t", box, "-f", "nope"])
    assert e.value.code == 2
    capsys.readouterr()
    rc, _, err = run(capsys, "plan", "-t", box, "--threads", "many")
    assert rc == 2 and err.count("\n") == 1
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "ompviz-config", "version": 7}')
    rc, _, err = run(capsys, "plan", "--config", str(bad))
    assert rc == 2 and "config version 7 is not supported" in err and err.count("\n") == 1


def test_config_replans_and_flags_override(capsys, box, tmp_path):
    cfg = tmp_path / "cfg.json"
    rc, _, _ = run(
        capsys, "plan", "-t", box, "-n", "2", "--places", "threads", "-f", "json", "-o", str(cfg), "--", "./a"
    )
    assert rc == 0
    rc, direct, _ = run(capsys, "plan", "-t", box, "-n", "2", "--places", "threads", "-f", "sh", "--", "./a")
    rc2, replanned, err = run(capsys, "plan", "--config", str(cfg), "-f", "sh")
    assert rc == rc2 == 0
    # same machine (the embedded snapshot), same request, the saved command: the same launcher
    assert replanned == direct
    # this test machine is not the 16-PU box: the note says so and names the override
    if "differs from this machine" in err:
        assert "--topology live" in err
    rc, out, _ = run(capsys, "plan", "--config", str(cfg), "-n", "4", "-f", "json")
    assert rc == 0 and len(json.loads(out)["workers"]) == 4


def test_huge_numbers_are_one_line_exit_2(capsys, box):
    # the 16-PU box: at most 8 ranks per CPU = 128; --threads at most 65,536 per rank
    for argv, expect in (
        (["-n", "99999999999"], "plan at most 128 ranks"),
        (["--threads", "100000000"], "at most 65,536 OpenMP threads per rank"),
        (["-s", "manual", "--cpus", "|".join(["0"] * 200)], "--cpus lists 200 ranks: too many ranks"),
    ):
        rc, out, err = run(capsys, "plan", "-t", box, *argv)
        assert rc == 2 and out == "" and err.count("\n") == 1 and expect in err, (argv, err)
        assert "Traceback" not in err
    # a manual list far beyond the machine is a normal (error) plan: exit 1, the rank keeps the CPUs that exist
    rc, out, err = run(capsys, "plan", "-t", box, "-s", "manual", "--cpus", "0-1048575", "-f", "json")
    assert rc == 1 and json.loads(out)["workers"][0]["cpus"] == "0-15"
    assert "names CPUs 16-1048575 that" in err


def test_unknown_vllm_var_is_refused_with_a_suggestion(capsys, box):
    known = "VLLM_CPU_OMP_THREADS_BIND, VLLM_CPU_NUM_OF_RESERVED_CPU and CPU_VISIBLE_MEMORY_NODES"
    rc, out, err = run(capsys, "plan", "-t", box, "-s", "vllm", "--vllm-var", "VLLM_CPU_OMP_THREAD_BIND=0-3")
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert "--vllm-var VLLM_CPU_OMP_THREAD_BIND: unknown variable (did you mean VLLM_CPU_OMP_THREADS_BIND?)" in err
    assert known in err
    rc, _, err = run(capsys, "plan", "-t", box, "-s", "vllm", "--vllm-var", "FOO=1")
    assert rc == 2 and "--vllm-var FOO: unknown variable; vLLM's CPU binding reads only " + known in err
    # a known name still plans: CPUs 0-3 lie in one NUMA node of the box, one place for one worker
    rc, out, err = run(capsys, "plan", "-t", box, "-s", "vllm", "--vllm-var", "VLLM_CPU_OMP_THREADS_BIND=0-3")
    assert rc == 0 and "{0, 1, 2, 3}" in out, err
