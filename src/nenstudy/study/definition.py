"""Load and validate a study definition (TOML) into immutable objects.

The format is documented in ``docs/study-format.md``. Every key is checked: unknown keys,
missing keys, wrong types, unknown references (a grouping that does not exist, a subset of an
undefined population) and every SQL expression (through :mod:`nenstudy.study.sqlcheck`) give a
:class:`StudyDefinitionError` whose message names the file, the TOML key and what was expected.
Loading never touches a registry: a bad definition fails before any data is read.
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from nenstudy.registry.schema import AGENTS, GENES
from nenstudy.study.fields import STUDY_FIELDS
from nenstudy.study.sqlcheck import CheckedExpression, ExpressionError, check_expression

__all__ = [
    "StudyDefinitionError",
    "CohortStep",
    "Endpoint",
    "Grouping",
    "Variable",
    "RegimenClass",
    "CoxModels",
    "AnalysisOptions",
    "TreatmentOptions",
    "MolecularOptions",
    "PublishedItem",
    "Published",
    "StudyDefinition",
    "load_study",
    "parse_study",
    "AGENTS",
    "OS_ORIGINS",
    "CONF_TYPES",
]


OS_ORIGINS: tuple[str, ...] = ("diagnosis", "mdt", "first_line_start")
PFS_ORIGINS: tuple[str, ...] = ("first_line_start",)
CONF_TYPES: tuple[str, ...] = ("log-log", "log", "plain")
TIES: tuple[str, ...] = ("efron", "breslow")
CATEGORICAL_TESTS: tuple[str, ...] = ("auto", "fisher", "chi-square")
PFS_CENSOR: tuple[str, ...] = ("last_assessment", "last_contact")
PFS_NO_ASSESSMENT: tuple[str, ...] = ("last_contact", "origin")
ENDPOINT_NAMES: tuple[str, ...] = ("os", "pfs")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PUBLISHED_FORMATS = ("count", "number", "percent")
_RESULT_KEYS = frozenset({
    "attrition", "cohort_n", "populations", "baseline", "os", "pfs", "followup", "first_line",
    "response_first_line", "orr_first_line", "later_lines", "molecular", "stratified", "cox",
})


class StudyDefinitionError(ValueError):
    """A study definition file that cannot be used, with file, key and expectation named."""


@dataclass(frozen=True)
class CohortStep:
    """One named selection step (cohort step or analysis subset).

    Attributes
    ----------
    name, label : str
        Identifier (used in results) and human label.
    where : CheckedExpression
        Boolean condition a diagnosis must meet (NULL counts as not met).
    reason : str or None
        Why the rows failing this step are excluded (for the flow diagram).
    excluded_by : CheckedExpression or None
        Expression whose values break down the excluded rows by reason.
    of : str
        For subsets: the population it is taken from (``cohort`` or an earlier subset);
        ``""`` for cohort steps.
    """

    name: str
    label: str
    where: CheckedExpression
    reason: str | None = None
    excluded_by: CheckedExpression | None = None
    of: str = ""


@dataclass(frozen=True)
class Endpoint:
    """A time-to-event endpoint (``os`` or ``pfs``) and its conventions."""

    name: str
    label: str
    origin: str
    population: str
    censor: str = "last_contact"
    no_assessment: str = "last_contact"


@dataclass(frozen=True)
class Grouping:
    """A categorical grouping: an expression giving a label, and the ordered levels.

    The first level present in the data is the reference level in Cox models.
    """

    name: str
    label: str
    expr: CheckedExpression
    levels: tuple[str, ...]
    variable: str | None = None
    cutpoints: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Variable:
    """A baseline variable or covariate: continuous (numeric) or categorical."""

    name: str
    label: str
    expr: CheckedExpression
    type: str
    levels: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegimenClass:
    """A regimen class matched from a line's agents (first matching class wins)."""

    name: str
    label: str
    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()


@dataclass(frozen=True)
class CoxModels:
    """Covariates of the univariable models and of the multivariable model of one endpoint."""

    univariable: tuple[str, ...]
    multivariable: tuple[str, ...]


