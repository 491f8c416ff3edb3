"""The registry schema: tables, columns, codes, keys and derivation rules, defined once.

Everything else (readers, validation, the DuckDB store, the synthetic generator, the study engine
and ``docs/registry.md``) reads the registry's structure from this module. It holds pure data
(frozen dataclasses and constant mappings) plus a few tiny pure helpers that apply the clinical
derivation rules to single values (for the synthetic generator and for tests); validation and the
store apply the same rules as SQL built from the same constants.

Value types (``Column.dtype``):

``string``
    free or coded text (``allowed`` lists the codes when coded).
``date``
    ISO 8601 calendar date ``YYYY-MM-DD`` only.
``float`` / ``int``
    decimal numbers with a point (``12.5``); integers may be written ``3`` or ``3.0``.
``bool``
    ``true`` or ``false`` (case-insensitive), nothing else.
``list``
    ``;``-separated lower-case tokens, each one of ``allowed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

__all__ = [
    "SCHEMA_VERSION",
    "DTYPES",
    "DUCKDB_TYPES",
    "EARLIEST_DATE",
    "TOPOGRAPHY_LAST",
    "TOPOGRAPHY_GAPS",
    "enum_type",
    "IDENTIFIER_MASK",
    "HEADER_ALIASES",
    "CODE_SYNONYMS",
    "Column",
    "DerivedColumn",
    "ForeignKey",
    "Table",
    "SCHEMA",
    "TABLE_NAMES",
    "TABLES",
    "table",
    "LIST_SEPARATOR",
    "MISSING_MARKERS",
    "SITE_GROUPS",
    "SITE_GROUP_RANGES",
    "SITE_GROUP_DEFAULT",
    "WHO_CATEGORIES",
    "SEXES",
    "MORPHOLOGY_CODES",
    "DIFFERENTIATION",
    "CELL_TYPES",
    "NECROSIS",
    "STAGES",
    "METASTASES_TIMING",
    "METASTATIC_SITES",
    "TEST_METHODS",
    "GENES",
    "ALTERATIONS",
    "MSI_STATUSES",
    "MODALITIES",
    "AGENTS",
    "STOP_REASONS",
    "RECIST_RESPONSES",
    "VITAL_STATUSES",
    "TOPOGRAPHY_PATTERN",
    "PATIENTS",
    "DIAGNOSES",
    "MOLECULAR_TESTS",
    "TREATMENTS",
    "FOLLOW_UP",
    "KI67_GRADE_UPPER",
    "MITOSES_GRADE_UPPER",
    "MINEN_NON_NE_THRESHOLD_PCT",
    "KARNOFSKY_TO_ECOG",
    "DAYS_PER_YEAR",
    "AGE_RANGE_YEARS",
    "site_group_for",
    "derive_who_category",
    "stored_who_category",
    "ecog_from_karnofsky",
]

SCHEMA_VERSION = "3"
"""Version of this schema; stored in every registry store (``_meta``, ``_import_log``).

