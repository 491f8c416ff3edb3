"""First-line treatment patterns, response, ORR, later lines and swimmer data, in SQL.

Denominators are stated in the output: the first-line *eligible* and *treated* populations are
the study's ``[treatment]`` subsets; ORR is (CR + PR) over the treated (all first-line treated
patients) and over the response-evaluable (CR, PR, SD or PD recorded) with exact
Clopper-Pearson CIs; receipt of a second or third line is over the first-line treated, counting
only consecutive lines from line 1 (lines after a numbering gap are a reported data problem).
"""

from __future__ import annotations

from typing import Any

import duckdb

from nenstudy.stats import binomial_ci
from nenstudy.study.definition import StudyDefinition
from nenstudy.study.endpoints import DAYS_PER_MONTH
from nenstudy.study.survival import num

__all__ = ["RESPONSES", "treatment_blocks", "swimmer_block"]

RESPONSES = ("CR", "PR", "SD", "PD", "NE")
"""RECIST 1.1 best overall responses."""


def _rate_ci(k: int, n: int, conf_level: float) -> tuple[float | None, list[float | None]]:
    if n == 0:
        return None, [None, None]
    ci = binomial_ci(k, n, method="exact", conf_level=conf_level)
    return num(ci.estimate), [num(ci.lower), num(ci.upper)]