@dataclass(frozen=True)
class AnalysisOptions:
    """Options that change numbers, and the analyses to run."""

    conf_type: str = "log-log"
    conf_level: float = 0.95
    ties: str = "efron"
    rates_at: tuple[float, ...] = (12.0, 24.0)
    risk_table_times: tuple[float, ...] = (0.0, 6.0, 12.0, 18.0, 24.0, 30.0, 36.0)
    table1_by: str | None = None
    baseline: tuple[str, ...] = ()
    categorical_test: str = "auto"
    stratified: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    cox: Mapping[str, CoxModels] = field(default_factory=dict)


@dataclass(frozen=True)
class TreatmentOptions:
    """Populations and regimen classes of the first-line treatment analyses."""

    eligible: str
    treated: str
    regimen_classes: tuple[RegimenClass, ...]
    other_class: str = "other"


@dataclass(frozen=True)
class MolecularOptions:
    """Genes reported and the TMB-high threshold (mutations/Mb, inclusive)."""

    genes: tuple[str, ...]
    tmb_high_threshold: float = 10.0


@dataclass(frozen=True)
class PublishedItem:
    """One published figure and the results path of its registry counterpart."""

    key: str
    label: str
    value: float | int
    ci: tuple[float, float] | None
    registry: str | None
    registry_ci: str | None
    format: str
    denominator: int | None = None
    registry_denominator: str | None = None


@dataclass(frozen=True)
class Published:
    """The published reference figures: quoted, never computed."""

    source: str
    note: str
    items: tuple[PublishedItem, ...]


@dataclass(frozen=True)
class StudyDefinition:
    """A complete, validated study definition."""

    name: str
    title: str
    description: str
    path: Path
    sha256: str
    steps: tuple[CohortStep, ...]
    subsets: tuple[CohortStep, ...]
    endpoints: Mapping[str, Endpoint]
    groupings: Mapping[str, Grouping]
    variables: Mapping[str, Variable]
    treatment: TreatmentOptions
    molecular: MolecularOptions
    analysis: AnalysisOptions
    published: Published | None
    include_dates: bool = False

    @property
    def populations(self) -> tuple[str, ...]:
        """Names of the populations: ``cohort`` then each subset."""
        return ("cohort", *(s.name for s in self.subsets))

    def variable_kind(self, name: str) -> str:
        """Return ``categorical`` or ``continuous`` for a grouping or variable name."""
        if name in self.groupings:
            return "categorical"
        return self.variables[name].type

    def label_of(self, name: str) -> str:
        """Return the human label of a grouping or variable."""
        if name in self.groupings:
            return self.groupings[name].label
        return self.variables[name].label