3: diagnoses gain ``necrosis`` and ``metastases_timing`` (optional; 2: without them).
2: coded columns are ENUMs of their codes (1: text); the values are the same.
"""

DTYPES = ("string", "date", "float", "int", "bool", "list")
"""The value types a registry column may have."""

DUCKDB_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "string": "VARCHAR",
        "date": "DATE",
        "float": "DOUBLE",
        "int": "INTEGER",
        "bool": "BOOLEAN",
        "list": "VARCHAR[]",
    }
)
"""DuckDB column type of each value type in the store (a ``string`` column with allowed codes
is an ENUM of its codes instead, see :func:`enum_type`)."""


def enum_type(codes: tuple[str, ...]) -> str:
    """DuckDB ENUM type of a coded column: its codes, in the schema's order.

    The store keeps each code as a small integer (cheaper to write and scan than text); R reads
    the column as a factor with these levels and pandas as an ordered set of categories, and
    ``ORDER BY`` sorts in this order. Comparisons with text (``stage = 'metastatic'``) work as
    with text columns.
    """
    return "ENUM(" + ", ".join("'" + c.replace("'", "''") + "'" for c in codes) + ")"


def store_type(dtype: str, allowed: tuple[str, ...] | None) -> str:
    """DuckDB type of a column of value type ``dtype`` with codes ``allowed`` in the store."""
    if dtype == "string" and allowed is not None:
        return enum_type(allowed)
    return DUCKDB_TYPES[dtype]

IDENTIFIER_MASK = "<identifier>"
"""What problem listings show instead of a value from an identifier column."""

HEADER_ALIASES: Mapping[str, tuple[str, ...]] = {
    "birth_date": ("dob", "dateofbirth"),
    "sex": ("gender",),
    "diagnosis_date": ("dateofdiagnosis", "dxdate"),
    "mdt_date": ("mdt", "dateofmdt", "tumorboarddate", "tumourboarddate"),
    "primary_site": ("primary", "primarytumorsite", "primarytumoursite", "topography"),
    "morphology": ("histology", "icdo3morphology"),
    "ki67_pct": ("ki67", "ki67index", "ki67li", "ki67labellingindex", "ki67labelingindex",
                 "mib1", "mib1index"),
    "mitoses_per_2mm2": ("mitoses", "mitoticcount", "mitoticrate", "mitoticindex",
                         "mitoses2mm2"),
    "non_ne_component_pct": ("nonnecomponent", "nonneuroendocrinecomponent"),
    "who_category": ("who", "whoclassification", "who2019category"),
    "resectable": ("resectability", "operable"),
    "metastatic_sites": ("metastases", "metastasissites", "sitesofmetastasis"),
    "metastases_timing": ("metastasistiming", "timingofmetastases", "synchronousmetachronous"),
    "necrosis": ("tumornecrosis", "tumournecrosis"),
    "ecog_ps": ("ecog", "ecogperformancestatus", "performancestatusecog", "ecogscore", "whops",
                "performancestatus"),
    "karnofsky": ("kps", "karnofskyps", "karnofskyscore", "karnofskyindex",
                  "karnofskyperformancestatus"),
    "msi_status": ("msi",),
    "tmb": ("tmbmutmb", "tmbvalue", "tumormutationalburden", "tumourmutationalburden"),
    "alteration": ("alterationtype",),
    "line": ("lineoftherapy", "treatmentline", "linenumber"),
    "agents": ("drugs", "agent"),
    "diagnosis_id": ("dxid",),
    "treatment_id": ("txid",),
    "end_date": ("stopdate", "dateofend", "endoftreatment", "treatmentend"),
    "stop_reason": ("reasonforstop", "discontinuationreason", "reasonfordiscontinuation"),
    "best_response": ("response", "bor", "bestoverallresponse", "recistresponse"),
    "progression_date": ("dateofprogression", "pddate"),
    "last_assessment_date": ("lastassessment", "dateoflastassessment"),
    "last_contact_date": ("lastcontact", "lastfollowup", "lastfollowupdate",
                          "dateoflastcontact", "datelastcontact"),
    "death_date": ("dateofdeath", "dod", "datedeceased", "deceaseddate"),
}
"""Other names a source may give a column (letters and digits only, lower case): a header
naming an absent column so is an error naming the column meant (see
:func:`nenstudy.registry.sources`), since its values would otherwise not be imported."""

LIST_SEPARATOR = ";"
"""Separator of the tokens of a ``list`` cell."""

MISSING_MARKERS = ("NA", "N/A", "#N/A", "#NA", "N.A.", "<NA>", "#N/A N/A", "NULL", "\\N",
                   "NONE", "NAN", "-NAN", "1.#QNAN", "-1.#QNAN", "1.#IND", "-1.#IND", "NAT",
                   ".", "-", "--")
"""Texts that other programs write for a missing value (R, SAS, Excel, pandas, SQL exports),
in upper case: they are matched in any case."""


@dataclass(frozen=True)
class Column:
    """One source column of a registry table.

    Parameters
    ----------
    name
        Column name as written in the header of the source file.
    dtype
        One of :data:`DTYPES`.
    required
        Whether every row must have a value.
    description
        What the column holds (shown in ``docs/registry.md``).
    allowed
        The allowed codes (for ``string`` and for each token of ``list``), or ``None`` for free text.
    pattern
        A regular expression (RE2, whole value) the value must match, with ``pattern_hint`` the
        human-readable form shown in errors.
    minimum, maximum
        Inclusive plausibility range for numbers.
    multiple_of
        For integers, the value must be a multiple of this.
    unit
        Unit of a number (``%``, ``per 2 mm²``, ``mutations/Mb``).
    identifier
        Values may identify a person: never printed unless the user asks.
    """

    name: str
    dtype: str
    required: bool = False
    description: str = ""
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None
    pattern_hint: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    multiple_of: int | None = None
    unit: str | None = None
    identifier: bool = False

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"column {self.name}: unknown dtype {self.dtype!r}")

    @property
    def duckdb_type(self) -> str:
        """DuckDB type of the column in the store (an ENUM for a coded ``string``)."""
        return store_type(self.dtype, self.allowed)


@dataclass(frozen=True)
class DerivedColumn:
    """A column computed at import time and present in the store only.

    Parameters
    ----------
    name
        Column name in the store. When it equals a source column's name, the store holds the
        derived value under that name (the typed-in value goes to a ``*_reported`` column).
    dtype
        One of :data:`DTYPES`.
    description
        How it is derived.
    allowed
        Its codes, for a coded ``string`` (stored as an ENUM of them).
    """

    name: str
    dtype: str
    description: str
    allowed: tuple[str, ...] | None = None

    @property
    def duckdb_type(self) -> str:
        """DuckDB type of the column in the store (an ENUM for a coded ``string``)."""
        return store_type(self.dtype, self.allowed)


@dataclass(frozen=True)
class ForeignKey:
    """A reference from ``column`` of one table to the key column of ``table``."""

    column: str
    table: str
    target_column: str


@dataclass(frozen=True)
class Table:
    """One registry table (one source file, one store table).

    Parameters
    ----------
    name
        Table name; the source file is ``<name>.csv``, ``<name>.parquet`` or ``<name>.xlsx``.
    one_row_per
        What a row stands for.
    key
        The unique key column(s).
    columns
        Source columns, in the order of the documentation and the store.
    foreign_keys
        References to other tables.
    derived
        Columns computed at import (see :class:`DerivedColumn`).
    may_be_empty
        Whether a file with a header but no data rows is acceptable.
    """

    name: str
    one_row_per: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    derived: tuple[DerivedColumn, ...] = ()
    may_be_empty: bool = False
    _by_name: Mapping[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_by_name", MappingProxyType({c.name: c for c in self.columns})
        )

    @property
    def column_names(self) -> tuple[str, ...]:
        """Names of the source columns, in order."""
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Names of the columns every row must fill (and every file must have)."""
        return tuple(c.name for c in self.columns if c.required)

    @property
    def identifier_columns(self) -> tuple[str, ...]:
        """Names of the columns whose values are never printed unless asked."""
        return tuple(c.name for c in self.columns if c.identifier)

    def column(self, name: str) -> Column:
        """Return the source column called ``name`` (``KeyError`` if there is none)."""
        return self._by_name[name]

    def store_columns(self) -> tuple[tuple[str, str], ...]:
        """Return ``(name, duckdb_type)`` of every column of the store table, in order.

        Source columns come first (a derived column with a source column's name replaces it in
        place), then the remaining derived columns.
        """
        derived = {d.name: d for d in self.derived}
        out = [
            (c.name, (derived[c.name] if c.name in derived else c).duckdb_type)
            for c in self.columns
        ]
        out += [(d.name, d.duckdb_type) for d in self.derived if d.name not in self._by_name]
        return tuple(out)