def treatment_blocks(con: duckdb.DuckDBPyConnection, study: StudyDefinition,
                     population_n: dict[str, int]) -> dict[str, Any]:
    """Compute ``first_line``, ``response_first_line``, ``orr_first_line`` and ``later_lines``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Study connection holding ``cohort_vars`` and ``study_lines``.
    study : StudyDefinition
        Treatment populations, regimen classes and confidence level.
    population_n : dict
        Patients per population.

    Returns
    -------
    dict
        The four results.json blocks, keyed by their names.
    """
    options = study.treatment
    treated_flag = f"in_{options.treated}"
    eligible = population_n[options.eligible]
    treated = population_n[options.treated]
    conf_level = study.analysis.conf_level
    labels = {c.name: c.label for c in options.regimen_classes}
    labels[options.other_class] = "Other regimens"
    labels["unknown"] = "Agents not recorded"

    observed = {
        str(k): int(n) for k, n in con.execute(
            f"""
            SELECT coalesce(first_line_regimen, 'unknown'), count(*) FROM cohort_vars
            WHERE {treated_flag} GROUP BY 1 ORDER BY 2 DESC, 1
            """
        ).fetchall()
    }
    declared = [c.name for c in options.regimen_classes] + [options.other_class]
    counts = {name: observed.get(name, 0) for name in declared}
    counts.update(observed)  # "unknown" when a line has no agents
    order = {name: i for i, name in enumerate(declared)}
    regimens = dict(sorted(counts.items(), key=lambda kv: (-kv[1], order.get(kv[0], len(order)))))
    first_line = {
        "eligible": eligible, "eligible_population": options.eligible,
        "treated": treated, "treated_population": options.treated,
        "rate": (treated / eligible) if eligible else None,
        "regimens": regimens,
        "regimen_labels": {k: labels.get(k, k) for k in [c.name for c in options.regimen_classes]
                           + [options.other_class, "unknown"]},
    }

    response_counts = dict(con.execute(
        f"SELECT first_line_best_response, count(*) FROM cohort_vars WHERE {treated_flag} GROUP BY 1"
    ).fetchall())
    response = {r: int(response_counts.get(r, 0)) for r in RESPONSES}
    response["missing"] = int(response_counts.get(None, 0))
    response["treated"] = treated
    evaluable = response["CR"] + response["PR"] + response["SD"] + response["PD"]
    response["evaluable"] = evaluable
    responders = response["CR"] + response["PR"]
    rate, ci = _rate_ci(responders, treated, conf_level)
    eval_rate, eval_ci = _rate_ci(responders, evaluable, conf_level)
    orr = {
        "responders": responders, "denominator": treated, "denominator_definition": "treated",
        "rate": rate, "ci": ci, "ci_method": "Clopper-Pearson", "conf_level": conf_level,
        "evaluable": {"denominator": evaluable,
                      "denominator_definition": "response-evaluable (CR, PR, SD or PD recorded)",
                      "rate": eval_rate, "ci": eval_ci},
    }

    second, third = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE lines_received >= 2), count(*) FILTER (WHERE lines_received >= 3)
        FROM cohort_vars WHERE {treated_flag}
        """
    ).fetchone()
    by_line: dict[str, dict[str, int]] = {}
    for line, regimen, n in con.execute(
        f"""
        SELECT l.line, coalesce(l.regimen_class, 'unknown'), count(*)
        FROM cohort_vars v JOIN cohort c USING (usubjid) JOIN study_lines l ON l.patient_id = c.patient_id
        WHERE v.{treated_flag} AND l.line <= v.lines_received
        GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2
        """
    ).fetchall():
        by_line.setdefault(str(line), {})[str(regimen)] = int(n)
    transitions = [
        {"from": f"L{a}:{ra}", "to": f"L{a + 1}:{rb}", "n": int(n)}
        for a, ra, rb, n in con.execute(
            f"""
            SELECT a.line, coalesce(a.regimen_class, 'unknown'), coalesce(b.regimen_class, 'unknown'), count(*)
            FROM cohort_vars v JOIN cohort c USING (usubjid)
            JOIN study_lines a ON a.patient_id = c.patient_id
            JOIN study_lines b ON b.patient_id = c.patient_id AND b.line = a.line + 1
            WHERE v.{treated_flag} AND b.line <= v.lines_received
            GROUP BY 1, 2, 3 ORDER BY 1, 4 DESC, 2, 3
            """
        ).fetchall()
    ]
    later = {
        "second": {"n": int(second), "of": treated, "rate": (second / treated) if treated else None},
        "third": {"n": int(third), "of": treated, "rate": (third / treated) if treated else None},
        "denominator_definition": f"patients treated in first line ({options.treated})",
        "regimens_by_line": by_line,
        "transitions": transitions,
    }
    return {"first_line": first_line, "response_first_line": response, "orr_first_line": orr,
            "later_lines": later}


def swimmer_block(con: duckdb.DuckDBPyConnection, study: StudyDefinition) -> list[dict[str, Any]]:
    """One lane per first-line-treated patient: follow-up and lines, in months from the OS origin.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Study connection holding ``cohort_vars``, ``study_tte`` and ``study_lines``.
    study : StudyDefinition
        The treated population.

    Returns
    -------
    list of dict
        ``id, end, dead, lines`` (each line: ``line, start, end, regimen, response, progression``).
    """
    treated_flag = f"in_{study.treatment.treated}"
    rows = con.execute(
        f"""
        SELECT v.usubjid, t.aval, t.cnsr = 0 AS dead,
               list({{'line': l.line,
                      'start': date_diff('day', t.startdt, l.start_date) / {DAYS_PER_MONTH},
                      'end': date_diff('day', t.startdt, l.end_date) / {DAYS_PER_MONTH},
                      'regimen': coalesce(l.regimen_class, 'unknown'),
                      'response': l.best_response,
                      'progression': date_diff('day', t.startdt, l.progression_date) / {DAYS_PER_MONTH}}}
                    ORDER BY l.line) AS lines
        FROM cohort_vars v JOIN cohort c USING (usubjid)
        JOIN study_tte t ON t.usubjid = v.usubjid AND t.paramcd = 'OS'
        JOIN study_lines l ON l.patient_id = c.patient_id AND l.line <= v.lines_received
        WHERE v.{treated_flag} AND t.aval IS NOT NULL
        GROUP BY v.usubjid, t.aval, t.cnsr
        ORDER BY t.aval DESC, v.usubjid
        """
    ).fetchall()
    return [
        {"id": uid, "end": num(end), "dead": bool(dead),
         "lines": [{"line": int(x["line"]), "start": num(x["start"]), "end": num(x["end"]),
                    "regimen": x["regimen"], "response": x["response"], "progression": num(x["progression"])}
                   for x in lines]}
        for uid, end, dead, lines in rows
    ]
