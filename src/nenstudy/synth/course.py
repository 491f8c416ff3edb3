"""Simulate each patient's course after the MDT: lines of therapy, responses, progression, death.

The course is a semi-Markov illness-death process with Weibull proportional hazards:

* not advanced: resection, then death (``course.<group>.nonadvanced_death``);
* advanced, no first line: death (``untreated_death``);
* advanced, first line: best response (RECIST), progression after the first scan by response
  (``progression_after_first_scan``) competing with death before progression
  (``death_before_progression``); after progression, death (``post_progression_death``) and,
  if alive, further lines with their own responses and progression.

ECOG performance status and metastatic disease multiply every hazard (``hazard.*``); Ki-67 group
and cell morphology enter only through hazard ratios that default to one. Events are then
censored administratively at the data cut-off or at loss to follow-up: what happens after the
last contact is not recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nenstudy.registry import schema
from nenstudy.synth.parameters import ParameterSet, probabilities
from nenstudy.synth.population import (
    EP_NEC, LUNG_NEC, METASTATIC, MINEN, NET, UNKNOWN_PRIMARY, WHO, Baseline,
)
from nenstudy.synth.regimens import PRRT, RADIOTHERAPY, SURGERY, Catalogue
from nenstudy.synth.sampling import GROUPS, NEVER, categorical, group_table, iso_day, uniform_days, weibull_days

__all__ = ["Course", "TreatmentRows", "simulate_course", "NE_REASONS"]

CR, PR, SD, PD, NE = (schema.RECIST_RESPONSES.index(r) for r in ("CR", "PR", "SD", "PD", "NE"))
NE_REASONS = ("early_death", "clinical_progression", "no_assessment")
_EARLY_DEATH, _CLINICAL, _NO_ASSESSMENT = range(1, 4)
_MODALITY = {m: i for i, m in enumerate(schema.MODALITIES)}
_STOP = {s: i for i, s in enumerate(schema.STOP_REASONS)}


@dataclass(frozen=True)
class TreatmentRows:
    """Treatment rows (one per line or procedure) as parallel arrays; ``*_valid`` = recorded."""

    patient: np.ndarray
    modality: np.ndarray
    line: np.ndarray
    label: np.ndarray
    agents: np.ndarray
    agents_valid: np.ndarray
    start: np.ndarray
    end: np.ndarray
    end_valid: np.ndarray
    stop: np.ndarray
    stop_valid: np.ndarray
    response: np.ndarray
    response_valid: np.ndarray
    ne_reason: np.ndarray
    progression: np.ndarray
    progression_valid: np.ndarray
    last_assessment: np.ndarray
    last_assessment_valid: np.ndarray


@dataclass(frozen=True)
class Course:
    """Follow-up of every patient and the treatment rows of the block."""

    last_contact: np.ndarray
    dead: np.ndarray
    death: np.ndarray
    treatments: TreatmentRows


@dataclass
class _Line:
    patient: np.ndarray
    start: np.ndarray
    first_scan: np.ndarray
    response: np.ndarray
    ne_kind: np.ndarray
    progression: np.ndarray
    label: np.ndarray
    agents: np.ndarray
    planned_days: np.ndarray
    number: int
    next_start: np.ndarray | None = None


def _hazard_ratio(params: ParameterSet, base: Baseline) -> np.ndarray:
    """Hazard ratio of every patient relative to the reference (ECOG 0, not metastatic)."""
    hr = np.asarray(params["hazard.ecog_hr"], dtype=float)[base.ecog]
    hr = hr * np.where(base.stage == METASTATIC, params["hazard.metastatic_hr"], 1.0)
    nec = (base.group == EP_NEC) | (base.group == LUNG_NEC) | (base.group == MINEN)
    high_ki67 = nec & (base.ki67 >= params["hazard.ki67_high_cut"])
    hr = hr * np.where(high_ki67, params["hazard.ki67_high_hr"], 1.0)
    small = ((base.group == EP_NEC) | (base.group == LUNG_NEC)) & (base.cell_type == 0)
    hr = hr * np.where(small, params["hazard.small_cell_hr"], 1.0)
    grade_hr = np.asarray(params["hazard.net_grade_hr"], dtype=float)[np.clip(base.who, 0, 2)]
    hr = hr * np.where(base.group == NET, grade_hr, 1.0)
    return hr * np.where(base.group == LUNG_NEC, params["hazard.lung_nec_hr"], 1.0)


def _course_table(params: ParameterSet, name: str, field: str) -> np.ndarray:
    return np.array([params[f"course.{g}.{name}"][field] for g in GROUPS], dtype=float)


def _response_probs(table: dict, names: list[str]) -> np.ndarray:
    rows = []
    for name in names:
        labels, probs = probabilities(table[name], name)
        rows.append([probs[labels.index(r)] for r in schema.RECIST_RESPONSES])
    return np.array(rows)


def _progression(
    rng: np.random.Generator, start: np.ndarray, scan: np.ndarray, response: np.ndarray,
    medians: np.ndarray, shape: np.ndarray, hr: np.ndarray, clinical_share: float, clinical_min: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Progression day by best response; NE splits into clinical progression / no assessment."""
    n = len(start)
    median = np.select([response == CR, response == PR], [medians[:, 0], medians[:, 1]], medians[:, 2])
    progression = scan + weibull_days(rng, median, shape, hr)
    progression = np.where(response == PD, scan, progression)
    ne_kind = np.where(response == NE, np.where(rng.random(n) < clinical_share, _CLINICAL, _NO_ASSESSMENT), 0)
    clinical = start + clinical_min + np.floor(rng.random(n) * np.maximum(scan - start - clinical_min, 1)).astype(np.int64)
    progression = np.where(ne_kind == _CLINICAL, clinical, progression)
    return progression, ne_kind