# --------------------------------------------------------------------------- codes

SEXES = ("F", "M")
WHO_CATEGORIES = ("NET G1", "NET G2", "NET G3", "NEC", "MiNEN")
SITE_GROUPS = ("GEP", "other_extrapulmonary", "unknown_primary", "lung")
MORPHOLOGY_CODES = ("8240/3", "8249/3", "8246/3", "8013/3", "8041/3", "8154/3", "8244/3")
DIFFERENTIATION = ("well", "poor")
CELL_TYPES = ("small", "large")
NECROSIS = ("absent", "focal", "extensive", "present")
STAGES = ("localized", "locally_advanced", "metastatic")
METASTASES_TIMING = ("synchronous", "metachronous")

CODE_SYNONYMS: Mapping[str, Mapping[str, str]] = {
    "necrosis": {"punctate": "focal", "geographic": "extensive", "comedo": "extensive",
                 "yes": "present", "no": "absent", "none": "absent"},
}
"""Usual other names of codes (lower case), by column: never read as the code, but named in
the message of the error (``did you mean 'focal'?``)."""
METASTATIC_SITES = ("liver", "nodes", "bone", "lung", "peritoneum", "brain", "other")
TEST_METHODS = ("NGS", "IHC", "PCR")
GENES = (
    "TP53", "RB1", "KRAS", "BRAF", "APC", "ARID1A", "MYC", "FBXW7", "PIK3CA", "CDKN2A",
    "SMAD4", "PTEN",
)
ALTERATIONS = ("mutation", "cn_loss", "amplification", "fusion", "wild_type")
MSI_STATUSES = ("MSI-H", "MSS")
MODALITIES = ("systemic", "surgery", "radiotherapy", "prrt")
AGENTS = (
    "cisplatin", "carboplatin", "oxaliplatin", "etoposide", "irinotecan", "fluorouracil",
    "leucovorin", "capecitabine", "temozolomide", "paclitaxel", "docetaxel", "topotecan",
    "gemcitabine", "doxorubicin", "streptozocin", "everolimus", "sunitinib", "octreotide",
    "lanreotide", "lutetium177_dotatate", "nivolumab", "pembrolizumab", "ipilimumab",
    "atezolizumab", "durvalumab", "dabrafenib", "trametinib", "other",
)
STOP_REASONS = (
    "completed", "progression", "toxicity", "death", "patient_choice", "ongoing", "other",
)
RECIST_RESPONSES = ("CR", "PR", "SD", "PD", "NE")
VITAL_STATUSES = ("alive", "dead")

