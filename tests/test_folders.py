"""Output folders: nenstudy never writes over files it did not write itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from nenstudy.folders import MARK, FolderInUse, claim


def _write(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_text("nenstudy")


def test_a_new_or_empty_folder_is_claimed_and_hidden_files_do_not_count(tmp_path: Path) -> None:
    claim(tmp_path / "new")
    assert (tmp_path / "new").is_dir()
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".DS_Store").write_text("x")
    claim(tmp_path / "empty")


def test_what_nenstudy_wrote_may_be_written_again_but_not_what_was_added(tmp_path: Path) -> None:
    folder = claim(tmp_path / "out")
    _write(folder.path, "patients.csv")
    folder.seal("synth")
    claim(folder.path)  # the same files again
    (folder.path / "mine.csv").write_text("a real registry file")
    with pytest.raises(FolderInUse, match="holds 1 file or folder that nenstudy has no record"):
        claim(folder.path)


def test_force_allows_once_and_does_not_bless_the_files_it_found(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FolderInUse):
        claim(tmp_path)
    folder = claim(tmp_path, force=True)
    _write(tmp_path, "patients.csv")
    folder.seal("synth")
    with pytest.raises(FolderInUse, match="holds 1 file"):
        claim(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_the_names_in_the_way_are_not_printed(tmp_path: Path) -> None:
    (tmp_path / "MRN-0012345.csv").write_text("x")
    with pytest.raises(FolderInUse) as caught:
        claim(tmp_path)
    assert "0012345" not in str(caught.value)


def test_a_recorded_file_replaced_by_a_link_is_in_the_way(tmp_path: Path) -> None:
    folder = claim(tmp_path / "out")
    _write(folder.path, "patients.csv")
    folder.seal("synth")
    precious = tmp_path / "precious.txt"
    precious.write_text("keep")
    (folder.path / "patients.csv").unlink()
    (folder.path / "patients.csv").symlink_to(precious)
    with pytest.raises(FolderInUse):
        claim(folder.path)


def test_a_marker_that_is_a_link_is_no_record_and_its_target_is_never_written(
    tmp_path: Path
) -> None:
    target = tmp_path / "target.txt"
    target.write_text("keep")
    out = tmp_path / "out"
    out.mkdir()
    (out / MARK).symlink_to(target)
    folder = claim(out)  # empty but for the hidden link
    _write(out, "patients.csv")
    folder.seal("synth")
    assert target.read_text() == "keep"
    assert not (out / MARK).is_symlink()
    claim(out)


def test_a_marker_that_is_a_folder_or_an_out_that_is_a_dangling_link_is_no_traceback(
    tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (out / MARK).mkdir(parents=True)
    folder = claim(out)
    _write(out, "patients.csv")
    folder.seal("synth")  # left alone: no record written
    with pytest.raises(FolderInUse):
        claim(out)
    link = tmp_path / "dangling"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(FolderInUse, match="does not exist"):
        claim(link)
    (tmp_path / "file").write_text("x")
    with pytest.raises(FolderInUse, match="is a file"):
        claim(tmp_path / "file")
