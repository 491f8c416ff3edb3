"""Run a study end to end: registry -> cohort -> endpoints -> analyses -> results and datasets.

:func:`run_study` is what ``nenstudy run`` and ``nenstudy demo`` call. The registry is a DuckDB
store (opened read-only) or a registry folder (validated and imported into a temporary store,
removed afterwards). Outputs: ``results.json`` (validated against its schema before writing),
``analysis/adsl.csv`` and ``analysis/adtte.csv``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import platform
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import duckdb
import pandas as pd

import nenstudy
from nenstudy.study.adam import write_analysis_datasets
from nenstudy.study.baseline import baseline_block
from nenstudy.study.cohort import CohortSelection, select_cohort
from nenstudy.study.cox_models import cox_block
from nenstudy.study.definition import StudyDefinition, StudyDefinitionError, load_study
from nenstudy.study.endpoints import DAYS_PER_MONTH, build_endpoints, build_study_base, build_treatment_lines
from nenstudy.study.molecular import molecular_block
from nenstudy.study.results import comparison_block, to_json_value, validate_results, write_results
from nenstudy.study.sources import open_store
from nenstudy.study.survival import followup_block, km_block, stratified_block
from nenstudy.study.treatment import swimmer_block, treatment_blocks
from nenstudy.study.variables import build_analysis_variables

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = ["run_study", "analyse", "registry_sha256"]

_STAGES = ("registry", "cohort", "endpoints", "analyses", "outputs")
_STAGE_LABELS = {"registry": "reading the registry", "cohort": "building the cohort",
                 "endpoints": "deriving the endpoints", "analyses": "running the analyses",
                 "outputs": "writing results.json and the analysis datasets"}


def registry_sha256(path: Path) -> str:
    """The digest of a registry's data: the same for a registry folder and for every store
    imported from it (:func:`nenstudy.registry.store.source_digest`), whenever imported.

    The bytes of a store file change with each import (it records when it was made), and a
    folder written by ``nenstudy synth`` holds a record of what was written and when: neither
    counts, so that two runs on the same data show the same digest.

    Parameters
    ----------
    path : Path
        DuckDB store file or registry source folder.

    Returns
    -------
    str
        Hex digest.

    A store that lacks nenstudy import's record of the digest (one written by another tool)
    gives the SHA-256 of its file.

    Raises
    ------
    ValueError
        For a folder in which a table has no file or several.
    """
    from nenstudy.registry.store import folder_digest

    path = Path(path)
    if path.is_dir():
        return folder_digest(path)
    with duckdb.connect(str(path), read_only=True) as con:
        try:
            row = con.execute("SELECT value FROM _meta WHERE key = 'source_digest'").fetchone()
        except duckdb.Error:
            row = None
    if row is not None:
        return str(row[0])
    # a store written otherwise (without nenstudy import's record): the file's bytes
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _synthetic_seed(store: Path) -> int | None:
    """The seed of a store imported from a synthetic registry as ``nenstudy synth`` wrote it
    (``_meta.synthetic_seed``), or None."""
    with duckdb.connect(str(store), read_only=True) as con:
        try:
            row = con.execute("SELECT value FROM _meta WHERE key = 'synthetic_seed'").fetchone()
        except duckdb.Error:
            return None
    return None if row is None else int(row[0])


def _display_path(path: Path) -> str:
    """The study path relative to the working folder when inside it, else as given."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


class _Steps:
    """Optional rich progress: one task advanced per stage."""

    def __init__(self, progress: "Progress | None") -> None:
        self.progress = progress
        self.task = progress.add_task("Study", total=len(_STAGES)) if progress is not None else None

    def start(self, text: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, description=f"Study: {_STAGE_LABELS.get(text, text)}")

    def done(self) -> None:
        if self.progress is not None:
            self.progress.advance(self.task)


