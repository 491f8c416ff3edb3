"""Output folders: nenstudy never writes over files it did not write itself, as it left them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nenstudy.folders import MARK, FolderInUse, claim


def _write(folder: Path, *names: str) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("nenstudy")


def _written(folder: Path, *names: str, command: str = "synth") -> None:
    """As a command would: claim, write, seal."""
    claimed = claim(folder, command)
    _write(folder, *names)
    assert claimed.seal()


def test_a_new_or_empty_folder_is_claimed_and_hidden_files_do_not_count(tmp_path: Path) -> None:
    claim(tmp_path / "new", "synth")
    assert (tmp_path / "new").is_dir()
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".DS_Store").write_text("x")
    claim(tmp_path / "empty", "synth")


def test_what_nenstudy_wrote_may_be_written_again_but_not_what_was_added(tmp_path: Path) -> None:
    _written(tmp_path / "out", "patients.csv")
    claim(tmp_path / "out", "synth")  # the same files again
    (tmp_path / "out" / "mine.csv").write_text("a real registry file")
    with pytest.raises(FolderInUse, match="holds 1 file that nenstudy synth has no record"):
        claim(tmp_path / "out", "synth")


def test_a_file_changed_since_it_was_written_is_in_the_way(tmp_path: Path) -> None:
    """A real export dropped in under a table's name must not be overwritten."""
    _written(tmp_path / "out", "patients.csv")
    (tmp_path / "out" / "patients.csv").write_text("MY REAL DATA, longer than before")
    with pytest.raises(FolderInUse):
        claim(tmp_path / "out", "synth")


def test_files_in_subfolders_are_checked_too(tmp_path: Path) -> None:
    """The demo's report deletes and rewrites its figures: a user's own image there stops it."""
    _written(tmp_path / "out", "report.html", "figures/km_os.png", command="demo")
    claim(tmp_path / "out", "demo")
    _write(tmp_path / "out", "figures/my_own_plot.png")
    with pytest.raises(FolderInUse):
        claim(tmp_path / "out", "demo")


def test_a_subfolder_with_a_mark_of_its_own_is_claimed_on_its_own(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    claimed = claim(out, "demo")
    _written(out / "registry", "patients.csv", command="synth")
    _write(out, "report.html")
    assert claimed.seal()
    _written(out / "registry", "patients.csv", "treatments.csv")  # synth into it again
    claim(out, "demo")
    claim(out / "registry", "synth")


def test_another_command_does_not_write_into_a_folder(tmp_path: Path) -> None:
    _written(tmp_path / "reg", "patients.csv", command="synth")
    with pytest.raises(FolderInUse, match="nenstudy demo has no record"):
        claim(tmp_path / "reg", "demo")


def test_force_allows_once_and_does_not_bless_the_files_it_left(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    _write(tmp_path, "patients.csv")  # e.g. an earlier interrupted run
    with pytest.raises(FolderInUse):
        claim(tmp_path, "synth")
    forced = claim(tmp_path, "synth", force=True)
    os.utime(tmp_path / "patients.csv", ns=(1, 1))  # rewritten by the run
    _write(tmp_path, "patients.csv", "treatments.csv")
    assert forced.seal()
    with pytest.raises(FolderInUse, match="holds 1 file"):  # notes.txt only
        claim(tmp_path, "synth")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_the_names_in_the_way_are_not_printed(tmp_path: Path) -> None:
    (tmp_path / "MRN-0012345.csv").write_text("x")
    with pytest.raises(FolderInUse) as caught:
        claim(tmp_path, "synth")
    assert "0012345" not in str(caught.value)


def test_a_recorded_file_replaced_by_a_link_is_in_the_way(tmp_path: Path) -> None:
    _written(tmp_path / "out", "patients.csv")
    precious = tmp_path / "precious.txt"
    precious.write_text("keep")
    (tmp_path / "out" / "patients.csv").unlink()
    (tmp_path / "out" / "patients.csv").symlink_to(precious)
    with pytest.raises(FolderInUse):
        claim(tmp_path / "out", "synth")


def test_a_mark_that_is_a_link_is_no_record_and_its_target_is_never_written(
    tmp_path: Path
) -> None:
    target = tmp_path / "target.txt"
    target.write_text("keep")
    out = tmp_path / "out"
    out.mkdir()
    (out / MARK).symlink_to(target)
    _written(out, "patients.csv")  # empty but for the hidden link
    assert target.read_text() == "keep"
    assert not (out / MARK).is_symlink()
    claim(out, "synth")


@pytest.mark.parametrize("mark", ["not json", "[" * 200_000, '{"written_by": 3}', "{}"])
def test_a_malformed_mark_is_no_record_and_no_traceback(tmp_path: Path, mark: str) -> None:
    _write(tmp_path, "patients.csv")
    (tmp_path / MARK).write_text(mark)
    with pytest.raises(FolderInUse):
        claim(tmp_path, "synth")


def test_unusable_folders_and_marks_are_messages_not_tracebacks(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / MARK).mkdir(parents=True)
    claimed = claim(out, "synth")
    _write(out, "patients.csv")
    assert not claimed.seal()  # a mark that is a folder is left alone: no record
    with pytest.raises(FolderInUse):
        claim(out, "synth")
    link = tmp_path / "dangling"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(FolderInUse, match="does not exist"):
        claim(link, "synth")
    (tmp_path / "file").write_text("x")
    with pytest.raises(FolderInUse, match="is a file"):
        claim(tmp_path / "file", "synth")
    with pytest.raises(FolderInUse, match="cannot be written"):
        claim(tmp_path / "file" / "sub", "synth")
