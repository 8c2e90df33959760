"""The output rules every writing command shares (bgnn_deploy.outputs)."""

from __future__ import annotations

import errno
import os

import pytest

from bgnn_deploy import outputs
from bgnn_deploy.errors import OutputError
from bgnn_deploy.outputs import (
    check_output_dir,
    check_output_file,
    publish_dir,
    staging_dir,
    write_file,
)

NAMES = ("a.bin", "b.bin", "report.json")


def staged(out, files: dict[str, str]):
    work = staging_dir(out)
    for name, text in files.items():
        (work / name).write_text(text)
    return work


def listing(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_new_folder_is_the_staging_folder_renamed(tmp_path):
    out = tmp_path / "deep" / "out"
    check_output_dir(out, NAMES)
    work = staged(out, {"report.json": "{}", "a.bin": "a"})
    published = publish_dir(work, out, NAMES)
    assert [p.name for p in published] == ["a.bin", "report.json"]  # report.json last
    assert listing(out) == ["a.bin", "report.json"] and not work.exists()
    assert listing(out.parent) == ["out"]
    mask = os.umask(0o022)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~mask  # not mkdtemp's 0700


def test_an_empty_folder_needs_no_overwrite_and_is_kept(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    inode = out.stat().st_ino
    check_output_dir(out, NAMES)
    publish_dir(staged(out, {"a.bin": "a"}), out, NAMES)
    assert listing(out) == ["a.bin"] and out.stat().st_ino == inode
    assert listing(tmp_path) == ["out"]


def test_overwrite_replaces_and_removes_only_named_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for name, text in {"a.bin": "old a", "b.bin": "old b", "notes.txt": "mine"}.items():
        (out / name).write_text(text)
    with pytest.raises(OutputError, match="already exists and holds 3 files") as refused:
        check_output_dir(out, NAMES)
    assert "--overwrite" in refused.value.hint and "a.bin, b.bin, report.json" in refused.value.hint
    work = staged(out, {"a.bin": "new a", "report.json": "{}"})
    with pytest.raises(OutputError, match="already exists"):
        publish_dir(work, out, NAMES)  # checked again at the end: nothing moved
    assert (out / "a.bin").read_text() == "old a" and work.is_dir()
    publish_dir(work, out, NAMES, overwrite=True)
    # b.bin was ours and this run made none: removed, so the folder never mixes two runs
    assert listing(out) == ["a.bin", "notes.txt", "report.json"]
    assert (out / "a.bin").read_text() == "new a" and (out / "notes.txt").read_text() == "mine"
    assert listing(tmp_path) == ["out"]


def test_a_marked_folder_is_ours(tmp_path):
    out = tmp_path / "out"
    publish_dir(staged(out, {"a.bin": "1"}), out, NAMES, marker=".mark")
    assert listing(out) == [".mark", "a.bin"]
    (out / "notes.txt").write_text("added by the user")
    check_output_dir(out, NAMES, marker=".mark")  # no overwrite needed
    publish_dir(staged(out, {"a.bin": "2"}), out, NAMES, marker=".mark")
    assert (out / "a.bin").read_text() == "2" and (out / "notes.txt").is_file()
    with pytest.raises(OutputError, match="already exists"):
        check_output_dir(out, NAMES)  # without the marker rule it is a foreign folder


def test_never_the_current_folder_or_its_parents(tmp_path, monkeypatch):
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    monkeypatch.chdir(inner)
    for target, where in ((".", "the current folder"), (tmp_path, "a parent")):
        with pytest.raises(OutputError, match=where):
            check_output_dir(target, NAMES, overwrite=True)
    check_output_dir("sub", NAMES)  # a new folder inside is fine


def test_never_an_input_or_a_folder_in_the_way(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("the model being converted")
    with pytest.raises(OutputError, match="is an input of this command"):
        check_output_dir(out, NAMES, overwrite=True, inputs=[out / "report.json"])
    (out / "a.bin").mkdir()
    with pytest.raises(OutputError, match="is a folder, in the way"):
        check_output_dir(out, NAMES, overwrite=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="exists and is not a folder"):
        check_output_dir(tmp_path / "file", NAMES, overwrite=True)
    with pytest.raises(OutputError, match="file is a file, not a folder"):
        check_output_dir(tmp_path / "file" / "out", NAMES)


def test_an_unnamed_file_may_be_added_but_never_replace(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "extra.txt").write_text("mine")
    with pytest.raises(OutputError, match="not one of the files this command replaces"):
        publish_dir(staged(out, {"extra.txt": "ours"}), out, NAMES, overwrite=True)
    assert (out / "extra.txt").read_text() == "mine"
    publish_dir(staged(out, {"more.txt": "ours"}), out, NAMES, overwrite=True)
    assert listing(out) == ["extra.txt", "more.txt"]


def test_another_file_system_is_copied_then_renamed(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    work = staged(out, {"a.bin": "new"})
    real = os.replace

    def cross_device(src, dst):
        if str(src).startswith(str(work)):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real(src, dst)

    monkeypatch.setattr(outputs.os, "replace", cross_device)
    publish_dir(work, out, NAMES)
    assert listing(out) == ["a.bin"] and (out / "a.bin").read_text() == "new"
    assert not work.exists()


def test_output_files(tmp_path):
    path = tmp_path / "sub" / "x.json"
    write_file(path, b"1")
    assert path.read_bytes() == b"1" and listing(path.parent) == ["x.json"]
    mask = os.umask(0o022)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600
    with pytest.raises(OutputError, match="already exists") as refused:
        write_file(path, b"2")
    assert "--overwrite" in refused.value.hint and path.read_bytes() == b"1"
    write_file(path, b"2", overwrite=True)
    assert path.read_bytes() == b"2"
    with pytest.raises(OutputError, match="is an input of this command"):
        write_file(path, b"3", overwrite=True, inputs=[path])
    with pytest.raises(OutputError, match="is a folder"):
        check_output_file(tmp_path, overwrite=True)
    with pytest.raises(OutputError, match=r"x\.json is a file, not a folder"):
        check_output_file(path / "y", overwrite=True)
    assert path.read_bytes() == b"2" and listing(path.parent) == ["x.json"]
