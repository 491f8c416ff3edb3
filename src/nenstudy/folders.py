"""Output folders of synth and demo: written only where nothing but nenstudy's own files would be
overwritten."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MARK", "FolderInUse", "OutputFolder", "claim"]

MARK = ".nenstudy"
"""The file recording what nenstudy wrote into a folder (hidden: registry readers skip it)."""


class FolderInUse(Exception):
    """A folder holds files nenstudy did not write (or is no folder): it is not written into."""


def _entries(folder: Path) -> list[Path]:
    """The folder's files and folders, hidden ones (``.DS_Store``, the mark) aside."""
    return [p for p in folder.iterdir() if not p.name.startswith(".")]


def _recorded(folder: Path) -> set[str]:
    """The names nenstudy recorded writing into ``folder`` (none when the mark is missing,
    unreadable, or not a regular file of its own, such as a link)."""
    mark = folder / MARK
    if mark.is_symlink() or not mark.is_file():
        return set()
    try:
        data = json.loads(mark.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    names = data.get("written") if isinstance(data, dict) else None
    if not isinstance(names, list):
        return set()
    return {n for n in names if isinstance(n, str)}


@dataclass(frozen=True)
class OutputFolder:
    """A folder claimed for writing; :meth:`seal` records what was written."""

    path: Path
    foreign: frozenset[str]
    """Names present when claimed that nenstudy had not written (allowed by ``force``)."""

    def seal(self, command: str) -> None:
        """Record the folder's files and folders, those found there before aside, as written by
        ``command``; a later :func:`claim` accepts them. A mark that is no regular file (a
        folder) is left alone, and the folder is then claimed again only with ``force``."""
        mark = self.path / MARK
        if mark.is_symlink():
            mark.unlink()  # the link, never the file it points to
        elif mark.exists() and not mark.is_file():
            return
        names = sorted(p.name for p in _entries(self.path) if p.name not in self.foreign)
        mark.write_text(json.dumps({"written_by": f"nenstudy {command}", "written": names},
                                   indent=1) + "\n", encoding="utf-8")


def claim(folder: Path, *, force: bool = False) -> OutputFolder:
    """Check that ``folder`` may be written into, and create it.

    It may when it is new or empty (hidden files aside), or holds only files and folders that
    nenstudy recorded writing there (:meth:`OutputFolder.seal`), none of them replaced by a link;
    with ``force``, whatever it holds.

    Raises
    ------
    FolderInUse
        Naming how many entries are in the way (not their names: a folder of patient files may
        be named by record numbers).
    """
    if folder.is_symlink() and not folder.exists():
        raise FolderInUse(f"{folder} is a link to a folder that does not exist")
    if folder.exists() and not folder.is_dir():
        raise FolderInUse(f"{folder} is a file, not a folder")
    foreign: frozenset[str] = frozenset()
    if folder.is_dir():
        recorded = _recorded(folder)
        foreign = frozenset(p.name for p in _entries(folder)
                            if p.name not in recorded or p.is_symlink())
        if foreign and not force:
            n = len(foreign)
            raise FolderInUse(
                f"{folder} holds {n} file{'s' if n != 1 else ''} or folder{'s' if n != 1 else ''} "
                "that nenstudy has no record of writing there: they could be overwritten. "
                "Choose a new or empty folder, or pass --force to write into it."
            )
    folder.mkdir(parents=True, exist_ok=True)
    return OutputFolder(folder, foreign)
