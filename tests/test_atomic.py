"""Files and folders that appear whole or not at all (strf_core.atomic)."""

from __future__ import annotations

import pytest

from strf_core.atomic import atomic_path, replace_dir, write_text_atomic


def test_a_writer_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "results.json"
    write_text_atomic(path, "old\n")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
    write_text_atomic(path, "new\n")
    assert path.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_two_writers_of_one_file_get_their_own_temporaries(tmp_path):
    path = tmp_path / "gallery.safetensors"
    with atomic_path(path) as first, atomic_path(path) as second:
        assert first != second
        first.write_text("a")
        second.write_text("b")
    assert path.read_text() == "a"  # the outer block finishes last: its file wins


def test_replace_dir_swaps_a_finished_folder_in_and_removes_the_old_one(tmp_path):
    target, old = tmp_path / "last", tmp_path / "last.old"
    target.mkdir()
    (target / "weights").write_text("epoch 1")
    new = tmp_path / "last.tmp"
    new.mkdir()
    (new / "weights").write_text("epoch 2")
    replace_dir(new, target, old=old)
    assert (target / "weights").read_text() == "epoch 2"
    assert not new.exists() and not old.exists()
