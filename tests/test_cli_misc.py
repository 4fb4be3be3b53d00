"""CLI behaviours shared by every subcommand: empty values, file modes, configs as topology sources."""

import os
import stat

import pytest

from ompviz.cli import main


@pytest.mark.parametrize(
    "argv,flag",
    [
        (["show", "-t", ""], "--topology"),
        (["plan", "-f", "sh", "-o", ""], "-o/--output"),
        (["dump", "-o", " "], "-o/--output"),
        (["plan", "--config", ""], "--config"),
    ],
)
def test_empty_values_are_refused_not_taken_as_default(argv, flag, capsys):
    # An unset shell variable ("-t $MACHINE") must not silently mean the live machine or stdout.
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0] and "empty" in err[0]


def test_written_files_follow_the_umask(tmp_path, capsys):
    old = os.umask(0o022)
    try:
        assert main(["plan", "-t", "preset:teach-4c", "-n", "2", "-f", "json", "-o", str(tmp_path / "c.json")]) == 0
        assert main(["plan", "-t", "preset:teach-4c", "-n", "2", "-f", "sh", "-o", str(tmp_path / "l.sh")]) == 0
        assert main(["dump", "-t", "preset:teach-4c", "-o", str(tmp_path / "d.json")]) == 0
        os.umask(0o077)
        assert main(["plan", "-t", "preset:teach-4c", "-f", "env", "-o", str(tmp_path / "private.env")]) == 0
    finally:
        os.umask(old)
    mode = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert mode == {"c.json": 0o644, "l.sh": 0o755, "d.json": 0o644, "private.env": 0o600}


def test_a_saved_config_is_a_topology_source(tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    assert main(["plan", "-t", "preset:teach-4c", "-n", "2", "-f", "json", "-o", str(cfg)]) == 0
    capsys.readouterr()
    assert main(["show", "-t", str(cfg), "-f", "json"]) == 0
    out = capsys.readouterr().out
    assert '"cores": 4' in out and '"pus": 8' in out
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "ompviz-config", "topology": {}}')
    assert main(["show", "-t", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "topology.snapshot" in err and len(err.strip().splitlines()) == 1