@contextmanager
def _store_for(registry: Path, *, show_identifiers: bool = False) -> Iterator[Path]:
    """Yield a store path: the file itself, or a temporary import of a registry folder."""
    registry = Path(registry)
    if registry.is_dir():
        from nenstudy.registry.store import import_registry

        with tempfile.TemporaryDirectory(prefix="nenstudy-") as tmp:
            store = Path(tmp) / "registry.duckdb"
            import_registry(registry, store, show_identifiers=show_identifiers)
            yield store
    elif registry.is_file():
        yield registry
    else:
        raise FileNotFoundError(f"{registry}: no such registry store file or folder")


def _prepare(con: duckdb.DuckDBPyConnection, study: StudyDefinition) -> CohortSelection:
    build_treatment_lines(con, study)
    build_study_base(con)
    try:
        selection = select_cohort(con, study)
    except duckdb.Error as err:
        raise StudyDefinitionError(_locate_failure(con, study, err)) from None
    build_analysis_variables(con, study)
    return selection


def _locate_failure(con: duckdb.DuckDBPyConnection, study: StudyDefinition, err: Exception) -> str:
    """Name the step or subset whose expression failed in the store."""
    candidates = [(f"cohort.steps[{i}]", s) for i, s in enumerate(study.steps)]
    candidates += [(f"subsets[{i}]", s) for i, s in enumerate(study.subsets)]
    for key, step in candidates:
        for attr, expr in (("where", step.where), ("excluded_by", step.excluded_by)):
            if expr is None:
                continue
            try:
                con.execute(f"SELECT count(*) FROM study_base WHERE ({expr.sql}) IS NULL").fetchone()
            except duckdb.Error as inner:
                first = str(inner).splitlines()[0]
                return f"{study.path}: {key}.{attr}: the expression fails on the registry: {first}"
    return f"{study.path}: a cohort expression failed on the registry: {str(err).splitlines()[0]}"


def _endpoint_arrays(con: duckdb.DuckDBPyConnection, paramcd: str, columns: list[str]) -> pd.DataFrame:
    extra = "".join(f', v."{c}"' for c in columns)
    return con.execute(
        f"""
        SELECT t.usubjid, t.aval AS time, 1 - t.cnsr AS event, t.problem{extra}
        FROM study_tte t JOIN cohort_vars v USING (usubjid)
        WHERE t.paramcd = ? ORDER BY t.usubjid
        """,
        [paramcd],
    ).df()


def _problems(con: duckdb.DuckDBPyConnection, study: StudyDefinition) -> list[dict[str, Any]]:
    problems = []
    ids = [r[0] for r in con.execute(
        "SELECT usubjid FROM cohort_vars WHERE line_data_problem ORDER BY usubjid").fetchall()]
    if ids:
        problems.append({
            "problem": "line_numbering",
            "description": "systemic lines with a gap, a duplicate, no number or no line 1; "
                           "only consecutive lines from a single line 1 are used",
            "n": len(ids), "ids": ids,
        })
    for paramcd, problem, uids in con.execute(
        "SELECT paramcd, problem, list(usubjid ORDER BY usubjid) FROM study_tte "
        "WHERE problem IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
    ).fetchall():
        problems.append({
            "problem": f"{paramcd.lower()}_time",
            "description": f"{paramcd}: {problem}; left out of the {paramcd} analyses",
            "n": len(uids), "ids": list(uids),
        })
    return problems