# --------------------------------------------------------------------------- derivation rules

SITE_GROUP_RANGES: tuple[tuple[int, int, str], ...] = (
    (15, 26, "GEP"),
    (33, 34, "lung"),
    (80, 80, "unknown_primary"),
)
"""ICD-O-3 topography major-site ranges (``Cxx``, inclusive) → site group.

C15–C26 digestive organs (oesophagus, stomach, small bowel, colorectum, anus, liver, biliary
tract, pancreas, other digestive) → GEP; C33 trachea and C34 bronchus/lung → lung; C80 unknown
primary → unknown_primary; every other topography → :data:`SITE_GROUP_DEFAULT`.
"""

SITE_GROUP_DEFAULT = "other_extrapulmonary"
"""Site group of topographies outside :data:`SITE_GROUP_RANGES`."""

TOPOGRAPHY_PATTERN = r"C\d\d\.\d"
"""The shape of an ICD-O-3 topography code; the codes run up to :data:`TOPOGRAPHY_LAST`."""

TOPOGRAPHY_LAST = "C80.9"
"""The last ICD-O-3 topography code (unknown primary site)."""

TOPOGRAPHY_GAPS = (("C27", "C29"), ("C35", "C36"), ("C43", "C43"), ("C45", "C46"),
                   ("C59", "C59"), ("C78", "C79"), ("C80.0", "C80.8"))
