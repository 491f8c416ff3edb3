"""Simulate who is discussed at the MDT: tumour class, site, pathology, stage, performance status.

One simulated patient has one NEN diagnosis. :func:`simulate_baseline` draws, for a block of
patients at once, the true characteristics that drive the disease course and the recorded
(partly missing) pathology and performance-status elements written to ``diagnoses``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nenstudy.registry import schema
from nenstudy.synth.parameters import ParameterSet, probabilities
from nenstudy.synth.sampling import GROUPS, categorical, group_table, iso_day, uniform_days

__all__ = ["Baseline", "simulate_baseline", "NOTES", "WHO", "MORPHOLOGY", "UNKNOWN_PRIMARY"]

WHO = {name: i for i, name in enumerate(schema.WHO_CATEGORIES)}
MORPHOLOGY = {code: i for i, code in enumerate(schema.MORPHOLOGY_CODES)}
EP_NEC, LUNG_NEC, NET, MINEN = range(4)
LOCALIZED, LOCALLY_ADVANCED, METASTATIC = range(3)

NOTES = (
    "referred for a second opinion",
    "slides reviewed centrally",
    "outside imaging reviewed at the MDT",
    "discussed again at progression",
    "pathology report from the referring hospital",
)
"""Synthetic free-text notes (never identifying)."""

_KARNOFSKY_BY_ECOG = ((100,), (90, 80), (70, 60), (50, 40), (30, 20, 10))

UNKNOWN_PRIMARY = "C80.9"
"""ICD-O-3 topography of a primary site not found (cancer of unknown primary)."""

_FEMALE_SITES = (50, 58)
"""Topography majors C50-C58 (breast, female genital organs): simulated in women only (male
breast NEN is very rare)."""

_MALE_SITES = (60, 63)
"""Topography majors C60-C63 (male genital organs): simulated in men only."""


@dataclass(frozen=True)
class Baseline:
    """Baseline characteristics of a block of simulated patients (numpy arrays, one per patient).

    Days are counted from 1970-01-01. ``*_valid`` masks say whether a value is recorded.
    """

    group: np.ndarray
    pure: np.ndarray
    site_codes: tuple[str, ...]
    site: np.ndarray
    colorectal: np.ndarray
    male: np.ndarray
    birth: np.ndarray
    diagnosis: np.ndarray
    mdt: np.ndarray
    who: np.ndarray
    who_typed: np.ndarray
    raw_recorded: np.ndarray
    differentiation: np.ndarray
    cell_type: np.ndarray
    cell_type_valid: np.ndarray
    ki67: np.ndarray
    ki67_valid: np.ndarray
    mitoses: np.ndarray
    mitoses_valid: np.ndarray
    non_ne: np.ndarray
    non_ne_valid: np.ndarray
    necrosis: np.ndarray
    necrosis_valid: np.ndarray
    morphology: np.ndarray
    morphology_valid: np.ndarray
    stage: np.ndarray
    resectable: np.ndarray
    metastatic_mask: np.ndarray
    metastases_timing_valid: np.ndarray
    ecog: np.ndarray
    ecog_valid: np.ndarray
    karnofsky: np.ndarray
    karnofsky_valid: np.ndarray
    site_group_typed: np.ndarray
    note: np.ndarray
    note_valid: np.ndarray

    @property
    def n(self) -> int:
        """Number of patients."""
        return len(self.group)

    @property
    def metastatic(self) -> np.ndarray:
        """Metastatic at diagnosis."""
        return self.stage == METASTATIC

    @property
    def advanced(self) -> np.ndarray:
        """Metastatic, or locally advanced and not resectable."""
        return self.metastatic | ((self.stage == LOCALLY_ADVANCED) & ~self.resectable)


def _sites(rng: np.random.Generator, params: ParameterSet, group: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    tables = {
        EP_NEC: params["sites.ep_nec"],
        LUNG_NEC: params["sites.lung_nec"],
        NET: params["sites.net"],
        MINEN: params["sites.minen"],
    }
    codes = tuple(sorted({code for t in tables.values() for code in t}))
    position = {code: i for i, code in enumerate(codes)}
    site = np.zeros(len(group), dtype=np.int64)
    for g, table in tables.items():
        labels, probs = probabilities(table, f"sites.{GROUPS[g]}")
        members = np.flatnonzero(group == g)
        drawn = categorical(rng, np.tile(probs, (len(members), 1)))
        site[members] = np.array([position[c] for c in labels])[drawn]
    return codes, site


def _unknown_primary_metastatic(rng: np.random.Generator, params: ParameterSet,
                                group: np.ndarray, codes: tuple[str, ...], site: np.ndarray,
                                stage: np.ndarray) -> np.ndarray:
    """Sites with the unknown primary (C80.9) among metastatic tumours only.

    A primary that is not found is known by its metastases, but the sites are drawn before the
    stage. A tumour not metastatic that drew C80.9 gets another site of its group instead, and a
    metastatic one with such a site gets C80.9 with the probability that keeps, in expectation,
    each site's share of its group (``sites.<group>``). Lung sites are left out of both moves:
    the grade of a lung NET is drawn by other rules.
    """
    site = site.copy()
    unknown = codes.index(UNKNOWN_PRIMARY) if UNKNOWN_PRIMARY in codes else -1
    switch, redraw = rng.random(len(group)), rng.random(len(group))
    position = {code: i for i, code in enumerate(codes)}
    for g, name in enumerate(GROUPS):
        labels, probs = probabilities(params[f"sites.{name}"], f"sites.{name}")
        if UNKNOWN_PRIMARY not in labels:
            continue
        p_unknown = probs[labels.index(UNKNOWN_PRIMARY)]
        movable = [i for i, code in enumerate(labels)
                   if code != UNKNOWN_PRIMARY and not code.startswith("C34")]
        weights = np.array([probs[i] for i in movable])
        metastatic_share = float(params[f"stage.{name}"]["metastatic"])
        positions = np.array([position[labels[i]] for i in movable])
        members = group == g
        metastatic = stage == METASTATIC
        away = np.flatnonzero(members & (site == unknown) & ~metastatic)
        cumulative = np.cumsum(weights) / weights.sum()
        site[away] = positions[np.minimum(np.searchsorted(cumulative, redraw[away], side="right"),
                                          len(positions) - 1)]
        to_unknown = min(1.0, (p_unknown / metastatic_share - p_unknown) / weights.sum())
        site[members & metastatic & np.isin(site, positions) & (switch < to_unknown)] = unknown
    return site


def _dates(rng: np.random.Generator, params: ParameterSet, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(group)
    first, last = (iso_day(d) for d in params["centre.mdt_window"])
    mdt = uniform_days(rng, first, last, n)
    gap = np.floor(rng.standard_exponential(n) * params["centre.diagnosis_to_mdt_months"] * 30.4375)
    low, high = params["centre.prevalent_net_years"]
    prevalent = (group == NET) & (rng.random(n) < params["centre.prevalent_net_share"])
    gap = np.where(prevalent, np.floor(rng.uniform(low, high, n) * 365.25), gap)
    return mdt - gap.astype(np.int64), mdt


def _net_grade(rng: np.random.Generator, params: ParameterSet, lung: np.ndarray) -> np.ndarray:
    n = len(lung)
    _, probs = probabilities(params["pathology.net_grade"], "pathology.net_grade")
    grade = categorical(rng, np.tile(probs, (n, 1)))
    atypical = rng.random(n) < params["pathology.lung_carcinoid_atypical"]
    return np.where(lung, atypical.astype(np.int64), grade)


def _ki67(rng: np.random.Generator, params: ParameterSet, net_grade: np.ndarray, is_net: np.ndarray) -> np.ndarray:
    n = len(net_grade)
    ranges = params["pathology.net_ki67_pct"]
    g1 = np.round(rng.uniform(*ranges["G1"], n), 1)
    g2 = _whole(rng, ranges["G2"], n)
    g3 = _whole(rng, ranges["G3"], n)
    a, b = params["pathology.nec_ki67_high_beta"]
    nec_high = np.round(55 + 45 * rng.beta(a, b, n))
    nec_low = _whole(rng, params["pathology.nec_ki67_low_pct"], n)
    nec = np.where(rng.random(n) < params["pathology.nec_ki67_low_share"], nec_low, nec_high)
    net = np.choose(np.clip(net_grade, 0, 2), [g1, g2, g3])
    return np.where(is_net, net, nec)


def _whole(rng: np.random.Generator, bounds: list[float], n: int) -> np.ndarray:
    """Whole numbers drawn uniformly from ``bounds`` (both ends included), as floats."""
    low, high = bounds
    return rng.integers(int(low), int(high) + 1, n).astype(float)


def _mitoses(rng: np.random.Generator, params: ParameterSet, net_grade: np.ndarray, lung: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mitoses whose grade never exceeds the NET grade, and ones whose grade equals it."""
    n = len(net_grade)
    ranges = params["pathology.net_mitoses_per_2mm2"]
    low = _whole(rng, ranges["G1"], n)
    at_grade = np.choose(np.clip(net_grade, 0, 2), [low, _whole(rng, ranges["G2"], n), _whole(rng, ranges["G3"], n)])
    lung_atypical = _whole(rng, ranges["lung_atypical"], n)
    at_grade = np.where(lung & (net_grade == 1), lung_atypical, at_grade)
    below = np.where(rng.random(n) < params["pathology.net_mitoses_below_grade"], low, at_grade)
    return below, at_grade