def analyse(con: duckdb.DuckDBPyConnection, study: StudyDefinition, steps: "_Steps | None" = None) -> dict[str, Any]:
    """Run cohort selection, derivations and every analysis; return the results (no provenance).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection from :func:`nenstudy.study.sources.open_store`.
    study : StudyDefinition
        The study.
    steps : optional
        Progress reporter (internal).

    Returns
    -------
    dict
        results.json content without ``provenance``.
    """
    steps = steps or _Steps(None)
    options = study.analysis
    steps.start("cohort selection")
    selection = _prepare(con, study)
    steps.done()

    steps.start("endpoints")
    build_endpoints(con, study)
    steps.done()

    steps.start("analyses")
    covariates = [*study.groupings, *study.variables]
    km_options = {"conf_type": options.conf_type, "conf_level": options.conf_level,
                  "rates_at": options.rates_at, "risk_times": options.risk_table_times}
    results: dict[str, Any] = {
        "study": {
            "name": study.name, "title": study.title, "description": study.description,
            "study_file": _display_path(study.path), "time_unit": "months", "days_per_month": DAYS_PER_MONTH,
            "conf_type": options.conf_type, "conf_level": options.conf_level, "ties": options.ties,
            "os_origin": study.endpoints["os"].origin, "os_population": study.endpoints["os"].population,
            "pfs_origin": study.endpoints["pfs"].origin, "pfs_population": study.endpoints["pfs"].population,
            "pfs_censor": study.endpoints["pfs"].censor, "pfs_no_assessment": study.endpoints["pfs"].no_assessment,
            "ki67_cutpoints": list(study.groupings["ki67_group"].cutpoints or [])
            if "ki67_group" in study.groupings else [],
            "table1_by": options.table1_by, "categorical_test": options.categorical_test,
            "rates_at": list(options.rates_at),
            "groupings": {n: {"label": g.label, "levels": list(g.levels)} for n, g in study.groupings.items()},
            "criteria": [{"step": s.name, "kind": "cohort" if not s.of else "subset", "of": s.of or None,
                          "where": s.where.source, "sql": s.where.sql}
                         for s in (*study.steps, *study.subsets)],
        },
        "attrition": selection.attrition,
        "cohort_n": selection.cohort_n,
        "registry_diagnoses": selection.registry_diagnoses,
        "populations": selection.population_n,
    }
    cohort = con.execute("SELECT * FROM cohort_vars ORDER BY usubjid").df()
    results["baseline"] = baseline_block(cohort, study)

    frames = {}
    for name in ("os", "pfs"):
        frame = _endpoint_arrays(con, name.upper(), covariates)
        frame = frame[frame["time"].notna()].reset_index(drop=True)
        frames[name] = frame
        time, event = frame["time"].to_numpy(float), frame["event"].to_numpy(float)
        block = km_block(time, event, **km_options)
        block["origin"] = study.endpoints[name].origin
        block["population"] = study.endpoints[name].population
        block["label"] = study.endpoints[name].label
        results[name] = block
    os_frame = frames["os"]
    results["followup"] = followup_block(os_frame["time"].to_numpy(float), os_frame["event"].to_numpy(float),
                                         conf_type=options.conf_type, conf_level=options.conf_level)
    results.update(treatment_blocks(con, study, selection.population_n))
    results["swimmer"] = swimmer_block(con, study)
    results["molecular"] = molecular_block(con, study)

    results["stratified"] = {}
    for name in ("os", "pfs"):
        frame = frames[name]
        time, event = frame["time"].to_numpy(float), frame["event"].to_numpy(float)
        results["stratified"][name] = {
            grouping: stratified_block(time, event, frame[grouping], study.groupings[grouping].levels,
                                       label=study.groupings[grouping].label, **km_options)
            for grouping in options.stratified.get(name, ())
        }
    results["cox"] = {
        name: cox_block(frames[name], models.univariable, models.multivariable, study)
        for name, models in options.cox.items()
    }
    results["data_problems"] = _problems(con, study)
    steps.done()
    return results