"""Ranges of three-character categories (inclusive) between C00 and C80 that are no ICD-O-3
topography: ICD-10 uses C43 (melanoma), C45 (mesothelioma), C46 (Kaposi sarcoma) and C78-C79
(secondary tumours) for morphologies, which ICD-O-3 codes apart, and C80 holds only C80.9.
C78.7 (a liver metastasis) typed as a primary site is the usual slip. The fourth character is
not checked."""

EARLIEST_DATE = "1900-01-01"
"""No date of a registry may come before it (nor after the day of validation)."""

KI67_GRADE_UPPER = (3.0, 20.0)
"""Ki-67 (%) grade bounds: G1 < 3, G2 3–20, G3 > 20 (WHO 2019)."""

MITOSES_GRADE_UPPER = (2.0, 20.0)
"""Mitoses per 2 mm² grade bounds: G1 < 2, G2 2–20, G3 > 20 (WHO 2019)."""

MINEN_NON_NE_THRESHOLD_PCT = 30.0
"""A non-neuroendocrine component of at least this percentage makes the tumour a MiNEN."""

KARNOFSKY_TO_ECOG: Mapping[int, int] = MappingProxyType(
    {100: 0, 90: 1, 80: 1, 70: 2, 60: 2, 50: 3, 40: 3, 30: 4, 20: 4, 10: 4, 0: 5}
)
"""Karnofsky performance status → ECOG performance status."""

DAYS_PER_YEAR = 365.25
"""Days per year for ``age_at_diagnosis`` (years = days / 365.25)."""

AGE_RANGE_YEARS = (0.0, 110.0)
"""Plausible age at diagnosis (years); outside is an error."""


def site_group_for(topography: str | None) -> str | None:
    """Return the site group of an ICD-O-3 topography code.

    Parameters
    ----------
    topography
        A code such as ``"C25.9"``.

    Returns
    -------
    str or None
        One of :data:`SITE_GROUPS`; ``None`` when the code is missing or malformed.
    """
    import re

    if topography is None or not re.fullmatch(TOPOGRAPHY_PATTERN, topography):
        return None
    major = int(topography[1:3])
    for first, last, group in SITE_GROUP_RANGES:
        if first <= major <= last:
            return group
    return SITE_GROUP_DEFAULT


def _grade(value: float | None, upper: tuple[float, float]) -> int | None:
    if value is None:
        return None
    if value < upper[0]:
        return 1
    if value <= upper[1]:
        return 2
    return 3


def derive_who_category(
    differentiation: str | None,
    cell_type: str | None,
    ki67_pct: float | None,
    mitoses_per_2mm2: float | None,
    non_ne_component_pct: float | None,
) -> str | None:
    """Derive the WHO 2019 category from the raw pathology elements.

    Rules, in order: a non-neuroendocrine component >= 30 % → ``MiNEN``; poorly differentiated or
    a small/large cell type → ``NEC``; well differentiated → ``NET G1/G2/G3`` by the higher of the
    Ki-67 grade (< 3, 3–20, > 20 %) and the mitotic grade (< 2, 2–20, > 20 per 2 mm²).

    Returns
    -------
    str or None
        The category, or ``None`` when the elements present do not determine one (then the
        typed-in category is used).
    """
    if non_ne_component_pct is not None and non_ne_component_pct >= MINEN_NON_NE_THRESHOLD_PCT:
        return "MiNEN"
    if differentiation == "poor" or cell_type is not None:
        return "NEC"
    if differentiation == "well":
        grades = [
            g
            for g in (
                _grade(ki67_pct, KI67_GRADE_UPPER),
                _grade(mitoses_per_2mm2, MITOSES_GRADE_UPPER),
            )
            if g is not None
        ]
        if grades:
            return f"NET G{max(grades)}"
    return None


