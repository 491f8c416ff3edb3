"""Command line of nenstudy: synth, validate, import, run and demo (``nenstudy`` = ``python -m nenstudy``)."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from nenstudy import __version__

__all__ = ["main", "cli"]

_console = Console(stderr=True)

MAX_THREADS = 1024
"""Most threads a command may ask DuckDB for (it starts every one of them)."""
_out = Console()


def _progress() -> Progress:
    """Return the rich progress display used by the long-running subcommands."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=_console,
        transient=False,
    )


def _replaceable_problems_file(target: Path) -> bool:
    """Whether ``target`` may be written as a problems CSV: it does not exist, is empty, or is
    a problems CSV written before (its first line is the header of
    :data:`nenstudy.registry.validation.PROBLEM_COLUMNS`), never a store or any other file."""
    from nenstudy.registry.validation import PROBLEM_COLUMNS

    if not target.is_file():
        return True
    try:
        with open(target, "rb") as handle:
            first = handle.read(4096).split(b"\n", 1)[0].rstrip(b"\r")
        first = first.removeprefix(b"\xef\xbb\xbf")  # the byte-order mark it starts with
    except OSError:
        return True  # the write test below names the reason
    return first in (b"", ",".join(PROBLEM_COLUMNS).encode())


def _check_problems_path(problems_csv: Path | None, source: Path,
                         db_path: Path | None = None) -> None:
    """Refuse a --problems path that cannot be written or would overwrite an input or the store.

    Checked before any work, so that a bad path never costs an import (or a source file).
    """
    if problems_csv is None:
        return
    from nenstudy.registry.schema import TABLE_NAMES

    target = problems_csv.resolve()
    if target.parent == source.resolve() and target.stem.lower() in TABLE_NAMES:
        raise click.BadParameter(f"{problems_csv} is a file of the registry being read; "
                                 "write the problems elsewhere", param_hint="--problems")
    if db_path is not None and target == db_path.resolve():
        raise click.BadParameter("the problems file cannot be the store",
                                 param_hint="--problems")
    if target.is_dir():
        raise click.BadParameter(f"{problems_csv} is a folder; give a file name",
                                 param_hint="--problems")
    if not _replaceable_problems_file(target):
        raise click.BadParameter(
            f"{problems_csv} exists and is not a problems file written by nenstudy (its first "
            "line is not the problems header); it is never overwritten: give another name or "
            "remove it", param_hint="--problems")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        existed = target.exists()
        with open(target, "a"):
            pass
        if not existed:  # tried, not left behind: written only with the problems
            target.unlink()
    except OSError as exc:
        raise click.BadParameter(f"{problems_csv} cannot be written ({exc.strerror or exc})",
                                 param_hint="--problems") from None


def _e(value: object) -> str:
    """A value as text for a message printed with Rich markup: its brackets stay as written
    (``[analysis]`` is a TOML section, not a style)."""
    return escape(str(value))