def _surgery_days(rng, params, base) -> np.ndarray:
    """Day of resection of the primary (:data:`NEVER` when not operated)."""
    n, g = base.n, base.group
    operated = ~base.advanced & (rng.random(n) < group_table(params["treatment.surgery_if_nonadvanced"], g))
    operated |= base.advanced & (g == NET) & (rng.random(n) < params["treatment.surgery_if_advanced_net"])
    # a primary not found is not resected (and is metastatic: see population)
    operated &= np.array(base.site_codes)[base.site] != UNKNOWN_PRIMARY
    return np.where(operated, base.mdt + uniform_days(rng, *params["treatment.surgery_delay_days"], n), NEVER)


def _first_lines(rng, params, base, catalogue, hr, death, surgery,
                 retry: np.random.Generator | None = None) -> _Line:
    g = base.group
    fit = np.asarray(params["treatment.first_line_ecog_factor"], dtype=float)[base.ecog]
    treated = base.advanced & (rng.random(base.n) < group_table(params["treatment.first_line"], g) * fit)
    idx = np.flatnonzero(treated)
    gi, hi = g[idx], hr[idx]
    start = base.mdt[idx] + uniform_days(rng, *params["treatment.start_delay_days"], len(idx))
    operated = surgery[idx] < NEVER
    start = np.where(operated, np.maximum(start, surgery[idx] + uniform_days(rng, *params["treatment.after_surgery_days"], len(idx))), start)
    scan = start + uniform_days(rng, *params["treatment.first_scan_days"], len(idx))
    response = categorical(rng, _response_probs(params["response.first_line"], list(GROUPS))[gi])
    medians = np.stack([_course_table(params, "progression_after_first_scan", r) for r in ("CR", "PR", "SD")], axis=1)[gi]
    shape = _course_table(params, "progression_after_first_scan", "shape")[gi]
    progression, ne_kind = _progression(
        rng, start, scan, response, medians, shape, hi, params["treatment.ne_clinical_progression_share"],
        params["treatment.clinical_progression_min_days"]
    )
    dnp = start + weibull_days(
        rng, _course_table(params, "death_before_progression", "median")[gi],
        _course_table(params, "death_before_progression", "shape")[gi], hi,
    )
    # a first scan on the day of death is no assessment: NE, as for an earlier death
    early = dnp <= np.minimum(scan, progression)
    response = np.where(early, NE, response)
    ne_kind = np.where(early, _EARLY_DEATH, ne_kind)
    progressed = progression < dnp
    pps = weibull_days(
        rng, _course_table(params, "post_progression_death", "median")[gi],
        _course_table(params, "post_progression_death", "shape")[gi], hi,
    )
    death[idx] = np.where(progressed, progression + pps, dnp)
    progression = np.where(progressed, progression, NEVER)

    labels = np.zeros(len(idx), dtype=np.int64)
    agents = np.zeros(len(idx), dtype=np.int64)
    planned = np.zeros(len(idx), dtype=np.int64)
    alias = params["treatment.regimen_alias"]
    for group, regimen_list in ((EP_NEC, "nec_first"), (MINEN, "nec_first"), (LUNG_NEC, "lung_nec_first"), (NET, "net_first")):
        members = np.flatnonzero(gi == group)
        labels[members], agents[members], planned[members] = catalogue.lists[regimen_list].draw(rng, len(members), alias)
    if retry is not None:  # NET G3, treated like NEC more often, from a list of its own
        g3 = np.flatnonzero((gi == NET) & (base.who[idx] == WHO["NET G3"]))
        labels[g3], agents[g3], planned[g3] = catalogue.lists["net_g3_first"].draw(
            retry, len(g3), alias)
    untreated = np.flatnonzero(base.advanced & ~treated)
    death[untreated] = base.mdt[untreated] + weibull_days(
        rng, _course_table(params, "untreated_death", "median")[g[untreated]],
        _course_table(params, "untreated_death", "shape")[g[untreated]], hr[untreated],
    )
    return _Line(idx, start, scan, response, ne_kind, progression, labels, agents, planned, 1)