def stored_who_category(
    typed: str | None,
    differentiation: str | None,
    cell_type: str | None,
    ki67_pct: float | None,
    mitoses_per_2mm2: float | None,
    non_ne_component_pct: float | None,
) -> str | None:
    """The WHO category the store holds for a typed-in category and the raw elements.

    The category derived from the elements (:func:`derive_who_category`) when they determine
    one, else the typed-in one; but the typed-in category is kept when the elements that are
    missing could still give it: a higher NET grade while Ki-67 or the mitotic count is missing
    (the grade is the higher of the two), MiNEN while the non-neuroendocrine component is
    missing. A pathologist's category is never overruled by a partial transcription.
    """
    derived = derive_who_category(differentiation, cell_type, ki67_pct, mitoses_per_2mm2,
                                  non_ne_component_pct)
    if derived is None or typed is None:
        return typed if derived is None else derived
    if typed == "MiNEN" and non_ne_component_pct is None:
        return typed
    if (typed.startswith("NET") and derived.startswith("NET") and typed > derived
            and (ki67_pct is None or mitoses_per_2mm2 is None)):
        return typed
    return derived


def ecog_from_karnofsky(karnofsky: int | None) -> int | None:
    """Map a Karnofsky score (0–100, multiple of 10) to ECOG (``None`` when not mappable)."""
    if karnofsky is None:
        return None
    return KARNOFSKY_TO_ECOG.get(int(karnofsky))


# --------------------------------------------------------------------------- tables


def _id(name: str, description: str) -> Column:
    return Column(name, "string", required=True, description=description, identifier=True)


PATIENTS = Table(
    name="patients",
    one_row_per="patient",
    key=("patient_id",),
    columns=(
        _id("patient_id", "Registry patient identifier (unique). Never printed unless asked."),
        Column("sex", "string", required=True, allowed=SEXES, description="Sex."),
        Column("birth_date", "date", required=True, description="Date of birth."),
    ),
)

