"""ompviz.export.files: the rank-N.env writing the CLI and the TUI share (all-or-nothing refusal, one-line errors)."""

from __future__ import annotations

import pytest
from test_export_golden import hand_plan, small_box

from ompviz.errors import OmpvizError
from ompviz.export.files import existing_files, rank_env_files, write_rank_env_files
from ompviz.export.shell import env_file


def _plan():
    topo = small_box()
    return topo, hand_plan(topo, ["0-3", "4-7", "8-11"], places="threads")


def test_writes_one_file_per_rank_and_creates_the_directory(tmp_path):
    topo, plan = _plan()
    d = tmp_path / "a" / "b"
    paths = write_rank_env_files(plan, topo, str(d))
    assert paths == [str(d / f"rank-{r}.env") for r in (0, 1, 2)]
    for r in (0, 1, 2):
        assert (d / f"rank-{r}.env").read_text() == env_file(plan, topo, r)


def test_refuses_before_writing_anything(tmp_path):
    topo, plan = _plan()
    (tmp_path / "rank-2.env").write_text("mine\n")
    with pytest.raises(OmpvizError, match=r"rank-2\.env: already exists; use --force"):
        write_rank_env_files(plan, topo, str(tmp_path))
    # rank-0 and rank-1 come first in rank order: a write-then-fail loop would have left them behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rank-2.env"]
    assert existing_files(rank_env_files(plan, topo, str(tmp_path))) == [str(tmp_path / "rank-2.env")]
    write_rank_env_files(plan, topo, str(tmp_path), force=True)
    assert (tmp_path / "rank-2.env").read_text() == env_file(plan, topo, 2)


def test_bad_directories_are_one_line(tmp_path, monkeypatch):
    topo, plan = _plan()
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OmpvizError, match="exists and is not a directory"):
        write_rank_env_files(plan, topo, str(f))
    with pytest.raises(OmpvizError, match="cannot create directory") as e:
        write_rank_env_files(plan, topo, str(f / "sub"))
    assert "\n" not in str(e.value)
    monkeypatch.setenv("HOME", str(tmp_path))
    write_rank_env_files(plan, topo, "~/ranks")
    assert (tmp_path / "ranks" / "rank-0.env").exists()