def load_study(path: str | Path) -> StudyDefinition:
    """Read and validate a study definition file.

    Parameters
    ----------
    path : str or Path
        The TOML file.

    Returns
    -------
    StudyDefinition

    Raises
    ------
    StudyDefinitionError
        When the file is missing, is not TOML, or any key is missing, unknown or invalid.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise StudyDefinitionError(f"{path}: cannot read the study file ({err.strerror})") from None
    return parse_study(raw, path)


def parse_study(raw: bytes | str, path: str | Path = "<study>") -> StudyDefinition:
    """Validate the text of a study definition.

    Parameters
    ----------
    raw : bytes or str
        TOML text (bytes must be UTF-8).
    path : str or Path
        The name used in error messages and in the results.

    Returns
    -------
    StudyDefinition

    Raises
    ------
    StudyDefinitionError
        As :func:`load_study`.
    """
    path = Path(path)
    data_bytes = raw.encode("utf-8") if isinstance(raw, str) else raw
    try:
        text = data_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise StudyDefinitionError(f"{path}: the study file is not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise StudyDefinitionError(f"{path}: not valid TOML: {err}") from None
    return _Builder(path, data, hashlib.sha256(data_bytes).hexdigest()).build()


class _Table:
    """A TOML table being read: typed getters, then a check for unknown keys."""

    def __init__(self, path: Path, key: str, data: Any) -> None:
        self.path = path
        self.key = key
        if not isinstance(data, dict):
            self.fail(key, f"expected a table ([{key}]), got {_kind(data)}")
        self.data: dict[str, Any] = data
        self.used: set[str] = set()

    def fail(self, key: str, message: str) -> None:
        raise StudyDefinitionError(f"{self.path}: {key}: {message}")

    def full(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def has(self, name: str) -> bool:
        return name in self.data

    def _present(self, name: str, default: Any, expected: str) -> bool:
        """Mark ``name`` as read; whether it is given (missing with no default fails)."""
        self.used.add(name)
        if name in self.data:
            return True
        if default is ...:
            self.fail(self.full(name), f"missing; expected {expected}")
        return False

    def get(self, name: str, default: Any = ..., *, kinds: tuple[type, ...], expected: str) -> Any:
        if not self._present(name, default, expected):
            return default
        value = self.data[name]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            self.fail(self.full(name), f"expected {expected}, got {_kind(value)} {_short(value)}")
        return value

    def text(self, name: str, default: Any = ...) -> Any:
        value = self.get(name, default, kinds=(str,), expected="a text value in quotes")
        if isinstance(value, str) and not value.strip():
            self.fail(self.full(name), "expected a non-empty text value")
        return value

    def choice(self, name: str, options: tuple[str, ...], default: Any = ...) -> Any:
        value = self.get(name, default, kinds=(str,), expected=f"one of {_quoted(options)}")
        if value is not None and value not in options:
            self.fail(self.full(name), f"expected one of {_quoted(options)}, got {value!r}")
        return value

    def number(self, name: str, default: Any = ..., *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False) -> Any:
        value = self.get(name, default, kinds=(int, float), expected="a number")
        if value is None or value is default:
            return value
        if not math.isfinite(value):
            self.fail(self.full(name), f"expected a finite number, got {value!r}")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            lo = "(" if low_open else "["
            hi = ")" if high_open else "]"
            self.fail(self.full(name), f"expected a number in {lo}{low}, {high}{hi}, got {value!r}")
        return value

    def boolean(self, name: str, default: Any = ...) -> Any:
        return self.get(name, default, kinds=(bool,), expected="true or false")

    def strings(self, name: str, default: Any = ..., *, allow_empty: bool = False) -> Any:
        value = self.get(name, default, kinds=(list,), expected="a list of text values")
        if value is default:
            return value
        for item in value:
            if not isinstance(item, str) or not item.strip():
                self.fail(self.full(name), f"expected a list of text values, found {_kind(item)} {_short(item)}")
        if not value and not allow_empty:
            self.fail(self.full(name), "expected a non-empty list")
        if len(set(value)) != len(value):
            self.fail(self.full(name), "the list repeats a value")
        return tuple(value)

    def numbers(self, name: str, default: Any = ...) -> Any:
        value = self.get(name, default, kinds=(list,), expected="a list of numbers")
        if value is default:
            return value
        for item in value:
            if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
                self.fail(self.full(name), f"expected a list of numbers, found {_kind(item)} {_short(item)}")
        return tuple(float(v) for v in value)

    def table(self, name: str, default: Any = ...) -> Any:
        if not self._present(name, default, f"a table [{self.full(name)}]"):
            return default
        return _Table(self.path, self.full(name), self.data[name])

    def tables(self, name: str, default: Any = ...) -> Any:
        """An array of tables ([[name]])."""
        if not self._present(name, default, f"one or more [[{self.full(name)}]] tables"):
            return default
        value = self.data[name]
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(self.full(name), f"expected [[{self.full(name)}]] tables, got {_kind(value)}")
        return [_Table(self.path, f"{self.full(name)}[{i}]", v) for i, v in enumerate(value)]

    def expression(self, name: str, kind: str, default: Any = ...) -> Any:
        text = self.get(name, default, kinds=(str,), expected="an SQL expression in quotes")
        if text is default:
            return text
        try:
            return check_expression(text, STUDY_FIELDS, kind=kind)
        except ExpressionError as err:
            self.fail(self.full(name), f"{err} (in {text!r})")

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            expected = ", ".join(sorted(self.used)) or "no keys"
            where = f"[{self.key}]" if self.key else "the top level"
            self.fail(self.full(unknown[0]), f"unknown key in {where}; expected one of: {expected}")


def _kind(value: Any) -> str:
    return {
        bool: "a boolean", int: "an integer", float: "a number", str: "a text value",
        list: "a list", dict: "a table",
    }.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return f"({text[:60]}...)" if len(text) > 60 else f"({text})"


def _quoted(options: tuple[str, ...]) -> str:
    return ", ".join(repr(o) for o in options)


def _format_cut(value: float) -> str:
    return f"{value:g}"


def cut_labels(cutpoints: tuple[float, ...]) -> tuple[str, ...]:
    """Default labels of left-closed intervals: ``(20, 55)`` -> ``<20``, ``20-<55``, ``>=55``."""
    labels = [f"<{_format_cut(cutpoints[0])}"]
    labels += [f"{_format_cut(a)}-<{_format_cut(b)}" for a, b in zip(cutpoints, cutpoints[1:])]
    labels.append(f">={_format_cut(cutpoints[-1])}")
    return tuple(labels)


class _Builder:
    def __init__(self, path: Path, data: dict[str, Any], sha256: str) -> None:
        self.path = path
        self.root = _Table(path, "", data)
        self.sha256 = sha256

    def fail(self, key: str, message: str) -> None:
        raise StudyDefinitionError(f"{self.path}: {key}: {message}")

    def build(self) -> StudyDefinition:
        root = self.root
        study = root.table("study")
        name = study.text("name")
        if not _NAME.match(name):
            study.fail("study.name", f"expected a lower-case identifier (a-z, 0-9, _), got {name!r}")
        title = study.text("title")
        description = study.get("description", "", kinds=(str,), expected="a text value")
        study.done()

        steps = self._steps(root.table("cohort"))
        subsets = self._subsets(root.tables("subsets", []), {s.name for s in steps})
        populations = ("cohort", *(s.name for s in subsets))
        groupings = self._groupings(root.table("groupings"))
        variables = self._variables(root.table("variables", None), groupings)
        endpoints = self._endpoints(root.table("endpoints"), populations)
        treatment = self._treatment(root.table("treatment"), populations)
        molecular = self._molecular(root.table("molecular", None))
        analysis = self._analysis(root.table("analysis", None), groupings, variables)
        output = root.table("output", None)
        include_dates = False
        if output is not None:
            include_dates = output.boolean("include_dates", False)
            output.done()
        published = self._published(root.table("published", None))
        root.done()
        return StudyDefinition(
            name=name, title=title, description=description, path=self.path, sha256=self.sha256,
            steps=steps, subsets=subsets, endpoints=endpoints, groupings=groupings,
            variables=variables, treatment=treatment, molecular=molecular, analysis=analysis,
            published=published, include_dates=include_dates,
        )

    # -- cohort ---------------------------------------------------------------------------
    def _step(self, table: _Table, kind: str, taken: set[str], populations: set[str] | None) -> CohortStep:
        name = table.text("name")
        if not _NAME.match(name):
            table.fail(table.full("name"), f"expected a lower-case identifier (a-z, 0-9, _), got {name!r}")
        if name in taken or name == "cohort":
            table.fail(table.full("name"), f"the name {name!r} is already used")
        of = ""
        if populations is not None:
            of = table.text("of", "cohort")
            if of not in populations:
                table.fail(table.full("of"), f"expected 'cohort' or an earlier subset ({_quoted(tuple(sorted(populations)))}), got {of!r}")
        step = CohortStep(
            name=name,
            label=table.text("label", name),
            where=table.expression("where", "condition"),
            reason=table.text("reason", None),
            excluded_by=table.expression("excluded_by", "value", None),
            of=of,
        )
        table.done()
        taken.add(name)
        return step

    def _steps(self, cohort: _Table) -> tuple[CohortStep, ...]:
        tables = cohort.tables("steps")
        if not tables:
            cohort.fail("cohort.steps", "expected at least one [[cohort.steps]] table")
        taken: set[str] = set()
        steps = tuple(self._step(t, "cohort", taken, None) for t in tables)
        cohort.done()
        return steps

    def _subsets(self, tables: list[_Table], taken: set[str]) -> tuple[CohortStep, ...]:
        populations = {"cohort"}
        out = []
        for table in tables:
            subset = self._step(table, "subset", taken, populations)
            populations.add(subset.name)
            out.append(subset)
        return tuple(out)

    # -- groupings and variables ------------------------------------------------------------
    def _groupings(self, table: _Table) -> dict[str, Grouping]:
        out: dict[str, Grouping] = {}
        for name in list(table.data):
            if not _NAME.match(name):
                table.fail(table.full(name), "expected a lower-case identifier as the grouping name")
            sub = table.table(name)
            label = sub.text("label", name)
            if sub.has("cutpoints"):
                variable = sub.text("variable")
                if STUDY_FIELDS.get(variable) not in ("float", "int"):
                    sub.fail(sub.full("variable"), f"expected a numeric field (e.g. 'ki67_pct'), got {variable!r}")
                cutpoints = sub.numbers("cutpoints")
                if not cutpoints or any(b <= a for a, b in zip(cutpoints, cutpoints[1:])):
                    sub.fail(sub.full("cutpoints"), "expected a non-empty list of increasing numbers")
                levels = sub.strings("labels", cut_labels(cutpoints))
                if len(levels) != len(cutpoints) + 1:
                    sub.fail(sub.full("labels"), f"expected {len(cutpoints) + 1} labels for {len(cutpoints)} cut-points")
                whens = []
                for i, level in enumerate(levels):
                    quoted = "'" + level.replace("'", "''") + "'"
                    if i < len(cutpoints):
                        whens.append(f"WHEN {variable} < {cutpoints[i]!r} THEN {quoted}")
                    else:
                        whens.append(f"WHEN {variable} >= {cutpoints[-1]!r} THEN {quoted}")
                expr = check_expression(f"CASE {' '.join(whens)} END", STUDY_FIELDS, kind="label")
                grouping = Grouping(name, label, expr, tuple(levels), variable, cutpoints)
            else:
                expr = sub.expression("expr", "label")
                levels = sub.strings("levels")
                grouping = Grouping(name, label, expr, tuple(levels))
            sub.done()
            out[name] = grouping
        table.done()
        if not out:
            table.fail("groupings", "expected at least one [groupings.NAME] table")
        return out

    def _variables(self, table: _Table | None, groupings: Mapping[str, Grouping]) -> dict[str, Variable]:
        out: dict[str, Variable] = {}
        if table is None:
            return out
        for name in list(table.data):
            if not _NAME.match(name):
                table.fail(table.full(name), "expected a lower-case identifier as the variable name")
            if name in groupings:
                table.fail(table.full(name), f"{name!r} is already a grouping; names must be unique")
            sub = table.table(name)
            label = sub.text("label", name)
            kind = sub.choice("type", ("continuous", "categorical"))
            if kind == "continuous":
                expr = sub.expression("expr", "number")
                levels: tuple[str, ...] = ()
            else:
                expr = sub.expression("expr", "label")
                levels = sub.strings("levels")
            sub.done()
            out[name] = Variable(name, label, expr, kind, levels)
        table.done()
        return out

    # -- endpoints -------------------------------------------------------------------------
    def _endpoints(self, table: _Table, populations: tuple[str, ...]) -> dict[str, Endpoint]:
        out: dict[str, Endpoint] = {}
        for name in ENDPOINT_NAMES:
            sub = table.table(name)
            label = sub.text("label", {"os": "Overall survival", "pfs": "Progression-free survival"}[name])
            if name == "os":
                origin = sub.choice("origin", OS_ORIGINS, "diagnosis")
                censor, no_assessment = "last_contact", "last_contact"
            else:
                origin = sub.choice("origin", PFS_ORIGINS, "first_line_start")
                censor = sub.choice("censor", PFS_CENSOR, "last_assessment")
                no_assessment = sub.choice("no_assessment", PFS_NO_ASSESSMENT, "last_contact")
            population = sub.text("population", "cohort")
            if population not in populations:
                sub.fail(sub.full("population"), f"expected one of {_quoted(populations)}, got {population!r}")
            sub.done()
            out[name] = Endpoint(name, label, origin, population, censor, no_assessment)
        table.done()
        return out

    # -- treatment and molecular ------------------------------------------------------------
    def _treatment(self, table: _Table, populations: tuple[str, ...]) -> TreatmentOptions:
        eligible = table.text("eligible")
        treated = table.text("treated")
        for key, value in (("eligible", eligible), ("treated", treated)):
            if value not in populations:
                table.fail(table.full(key), f"expected one of {_quoted(populations)}, got {value!r}")
        other = table.text("other_class", "other")
        classes = []
        seen: set[str] = set()
        for sub in table.tables("regimen_classes"):
            name = sub.text("name")
            if not _NAME.match(name.lower()) or name in seen or name == other:
                sub.fail(sub.full("name"), f"expected a new identifier-like class name, got {name!r}")
            lists = {}
            for key in ("all_of", "any_of", "none_of"):
                agents = sub.strings(key, (), allow_empty=True)
                for agent in agents:
                    if agent not in AGENTS:
                        sub.fail(sub.full(key), f"unknown agent {agent!r}; expected agents from: {', '.join(AGENTS)}")
                lists[key] = agents
            if not lists["all_of"] and not lists["any_of"]:
                sub.fail(sub.full("all_of"), "a regimen class needs all_of or any_of agents")
            classes.append(RegimenClass(name, sub.text("label", name), **lists))
            seen.add(name)
            sub.done()
        table.done()
        return TreatmentOptions(eligible, treated, tuple(classes), other)

    def _molecular(self, table: _Table | None) -> MolecularOptions:
        default_genes = ("TP53", "RB1", "KRAS", "BRAF", "APC", "ARID1A", "MYC", "FBXW7", "PIK3CA")
        if table is None:
            return MolecularOptions(default_genes)
        genes = table.strings("genes", default_genes)
        for gene in genes:
            if gene not in GENES:
                table.fail(table.full("genes"), f"unknown gene {gene!r}; expected genes from: {', '.join(GENES)}")
        threshold = table.number("tmb_high_threshold", 10.0, low=0)
        table.done()
        return MolecularOptions(tuple(genes), float(threshold))

    # -- analyses --------------------------------------------------------------------------
    def _analysis(self, table: _Table | None, groupings: Mapping[str, Grouping],
                  variables: Mapping[str, Variable]) -> AnalysisOptions:
        if table is None:
            return AnalysisOptions()
        known = {**{k: "categorical" for k in groupings}, **{k: v.type for k, v in variables.items()}}

        def check_names(key: str, names: tuple[str, ...], allowed: Mapping[str, str] | set[str]) -> None:
            for item in names:
                if item not in allowed:
                    table.fail(key, f"unknown grouping or variable {item!r}; expected one of: {', '.join(sorted(allowed))}")

        conf_type = table.choice("conf_type", CONF_TYPES, "log-log")
        conf_level = table.number("conf_level", 0.95, low=0, high=1, low_open=True, high_open=True)
        ties = table.choice("ties", TIES, "efron")
        rates_at = table.numbers("rates_at", (12.0, 24.0))
        risk_times = table.numbers("risk_table_times", (0.0, 6.0, 12.0, 18.0, 24.0, 30.0, 36.0))
        for key, values in (("rates_at", rates_at), ("risk_table_times", risk_times)):
            if any(v < 0 for v in values) or list(values) != sorted(set(values)):
                table.fail(table.full(key), "expected increasing non-negative times in months")
        table1_by = table.text("table1_by", None)
        if table1_by is not None and table1_by not in groupings:
            table.fail(table.full("table1_by"), f"expected a grouping ({', '.join(groupings)}), got {table1_by!r}")
        baseline = table.strings("baseline", ())
        check_names(table.full("baseline"), baseline, known)
        categorical_test = table.choice("categorical_test", CATEGORICAL_TESTS, "auto")

        stratified: dict[str, tuple[str, ...]] = {}
        strat = table.table("stratified", None)
        if strat is not None:
            for endpoint in list(strat.data):
                if endpoint not in ENDPOINT_NAMES:
                    strat.fail(strat.full(endpoint), f"expected an endpoint ({_quoted(ENDPOINT_NAMES)})")
                names = strat.strings(endpoint, ())
                check_names(strat.full(endpoint), names, set(groupings))
                stratified[endpoint] = names
            strat.done()

        cox: dict[str, CoxModels] = {}
        cox_table = table.table("cox", None)
        if cox_table is not None:
            for endpoint in list(cox_table.data):
                if endpoint not in ENDPOINT_NAMES:
                    cox_table.fail(cox_table.full(endpoint), f"expected an endpoint ({_quoted(ENDPOINT_NAMES)})")
                sub = cox_table.table(endpoint)
                uni = sub.strings("univariable", (), allow_empty=True)
                multi = sub.strings("multivariable", (), allow_empty=True)
                check_names(sub.full("univariable"), uni, known)
                check_names(sub.full("multivariable"), multi, known)
                sub.done()
                cox[endpoint] = CoxModels(uni, multi)
            cox_table.done()
        table.done()
        return AnalysisOptions(
            conf_type=conf_type, conf_level=float(conf_level), ties=ties, rates_at=rates_at,
            risk_table_times=risk_times, table1_by=table1_by, baseline=baseline,
            categorical_test=categorical_test,
            stratified=stratified, cox=cox,
        )

    # -- published ---------------------------------------------------------------------------
    def _published(self, table: _Table | None) -> Published | None:
        if table is None:
            return None
        source = table.text("source")
        note = table.text("note", "Figures as published; quoted for comparison, not computed from this registry.")
        items_table = table.table("items")
        items = []
        for key in list(items_table.data):
            if not _NAME.match(key):
                items_table.fail(items_table.full(key), "expected a lower-case identifier as the item key")
            sub = items_table.table(key)
            fmt = sub.choice("format", _PUBLISHED_FORMATS, "number")
            value = sub.number("value")
            if fmt == "percent" and not 0 <= value <= 1:
                sub.fail(sub.full("value"), f"expected a fraction in [0, 1] for a percent item, got {value!r}")
            if fmt == "count" and (not isinstance(value, int) or value < 0):
                sub.fail(sub.full("value"), f"expected a non-negative integer for a count item, got {value!r}")
            ci = sub.numbers("ci", None)
            if ci is not None and (len(ci) != 2 or ci[0] > ci[1]):
                sub.fail(sub.full("ci"), "expected [lower, upper]")
            registry = sub.text("registry", None)
            registry_ci = sub.text("registry_ci", None)
            registry_denominator = sub.text("registry_denominator", None)
            for k, v in (("registry", registry), ("registry_ci", registry_ci),
                         ("registry_denominator", registry_denominator)):
                if v is None:
                    continue
                if not re.match(r"^[a-z_][a-z0-9_]*(\.[A-Za-z0-9_-]+)*$", v):
                    sub.fail(sub.full(k), f"expected a dotted path into results.json (e.g. 'os.median'), got {v!r}")
                if v.split(".")[0] not in _RESULT_KEYS:
                    sub.fail(sub.full(k), f"{v!r} does not start with a results.json key ({', '.join(sorted(_RESULT_KEYS))})")
            denominator = sub.number("denominator", None, low=1)
            items.append(PublishedItem(
                key=key, label=sub.text("label"), value=value, ci=ci, registry=registry,
                registry_ci=registry_ci, format=fmt,
                denominator=int(denominator) if denominator is not None else None,
                registry_denominator=registry_denominator,
            ))
            sub.done()
        items_table.done()
        table.done()
        return Published(source=source, note=note, items=tuple(items))