DIAGNOSES = Table(
    name="diagnoses",
    one_row_per="NEN diagnosis discussed at the MDT",
    key=("diagnosis_id",),
    columns=(
        _id("diagnosis_id", "Diagnosis identifier (unique)."),
        _id("patient_id", "Patient (references patients)."),
        Column("diagnosis_date", "date", required=True,
               description="Date of histological diagnosis."),
        Column("mdt_date", "date", required=True,
               description="First discussion at the NEN MDT; diagnosis_date <= mdt_date."),
        Column("primary_site", "string", required=True, pattern=TOPOGRAPHY_PATTERN,
               pattern_hint="ICD-O-3 topography Cnn.n, e.g. C25.9",
               description="ICD-O-3 topography of the primary; site_group is derived from it."),
        Column("site_group", "string", allowed=SITE_GROUPS,
               description="Typed-in site group; a difference from the derived one is a warning "
                           "(the store keeps the derived value, the typed one as "
                           "site_group_reported)."),
        Column("morphology", "string", allowed=MORPHOLOGY_CODES,
               description="ICD-O-3 morphology (8240/3 NET G1, 8249/3 NET G2/G3, 8246/3 NEC NOS, "
                           "8013/3 large-cell NEC, 8041/3 small-cell NEC, 8154/3 MiNEN, "
                           "8244/3 mixed)."),
        Column("differentiation", "string", allowed=DIFFERENTIATION,
               description="Tumour differentiation."),
        Column("cell_type", "string", allowed=CELL_TYPES,
               description="Small or large cell (NEC only)."),
        Column("ki67_pct", "float", minimum=0, maximum=100, unit="%",
               description="Ki-67 proliferation index."),
        Column("mitoses_per_2mm2", "float", minimum=0, unit="per 2 mm²",
               description="Mitotic count."),
        Column("non_ne_component_pct", "float", minimum=0, maximum=100, unit="%",
               description="Non-neuroendocrine component (0 or missing = pure)."),
        Column("necrosis", "string", allowed=NECROSIS,
               description="Tumour necrosis as the pathologist reports it: absent, focal "
                           "(punctate included), extensive (geographic, comedo-like), or "
                           "present when the report gives no extent. A raw pathology element: "
                           "it separates atypical from typical lung carcinoid and is usually "
                           "extensive in NEC, but does not enter the WHO category derived "
                           "here."),
        Column("who_category", "string", allowed=WHO_CATEGORIES,
               description="Typed-in WHO 2019 category; the store holds the category derived "
                           "from the raw elements when they determine one (a conflict is a "
                           "warning), else the typed-in value; neither is an error. The "
                           "typed-in value is kept (with a warning) when a missing element "
                           "could still give it: a higher NET grade while Ki-67 or the "
                           "mitotic count is missing, MiNEN while the non-NE component is."),
        Column("stage", "string", required=True, allowed=STAGES,
               description="SEER-like summary stage at diagnosis."),
        Column("resectable", "bool",
               description="For locally advanced disease: resectable (true/false)."),
        Column("metastatic_sites", "list", allowed=METASTATIC_SITES,
               description="Sites of distant metastasis: at diagnosis, or found later when "
                           "metastases_timing is metachronous; expected (warning) when stage is "
                           "metastatic."),
        Column("metastases_timing", "string", allowed=METASTASES_TIMING,
               description="When distant metastases were first found: synchronous (at "
                           "diagnosis, so stage is metastatic) or metachronous (later, after a "
                           "localized or locally advanced stage at diagnosis); a disagreement "
                           "with stage is a warning. stage, advanced and metastatic stay those "
                           "at diagnosis."),
        Column("ecog_ps", "int", minimum=0, maximum=5, description="ECOG performance status."),
        Column("karnofsky", "int", minimum=0, maximum=100, multiple_of=10,
               description="Karnofsky performance status; mapped to ECOG when ecog_ps is missing "
                           "(100→0, 80–90→1, 60–70→2, 40–50→3, 10–30→4, 0→5); a conflict is a "
                           "warning."),
        Column("notes", "string", identifier=True,
               description="Free text (may identify a person: never printed)."),
    ),
    foreign_keys=(ForeignKey("patient_id", "patients", "patient_id"),),
    derived=(
        DerivedColumn("site_group", "string", "Derived from primary_site (ICD-O-3 topography).",
                      allowed=SITE_GROUPS),
        DerivedColumn("who_category", "string",
                      "Derived from the raw pathology elements, else the typed-in value "
                      "(also when a missing element could still give the typed-in one).",
                      allowed=WHO_CATEGORIES),
        DerivedColumn("ecog_ps", "int", "ECOG as given, else mapped from Karnofsky."),
        DerivedColumn("site_group_reported", "string", "The typed-in site_group.",
                      allowed=SITE_GROUPS),
        DerivedColumn("who_category_reported", "string", "The typed-in who_category.",
                      allowed=WHO_CATEGORIES),
        DerivedColumn("pure_histology", "bool",
                      "coalesce(non_ne_component_pct, 0) = 0 and who_category <> 'MiNEN'."),
        DerivedColumn("advanced", "bool",
                      "stage = 'metastatic' or (stage = 'locally_advanced' and resectable is "
                      "not true): at diagnosis (metachronous metastases do not change it)."),
        DerivedColumn("metastatic", "bool", "stage = 'metastatic'."),
        DerivedColumn("age_at_diagnosis", "float",
                      "(diagnosis_date - birth_date) in days / 365.25, in years."),
    ),
)