def _next_line(rng, params, base, catalogue, hr, death, previous: _Line, number: int,
               retry: np.random.Generator | None = None) -> _Line:
    key = "treatment.second_line_if_progressed" if number == 2 else "treatment.third_line_if_progressed"
    g_prev = base.group[previous.patient]
    start_all = previous.progression + uniform_days(rng, *params["treatment.next_line_delay_days"], len(previous.patient))
    go = (previous.progression < NEVER) & (rng.random(len(g_prev)) < group_table(params[key], g_prev))
    go &= start_all < death[previous.patient]
    previous.next_start = np.where(go, start_all, NEVER)
    idx = previous.patient[go]
    start = start_all[go]
    gi, hi = base.group[idx], hr[idx]
    net = gi == NET
    scan = start + uniform_days(rng, *params["treatment.first_scan_days"], len(idx))
    later = params["response.later_line"]
    response = categorical(rng, _response_probs(later, ["nec", "net"])[net.astype(np.int64)])
    progression_table = params["course.later_line_progression"]
    factor = np.where(net, params["course.net_later_line_factor"], 1.0)
    medians = np.stack([progression_table[r] * factor for r in ("CR", "PR", "SD")], axis=1)
    progression, ne_kind = _progression(
        rng, start, scan, response, medians, np.full(len(idx), progression_table["shape"]), hi,
        params["treatment.ne_clinical_progression_share"],
        params["treatment.clinical_progression_min_days"],
    )
    dies = death[idx]
    # a first scan on the day of death is no assessment: NE, as for an earlier death
    early = dies <= np.minimum(scan, progression)
    response = np.where(early, NE, response)
    ne_kind = np.where(early, _EARLY_DEATH, ne_kind)
    progression = np.where(progression < dies, progression, NEVER)

    labels = np.zeros(len(idx), dtype=np.int64)
    agents = np.zeros(len(idx), dtype=np.int64)
    planned = np.zeros(len(idx), dtype=np.int64)
    alias = params["treatment.regimen_alias"]
    before, written = previous.agents[go], previous.label[go]
    for is_net, regimen_list in ((False, "nec_later"), (True, "net_later")):
        members = np.flatnonzero(net == is_net)
        labels[members], agents[members], planned[members] = catalogue.lists[
            regimen_list].draw_after(rng, retry, before[members], written[members], alias)
    return _Line(idx, start, scan, response, ne_kind, progression, labels, agents, planned, number)


