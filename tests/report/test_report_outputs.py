"""`report -o DIR` touches only the report's own files: index.html, the view PNGs and the
marker that says a folder holds a report."""

from __future__ import annotations

import pytest

from bgnn_deploy.report.write import MARKER


@pytest.fixture
def folder(tmp_path):
    """A folder of the user's, with notes and a page of their own."""
    out = tmp_path / "site"
    out.mkdir()
    (out / "notes.txt").write_text("the user's notes\n")
    (out / "index.html").write_text("<p>the user's own page</p>\n")
    return out


def test_a_folder_with_other_files_needs_overwrite(cli, store, folder, snapshot, user_error):
    store, _ = store
    before = snapshot(folder)
    result = cli("report", "-o", folder, "--db", store.path)
    user_error(result, f"{folder} already exists and holds 2 files")
    assert "hint: --overwrite" in result.stderr and "index.html" in result.stderr
    assert snapshot(folder) == before
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temp dirs


def test_overwrite_keeps_unrelated_files_and_a_rerun_needs_no_flag(cli, store, folder):
    store, _ = store
    result = cli("report", "-o", folder, "--db", store.path, "--overwrite")
    assert result.exit_code == 0, result.output
    assert (folder / "notes.txt").read_text() == "the user's notes\n"
    assert "<p>the user's own page</p>" not in (folder / "index.html").read_text()
    assert (folder / MARKER).is_file() and list(folder.glob("*.png"))
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temp dirs
    # the folder now holds a report: drawing it again needs no --overwrite
    again = cli("report", "--last", "1", "-o", folder, "--db", store.path)
    assert again.exit_code == 0, again.output
    assert (folder / "notes.txt").read_text() == "the user's notes\n"


def test_the_current_folder_is_refused(cli, store, tmp_path, monkeypatch, user_error):
    store, _ = store
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    user_error(cli("report", "-o", ".", "--db", store.path, "--overwrite"), "current folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_unwritable_output_is_one_clean_error(cli, store, tmp_path, user_error):
    store, _ = store
    (tmp_path / "somefile").write_text("in the way\n")
    target = tmp_path / "somefile" / "report"
    result = cli("report", "-o", target, "--db", store.path)
    user_error(result, f"cannot write {target}: {tmp_path / 'somefile'} is a file, not a folder")
    assert (tmp_path / "somefile").read_text() == "in the way\n"