def _check_encodable(path: Path, hint: str) -> None:
    """Refuse a path DuckDB cannot be given: one whose bytes are not text in this system's
    encoding (read from a file name in another encoding, such as Latin-1 on a UTF-8 system)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise click.BadParameter(
            f"{str(path).encode('utf-8', 'backslashreplace').decode():.200} holds bytes that "
            "are not UTF-8 text (a name written in another "
            "encoding); rename it", param_hint=hint) from None


def _duckdb_reason(exc: Exception, show_identifiers: bool) -> str:
    """What DuckDB said: in full for a failure to write (a path and the system's reason), else
    only the kind of error, since its text may quote a value (see --show-identifiers)."""
    from nenstudy.registry.sources import is_storage_failure

    text = str(exc).splitlines()[0] if str(exc) else ""
    if is_storage_failure(text) or (show_identifiers and text):
        return f"{type(exc).__name__}: {text}"
    return f"{type(exc).__name__} (its text may quote values; --show-identifiers shows it)"


def _claim(folder: Path, command: str, force: bool):
    """Claim an output folder (see :func:`nenstudy.folders.claim`); a refusal is a usage error."""
    from nenstudy.folders import FolderInUse, claim

    try:
        return claim(folder, command, force=force)
    except FolderInUse as exc:
        raise click.UsageError(str(exc)) from None


def _synthetic(folder: Path, seed: int, scale: float) -> dict:
    """What a synthetic registry's folder records of it: seed, scale, and the digest of the data
    written, by which an import tells that the data are still those simulated."""
    from nenstudy.registry.store import folder_digest

    return {"seed": seed, "scale": scale, "source_digest": folder_digest(folder)}


def _seal(folder, synthetic: dict | None = None) -> None:
    """Record what a command wrote into its output folder (also after a failure or Ctrl-C, so
    that the next run may write there again); say so when the record cannot be written."""
    if not folder.seal(synthetic):
        _console.print(f"Note: {_e(folder.path)} keeps no record of what nenstudy wrote there; "
                       "writing into it again needs --force.", highlight=False)


def _write_problems(report, problems_csv: Path, done: str = "") -> None:
    """Write a report's problems as CSV; say so, or why it could not be done, and exit."""
    try:
        report.to_csv(problems_csv)
    except OSError as exc:
        _console.print(f"[red]{_e(done)}The problems could not be written to {_e(problems_csv)}: "
                       f"{_e(exc.strerror or exc)}.[/red]", highlight=False)
        sys.exit(1)
    _console.print(f"Problems written to [bold]{_e(problems_csv)}[/bold]")


def _print_report(report, problems_csv: Path | None) -> None:
    """Print a validation report on standard output (it is the command's result: it can be
    paged or saved), one line per problem, never cut to the terminal's width."""
    _out.print(report.render(written_to=problems_csv), markup=False, highlight=False,
               soft_wrap=True)


def _report_problems(report, problems_csv: Path | None) -> None:
    """Print a validation report and optionally write its problems as CSV."""
    _print_report(report, problems_csv)
    if problems_csv is not None:
        _write_problems(report, problems_csv)


def _print_summary(summary: dict) -> None:
    """Print what a registry store holds: rows per table and diagnoses by WHO category."""
    table = Table(title="Registry contents")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in summary["tables"].items():
        table.add_row(name, f"{rows:,}")
    _out.print(table)
    _out.print(f"patients: {summary['patients']:,}   diagnoses: {summary['diagnoses']:,}")
    by_who = Table(title="Diagnoses by WHO category")
    by_who.add_column("category")
    by_who.add_column("n", justify="right")
    for category, n in summary["by_who_category"].items():
        by_who.add_row(str(category), f"{n:,}")
    _out.print(by_who)


def _memory_limit(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Check a DuckDB memory limit such as 2GB or 500MB (DuckDB's own parser decides)."""
    from nenstudy.registry import DEFAULT_MEMORY_LIMIT

    if value == DEFAULT_MEMORY_LIMIT:
        return value
    import duckdb

    try:
        duckdb.connect(config={"memory_limit": value}).close()
    except duckdb.Error as exc:
        raise click.BadParameter(
            f"{value!r} is not a memory size DuckDB reads (e.g. 2GB, 500MB, 1.5GiB): "
            f"{str(exc).splitlines()[0]}"
        ) from None
    return value


def _out_of_memory(exc: Exception, memory_limit: str) -> None:
    """Say that DuckDB ran out of memory, and exit."""
    _console.print(f"[red]DuckDB ran out of memory within --memory-limit {memory_limit}: "
                   f"{_e(str(exc).splitlines()[0])}. Give it more (e.g. --memory-limit 4GB); "
                   "nothing was written.[/red]", highlight=False)
    sys.exit(1)


def _engine_options(command):
    """Add --threads and --memory-limit (DuckDB's) to a command."""
    from nenstudy.registry import DEFAULT_MEMORY_LIMIT

    command = click.option(
        "--memory-limit", default=DEFAULT_MEMORY_LIMIT, show_default=True,
        callback=_memory_limit,
        help="Memory DuckDB may use; beyond it, it spills to a temporary folder.")(command)
    return click.option(
        "--threads", type=click.IntRange(min=1, max=MAX_THREADS), default=None,
        help="Threads DuckDB may use [default: one per core].")(command)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nenstudy")
def cli() -> None:
    """nenstudy: from a NEN referral-center registry to a reproducible retrospective study."""


@cli.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Folder to write the registry files into (one CSV per table).")
@click.option("--seed", type=click.IntRange(min=0), default=2022, show_default=True,
              help="Random seed (a whole number, 0 or more).")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="Multiplies the number of patients (about 1600 diagnoses at scale 1).")
@click.option("--force", is_flag=True, default=False,
              help="Write into a folder that holds files nenstudy did not write (they may be "
                   "overwritten).")
def synth(out_dir: Path, seed: int, scale: float, force: bool) -> None:
    """Write a synthetic NEN MDT registry in the import format."""
    from nenstudy.synth.generator import write_registry

    if not math.isfinite(scale) or scale <= 0:
        raise click.BadParameter(f"must be a finite number > 0, not {scale}",
                                 param_hint="--scale")
    folder = _claim(out_dir, "synth", force)
    start = time.perf_counter()
    written = None
    try:
        with _progress() as progress:
            task = progress.add_task("Simulating the registry", total=None)
            rows = write_registry(out_dir, seed=seed, scale=scale)
            written = _synthetic(out_dir, seed, scale)
            progress.update(task, completed=1, total=1)
    finally:
        _seal(folder, written)
    for name, n in rows.items():
        _out.print(f"{name:16s} {n:>12,} rows")
    _out.print(f"Written to {out_dir} in {time.perf_counter() - start:.1f} s (seed {seed}).",
               markup=False)


@cli.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--problems", "problems_csv", type=click.Path(path_type=Path), default=None,
              help="Also write every problem to this CSV file.")
@click.option("--show-identifiers", is_flag=True, default=False,
              help="Show identifiers (patient, diagnosis, test and treatment IDs) and notes in "
                   "problem values and messages (masked by default).")
@_engine_options
def validate(source: Path, problems_csv: Path | None, show_identifiers: bool,
             threads: int | None, memory_limit: str) -> None:
    """Check a registry folder (one CSV/Parquet/XLSX file per table) without writing anything."""
    import duckdb

    from nenstudy.registry.validation import validate_source

    _check_problems_path(problems_csv, source)
    _check_encodable(source, "SOURCE")
    try:
        report = validate_source(source, show_identifiers=show_identifiers, threads=threads,
                                 memory_limit=memory_limit)
    except duckdb.OutOfMemoryException as exc:
        _out_of_memory(exc, memory_limit)
    except duckdb.Error as exc:  # e.g. no room for DuckDB's spill files
        _console.print(f"[red]Validation could not be done: DuckDB failed: "
                       f"{_e(_duckdb_reason(exc, show_identifiers))}[/red]", highlight=False)
        sys.exit(1)
    _report_problems(report, problems_csv)
    sys.exit(0 if report.ok else 1)


@cli.command(name="import")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--registry", "db_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="DuckDB store to create or replace (unchanged when the import fails).")
@click.option("--problems", "problems_csv", type=click.Path(path_type=Path), default=None,
              help="Write every problem to this CSV file.")
