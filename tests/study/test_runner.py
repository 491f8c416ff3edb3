"""The EP-NEC study end to end on the synthetic registry: outputs, schema, reproducibility."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nenstudy.paths import default_study
from nenstudy.registry.store import import_registry
from nenstudy.registry.validation import ValidationError
from nenstudy.stats import kaplan_meier, logrank_test
from nenstudy.study.definition import StudyDefinitionError
from nenstudy.study.results import validate_results
from nenstudy.study.runner import registry_sha256, run_study
from nenstudy.synth.generator import write_registry

SEED = 2022


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """A synthetic registry folder, its imported store, and one study run on the store."""
    root = tmp_path_factory.mktemp("synthetic")
    folder = root / "registry"
    write_registry(folder, seed=SEED)
    store = root / "registry.duckdb"
    import_registry(folder, store)
    out = root / "out"
    results = run_study(store, default_study(), out, seed=SEED)
    return {"folder": folder, "store": store, "out": out, "results": results}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_outputs_are_written(synthetic):
    out = synthetic["out"]
    assert {p.name for p in out.iterdir()} >= {"results.json", "analysis"}
    assert (out / "analysis" / "adsl.csv").is_file() and (out / "analysis" / "adtte.csv").is_file()


def test_results_json_validates_against_the_schema(synthetic):
    written = json.loads((synthetic["out"] / "results.json").read_text(encoding="utf-8"))
    validate_results(written)
    assert written == synthetic["results"]


def test_docs_schema_and_packaged_schema_are_identical():
    docs = Path(__file__).resolve().parents[2] / "docs" / "results.schema.json"
    packaged = Path(__file__).resolve().parents[2] / "src" / "nenstudy" / "study" / "results.schema.json"
    assert docs.read_bytes() == packaged.read_bytes()


def test_attrition_follows_the_epnec_steps(synthetic):
    attrition = synthetic["results"]["attrition"]
    assert [a["step"] for a in attrition] == [
        "nen_mdt", "nec", "pure_histology", "extrapulmonary", "advanced", "first_line"]
    ns = [a["n"] for a in attrition]
    assert ns == sorted(ns, reverse=True)
    assert synthetic["results"]["cohort_n"] == attrition[3]["n"]
    assert all(a["from"] - a["n"] == a["excluded"] for a in attrition)


def test_pfs_population_is_the_first_line_treated(synthetic):
    results = synthetic["results"]
    assert results["pfs"]["n"] == results["first_line"]["treated"] == results["populations"]["first_line"]


def _adtte(synthetic) -> pd.DataFrame:
    return pd.read_csv(synthetic["out"] / "analysis" / "adtte.csv")


@pytest.mark.parametrize("endpoint", ["os", "pfs"])
def test_survival_numbers_equal_those_recomputed_from_adtte(synthetic, endpoint):
    data = _adtte(synthetic)
    rows = data[(data["PARAMCD"] == endpoint.upper()) & data["AVAL"].notna()]
    block = synthetic["results"][endpoint]
    fit = kaplan_meier(rows["AVAL"].to_numpy(), 1 - rows["CNSR"].to_numpy(),
                       conf_type=block["conf_type"], conf_level=block["conf_level"])
    assert (fit.n, fit.events) == (block["n"], block["events"])
    assert fit.median == block["median"]
    assert list(fit.median_ci) == block["ci"]
    at12 = fit.survival_at([12.0])
    assert at12["survival"].iloc[0] == block["rates"]["12"]["survival"]


def test_stratified_log_rank_equals_that_recomputed_from_adtte(synthetic):
    data = _adtte(synthetic)
    rows = data[(data["PARAMCD"] == "OS") & data["AVAL"].notna()]
    for grouping, block in synthetic["results"]["stratified"]["os"].items():
        known = rows[rows[grouping].notna()]
        test = logrank_test(known["AVAL"].to_numpy(), 1 - known["CNSR"].to_numpy(),
                            pd.Categorical(known[grouping], categories=block["levels"]))
        assert test.p_value == pytest.approx(block["logrank_p"], rel=1e-12), grouping


def test_adtte_carries_every_stratified_grouping(synthetic):
    columns = set(_adtte(synthetic).columns)
    assert {"USUBJID", "PARAMCD", "PARAM", "AVAL", "CNSR"} <= columns
    for endpoint in synthetic["results"]["stratified"].values():
        assert set(endpoint) <= columns


def test_adsl_has_one_row_per_cohort_patient(synthetic):
    adsl = pd.read_csv(synthetic["out"] / "analysis" / "adsl.csv")
    assert len(adsl) == synthetic["results"]["cohort_n"] == adsl["USUBJID"].nunique()
    assert adsl["USUBJID"].str.fullmatch(r"P\d{4,}").all()


def test_no_registry_identifier_reaches_any_output(synthetic):
    ids = set(pd.read_csv(synthetic["folder"] / "patients.csv")["patient_id"].astype(str))
    ids |= set(pd.read_csv(synthetic["folder"] / "diagnoses.csv")["diagnosis_id"].astype(str))
    texts = [p.read_text(encoding="utf-8") for p in synthetic["out"].rglob("*") if p.is_file()]
    tokens = set()
    for text in texts:
        tokens |= set(re.findall(r"[A-Za-z0-9_-]+", text))
    assert not (ids & tokens)


def test_provenance_records_hashes_seed_and_time(synthetic):
    provenance = synthetic["results"]["provenance"]
    assert provenance["registry_sha256"] == registry_sha256(synthetic["folder"])
    assert provenance["registry_sha256"] != _sha(synthetic["store"])  # the data, not the file
    assert provenance["study_sha256"] == _sha(default_study())
    assert provenance["seed"] == SEED and provenance["synthetic"] is True
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", provenance["generated_at"])


def test_every_published_item_is_compared(synthetic):
    results = synthetic["results"]
    assert [c["key"] for c in results["comparison"]] == list(results["published"]["items"])
    median = next(c for c in results["comparison"] if c["key"] == "median_os")
    assert median["registry_value"] == results["os"]["median"]


def test_orr_has_both_denominators_with_exact_ci(synthetic):
    orr = synthetic["results"]["orr_first_line"]
    response = synthetic["results"]["response_first_line"]
    assert orr["denominator"] == response["treated"]
    assert orr["evaluable"]["denominator"] == response["CR"] + response["PR"] + response["SD"] + response["PD"]
    assert orr["ci"][0] <= orr["rate"] <= orr["ci"][1]


def test_cox_has_multivariable_model_with_ph_test(synthetic):
    cox = synthetic["results"]["cox"]["os"]
    assert cox["multivariable"] and cox["ph_test"][-1]["term"] == "GLOBAL"
    assert 0.5 <= cox["concordance"][0] <= 1


def test_registry_folder_is_validated_and_imported(synthetic, tmp_path):
    results = run_study(synthetic["folder"], default_study(), tmp_path / "out", seed=SEED)
    assert results["os"]["median"] == synthetic["results"]["os"]["median"]
    assert results["provenance"]["registry_sha256"] == registry_sha256(synthetic["folder"])


def test_invalid_registry_folder_raises_validation_error(synthetic, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    for file in synthetic["folder"].iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    text = (folder / "follow_up.csv").read_text(encoding="utf-8").splitlines()
    header = text[0].split(",")
    row = text[1].split(",")
    row[header.index("vital_status")] = "zombie"
    text[1] = ",".join(row)
    (folder / "follow_up.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(ValidationError):
        run_study(folder, default_study(), tmp_path / "out")
    assert not (tmp_path / "out" / "results.json").exists()


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("where = \"site_group <> 'lung'\"", 'where = "1; DROP TABLE patients"', "';' is not allowed"),
        ("where = \"site_group <> 'lung'\"", "where = \"patients.site_group <> 'lung'\"", "qualified column names"),
        ('where = "advanced"', 'where = "advanced AND EXISTS (SELECT 1 FROM patients)"', "subqueries"),
        ('where = "advanced"', "where = \"read_csv('/etc/passwd') IS NULL\"", "not allowed"),
        ("where = \"who_category = 'NEC'\"", "where = \"who_cat = 'NEC'\"", "unknown column 'who_cat'"),
        ('label = "Overall survival"\n', "", None),
        ('[study]\nname = "epnec"', '[study]\nname = "epnec"\nowner = "x"', "unknown key"),
        ('eligible = "advanced"\n', "", r"treatment\.eligible: missing"),
    ],
)
def test_hostile_or_mistaken_study_files_fail_cleanly_and_change_nothing(synthetic, tmp_path, old, new, message):
    text = default_study().read_text(encoding="utf-8")
    assert old in text
    study = tmp_path / "study.toml"
    study.write_text(text.replace(old, new, 1), encoding="utf-8")
    before = _sha(synthetic["store"])
    out = tmp_path / "out"
    if message is None:  # removing an optional key is not an error
        run_study(synthetic["store"], study, out)
        assert _sha(synthetic["store"]) == before
        return
    with pytest.raises(StudyDefinitionError, match=message) as err:
        run_study(synthetic["store"], study, out)
    assert str(study) in str(err.value)
    assert _sha(synthetic["store"]) == before
    assert not out.exists()


def test_expression_failing_on_the_data_names_the_step(synthetic, tmp_path):
    text = default_study().read_text(encoding="utf-8")
    study = tmp_path / "study.toml"
    study.write_text(text.replace('where = "pure_histology"', "where = \"ki67_pct > 'high'\"", 1), encoding="utf-8")
    before = _sha(synthetic["store"])
    with pytest.raises(StudyDefinitionError, match=r"cohort\.steps\[2\]\.where: the expression fails"):
        run_study(synthetic["store"], study, tmp_path / "out")
    assert _sha(synthetic["store"]) == before


def test_progress_task_completes(synthetic, tmp_path):
    from rich.progress import Progress

    with Progress(disable=True) as progress:
        run_study(synthetic["store"], default_study(), tmp_path / "out", progress=progress)
        task = progress.tasks[0]
        assert task.completed == task.total


def test_changing_the_os_origin_in_the_study_file_changes_the_times(synthetic, tmp_path):
    text = default_study().read_text(encoding="utf-8")
    study = tmp_path / "study.toml"
    study.write_text(text.replace('origin = "diagnosis"', 'origin = "mdt"', 1), encoding="utf-8")
    results = run_study(synthetic["store"], study, tmp_path / "out")
    assert results["study"]["os_origin"] == "mdt"
    assert results["os"]["n"] == synthetic["results"]["os"]["n"]
    assert np.sum(results["os"]["curve"]["time"]) <= np.sum(synthetic["results"]["os"]["curve"]["time"])


def test_identifiers_only_when_asked(synthetic, tmp_path):
    run_study(synthetic["store"], default_study(), tmp_path / "out", show_identifiers=True)
    adsl = pd.read_csv(tmp_path / "out" / "analysis" / "adsl.csv")
    ids = set(pd.read_csv(synthetic["folder"] / "patients.csv")["patient_id"].astype(str))
    assert list(adsl.columns[:2]) == ["USUBJID", "SUBJID"] and set(adsl["SUBJID"]) <= ids
    assert "SUBJID" not in pd.read_csv(synthetic["out"] / "analysis" / "adsl.csv").columns


def test_treatment_before_diagnosis_is_rejected_by_registry_validation(synthetic, tmp_path):
    folder = tmp_path / "early"
    folder.mkdir()
    for file in synthetic["folder"].iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    treatments = pd.read_csv(folder / "treatments.csv", dtype=str, keep_default_na=False)
    treatments.loc[0, "start_date"] = "2001-01-01"
    treatments.to_csv(folder / "treatments.csv", index=False)
    with pytest.raises(ValidationError):
        run_study(folder, default_study(), tmp_path / "out")


def test_empty_registry_runs_and_reports_empty_results(tmp_path):
    from .study_builders import RegistryBuilder

    store = RegistryBuilder().write(tmp_path / "empty.duckdb")
    results = run_study(store, default_study(), tmp_path / "out")
    assert results["cohort_n"] == 0 and results["os"]["n"] == 0 and results["os"]["median"] is None
    assert results["cox"]["os"]["multivariable"] == []


def test_tiny_registry_keeps_cox_warnings_visible(tmp_path):
    from .study_builders import RegistryBuilder

    registry = RegistryBuilder()
    for i in range(6):
        p = registry.patient()
        registry.diagnosis(p, f"2019-0{i + 1}-10", ecog=0 if i % 2 else 3)
        registry.follow_up(p, "2020-06-01", death="2020-06-01" if i % 2 else None)
    store = registry.write(tmp_path / "tiny.duckdb")
    results = run_study(store, default_study(), tmp_path / "out")
    assert any(note.startswith("univariable ecog_group:") and "Warning" in note for note in results["cox"]["os"]["notes"])
    validate_results(results)


def _r_available() -> bool:
    import shutil
    import subprocess

    if shutil.which("Rscript") is None:
        return False
    check = subprocess.run(["Rscript", "-e", "library(survival); library(jsonlite)"], capture_output=True)
    return check.returncode == 0


@pytest.mark.skipif(not _r_available(), reason="R with survival and jsonlite is not installed")
def test_r_survival_reproduces_results_from_adtte(synthetic, tmp_path):
    import subprocess

    results = synthetic["results"]
    study = results["study"]
    spec = {
        "conf_type": study["conf_type"], "conf_level": study["conf_level"], "ties": study["ties"],
        "groupings": {name: g["levels"] for name, g in study["groupings"].items()},
        "stratified": {e.upper(): list(block) for e, block in results["stratified"].items()},
        "cox": {e.upper(): block["covariates"] for e, block in results["cox"].items()},
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    script = Path(__file__).parent / "r" / "recompute_from_adtte.R"
    subprocess.run(["Rscript", str(script), str(synthetic["out"] / "analysis" / "adtte.csv"),
                    str(tmp_path / "spec.json"), str(tmp_path / "r.json")], check=True, capture_output=True)
    r = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    for endpoint in ("os", "pfs"):
        ours, theirs = results[endpoint], r[endpoint.upper()]
        assert (ours["n"], ours["events"]) == (theirs["n"], theirs["events"])
        assert ours["median"] == pytest.approx(theirs["median"], rel=1e-9)
        assert ours["ci"] == pytest.approx([theirs["lower"], theirs["upper"]], rel=1e-9)
        assert ours["rates"]["12"]["survival"] == pytest.approx(theirs["surv12"], rel=1e-9)
        for grouping, block in results["stratified"][endpoint].items():
            assert block["statistic"] == pytest.approx(theirs["logrank"][grouping]["chisq"], rel=1e-6), grouping
        cox = results["cox"][endpoint]
        assert (cox["multivariable_n"], cox["multivariable_events"]) == (theirs["cox"]["n"], theirs["cox"]["events"])
        assert [row["term"] for row in cox["multivariable"]] == theirs["cox"]["terms"]
        assert [row["hr"] for row in cox["multivariable"]] == pytest.approx(theirs["cox"]["hr"], rel=1e-6)
        assert cox["concordance"][0] == pytest.approx(theirs["cox"]["concordance"], rel=1e-6)


def test_the_registry_digest_is_the_datas_not_the_files(synthetic, tmp_path):
    """Two imports of the same data, a copy of the folder (with its record of what synth wrote),
    and the folder itself give one digest; a changed value gives another."""
    import shutil

    from nenstudy.registry.store import import_registry

    copy = tmp_path / "copy"
    shutil.copytree(synthetic["folder"], copy)
    (copy / ".nenstudy").write_text("{}")
    again = tmp_path / "again.duckdb"
    import_registry(copy, again)
    digest = registry_sha256(synthetic["folder"])
    assert registry_sha256(copy) == registry_sha256(again) == registry_sha256(synthetic["store"]) == digest
    assert _sha(again) != _sha(synthetic["store"])
    path = copy / "follow_up.csv"
    path.write_text(path.read_text().replace("alive", "dead", 1).replace(",dead,,", ",dead,2022-01-01,", 1))
    assert registry_sha256(copy) != digest