def _censoring(rng, params, base, death) -> tuple[np.ndarray, np.ndarray]:
    n = base.n
    cutoff = iso_day(params["centre.data_cutoff"])
    low, high = params["centre.last_visit_before_cutoff_days"]
    censor = cutoff - uniform_days(rng, low, high, n)
    lost = rng.random(n) < params["centre.lost_to_follow_up"]
    horizon = np.minimum(death, cutoff)
    lost_day = base.mdt + 1 + np.floor(rng.random(n) * np.maximum(horizon - base.mdt - 1, 0)).astype(np.int64)
    censor = np.maximum(np.where(lost, np.minimum(censor, lost_day), censor), base.mdt)
    dead = death <= censor
    return np.where(dead, death, censor), dead


def _line_rows(rng, params, line: _Line, death, last_contact) -> TreatmentRows:
    n = len(line.patient)
    contact = last_contact[line.patient]
    dies = death[line.patient]
    next_start = line.next_start if line.next_start is not None else np.full(n, NEVER)
    u = rng.random(n)
    p_tox, p_choice = params["treatment.toxicity_stop"], params["treatment.patient_choice_stop"]
    early_stop = line.start + uniform_days(rng, *params["treatment.early_stop_days"], n)
    early_stop = np.where(u < p_tox + p_choice, early_stop, NEVER)
    early_reason = np.where(u < p_tox, _STOP["toxicity"], _STOP["patient_choice"])
    candidates = np.stack([line.progression, dies, early_stop, line.start + line.planned_days])
    which = np.argmin(candidates, axis=0)
    end = candidates[which, np.arange(n)]
    stop = np.choose(which, [_STOP["progression"], _STOP["death"], early_reason, _STOP["completed"]])
    end_valid = end <= contact
    stop = np.where(end_valid, stop, _STOP["ongoing"])

    known = np.minimum(np.minimum(line.first_scan, line.progression), dies) <= contact
    progression_valid = line.progression <= contact
    interval = params["treatment.scan_interval_days"]
    limit = np.minimum(np.minimum(dies, contact), next_start - 1)
    scans = line.first_scan + interval * np.floor_divide(np.maximum(limit - line.first_scan, 0), interval)
    no_scan = np.isin(line.ne_kind, (_EARLY_DEATH, _CLINICAL, _NO_ASSESSMENT))
    last_assessment = np.where(progression_valid, line.progression, scans)
    last_valid = np.where(
        progression_valid, line.ne_kind != _CLINICAL, ~no_scan & (limit >= line.first_scan)
    )
    return TreatmentRows(
        patient=line.patient, modality=np.full(n, _MODALITY["systemic"]), line=np.full(n, line.number),
        label=line.label, agents=line.agents, agents_valid=np.ones(n, dtype=bool), start=line.start,
        end=end, end_valid=end_valid, stop=stop, stop_valid=np.ones(n, dtype=bool),
        response=line.response, response_valid=known, ne_reason=np.maximum(line.ne_kind - 1, 0),
        progression=line.progression, progression_valid=progression_valid,
        last_assessment=last_assessment, last_assessment_valid=last_valid,
    )


def _procedure_rows(patient, modality, label, start, end, contact, agents=None, dies=None) -> TreatmentRows:
    n = len(patient)
    end_valid = end <= contact
    if dies is None:
        stop = np.where(end_valid, _STOP["completed"], _STOP["ongoing"])
    else:
        stop = np.where(end_valid, np.where(end >= dies, _STOP["death"], _STOP["completed"]), _STOP["ongoing"])
    zeros = np.zeros(n, dtype=np.int64)
    false = np.zeros(n, dtype=bool)
    return TreatmentRows(
        patient=patient, modality=np.full(n, _MODALITY[modality]), line=zeros, label=np.full(n, label),
        agents=zeros if agents is None else np.full(n, agents), agents_valid=~false if agents is not None else false,
        start=start, end=end, end_valid=end_valid, stop=stop, stop_valid=np.ones(n, dtype=bool),
        response=zeros, response_valid=false, ne_reason=zeros, progression=zeros, progression_valid=false,
        last_assessment=zeros, last_assessment_valid=false,
    )