@click.option("--show-identifiers", is_flag=True, default=False,
              help="Show identifiers (patient, diagnosis, test and treatment IDs) and notes in "
                   "problem values and messages (masked by default).")
@_engine_options
def import_(source: Path, db_path: Path, problems_csv: Path | None, show_identifiers: bool,
            threads: int | None, memory_limit: str) -> None:
    """Validate a registry folder and import it into a DuckDB store, all or nothing."""
    from nenstudy.registry.store import StoreTargetError, import_registry, summarize
    from nenstudy.registry.validation import ValidationError

    import duckdb

    _check_problems_path(problems_csv, source, db_path)
    _check_encodable(source, "SOURCE")
    _check_encodable(db_path, "--registry")
    try:
        result = import_registry(source, db_path, show_identifiers=show_identifiers,
                                 threads=threads, memory_limit=memory_limit)
    except duckdb.OutOfMemoryException as exc:
        _out_of_memory(exc, memory_limit)
    except StoreTargetError as exc:
        _console.print(f"[red]Nothing imported: {_e(exc)}[/red]", highlight=False)
        sys.exit(1)
    except OSError as exc:  # e.g. a read-only folder, or a file where a folder should be
        _console.print(f"[red]Nothing imported: {_e(exc.strerror or exc)}: {_e(exc.filename)}[/red]",
                       highlight=False)
        sys.exit(1)
    except duckdb.IOException as exc:
        _console.print(f"[red]Nothing imported: DuckDB could not write {_e(db_path)}: "
                       f"{_e(str(exc).splitlines()[0])}[/red]", highlight=False)
        sys.exit(1)
    except duckdb.Error as exc:  # a full disk at the commit, a file size limit ...
        kept = f"{db_path} is unchanged" if db_path.exists() else "no store was written"
        _console.print(f"[red]Nothing imported ({_e(kept)}): DuckDB failed: "
                       f"{_e(_duckdb_reason(exc, show_identifiers))}[/red]", highlight=False)
        sys.exit(1)
    except ValidationError as exc:
        _report_problems(exc.report, problems_csv)
        kept = f"{db_path} is unchanged" if db_path.exists() else "no store was written"
        _console.print(f"[red]Import failed; {_e(kept)}.[/red]", highlight=False)
        sys.exit(1)
    try:
        if result.report.n_warnings:
            _print_report(result.report, problems_csv)
        if problems_csv is not None:
            _write_problems(result.report, problems_csv, done=f"{db_path} was imported. ")
        stages = ", ".join(f"{name.replace('_', ' ')} {sec:.1f} s"
                           for name, sec in result.stage_seconds.items())
        warned = result.report.n_warnings
        _console.print(f"Imported {_e(source)} into {_e(db_path)} in {result.seconds:.1f} s ({stages}), "
                       f"with {warned:,} warning{'' if warned == 1 else 's'}.", highlight=False,
                       soft_wrap=True)
        _print_summary(summarize(db_path))
    except (KeyboardInterrupt, Terminated) as exc:  # the store is in place: say so, not "Aborted!"
        _console.print(f"Interrupted after the import: {_e(db_path)} holds the new registry.",
                       highlight=False, soft_wrap=True)
        sys.exit(exc.code if isinstance(exc, Terminated) else 130)