def _performance_status(rng: np.random.Generator, params: ParameterSet, group: np.ndarray):
    n = len(group)
    ecog = categorical(rng, group_table(params["patient.ecog"], group))
    u = rng.random(n)
    missing = u < params["patient.ecog_missing"]
    karnofsky_only = (~missing) & (u < params["patient.ecog_missing"] + params["patient.karnofsky_only"])
    options = np.full((5, 3), -1)
    for e, values in enumerate(_KARNOFSKY_BY_ECOG):
        options[e, : len(values)] = values
    counts = (options >= 0).sum(axis=1)
    pick = np.floor(rng.random(n) * counts[ecog]).astype(np.int64)
    karnofsky = options[ecog, pick]
    return ecog, ~(missing | karnofsky_only), karnofsky, karnofsky_only


def _metastatic_sites(rng: np.random.Generator, params: ParameterSet, metastatic: np.ndarray) -> np.ndarray:
    probs = np.array([params["stage.metastatic_sites"][s] for s in schema.METASTATIC_SITES])
    present = rng.random((len(metastatic), len(probs))) < probs
    present[:, 0] |= ~present.any(axis=1)
    mask = (present * (1 << np.arange(len(probs)))).sum(axis=1)
    return np.where(metastatic, mask, 0)


def _necrosis(rng: np.random.Generator, params: ParameterSet, group: np.ndarray,
              net_grade: np.ndarray, lung: np.ndarray) -> np.ndarray:
    """Necrosis (index into :data:`nenstudy.registry.schema.NECROSIS`) by tumour kind."""
    kinds = ("nec", "minen", "lung_typical", "lung_atypical", "net_g3", "net_g1_g2")
    kind = np.select(
        [(group == EP_NEC) | (group == LUNG_NEC), group == MINEN, lung & (net_grade == 0), lung,
         net_grade == 2],
        range(5), 5,
    )
    table = params["pathology.necrosis"]
    by_kind = np.array([[table[k][level] for level in schema.NECROSIS] for k in kinds])
    return categorical(rng, by_kind[kind])