def _procedures(rng, params, base, catalogue, death, last_contact, first: _Line, surgery) -> list[TreatmentRows]:
    n, g = base.n, base.group
    rows = []
    keep = np.flatnonzero(surgery <= last_contact)
    day = surgery[keep]
    rows.append(_procedure_rows(keep, "surgery", catalogue.label_index(SURGERY), day, day, last_contact[keep]))

    radiotherapy = base.advanced & (g != NET) & (rng.random(n) < params["treatment.palliative_radiotherapy"])
    span = np.maximum(np.minimum(death, last_contact) - base.mdt, 0)
    day = base.mdt + np.floor(rng.random(n) * span).astype(np.int64)
    keep = np.flatnonzero(radiotherapy)
    end = np.minimum(day[keep] + uniform_days(rng, *params["treatment.radiotherapy_days"], len(keep)), death[keep])
    rows.append(_procedure_rows(keep, "radiotherapy", catalogue.label_index(RADIOTHERAPY), day[keep], end, last_contact[keep],
                                dies=death[keep]))

    progressed_net = (g[first.patient] == NET) & (first.progression < NEVER)
    start = first.progression + uniform_days(rng, *params["treatment.next_line_delay_days"], len(first.patient))
    prrt = progressed_net & (rng.random(len(first.patient)) < params["treatment.prrt_after_progression_net"])
    prrt &= start <= np.minimum(last_contact, death - 1)[first.patient]
    keep = first.patient[prrt]
    start = start[prrt]
    end = np.minimum(start + int(params["treatment.prrt_days"]), death[keep])
    rows.append(_procedure_rows(
        keep, "prrt", catalogue.label_index(PRRT), start, end, last_contact[keep],
        agents=catalogue.agents_index("lutetium177_dotatate"), dies=death[keep],
    ))
    return rows


def _concatenate(parts: list[TreatmentRows]) -> TreatmentRows:
    fields = TreatmentRows.__dataclass_fields__
    merged = {f: np.concatenate([getattr(p, f) for p in parts]) for f in fields}
    order = np.lexsort((merged["modality"], merged["start"], merged["patient"]))
    return TreatmentRows(**{f: v[order] for f, v in merged.items()})


def simulate_course(rng: np.random.Generator, params: ParameterSet, base: Baseline, catalogue: Catalogue,
                    retry: np.random.Generator | None = None) -> Course:
    """Simulate treatments, responses, progression, death and follow-up of a block of patients.

    Parameters
    ----------
    rng
        Random generator.
    params
        Generator parameters.
    base
        Baseline of the patients.
    catalogue
        Regimen catalogue built from ``params``.
    retry
        A stream of its own that draws the first lines of NET G3 and redraws a later line's
        regimen repeating the agents of the line it follows (see
        :meth:`RegimenList.draw_after`); ``rng`` advances as without it.

    Returns
    -------
    Course
        Follow-up (last contact, vital status, death) and the recorded treatment rows.
    """
    hr = _hazard_ratio(params, base)
    g = base.group
    death = np.full(base.n, NEVER, dtype=np.int64)
    local = np.flatnonzero(~base.advanced)
    death[local] = base.mdt[local] + weibull_days(
        rng, _course_table(params, "nonadvanced_death", "median")[g[local]],
        _course_table(params, "nonadvanced_death", "shape")[g[local]], hr[local],
    )
    surgery = _surgery_days(rng, params, base)
    first = _first_lines(rng, params, base, catalogue, hr, death, surgery, retry)
    second = _next_line(rng, params, base, catalogue, hr, death, first, 2, retry)
    third = _next_line(rng, params, base, catalogue, hr, death, second, 3, retry)
    third.next_start = np.full(len(third.patient), NEVER)

    last_contact, dead = _censoring(rng, params, base, death)
    parts = []
    for line in (first, second, third):
        keep = line.start <= last_contact[line.patient]
        trimmed = _Line(**{k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in vars(line).items()})
        parts.append(_line_rows(rng, params, trimmed, death, last_contact))
    parts += _procedures(rng, params, base, catalogue, death, last_contact, first, surgery)
    return Course(last_contact=last_contact, dead=dead, death=death, treatments=_concatenate(parts))