def _run_study_and_report(registry: Path, study: Path, out_dir: Path, *, seed: int | None,
                          suppress_below: int | None, show_identifiers: bool = False) -> dict:
    """Run a study and build its report, with a progress display."""
    from nenstudy.report import build_report
    from nenstudy.study.runner import run_study

    with _progress() as progress:
        results = run_study(registry, study, out_dir, seed=seed, progress=progress,
                            show_identifiers=show_identifiers)
        task = progress.add_task("Writing the report (HTML, DOCX, XLSX, figures)", total=1)
        build_report(out_dir, suppress_below=suppress_below)
        progress.update(task, completed=1)
    return results


def _print_headline(results: dict, out_dir: Path) -> None:
    """Print the headline figures of a study run."""
    def fmt(block: dict) -> str:
        if block.get("n") == 0:
            return "no patients, n=0"
        median, ci = block.get("median"), block.get("ci") or [None, None]
        show = lambda v: "NR" if v is None else f"{v:.1f}"  # noqa: E731
        return f"{show(median)} months (95% CI {show(ci[0])}-{show(ci[1])}), n={block['n']}, events={block['events']}"

    steps = results.get("attrition", [])
    attrition = " -> ".join(str(step["n"]) for step in steps)
    _out.print(f"Attrition: {attrition}")
    width = max((len(f"{step['n']:,}") for step in steps), default=0)
    for step in steps:
        _out.print(f"  {step['n']:>{width},}  {step.get('label') or step.get('step')}",
                   highlight=False, markup=False)
    emptied = next((s for i, s in enumerate(steps) if s["n"] == 0 and (i == 0 or steps[i - 1]["n"])),
                   None)
    for problem in results.get("data_problems") or []:
        _console.print(f"Warning: {problem['n']:,} patient{'' if problem['n'] == 1 else 's'}: "
                       f"{problem.get('description', problem.get('problem'))}.",
                       markup=False, highlight=False)
    if emptied is not None:
        _console.print(f"Warning: step {emptied.get('step')!r} left no patients: check its condition.",
                       markup=False, highlight=False)
    if "os" in results:
        _out.print(f"Median OS:  {fmt(results['os'])}")
    if "pfs" in results:
        _out.print(f"Median PFS: {fmt(results['pfs'])}")
    _out.print(f"Outputs in {out_dir}: report.html, report.docx, tables.xlsx, results.json, analysis/",
               markup=False)


@cli.command()
@click.option("--registry", "registry", type=click.Path(exists=True, path_type=Path), required=True,
              help="A DuckDB store, or a registry folder (validated and imported on the way in).")
@click.option("--study", "study", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="Study definition (TOML), e.g. studies/epnec.toml.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder.")
@click.option("--suppress-below", type=click.IntRange(min=2), default=None,
              help="Show counts below this number as '<K' in the report (for sharing outside the center).")
@click.option("--show-identifiers", is_flag=True, default=False,
              help="Add the registry patient_id (SUBJID) to the analysis datasets and show identifiers in "
                   "validation problems (off by default: outputs are pseudonymous).")
