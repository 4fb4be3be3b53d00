"""`ompviz --screenshot FILE.svg` follows the rule of every ompviz writer: no silent overwrite without --force."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from ompviz.cli import main
from ompviz.commands.tui import check_screenshot_path
from ompviz.errors import OmpvizError
from ompviz.fileio import write_atomic

REPO = Path(__file__).resolve().parent.parent
SOURCE = "synthetic:core:2 pu:2"  # tiny: the render stays well under a second


def _shoot(path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ompviz", "-t", SOURCE, "--screenshot", str(path), "--size", "80x24", *extra],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


def test_refuses_existing_file_then_force_overwrites(tmp_path):
    out = tmp_path / "shot.svg"
    out.write_text("keep me")
    r = _shoot(out)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"ompviz: error: {out}: already exists; use --force to overwrite it"]
    assert out.read_text() == "keep me" and r.stdout == ""
    r = _shoot(out, "--force")
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert text.lstrip().startswith("<svg") and "keep me" not in text
    assert [p.name for p in tmp_path.iterdir()] == ["shot.svg"]  # no temp file left behind


def test_new_file_needs_no_force(tmp_path):
    out = tmp_path / "new.svg"
    r = _shoot(out)
    assert r.returncode == 0, r.stderr
    assert out.read_text().lstrip().startswith("<svg")


def test_refusal_comes_before_loading_anything(tmp_path, capsys):
    # the topology source is unreadable: the existing file is reported first, without building the app
    out = tmp_path / "shot.svg"
    out.write_text("x")
    assert main(["-t", str(tmp_path / "missing.xml"), "--screenshot", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"ompviz: error: {out}: already exists; use --force to overwrite it"]


def test_force_without_screenshot_is_refused(capsys):
    assert main(["-t", SOURCE, "--force"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == "ompviz: error: --force works with --screenshot FILE.svg only (the explorer asks before overwriting)"


@pytest.mark.parametrize("case", ["exists", "is-dir", "no-dir"])
def test_same_words_as_the_other_writers(tmp_path, case):
    """The early check says exactly what write_atomic (export/dump/plan -o) says for the same path."""
    (tmp_path / "old.svg").write_text("x")
    path = {"exists": tmp_path / "old.svg", "is-dir": tmp_path, "no-dir": tmp_path / "nope" / "a.svg"}[case]
    with pytest.raises(OmpvizError) as early:
        check_screenshot_path(str(path), force=False)
    with pytest.raises(OmpvizError) as writer:
        write_atomic(str(path), "x", force=False)
    assert str(early.value) == str(writer.value)
    assert "\n" not in str(early.value)
    if case == "exists":
        assert "use --force to overwrite it" in str(early.value)
        check_screenshot_path(str(path), force=True)  # --force lets it through


def test_make_screenshots_passes_force(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location("make_screenshots", REPO / "screenshots" / "make_screenshots.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    calls = []
    monkeypatch.setattr(mod.subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.setattr(mod, "HERE", tmp_path)
    mod.shoot("x.svg", SOURCE, [])
    (cmd,) = calls
    assert cmd[cmd.index("--screenshot") + 1] == str(tmp_path / "x.svg") and "--force" in cmd