def simulate_baseline(rng: np.random.Generator, params: ParameterSet, n: int,
                      detail: np.random.Generator) -> Baseline:
    """Simulate the baseline of ``n`` patients discussed at the MDT.

    Parameters
    ----------
    rng
        Random generator (advanced by the draws).
    params
        Generator parameters.
    n
        Number of patients.
    detail
        A generator of its own for the elements added after the first version (necrosis,
        metastases timing), so that adding them left every other draw of a seed unchanged.

    Returns
    -------
    Baseline
        True and recorded baseline characteristics.
    """
    classes, class_probs = probabilities(params["mix.tumour_class"], "mix.tumour_class")
    tumour = np.array(classes)[categorical(rng, np.tile(class_probs, (n, 1)))]
    lung_nec = rng.random(n) < params["mix.nec_lung"]
    group = np.select([tumour == "net", tumour == "minen", lung_nec], [NET, MINEN, LUNG_NEC], EP_NEC)
    pure = (group == LUNG_NEC) | (group == NET) | ((group == EP_NEC) & (rng.random(n) < params["mix.ep_nec_pure"]))

    site_codes, site = _sites(rng, params, group)
    site_major = np.array([int(c[1:3]) for c in site_codes])[site]
    lung = site_major == 34
    colorectal = (site_major >= 18) & (site_major <= 20)

    male = rng.random(n) < group_table(params["patient.male"], group)
    age_param = group_table(params["patient.age_years"], group)
    age = np.clip(rng.normal(age_param[:, 0], age_param[:, 1]), *params["patient.age_range_years"])
    diagnosis, mdt = _dates(rng, params, group)
    birth = diagnosis - np.floor(age * 365.25).astype(np.int64)

    is_net = group == NET
    net_grade = np.where(is_net, _net_grade(rng, params, lung), -1)
    who = np.where(is_net, net_grade, np.where(group == MINEN, WHO["MiNEN"], WHO["NEC"]))

    u = rng.random(n)
    typed_only = u >= 1 - params["pathology.typed_only"]
    raw_only = u < 1 - params["pathology.typed_only"] - params["pathology.raw_and_typed"]
    raw_recorded = ~typed_only
    who_typed = ~raw_only

    differentiation = np.where(is_net, 0, 1)
    small_share = np.where(group == LUNG_NEC, params["pathology.lung_nec_small_cell"], params["pathology.nec_small_cell"])
    cell_type = np.where(rng.random(n) < small_share, 0, 1)
    cell_stated = (group == EP_NEC) | (group == LUNG_NEC)
    cell_stated &= rng.random(n) >= params["pathology.cell_type_missing"]

    ki67 = _ki67(rng, params, net_grade, is_net)
    ki67_valid = raw_recorded & (rng.random(n) >= params["pathology.ki67_missing"])
    mitoses_below, mitoses_at = _mitoses(rng, params, net_grade, lung)
    nec_mitoses = _whole(rng, params["pathology.nec_mitoses_per_2mm2"], n)
    mitoses = np.where(is_net, np.where(ki67_valid, mitoses_below, mitoses_at), nec_mitoses)
    mitoses_reported = np.where(is_net, ~ki67_valid | (rng.random(n) < params["pathology.net_mitoses_reported"]), rng.random(n) < params["pathology.nec_mitoses_reported"])
    mitoses_valid = raw_recorded & mitoses_reported

    lo, hi = params["mix.non_ne_minor_pct"]
    minor = rng.integers(lo, hi + 1, n)
    lo, hi = params["mix.minen_non_ne_pct"]
    major = rng.integers(lo, hi + 1, n)
    non_ne = np.where(group == MINEN, major, np.where(pure, 0, minor)).astype(float)
    non_ne_valid = ~pure | (rng.random(n) < params["pathology.pure_zero_written"])

    morphology = np.select(
        [is_net & (net_grade == 0), is_net, group == MINEN, ~cell_stated, cell_type == 0],
        [MORPHOLOGY["8240/3"], MORPHOLOGY["8249/3"], MORPHOLOGY["8154/3"], MORPHOLOGY["8246/3"], MORPHOLOGY["8041/3"]],
        MORPHOLOGY["8013/3"],
    )
    morphology_valid = rng.random(n) >= params["pathology.morphology_code_missing"]

    stage_probs = np.stack(
        [probabilities(params[f"stage.{g}"], f"stage.{g}")[1] for g in GROUPS]
    )[group]
    stage = categorical(rng, stage_probs)
    resectable = (stage == LOCALLY_ADVANCED) & (rng.random(n) < group_table(params["stage.locally_advanced_resectable"], group))
    metastatic_mask = _metastatic_sites(rng, params, stage == METASTATIC)

    ecog, ecog_valid, karnofsky, karnofsky_valid = _performance_status(rng, params, group)
    note_valid = rng.random(n) < params["patient.notes"]
    note = rng.integers(0, len(NOTES), n)
    site_group_typed = rng.random(n) < params["pathology.site_group_typed"]

    # Elements added later are drawn from their own stream, so that the draws above (and the
    # course simulated after them) stay those of earlier versions for the same seed.
    necrosis = _necrosis(detail, params, group, net_grade, lung)
    # an atypical lung carcinoid (G2 here) below 2 mitoses is atypical by its necrosis (WHO
    # thoracic criteria): at least focal
    necrosis = np.where(is_net & lung & (net_grade == 1) & (mitoses < 2)
                        & (necrosis == schema.NECROSIS.index("absent")),
                        schema.NECROSIS.index("focal"), necrosis)
    necrosis_valid = raw_recorded & (detail.random(n) < params["pathology.necrosis_reported"])
    metastases_timing_valid = (stage == METASTATIC) & (
        detail.random(n) < params["stage.metastases_timing_recorded"])
    # Drawn last from that stream, after the sites and stages it corrects (and with the sexes
    # of sex-specific sites set from them), leaving the draws above those of earlier versions.
    site = _unknown_primary_metastatic(detail, params, group, site_codes, site, stage)
    site_major = np.array([int(c[1:3]) for c in site_codes])[site]
    colorectal = (site_major >= 18) & (site_major <= 20)
    male = np.where((site_major >= _FEMALE_SITES[0]) & (site_major <= _FEMALE_SITES[1]), False,
                    np.where((site_major >= _MALE_SITES[0]) & (site_major <= _MALE_SITES[1]),
                             True, male))

    return Baseline(
        group=group, pure=pure, site_codes=site_codes, site=site, colorectal=colorectal,
        male=male, birth=birth, diagnosis=diagnosis, mdt=mdt, who=who, who_typed=who_typed,
        raw_recorded=raw_recorded, differentiation=differentiation, cell_type=cell_type,
        cell_type_valid=raw_recorded & cell_stated, ki67=ki67, ki67_valid=ki67_valid,
        mitoses=mitoses, mitoses_valid=mitoses_valid, non_ne=non_ne, non_ne_valid=non_ne_valid,
        necrosis=necrosis, necrosis_valid=necrosis_valid,
        metastases_timing_valid=metastases_timing_valid,
        morphology=morphology, morphology_valid=morphology_valid, stage=stage,
        resectable=resectable, metastatic_mask=metastatic_mask, ecog=ecog, ecog_valid=ecog_valid,
        karnofsky=karnofsky, karnofsky_valid=karnofsky_valid, site_group_typed=site_group_typed,
        note=note, note_valid=note_valid,
    )