def _methods(study: StudyDefinition) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    def _version(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "unknown"

    options = study.analysis
    return {
        "km": f"Kaplan-Meier, Greenwood variance, {options.conf_type} pointwise CIs at {options.conf_level:g}",
        "median_ci": "Brookmeyer-Crowley (as R quantile.survfit)",
        "followup": "median follow-up by reverse Kaplan-Meier",
        "logrank": "log-rank test (R survdiff, rho = 0) across the groups with patients",
        "cox": f"Cox proportional hazards, {options.ties.capitalize()} ties, Wald CIs; categorical reference = first level present",
        "ph": "Grambsch-Therneau (R cox.zph, transform = km), per term and GLOBAL",
        "binomial": "Clopper-Pearson exact",
        "table1": {
            "continuous": "median (IQR, R type-7 quantiles); Wilcoxon rank-sum (2 groups) or Kruskal-Wallis",
            "categorical": {"auto": "Fisher's exact test when an expected count is < 5, else Pearson's chi-squared test",
                            "fisher": "Fisher's exact test", "chi-square": "Pearson's chi-squared test"}[options.categorical_test],
        },
        "time": "months = days / 30.4375",
        "software": {
            "nenstudy": nenstudy.__version__, "python": platform.python_version(),
            **{name: _version(name) for name in ("numpy", "pandas", "scipy", "duckdb", "sqlglot", "jsonschema")},
        },
    }


def run_study(
    registry: Path,
    study_file: Path,
    out_dir: Path,
    *,
    seed: int | None = None,
    progress: "Progress | None" = None,
    show_identifiers: bool = False,
) -> dict[str, Any]:
    """Run a study on a registry and write its outputs.

    Parameters
    ----------
    registry : Path
        A DuckDB registry store file (opened read-only), or a registry source folder (validated
        and imported into a temporary store; a failed validation raises
        :class:`nenstudy.registry.validation.ValidationError`).
    study_file : Path
        The study definition (TOML).
    out_dir : Path
        Output folder (created if needed): ``results.json``, ``analysis/adsl.csv``,
        ``analysis/adtte.csv``.
    seed : int, optional
        Seed of a synthetic registry (recorded in the provenance). ``None``: the seed the
        store recorded when it was imported from a folder ``nenstudy synth`` wrote, its data
        unchanged; none for real data.
    progress : rich.progress.Progress, optional
        Progress display to report the stages to.
    show_identifiers : bool, default False
        Only when the user explicitly asks: add the registry patient_id (``SUBJID``) to
        ``adsl.csv`` and ``adtte.csv`` to link results back to the records. results.json always
        uses pseudonymous ids only.

    Returns
    -------
    dict
        The results, as written to ``results.json``.

    Raises
    ------
    StudyDefinitionError
        For an invalid study file (before any data is read) or an expression failing on the data.
    nenstudy.registry.validation.ValidationError
        For a registry folder that does not pass validation.
    """
    study = load_study(study_file)
    out_dir = Path(out_dir)
    registry = Path(registry)
    steps = _Steps(progress)
    steps.start("registry")
    with _store_for(registry, show_identifiers=show_identifiers) as store:
        con = open_store(store)
        registry_hash = registry_sha256(store)
        if seed is None:
            seed = _synthetic_seed(store)
        steps.done()
        try:
            results = analyse(con, study, steps)
            results["comparison"] = comparison_block(study.published, results, study.path)
            results["published"] = None if study.published is None else {
                "source": study.published.source, "note": study.published.note,
                "items": {i.key: {"label": i.label, "value": i.value, "ci": list(i.ci) if i.ci else None,
                                  "denominator": i.denominator, "format": i.format}
                          for i in study.published.items},
            }
            results["methods"] = _methods(study)
            results["provenance"] = {
                "nenstudy_version": nenstudy.__version__,
                "registry": registry.name,
                "registry_kind": "folder" if registry.is_dir() else "store",
                "registry_sha256": registry_hash,
                "study_file": _display_path(study.path),
                "study_sha256": study.sha256,
                "seed": seed,
                "synthetic": seed is not None,
                "generated_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            }
            results = to_json_value(results)
            validate_results(results)
            steps.start("outputs")
            out_dir.mkdir(parents=True, exist_ok=True)
            write_analysis_datasets(con, study, out_dir / "analysis", show_identifiers=show_identifiers)
        finally:
            con.close()
    write_results(results, out_dir / "results.json", validate=False)  # validated above
    steps.done()
    return results
