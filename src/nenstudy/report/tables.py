"""The report's tables as tidy objects; HTML, DOCX and XLSX all render from these (one source of truth)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .formatting import (
    MISSING,
    NOT_REACHED,
    fmt_ci,
    fmt_count,
    fmt_count_pct,
    fmt_hr_ci,
    fmt_level,
    fmt_median_ci,
    fmt_num,
    fmt_p,
    fmt_pct,
    fmt_rate_ci,
)
from .suppression import SUPPRESSED_DERIVED, is_suppressed, suppress_count

OTHER_ASSAYS = "(other)"
"""The key of the pooled TMB assays in results.json (results.schema.json, ``tmb.assays``)."""

__all__ = [
    "Cell",
    "Column",
    "Row",
    "Table",
    "ENDPOINT_LABELS",
    "grouping_label",
    "regimen_label",
    "comparison_table",
    "attrition_table",
    "baseline_table",
    "molecular_table",
    "lines_table",
    "regimens_table",
    "response_table",
    "survival_table",
    "stratified_table",
    "cox_table",
    "provenance_table",
    "all_tables",
]

ENDPOINT_LABELS = {"os": "Overall survival", "pfs": "Progression-free survival (first line)"}
_GROUPING_LABELS = {
    "ki67_group": "Ki-67 group",
    "ecog_group": "ECOG performance status",
    "metastatic": "Metastatic disease",
    "morphology": "Morphology",
    "site_group": "Primary site",
}
_TEST_NOTES = "abcdefgh"


@dataclass(frozen=True)
class Cell:
    """One table cell: the text shown, and the values behind it for the spreadsheet.

    Attributes
    ----------
    text : str
        Display text (suppression already applied).
    values : tuple
        The numbers shown (int/float), ``"<K"`` for a suppressed count, ``None`` for blank.
    formats : tuple of str
        Per value: ``"int"``, ``"pct"`` (fraction shown as %), ``"num1"``, ``"num2"``, ``"p"``, ``"text"``.
    note : str
        Footnote marker rendered as a superscript after the text.
    """

    text: str
    values: tuple[Any, ...] = ()
    formats: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Column:
    """A table column: its header, and the spreadsheet sub-columns of composite cells (``parts``)."""

    header: str
    parts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    """A table row; ``kind`` is ``"data"``, ``"group"`` (a heading row) or ``"level"`` (indented)."""

    cells: tuple[Cell, ...]
    kind: str = "data"


@dataclass(frozen=True)
class Table:
    """A titled table with footnotes; ``key`` names the HTML anchor and the XLSX sheet."""

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    footnotes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row.cells) != len(self.columns):
                raise ValueError(f"table {self.key!r} row {i} has {len(row.cells)} cells for {len(self.columns)} columns")

    def is_numeric_column(self, index: int) -> bool:
        """True when the column holds numbers (right-aligned in every rendering)."""
        return index > 0 and any(row.cells[index].formats and row.cells[index].formats[0] != "text"
                                 for row in self.rows)

    def column_texts(self, index: int) -> list[str]:
        """Return the display texts of one column (handy in tests and cross-checks)."""
        return [row.cells[index].text for row in self.rows]


# ---------------------------------------------------------------- cell builders


def _text(s: Any) -> Cell:
    s = "" if s is None else str(s)
    return Cell(s, (s,) if s else (None,), ("text",))


def _blank() -> Cell:
    return Cell("", (None,), ("text",))


def _count(n: int | None, sup: int | None) -> Cell:
    return Cell(fmt_count(n, sup), (suppress_count(n, sup),), ("int",))


def _count_pct(n: int | None, fraction: float | None, sup: int | None, denominator: int | None = None) -> Cell:
    hidden = is_suppressed(n, sup) or is_suppressed(denominator, sup)
    return Cell(fmt_count_pct(n, fraction, sup, denominator), (suppress_count(n, sup), None if hidden else fraction),
                ("int", "pct"))


def _pct(fraction: float | None, hidden: bool = False) -> Cell:
    if hidden:
        return Cell(SUPPRESSED_DERIVED, (None,), ("pct",))
    return Cell(fmt_pct(fraction), (fraction,), ("pct",))


def _num(x: float | None, digits: int = 1) -> Cell:
    return Cell(fmt_num(x, digits), (x,), (f"num{digits}",))


def _p(p: float | None, note: str = "") -> Cell:
    return Cell(fmt_p(p), (p,), ("p",), note)


def _median_ci(median: float | None, ci: Sequence[float | None] | None) -> Cell:
    lo, hi = (ci or (None, None))
    return Cell(fmt_median_ci(median, ci), (median, lo, hi), ("num1", "num1", "num1"))


def _rate_ci(rate: float | None, lo: float | None, hi: float | None, hidden: bool = False) -> Cell:
    if hidden:
        return Cell(SUPPRESSED_DERIVED, (None, None, None), ("pct", "pct", "pct"))
    return Cell(fmt_rate_ci(rate, lo, hi), (rate, lo, hi), ("pct", "pct", "pct"))


def _hr(row: Mapping | None) -> Cell:
    if row is None:
        return Cell("", (None, None, None), ("num2", "num2", "num2"))
    return Cell(fmt_hr_ci(row.get("hr"), row.get("lower"), row.get("upper")),
                (row.get("hr"), row.get("lower"), row.get("upper")), ("num2", "num2", "num2"))


# ---------------------------------------------------------------- labels


def grouping_label(name: str, results: Mapping) -> str:
    """Human label of a grouping variable: the study's label, else Table 1's, else a known or tidied name."""
    declared = ((results.get("study") or {}).get("groupings") or {}).get(name) or {}
    if declared.get("label"):
        return str(declared["label"])
    for var in results.get("baseline", {}).get("variables", []):
        if var.get("name") == name and var.get("label"):
            return str(var["label"])
    return _GROUPING_LABELS.get(name, name.replace("_", " ").capitalize())


def regimen_label(code: str, results: Mapping) -> str:
    """Display label of a regimen code (``first_line.regimen_labels``, else the code itself)."""
    labels = results.get("first_line", {}).get("regimen_labels") or {}
    return str(labels.get(code, code))


def _study_n(results: Mapping, sup: int | None) -> str:
    return fmt_count(results.get("cohort_n"), sup)


# ---------------------------------------------------------------- tables


def comparison_table(results: Mapping, sup: int | None = None) -> Table | None:
    """Published versus registry values (``comparison``); ``None`` when results have none."""
    rows_in = results.get("comparison") or []
    if not rows_in:
        return None
    rows = []
    for item in rows_in:
        reg_value = item.get("registry_value")
        registry = _text(item.get("registry"))
        if isinstance(reg_value, int) and not isinstance(reg_value, bool) and is_suppressed(reg_value, sup):
            registry = Cell(fmt_count(reg_value, sup), (suppress_count(reg_value, sup),), ("text",))
        elif reg_value is not None:
            registry = Cell(registry.text, (reg_value,), (_kind_of(reg_value),))
        pub_value = item.get("published_value")
        published = _text(item.get("published"))
        if pub_value is not None:
            published = Cell(published.text, (pub_value,), (_kind_of(pub_value),))
        rows.append(Row((_text(item.get("item")), published, registry)))
    source = (results.get("published") or {}).get("source")
    notes = [f"Published: {source}." if source else "Published: the study's reference publication."]
    if sup:
        notes.append(f"Registry counts below {sup} are shown as <{sup}.")
    return Table("comparison", "Published series versus this registry",
                 (Column("Item"), Column("Published"), Column("Registry")), tuple(rows), tuple(notes))


def _kind_of(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "text"
    return "int" if isinstance(value, int) else "num2"


def attrition_table(results: Mapping, sup: int | None = None) -> Table:
    """Cohort selection steps: patients remaining, excluded and why (STROBE/REMARK)."""
    rows = []
    for s in results["attrition"]:
        reason = s.get("reason") or ""
        if s.get("excluded_by"):
            reason += " (" + "; ".join(f"{k.replace('_', ' ')} {fmt_count(v, sup)}"
                                       for k, v in s["excluded_by"].items()) + ")"
        rows.append(Row((_text(s.get("label") or s.get("step")), _count(s.get("n"), sup),
                         _count(s.get("excluded"), sup) if s.get("excluded") else _blank(), _text(reason))))
    return Table("attrition", "Cohort selection",
                 (Column("Step"), Column("Patients, n"), Column("Excluded, n"), Column("Reason for exclusion")),
                 tuple(rows))


def _group_size(variables: Sequence[Mapping], group: str) -> int | None:
    for var in variables:
        summary = (var.get("by_group") or {}).get(group)
        if not summary:
            continue
        if var.get("type") == "continuous":
            return int(summary.get("n", 0)) + int(summary.get("missing", 0))
        return int(sum(summary.get("counts", {}).values())) + int(summary.get("missing", 0))
    return None


def baseline_table(results: Mapping, sup: int | None = None) -> Table:
    """Table 1: n (%) for categorical, median (IQR) for continuous, missing counted, tests footnoted."""
    baseline = results["baseline"]
    variables = baseline["variables"]
    groups = list(baseline.get("groups") or []) if baseline.get("by") else []
    by_label = grouping_label(baseline["by"], results) if groups else None
    columns = [Column("Characteristic"),
               Column(f"Overall (n = {fmt_count(baseline.get('n'), sup)})", ("n | median", "% | Q1", "Q3"))]
    for g in groups:
        columns.append(Column(f"{by_label} {g} (n = {fmt_count(_group_size(variables, g), sup)})",
                              ("n | median", "% | Q1", "Q3")))
    if groups:
        columns.append(Column("p-value"))
    tests: dict[str, str] = {}
    rows: list[Row] = []
    summaries = lambda var: [var["overall"]] + [(var.get("by_group") or {}).get(g) or {} for g in groups]  # noqa: E731

    for var in variables:
        note = ""
        if groups and var.get("test"):
            note = tests.setdefault(var["test"], _TEST_NOTES[len(tests)])
        # no test for a variable (such as the one that makes the groups): no p-value, not "NA"
        p_cell = ([_p(var.get("p_value"), note) if var.get("test") else _blank()]
                  if groups else [])
        also = (set() if var["type"] == "continuous" else
                _baseline_complementary(var, summaries(var), groups, baseline.get("n"), sup))
        if var["type"] == "continuous":
            cells = [_median_iqr(s) for s in summaries(var)]
            rows.append(Row((_text(f"{var['label']}, median (IQR)"), *cells, *p_cell)))
        else:
            rows.append(Row((_text(f"{var['label']}, n (%)"), *[_blank()] * (len(columns) - 1 - len(p_cell)),
                             *p_cell), kind="group"))
            for level in var["levels"]:
                cells = []
                for i, s in enumerate(summaries(var)):
                    counts, pct = s.get("counts", {}), s.get("pct", {})
                    denominator = int(sum(counts.values())) if counts else None
                    cells.append(_hidden_count_pct() if (level, i) in also else
                                 _count_pct(counts.get(level), pct.get(level), sup, denominator))
                rows.append(Row((_text(_level_text(level)), *cells, *[_blank()] * len(p_cell)),
                                kind="level"))
        missing = [s.get("missing", 0) or 0 for s in summaries(var)]
        if any(missing):
            rows.append(Row((_text("Missing"), *[Cell(SUPPRESSED_DERIVED, (SUPPRESSED_DERIVED,), ("text",))
                                                 if (None, i) in also else _count(m, sup)
                                                 for i, m in enumerate(missing)],
                             *[_blank()] * len(p_cell)), kind="level"))
    notes = ["Categorical variables: n (%) of patients with a known value; continuous: median (IQR). "
             "Missing values are counted and not included in percentages."]
    sizes = [_group_size(variables, g) for g in groups]
    if groups and None not in sizes and baseline.get("n") is not None and baseline["n"] > sum(sizes):
        notes.append(f"Patients with unknown {by_label} (n = {fmt_count(baseline['n'] - sum(sizes), sup)}) "
                     "are counted in the overall column only.")
    if tests:
        notes.append("p-values: " + "; ".join(f"{letter} {test}" for test, letter in tests.items()) + ".")
    if sup:
        notes.append(f"Counts below {sup} are shown as <{sup}; their percentages are not shown (—). "
                     f"{SUPPRESSED_DERIVED} in place of a count: not shown, so that a count below {sup} "
                     "cannot be worked out from a column's or a row's total.")
    return Table("table1", "Table 1. Patient characteristics", tuple(columns), tuple(rows), tuple(notes))


def _hidden_count_pct() -> Cell:
    """A count (and its percentage) hidden by complementary suppression."""
    return Cell(SUPPRESSED_DERIVED, (SUPPRESSED_DERIVED, None), ("text", "pct"))


def _baseline_complementary(var: Mapping, summaries: Sequence[Mapping], groups: Sequence[str],
                            n_overall: int | None, sup: int | None) -> set[tuple[str | None, int]]:
    """Table 1 cells of a categorical variable to hide besides those below ``sup``, keyed by
    (level, column), the missing count as level None; column 0 is the overall one.

    In each column the levels and the missing count add up to the column's n (in its header);
    the known values add up to that n minus the missing count (the percentages' denominator);
    and, when every patient is in a group, each row's overall count is the sum of its groups'.
    """
    if not sup:
        return set()
    counts: dict[str, int] = {}
    keys_by_column: list[list[str]] = []
    for i, s in enumerate(summaries):
        keys = []
        for level in var["levels"]:
            key = f"{i}|{level}"
            counts[key] = int((s.get("counts") or {}).get(level) or 0)
            keys.append(key)
        counts[f"{i}|"] = int(s.get("missing") or 0)
        keys_by_column.append(keys)
    relations: list[tuple[Sequence[str], int | None]] = []
    for i, keys in enumerate(keys_by_column):
        column_n = sum(counts[k] for k in keys) + counts[f"{i}|"]
        relations.append(((*keys, f"{i}|"), column_n))
        relations.append((tuple(keys), column_n - counts[f"{i}|"]))
    group_sizes = [sum(counts[k] for k in keys) + counts[f"{i}|"]
                   for i, keys in enumerate(keys_by_column)][1:]
    if groups and n_overall is not None and sum(group_sizes) == n_overall:
        # overall minus the groups' counts is 0: a relation whose total is always known
        for level in [*var["levels"], ""]:
            row = tuple(f"{i}|{level}" for i in range(len(summaries)))
            relations.append((row, 0))
    hidden = _complementary(counts, relations, sup)
    return {((key.split("|", 1)[1] or None), int(key.split("|", 1)[0])) for key in hidden}


def _median_iqr(summary: Mapping) -> Cell:
    med, q1, q3 = summary.get("median"), summary.get("q1"), summary.get("q3")
    text = f"{fmt_num(med)} ({fmt_ci((q1, q3), missing=MISSING)})"
    return Cell(text, (med, q1, q3), ("num1", "num1", "num1"))


def molecular_table(results: Mapping, sup: int | None = None) -> Table:
    """Genes altered/tested among profiled patients, plus MSI-high and TMB-high."""
    mol = results["molecular"]
    rows = []
    genes = sorted(mol["genes"].items(), key=lambda kv: -(kv[1].get("altered") or 0))
    for gene, g in genes:
        a, t = g.get("altered"), g.get("tested")
        hidden = is_suppressed(a, sup) or is_suppressed(t, sup)
        rows.append(Row((_text(gene), _count(a, sup), _count(t, sup), _pct(a / t if t else None, hidden))))
    msi, tmb = mol.get("msi") or {}, mol.get("tmb") or {}
    if msi:
        h, t = msi.get("high"), msi.get("tested")
        rows.append(Row((_text("MSI-high"), _count(h, sup), _count(t, sup),
                         _pct(h / t if t else None, is_suppressed(h, sup) or is_suppressed(t, sup)))))
    if tmb:
        h, t = tmb.get("high"), tmb.get("tested")
        label = f"TMB-high (≥ {fmt_num(tmb.get('threshold'), 0)} mut/Mb)" if tmb.get("threshold") is not None else "TMB-high"
        rows.append(Row((_text(label), _count(h, sup), _count(t, sup),
                         _pct(h / t if t else None, is_suppressed(h, sup) or is_suppressed(t, sup)))))
    notes = [f"Molecular profiling available for {fmt_count(mol.get('profiled'), sup)} of "
             f"{fmt_count(mol.get('cohort'), sup)} patients; percentages are of patients tested for that marker."]
    if tmb.get("high_values") and not is_suppressed(tmb.get("high"), sup):
        notes.append("TMB of TMB-high tumours: " + ", ".join(fmt_num(v) for v in tmb["high_values"]) + " mut/Mb.")
    if tmb.get("assays"):
        notes.append("TMB assays (patients): " + ", ".join(
            f"{'other' if name == OTHER_ASSAYS else name} {fmt_count(n, sup)}" for name, n in tmb["assays"].items()) + ".")
    return Table("molecular", "Molecular profile", (Column("Marker"), Column("Altered, n"), Column("Tested, n"),
                                                     Column("Altered, %")), tuple(rows), tuple(notes))


def lines_table(results: Mapping, sup: int | None = None) -> Table:
    """Lines of systemic therapy received."""
    first, later = results["first_line"], results["later_lines"]
    specs = [("First-line chemotherapy (among advanced disease)", first.get("treated"), first.get("eligible")),
             ("Second line (among first-line treated)", later["second"].get("n"), later["second"].get("of")),
             ("Third line (among first-line treated)", later["third"].get("n"), later["third"].get("of"))]
    rows = []
    for label, n, of in specs:
        hidden = is_suppressed(n, sup) or is_suppressed(of, sup)
        rows.append(Row((_text(label), _count(n, sup), _count(of, sup), _pct(n / of if n is not None and of else None,
                                                                             hidden))))
    return Table("lines", "Lines of therapy received",
                 (Column("Line"), Column("Patients, n"), Column("Of, n"), Column("%")), tuple(rows))


def regimens_table(results: Mapping, sup: int | None = None) -> Table:
    """Regimens by line: n (%) of the patients who received that line."""
    by_line = results["later_lines"].get("regimens_by_line") or {"1": results["first_line"]["regimens"]}
    denominators = {"1": results["first_line"].get("treated"), "2": results["later_lines"]["second"].get("n"),
                    "3": results["later_lines"]["third"].get("n")}
    lines = sorted(by_line, key=int)
    order: dict[str, int] = {}
    for line in lines:
        for code, n in sorted(by_line[line].items(), key=lambda kv: -kv[1]):
            order.setdefault(code, len(order))
    columns = [Column("Regimen")] + [Column(f"Line {line} (n = {fmt_count(denominators.get(line), sup)})", ("n", "%"))
                                     for line in lines]
    rows = []
    for code in order:
        cells = [_text(regimen_label(code, results))]
        for line in lines:
            n = by_line[line].get(code)
            d = denominators.get(line)
            if n is None:
                cells.append(Cell("", (None, None), ("int", "pct")))
            else:
                cells.append(_count_pct(n, n / d if d else None, sup, d))
        rows.append(Row(tuple(cells)))
    return Table("regimens", "Regimens by line", tuple(columns), tuple(rows),
                 ("Percentages are of the patients who received that line.",))


def _complementary(counts: Mapping[str, int], groups: Sequence[tuple[Sequence[str], int | None]],
                   sup: int | None) -> set[str]:
    """Counts to hide besides those below ``sup`` (complementary suppression), so that none of these
    can be worked out as a shown total minus the other counts of its group.

    Parameters
    ----------
    counts
        The counts of a table, by key.
    groups
        Keys whose counts add up to a total shown beside them (the total is hidden, or None,
        when it gives nothing away).
    sup
        The suppression threshold K (None: no suppression).

    Returns
    -------
    set of str
        The keys whose counts are to be hidden although not below K: while a group whose total is
        shown has exactly one hidden count, its smallest other nonzero count is hidden too.
    """
    if not sup:
        return set()
    hidden = {k for k, n in counts.items() if is_suppressed(n, sup)}
    extra: set[str] = set()
    changed = True
    while changed:
        changed = False
        for keys, total in groups:
            if total is None or is_suppressed(total, sup):
                continue
            inside = [k for k in keys if k in counts and counts[k]]
            if len([k for k in inside if k in hidden]) == 1:
                others = sorted((counts[k], k) for k in inside if k not in hidden)
                if others:
                    hidden.add(others[0][1])
                    extra.add(others[0][1])
                    changed = True
    return extra


def response_table(results: Mapping, sup: int | None = None) -> Table:
    """Best response to first line (RECIST 1.1) and ORR with exact CIs on both denominators."""
    resp, orr = results["response_first_line"], results["orr_first_line"]
    treated, evaluable = resp.get("treated"), resp.get("evaluable")
    t_hidden, e_hidden = is_suppressed(treated, sup), is_suppressed(evaluable, sup)
    names = {"CR": "Complete response (CR)", "PR": "Partial response (PR)", "SD": "Stable disease (SD)",
             "PD": "Progressive disease (PD)", "NE": "Not evaluable (NE)", "missing": "Not recorded"}
    rows = []
    counts = {key: resp.get(key) for key in names if resp.get(key) is not None}
    # treated - evaluable = NE + not recorded: with both denominators shown, that sum is shown too;
    # when it is itself a small count, the evaluable denominator (and its percentages) is hidden
    gap = treated - evaluable if treated is not None and evaluable is not None else None
    if gap is not None and is_suppressed(gap, sup) and not t_hidden:
        e_hidden = True
    shown_evaluable = None if e_hidden else evaluable
    also_hidden = _complementary(counts, [
        (("CR", "PR"), orr.get("responders")),
        (("CR", "PR", "SD", "PD"), shown_evaluable),
        (("NE", "missing"), gap if shown_evaluable is not None and not t_hidden else None),
        (tuple(counts), treated),
    ], sup)
    for key, label in names.items():
        n = resp.get(key)
        if n is None or (key == "missing" and not n):
            continue
        hidden = is_suppressed(n, sup) or key in also_hidden
        in_evaluable = key in ("CR", "PR", "SD", "PD")
        count = (Cell(SUPPRESSED_DERIVED, (SUPPRESSED_DERIVED,), ("text",)) if key in also_hidden
                 else _count(n, sup))
        rows.append(Row((_text(label), count, _pct(n / treated if treated else None, hidden or t_hidden),
                         _pct(n / evaluable if evaluable else None, hidden or e_hidden) if in_evaluable
                         else Cell(SUPPRESSED_DERIVED, (None,), ("pct",)))))
    ev = orr.get("evaluable") or {}
    r_hidden = is_suppressed(orr.get("responders"), sup)
    ci, ev_ci = orr.get("ci") or (None, None), ev.get("ci") or (None, None)
    rows.append(Row((_text(f"Objective response rate (CR + PR), % ({fmt_level(orr.get('conf_level'))} CI)"), _count(orr.get("responders"), sup),
                     _rate_ci(orr.get("rate"), ci[0], ci[1], r_hidden or t_hidden),
                     _rate_ci(ev.get("rate"), ev_ci[0], ev_ci[1], r_hidden or e_hidden) if ev else _blank())))
    method = orr.get("ci_method") or "exact"
    notes = [f"Best overall response to first-line therapy by RECIST 1.1. ORR confidence intervals: {method} (exact).",
             "Response-evaluable patients: CR, PR, SD or PD recorded."]
    if also_hidden or (e_hidden and not is_suppressed(evaluable, sup)):
        notes.append(f"{SUPPRESSED_DERIVED}: not shown, so that a count below {sup} cannot be worked out "
                     "from the totals and the other counts.")
    return Table("response", "Response to first-line therapy",
                 (Column("Best overall response"), Column("n"),
                  Column(f"% of treated (n = {fmt_count(treated, sup)})", ("rate", "lower", "upper")),
                  Column(f"% of evaluable (n = {fmt_count(evaluable, sup) if shown_evaluable is not None or t_hidden else SUPPRESSED_DERIVED})",
                         ("rate", "lower", "upper"))),
                 tuple(rows), tuple(notes))


def survival_table(results: Mapping, sup: int | None = None) -> Table:
    """OS and PFS: n, events, median with CI, survival at the study's ``rates_at`` times; median follow-up."""
    level = fmt_level(results["os"].get("conf_level"))
    rate_times = list(results["os"].get("rates") or {})
    rows = []
    for key in ("os", "pfs"):
        block = results[key]
        rates = block.get("rates") or {}
        # no patient: nothing was estimated (not "not reached")
        median = (_median_ci(block.get("median"), block.get("ci")) if block.get("n") != 0
                  else Cell(MISSING, (None, None, None), ("num1", "num1", "num1")))
        cells = [_text(ENDPOINT_LABELS[key]), _count(block.get("n"), sup), _count(block.get("events"), sup),
                 median]
        for t in rate_times:
            r = rates.get(t)
            cells.append(_rate_ci(r.get("survival"), r.get("lower"), r.get("upper")) if r else
                         Cell(MISSING, (None, None, None), ("pct", "pct", "pct")))
        rows.append(Row(tuple(cells)))
    fu = results["followup"]
    rows.append(Row((_text(f"Follow-up ({fu.get('method', 'reverse Kaplan-Meier')})"), _blank(), _blank(),
                     _median_ci(fu.get("median"), fu.get("ci")) if results["os"].get("n") != 0
                     else Cell(MISSING, (None, None, None), ("num1", "num1", "num1")),
                     *(Cell("", (None,) * 3, ("pct",) * 3) for _ in rate_times))))
    parts = ("estimate", "lower", "upper")
    return Table("survival", "Survival and follow-up",
                 (Column("Endpoint"), Column("n"), Column("Events"), Column(f"Median, months ({level} CI)", parts),
                  *(Column(f"{t} months, % ({level} CI)", parts) for t in rate_times)),
                 tuple(rows),
                 (f"{NOT_REACHED}: not reached. Times in months (days / "
                  f"{results['study'].get('days_per_month', 30.4375)}).",))


def _level_text(level: object) -> str:
    """A level or term as shown in tables (``other_extrapulmonary`` as other extrapulmonary)."""
    return str(level).replace("_", " ")


def stratified_table(results: Mapping, sup: int | None = None) -> Table:
    """Medians by group for each endpoint and grouping, with the log-rank p-value."""
    rows = []
    for endpoint, groupings in (results.get("stratified") or {}).items():
        for grouping, block in groupings.items():
            if not block["groups"]:
                rows.append(Row((_text(ENDPOINT_LABELS.get(endpoint, endpoint)),
                                 _text(grouping_label(grouping, results)),
                                 _text("no patient with a known value"),
                                 *[_blank()] * 4)))
            for i, (level, g) in enumerate(block["groups"].items()):
                rows.append(Row((_text(ENDPOINT_LABELS.get(endpoint, endpoint) if i == 0 else ""),
                                 _text(grouping_label(grouping, results) if i == 0 else ""),
                                 _text(_level_text(level)),
                                 _count(g.get("n"), sup), _count(g.get("events"), sup),
                                 _median_ci(g.get("median"), g.get("ci")),
                                 _p(block.get("logrank_p")) if i == 0 else _blank())))
    return Table("stratified", "Survival by group",
                 (Column("Endpoint"), Column("Grouping"), Column("Group"), Column("n"), Column("Events"),
                  Column(f"Median, months ({fmt_level(results['study'].get('conf_level'))} CI)",
                         ("estimate", "lower", "upper")), Column("Log-rank p")),
                 tuple(rows), (f"{NOT_REACHED}: not reached. p-values from the log-rank test.",))


def cox_table(results: Mapping, endpoint: str, sup: int | None = None) -> Table:
    """Univariable and multivariable Cox hazard ratios for one endpoint."""
    block = results["cox"][endpoint]
    uni = {r["term"]: r for r in block.get("univariable") or []}
    multi = {r["term"]: r for r in block.get("multivariable") or []}
    terms = list(dict.fromkeys([*uni, *multi]))
    rows = []
    for term in terms:
        u, m = uni.get(term), multi.get(term)
        label = _level_text((u or m).get("label") or term)
        rows.append(Row((_text(label),
                         Cell(f"{fmt_count(u.get('n'), sup)} ({fmt_count(u.get('events'), sup)})" if u else "",
                              (suppress_count(u.get("n"), sup), suppress_count(u.get("events"), sup)) if u else (None, None),
                              ("int", "int")),
                         _hr(u), _p(u.get("p_value")) if u else _blank(),
                         _hr(m), _p(m.get("p_value")) if m else _blank())))
    notes = [f"Multivariable model: {fmt_count(block.get('multivariable_n'), sup)} patients, "
             f"{fmt_count(block.get('multivariable_events'), sup)} events (complete cases)."
             if block.get("multivariable") else "No multivariable model."]
    ties = block.get("ties") or results["study"].get("ties")
    conc = block.get("concordance")
    level = fmt_level(block.get("conf_level") or results["study"].get("conf_level"))
    extra = f"Ties: {ties}. Wald {level} CIs."
    if conc:
        extra += f" Concordance {fmt_num(conc[0], 2)} (SE {fmt_num(conc[1], 2)})."
    notes.append(extra)
    glob = [r for r in block.get("ph_test") or [] if r.get("term") == "GLOBAL"]
    if glob:
        notes.append(f"Proportional hazards (Grambsch-Therneau), global test p = {fmt_p(glob[0].get('p_value'))}.")
    parts = ("HR", "lower", "upper")
    return Table(f"cox_{endpoint}", f"Cox regression: {ENDPOINT_LABELS.get(endpoint, endpoint).lower()}",
                 (Column("Variable"), Column("n (events)", ("n", "events")), Column(f"Univariable HR ({level} CI)", parts),
                  Column("p"), Column(f"Multivariable HR ({level} CI)", parts), Column("p")),
                 tuple(rows), tuple(notes))


def provenance_table(results: Mapping) -> Table:
    """Where the numbers come from: software, registry and study hashes, seed, time."""
    prov = dict(results.get("provenance") or {})
    software = (results.get("methods") or {}).get("software") or {}
    rows = [Row((_text(k.replace("_", " ")), _text(v if not isinstance(v, bool) else ("yes" if v else "no"))))
            for k, v in prov.items()]
    rows += [Row((_text(f"software: {name}"), _text(ver))) for name, ver in software.items()]
    study = results.get("study") or {}
    if study.get("study_file") and "study_file" not in prov:
        rows.insert(0, Row((_text("study file"), _text(study["study_file"]))))
    return Table("provenance", "Provenance", (Column("Item"), Column("Value")), tuple(rows))


def all_tables(results: Mapping, suppress_below: int | None = None) -> dict[str, Table]:
    """Build every table of the report, keyed by table key, in report order."""
    sup = suppress_below
    tables: dict[str, Table | None] = {
        "comparison": comparison_table(results, sup),
        "attrition": attrition_table(results, sup),
        "table1": baseline_table(results, sup),
        "molecular": molecular_table(results, sup) if results.get("molecular") else None,
        "lines": lines_table(results, sup),
        "regimens": regimens_table(results, sup),
        "response": response_table(results, sup),
        "survival": survival_table(results, sup),
        "stratified": stratified_table(results, sup) if results.get("stratified") else None,
    }
    for endpoint in (results.get("cox") or {}):
        tables[f"cox_{endpoint}"] = cox_table(results, endpoint, sup)
    tables["provenance"] = provenance_table(results)
    return {k: v for k, v in tables.items() if v is not None}
