"""Output folders of synth and demo: written only where nothing but nenstudy's own files, as it
left them, would be overwritten."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

__all__ = ["MARK", "FolderInUse", "OutputFolder", "claim", "synthetic_record"]

MARK = ".nenstudy"
"""The file recording what nenstudy wrote into a folder (hidden: registry readers skip it)."""

Stamp = tuple[int, int]
"""A file's size and modification time (ns): a file changed since it was written differs."""


class FolderInUse(Exception):
    """A folder holds files nenstudy did not write (or is no folder): it is not written into."""


def _walk(folder: Path, prefix: str = "") -> Iterator[tuple[str, Path]]:
    """Every entry below ``folder`` but hidden ones (``.DS_Store``, the mark), by relative path
    (``figures/km_os.png``); folders are entered, links are not, nor a folder with a mark of its
    own (the registry folder of a demo, claimed on its own)."""
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        name = prefix + path.name
        yield name, path
        if path.is_dir() and not path.is_symlink() and not (path / MARK).exists():
            yield from _walk(path, name + "/")


def _stamp(path: Path) -> Stamp:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def _recorded(folder: Path) -> tuple[str | None, dict[str, Stamp]]:
    """The command that wrote ``folder`` and the files it wrote, with their stamps (none when
    the mark is missing, unreadable, malformed, or not a regular file of its own)."""
    mark = folder / MARK
    if mark.is_symlink() or not mark.is_file():
        return None, {}
    try:
        data = json.loads(mark.read_text(encoding="utf-8"))
        command = data["written_by"]
        files = {str(name): (int(size), int(mtime))
                 for name, (size, mtime) in data["files"].items()}
    except Exception:  # noqa: BLE001 - any malformed mark (even one nested too deep) is none
        return None, {}
    return (command if isinstance(command, str) else None), files


def _in_the_way(folder: Path, command: str) -> dict[str, Stamp | None]:
    """Entries of ``folder`` that ``command`` may not write over: all of them when another
    command wrote the folder; else files not recorded, or changed since, and links."""
    written_by, files = _recorded(folder)
    foreign: dict[str, Stamp | None] = {}
    for name, path in _walk(folder):
        if path.is_symlink():
            foreign[name] = None
        elif path.is_file():
            stamp = _stamp(path)
            if written_by != command or files.get(name) != stamp:
                foreign[name] = stamp
        elif not path.is_dir():
            foreign[name] = None  # a pipe or device
    return foreign


@dataclass(frozen=True)
class OutputFolder:
    """A folder claimed for writing by ``command``; :meth:`seal` records what was written."""

    path: Path
    command: str
    foreign: dict[str, Stamp | None] = field(default_factory=dict)
    """Entries present when claimed that nenstudy had not written as they were (allowed by
    ``force``), with their stamps then."""

    def seal(self, synthetic: dict | None = None) -> bool:
        """Record the folder's files as written by the command, but those found there before
        and left unchanged; a later :func:`claim` by the same command accepts them. Returns
        whether the record could be written (a mark that is a folder, or a folder that cannot be
        written, keeps none: the folder is then claimed again only with ``force``).

        ``synthetic`` (a synthetic registry's seed, scale and data digest) is kept in the record
        for :func:`synthetic_record`."""
        mark = self.path / MARK
        try:
            files = {}
            for name, path in _walk(self.path):
                if path.is_file() and not path.is_symlink():
                    stamp = _stamp(path)
                    if name not in self.foreign or self.foreign[name] != stamp:
                        files[name] = stamp
            if mark.is_symlink():
                mark.unlink()  # the link, never the file it points to
            elif mark.exists() and not mark.is_file():
                return False
            record: dict = {"written_by": self.command, "files": files}
            if synthetic is not None:
                record["synthetic"] = synthetic
            text = json.dumps(record, indent=1)
            temporary = mark.with_name(MARK + ".tmp")
            temporary.write_text(text + "\n", encoding="utf-8")
            os.replace(temporary, mark)
        except OSError:
            return False
        return True


def claim(folder: Path, command: str, *, force: bool = False) -> OutputFolder:
    """Check that ``command`` may write into ``folder``, and create it.

    It may when the folder is new or empty (hidden files aside), or holds only files that the
    same command recorded writing there (:meth:`OutputFolder.seal`), unchanged since and none
    of them replaced by a link; with ``force``, whatever it holds.

    Raises
    ------
    FolderInUse
        Naming how many entries are in the way (not their names: a folder of patient files may
        be named by record numbers), or why the folder cannot be made.
    """
    if folder.is_symlink() and not folder.exists():
        raise FolderInUse(f"{folder} is a link to a folder that does not exist")
    if folder.exists() and not folder.is_dir():
        raise FolderInUse(f"{folder} is a file, not a folder")
    foreign: dict[str, Stamp | None] = {}
    if folder.is_dir():
        try:
            foreign = _in_the_way(folder, command)
        except OSError as exc:
            raise FolderInUse(f"{folder} cannot be read: {exc.strerror or exc}") from None
        if foreign and not force:
            n = len(foreign)
            raise FolderInUse(
                f"{folder} holds {n} file{'s' if n != 1 else ''} that nenstudy {command} has "
                "no record of writing there as they are now: they could be overwritten. Choose "
                "a new or empty folder, or pass --force to write into it."
            )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / (MARK + ".tmp")
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise FolderInUse(f"{folder} cannot be written: {exc.strerror or exc}") from None
    return OutputFolder(folder, command, foreign)


def synthetic_record(folder: Path) -> dict | None:
    """What ``nenstudy synth`` recorded of the synthetic registry it wrote into ``folder``
    (``seed``, ``scale``, ``source_digest``: the digest of the data written), or None.

    The record says what was written, not what the folder holds now: compare its digest with
    the data's before calling the registry synthetic.
    """
    mark = Path(folder) / MARK
    if mark.is_symlink() or not mark.is_file():
        return None
    try:
        data = json.loads(mark.read_text(encoding="utf-8"))
        record = data["synthetic"] if data.get("written_by") == "synth" else None
        if record is None:
            return None
        return {"seed": int(record["seed"]), "scale": float(record["scale"]),
                "source_digest": str(record["source_digest"])}
    except Exception:  # noqa: BLE001 - a malformed record is none
        return None
