"""Temp files: naming, permissions, removal at shutdown and after crashes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from clstock_core.lifecycle import TempFiles


def _mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_files_are_private_and_prefixed(tmp_path):
    temp = TempFiles(tmp_path / "app-temp")

    file = temp.file(".csv")
    directory = temp.directory()

    assert _mode(temp.root) == 0o700
    assert _mode(file) == 0o600
    assert _mode(directory) == 0o700
    assert file.parent == temp.root
    assert file.name.startswith(f"clstock-{os.getpid()}-")
    assert file.name.endswith(".csv")
    assert directory.name.startswith(f"clstock-{os.getpid()}-")


def test_default_root_is_per_user_under_tmpdir(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    temp = TempFiles()
    assert temp.root == tmp_path / f"clstock-{os.getuid()}"


def test_cleanup_removes_tracked_entries(tmp_path):
    temp = TempFiles(tmp_path / "app-temp")
    file = temp.file()
    directory = temp.directory()
    (directory / "nested").write_text("data")
    unrelated = temp.root / "someone-else.txt"
    unrelated.write_text("keep")

    assert temp.cleanup() == 2

    assert not file.exists()
    assert not directory.exists()
    assert unrelated.exists()


def test_remove_stops_tracking(tmp_path):
    temp = TempFiles(tmp_path / "app-temp")
    file = temp.file()
    temp.remove(file)
    assert not file.exists()
    assert temp.cleanup() == 0


def test_cleanup_stale_removes_only_dead_old_entries(tmp_path):
    temp = TempFiles(tmp_path / "app-temp")
    dead = _dead_pid()
    stale_file = temp.root / f"clstock-{dead}-abc123"
    stale_file.write_text("left by a crash")
    stale_dir = temp.root / f"clstock-{dead}-dir999"
    stale_dir.mkdir()
    (stale_dir / "inner").write_text("x")
    young = temp.root / f"clstock-{dead}-young1"
    young.write_text("recent")
    live = temp.root / f"clstock-{os.getppid()}-live01"
    live.write_text("parent process is alive")
    foreign = temp.root / "clstockish-1-file"
    foreign.write_text("not ours")
    other_prefix = temp.root / f"other-{dead}-file"
    other_prefix.write_text("not ours")
    for path in (stale_file, stale_dir, live, foreign, other_prefix):
        os.utime(path, (1, 1))

    removed = temp.cleanup_stale(older_than=3600)

    assert removed == 2
    assert not stale_file.exists()
    assert not stale_dir.exists()
    assert young.exists()
    assert live.exists()
    assert foreign.exists()
    assert other_prefix.exists()


def test_cleanup_stale_without_directory(tmp_path):
    temp = TempFiles(tmp_path / "never-created")
    assert temp.cleanup_stale() == 0
    assert not (tmp_path / "never-created").exists()


def test_existing_root_is_made_private(tmp_path):
    root = tmp_path / "app-temp"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    TempFiles(root).file()
    assert _mode(root) == 0o700


@pytest.mark.skipif(os.getuid() != 0, reason="changing a directory's owner needs root")
def test_root_of_another_user_is_rejected(tmp_path):
    root = tmp_path / "app-temp"
    root.mkdir(mode=0o700)
    os.chown(root, 12345, 12345)
    with pytest.raises(PermissionError, match="belongs to user id 12345"):
        TempFiles(root).file()


def test_symlinked_root_is_rejected(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    root = tmp_path / "app-temp"
    root.symlink_to(target)
    with pytest.raises(OSError, match="is not a directory"):
        TempFiles(root).file()