@click.option("--problems", "problems_csv", type=click.Path(path_type=Path), default=None,
              help="For a registry folder that fails validation: write every problem to this CSV file.")
@click.option("--force", is_flag=True, default=False,
              help="Write into a folder that holds files nenstudy run did not write (they may be "
                   "overwritten).")
def run(registry: Path, study: Path, out_dir: Path, suppress_below: int | None, show_identifiers: bool,
        problems_csv: Path | None, force: bool) -> None:
    """Run a study on a registry: results.json, analysis datasets and the report."""
    from nenstudy.registry.validation import ValidationError
    from nenstudy.study.definition import StudyDefinitionError
    from nenstudy.study.sources import StoreLayoutError, open_store

    if registry.is_dir():
        _check_problems_path(problems_csv, registry)
    else:
        if problems_csv is not None:
            raise click.BadParameter("a store was validated when it was imported; --problems is "
                                     "for a registry folder", param_hint="--problems")
        try:  # before the output folder is claimed: a wrong file leaves nothing behind
            open_store(registry).close()
        except StoreLayoutError as exc:
            raise click.BadParameter(str(exc), param_hint="--registry") from None
    folder = _claim(out_dir, "run", force)
    try:
        results = _run_study_and_report(registry, study, out_dir, seed=None, suppress_below=suppress_below,
                                        show_identifiers=show_identifiers)
    except ValidationError as exc:
        _report_problems(exc.report, problems_csv)
        _console.print("[red]The registry did not pass validation; nothing was run.[/red]")
        sys.exit(1)
    except StudyDefinitionError as exc:
        _console.print(f"[red]Study definition error:[/red] {_e(exc)}")
        sys.exit(2)
    finally:
        _seal(folder)
    _print_headline(results, out_dir)


@cli.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"),
              show_default=True, help="Output folder.")
@click.option("--seed", type=click.IntRange(min=0), default=2022, show_default=True,
              help="Seed of the synthetic registry (a whole number, 0 or more).")
@click.option("--suppress-below", type=click.IntRange(min=2), default=None,
              help="Show counts below this number as '<K' in the report.")
@click.option("--force", is_flag=True, default=False,
              help="Write into a folder that holds files nenstudy did not write (they may be "
                   "overwritten).")
def demo(out_dir: Path, seed: int, suppress_below: int | None, force: bool) -> None:
    """Synthetic registry -> validated import -> the EP-NEC study -> report, in the --out
    folder."""
    from nenstudy.paths import default_study
    from nenstudy.registry.store import import_registry, summarize
    from nenstudy.synth.generator import write_registry

    start = time.perf_counter()
    folder = _claim(out_dir, "demo", force)
    source, db_path = out_dir / "registry", out_dir / "registry.duckdb"
    # the registry folder is a synth registry: `synth --out DIR/registry` may write it again
    registry_folder = _claim(source, "synth", force)
    try:
        with _progress() as progress:
            task = progress.add_task("Simulating the synthetic MDT registry", total=1)
            written = None
            try:
                write_registry(source, seed=seed, scale=1.0)
                written = _synthetic(source, seed, 1.0)
            finally:
                _seal(registry_folder, written)
            progress.update(task, completed=1)
            task = progress.add_task("Validating and importing into DuckDB", total=1)
            import_registry(source, db_path)
            progress.update(task, completed=1)
        _print_summary(summarize(db_path))
        results = _run_study_and_report(db_path, default_study(), out_dir, seed=seed,
                                        suppress_below=suppress_below)
        _print_headline(results, out_dir)
    finally:
        _seal(folder)
    _out.print(f"Demo finished in {time.perf_counter() - start:.1f} s.")


class Terminated(SystemExit):
    """Raised by the SIGTERM handler: the program ends as on Ctrl-C, with status 128 + 15."""


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM ends the program as Ctrl-C does: an import under way removes its partial store."""
    raise Terminated(128 + signum)


def main() -> None:
    """Run the command line (entry point of the ``nenstudy`` script)."""
    import signal

    import duckdb

    signal.signal(signal.SIGTERM, _terminate)
    try:
        cli(prog_name="nenstudy")
    except (duckdb.InterruptException, RuntimeError) as exc:
        # Ctrl-C while DuckDB ran a statement of this thread: DuckDB raises, not Python
        if "interrupted" not in str(exc).lower():
            raise
        _console.print("Aborted!")
        sys.exit(1)


if __name__ == "__main__":
    main()