MOLECULAR_TESTS = Table(
    name="molecular_tests",
    one_row_per="molecular test result",
    key=("test_id",),
    columns=(
        _id("test_id", "Test result identifier (unique)."),
        _id("patient_id", "Patient (references patients)."),
        Column("test_date", "date", required=True, description="Date of the test."),
        Column("method", "string", required=True, allowed=TEST_METHODS,
               description="Test method."),
        Column("assay", "string", required=True,
               description="Panel or assay name (TMB depends on it)."),
        Column("gene", "string", allowed=GENES, description="Gene tested."),
        Column("alteration", "string", allowed=ALTERATIONS,
               description="Result for the gene (required iff gene is given)."),
        Column("variant", "string", description="Variant, e.g. V600E."),
        Column("msi_status", "string", allowed=MSI_STATUSES,
               description="Microsatellite status."),
        Column("tmb", "float", minimum=0, unit="mutations/Mb",
               description="Tumour mutational burden."),
    ),
    foreign_keys=(ForeignKey("patient_id", "patients", "patient_id"),),
    may_be_empty=True,
)

TREATMENTS = Table(
    name="treatments",
    one_row_per="treatment (line of systemic therapy, surgery, radiotherapy, PRRT)",
    key=("treatment_id",),
    columns=(
        _id("treatment_id", "Treatment identifier (unique)."),
        _id("patient_id", "Patient (references patients)."),
        Column("diagnosis_id", "string", identifier=True,
               description="Diagnosis treated (references diagnoses; same patient)."),
        Column("modality", "string", required=True, allowed=MODALITIES,
               description="Kind of treatment."),
        Column("line", "int", minimum=1,
               description="Line of systemic therapy (required for systemic only): 1, 2, 3 ... "
                           "per patient without gaps or duplicates."),
        Column("regimen", "string", description="Regimen label as written."),
        Column("agents", "list", allowed=AGENTS,
               description="Agents given (required for systemic)."),
        Column("start_date", "date", required=True,
               description="Start; on or after the diagnosis date."),
        Column("end_date", "date", description="End; on or after start_date."),
        Column("stop_reason", "string", allowed=STOP_REASONS, description="Why it stopped."),
        Column("best_response", "string", allowed=RECIST_RESPONSES,
               description="RECIST 1.1 best overall response."),
        Column("ne_reason", "string",
               description="Why the response is not evaluable (when best_response is NE)."),
        Column("progression_date", "date",
               description="Progression on or after this treatment; on or after start_date."),
        Column("last_assessment_date", "date",
               description="Last tumour assessment during/after this line; on or after "
                           "start_date."),
    ),
    foreign_keys=(
        ForeignKey("patient_id", "patients", "patient_id"),
        ForeignKey("diagnosis_id", "diagnoses", "diagnosis_id"),
    ),
    may_be_empty=True,
)

FOLLOW_UP = Table(
    name="follow_up",
    one_row_per="patient",
    key=("patient_id",),
    columns=(
        _id("patient_id", "Patient (references patients; exactly one row per patient)."),
        Column("last_contact_date", "date", required=True,
               description="Last contact; on or after every other date of the patient."),
        Column("vital_status", "string", required=True, allowed=VITAL_STATUSES,
               description="Vital status at last contact."),
        Column("death_date", "date",
               description="Date of death (required iff dead); on or after diagnosis, on or "
                           "before last contact."),
    ),
    foreign_keys=(ForeignKey("patient_id", "patients", "patient_id"),),
)

SCHEMA: tuple[Table, ...] = (PATIENTS, DIAGNOSES, MOLECULAR_TESTS, TREATMENTS, FOLLOW_UP)
"""The registry tables, in load order (referenced tables first)."""

TABLE_NAMES: tuple[str, ...] = tuple(t.name for t in SCHEMA)
"""Names of the registry tables, in :data:`SCHEMA` order."""

TABLES: Mapping[str, Table] = MappingProxyType({t.name: t for t in SCHEMA})
"""Registry tables by name."""


def table(name: str) -> Table:
    """Return the registry table called ``name`` (``KeyError`` if there is none)."""
    return TABLES[name]
