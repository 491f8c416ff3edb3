"""Tests of the command line: every subcommand answers --help, and both entry points agree."""

import subprocess
import sys

import pytest
from click.testing import CliRunner

from nenstudy.cli import cli

SUBCOMMANDS = ["synth", "validate", "import", "run", "demo"]


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_has_help(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_python_dash_m_is_the_same_program():
    done = subprocess.run([sys.executable, "-m", "nenstudy", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    for name in SUBCOMMANDS:
        assert name in done.stdout


def test_unknown_subcommand_fails():
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code != 0


def test_import_prints_its_stages_and_the_registry_summary(tmp_path):
    runner = CliRunner()
    source, store = tmp_path / "registry", tmp_path / "store.duckdb"
    assert runner.invoke(cli, ["synth", "--out", str(source), "--scale", "0.1"]).exit_code == 0
    result = runner.invoke(cli, ["import", str(source), "--registry", str(store)])
    assert result.exit_code == 0, result.output
    assert f"Imported {source} into {store} in " in result.output
    assert "with 0 warnings." in result.output
    for stage in ("read", "cross checks", "store"):
        assert stage in result.output
    assert "patients" in result.output and store.is_file()


@pytest.mark.parametrize("command", ["validate", "import"])
def test_threads_and_memory_limit_reach_duckdb(command, tmp_path, monkeypatch):
    """--threads and --memory-limit are the settings of the database the registry is read in."""
    from nenstudy.registry import validation

    seen = []
    connect = validation.connect_work_db

    def spy(**kwargs):
        con = connect(**kwargs)
        seen.append(con.execute("SELECT current_setting('threads'), "
                                "current_setting('memory_limit')").fetchone())
        return con

    monkeypatch.setattr(validation, "connect_work_db", spy)
    monkeypatch.setattr("nenstudy.registry.store.connect_work_db", spy)
    runner = CliRunner()
    source = tmp_path / "registry"
    assert runner.invoke(cli, ["synth", "--out", str(source), "--scale", "0.05"]).exit_code == 0
    extra = ["--registry", str(tmp_path / "store.duckdb")] if command == "import" else []
    result = runner.invoke(cli, [command, str(source), *extra, "--threads", "1",
                                 "--memory-limit", "500MB"])
    assert result.exit_code == 0, result.output
    assert len(seen) == 1
    threads, memory = seen[0]
    assert threads == 1
    assert memory.replace(" ", "") in ("476.8MiB", "500.0MB", "500MB")


@pytest.mark.parametrize("option", [["--threads", "0"], ["--threads", "100000"],
                                    ["--memory-limit", "lots"]])
def test_bad_threads_or_memory_limit_is_a_usage_error(option, tmp_path):
    (tmp_path / "registry").mkdir()
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "registry"), *option])
    assert result.exit_code == 2
    assert option[0] in result.output


def test_import_onto_a_file_that_is_not_a_store_says_so_without_a_traceback(tmp_path):
    runner = CliRunner()
    source, target = tmp_path / "registry", tmp_path / "notes.txt"
    target.write_text("keep me\n")
    assert runner.invoke(cli, ["synth", "--out", str(source), "--scale", "0.05"]).exit_code == 0
    result = runner.invoke(cli, ["import", str(source), "--registry", str(target)])
    assert result.exit_code == 1
    assert "Nothing imported" in result.output and "not a DuckDB database" in result.output
    assert "Traceback" not in result.output
    assert target.read_text() == "keep me\n"


def test_running_out_of_memory_is_a_message_not_a_traceback(tmp_path):
    runner = CliRunner()
    source = tmp_path / "registry"
    assert runner.invoke(cli, ["synth", "--out", str(source), "--scale", "0.05"]).exit_code == 0
    result = runner.invoke(cli, ["import", str(source), "--registry",
                                 str(tmp_path / "s.duckdb"), "--memory-limit", "1KB"])
    assert result.exit_code == 1
    assert "ran out of memory" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "s.duckdb").exists()


@pytest.mark.parametrize("command", ["validate", "import"])
def test_a_problems_path_that_would_overwrite_a_registry_file_is_refused(command, tmp_path):
    runner = CliRunner()
    source, store = tmp_path / "registry", tmp_path / "store.duckdb"
    assert runner.invoke(cli, ["synth", "--out", str(source), "--scale", "0.05"]).exit_code == 0
    before = (source / "patients.csv").read_bytes()
    extra = ["--registry", str(store)] if command == "import" else []
    for bad, reason in [(source / "patients.csv", "a file of the registry"),
                        (tmp_path, "is a folder"), (source / "patients.csv" / "p.csv", "cannot")]:
        result = runner.invoke(cli, [command, str(source), *extra, "--problems", str(bad)])
        assert result.exit_code == 2 and reason in result.output, result.output
    assert (source / "patients.csv").read_bytes() == before
    assert not store.exists()  # refused before any work


@pytest.mark.parametrize("command", ["validate", "import"])
def test_a_problems_path_naming_a_store_or_another_file_is_refused(command, tmp_path):
    """Only an earlier problems CSV (or an empty file) is replaced: a store given as --problems
    by mistake, or any other file, is left as it was."""
    runner = CliRunner()
    source, store = tmp_path / "registry", tmp_path / "store.duckdb"
    assert runner.invoke(cli, ["synth", "--out", str(source), "--scale", "0.05"]).exit_code == 0
    other = tmp_path / "other.duckdb"
    assert runner.invoke(cli, ["import", str(source), "--registry", str(other)]).exit_code == 0
    notes = tmp_path / "notes.csv"
    notes.write_text("a,b\n1,2\n")
    extra = ["--registry", str(store)] if command == "import" else []
    for bad in (other, notes):
        before = bad.read_bytes()
        result = runner.invoke(cli, [command, str(source), *extra, "--problems", str(bad)])
        assert result.exit_code == 2, result.output
        assert "is not a problems file written by nenstudy" in result.output
        assert bad.read_bytes() == before
    assert not store.exists()
    # an earlier problems file is replaced
    (source / "patients.csv").write_text("patient_id,sex,birth_date\nP1,X,2000-01-01\n")
    earlier = tmp_path / "problems.csv"
    for _ in range(2):  # the second replaces the first (which starts with a byte-order mark)
        result = runner.invoke(cli, [command, str(source), *extra, "--problems", str(earlier)])
        assert result.exit_code == 1, result.output
        assert earlier.read_text(encoding="utf-8-sig").startswith("severity,file,row,column,value,rule,message")


def test_a_store_path_that_cannot_be_made_is_a_message_not_a_traceback(tmp_path):
    runner = CliRunner()
    source = tmp_path / "registry"
    assert runner.invoke(cli, ["synth", "--out", str(source), "--scale", "0.05"]).exit_code == 0
    (tmp_path / "a_file").write_text("x")
    result = runner.invoke(cli, ["import", str(source), "--registry",
                                 str(tmp_path / "a_file" / "store.duckdb")])
    assert result.exit_code == 1 and "Nothing imported" in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("command", ["synth", "demo"])
def test_a_folder_holding_other_files_is_not_written_into_without_force(command, tmp_path,
                                                                        monkeypatch):
    """A real registry (or anything else) in the --out folder is never overwritten unasked."""
    folder = tmp_path / "out"
    target = folder / "registry" if command == "demo" else folder
    target.mkdir(parents=True)
    real = target / "patients.csv"
    real.write_text("REAL\n")
    if command == "demo":  # the refusal comes first: nothing of the demo needs to run
        monkeypatch.setattr("nenstudy.synth.generator.write_registry",
                            lambda *a, **k: pytest.fail("written"))
    result = CliRunner().invoke(cli, [command, "--out", str(folder)])
    assert result.exit_code == 2
    assert "has no record of writing" in result.output and "--force" in result.output
    assert real.read_text() == "REAL\n"


def test_synth_writes_again_into_its_own_folder_and_with_force_into_any(tmp_path):
    runner = CliRunner()
    folder = tmp_path / "reg"
    assert runner.invoke(cli, ["synth", "--out", str(folder), "--scale", "0.05"]).exit_code == 0
    again = runner.invoke(cli, ["synth", "--out", str(folder), "--scale", "0.05", "--seed", "3"])
    assert again.exit_code == 0, again.output
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    forced = runner.invoke(cli, ["synth", "--out", str(other), "--scale", "0.05", "--force"])
    assert forced.exit_code == 0, forced.output
    assert (other / "notes.txt").read_text() == "mine" and (other / "patients.csv").exists()


@pytest.mark.parametrize("command", ["synth", "demo"])
def test_a_negative_seed_is_a_usage_error(command, tmp_path):
    result = CliRunner().invoke(cli, [command, "--out", str(tmp_path / "x"), "--seed", "-5"])
    assert result.exit_code == 2 and "--seed" in result.output
    assert not (tmp_path / "x").exists()


def test_a_long_listing_counts_each_kind_and_shows_the_first_of_every_kind(tmp_path):
    """Thousands of problems in one file hide no other file: counts by kind come first, and
    the listing holds problems of every kind; the report goes to standard output, unwrapped."""
    from nenstudy.synth.generator import write_registry

    source = tmp_path / "registry"
    write_registry(source, scale=0.5)
    for name, column in (("diagnoses", "mdt_date"), ("follow_up", "last_contact_date")):
        path = source / f"{name}.csv"
        lines = path.read_text().splitlines()
        at = lines[0].split(",").index(column)
        for i in range(1, len(lines)):
            cells = lines[i].split(",")
            y, m, d = cells[at].split("-")
            cells[at] = f"{d}/{m}/{y}"
            lines[i] = ",".join(cells)
        path.write_text("\n".join(lines) + "\n")
    problems = tmp_path / "p.csv"
    result = CliRunner().invoke(
        cli, ["validate", str(source), "--problems", str(problems)])
    assert result.exit_code == 1
    out = result.stdout
    assert "Problems by kind (2 kinds):" in out
    listed = [line for line in out.splitlines() if line.startswith("  ERROR ")]
    assert len(listed) == 200
    assert sum("follow_up.csv row" in line for line in listed) == 100
    assert sum("diagnoses.csv row" in line for line in listed) == 100
    assert f"more; all are in {problems}" in out
    assert all("(type.date)" in line for line in listed)  # one line each, never wrapped


def test_run_on_a_failing_registry_folder_writes_its_problems(tmp_path):
    from nenstudy.paths import default_study
    from nenstudy.synth.generator import write_registry

    source = tmp_path / "registry"
    write_registry(source, scale=0.05)
    path = source / "patients.csv"
    path.write_text(path.read_text().replace(",F,", ",X,", 1))
    problems = tmp_path / "problems.csv"
    result = CliRunner().invoke(cli, ["run", "--registry", str(source), "--study",
                                      str(default_study()), "--out", str(tmp_path / "out"),
                                      "--problems", str(problems)])
    assert result.exit_code == 1
    assert "nothing was run" in result.output
    assert "allowed" in problems.read_text()


def test_demo_runs_twice_into_its_folder_and_synth_into_its_registry(tmp_path):
    out = tmp_path / "demo-out"
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(cli, ["demo", "--out", str(out)])
        assert result.exit_code == 0, result.output
    again = runner.invoke(cli, ["synth", "--out", str(out / "registry"), "--seed", "5"])
    assert again.exit_code == 0, again.output
    (out / "my-notes.txt").write_text("mine")
    refused = runner.invoke(cli, ["demo", "--out", str(out)])
    assert refused.exit_code == 2 and "has no record of writing" in refused.output


def test_a_problems_file_is_not_created_before_there_is_anything_to_write(tmp_path):
    """validate writes it when done (so it is not read as a stray file of the registry it sits
    in); run, whose registry passed, leaves none; run on a store refuses the option."""
    from nenstudy.paths import default_study
    from nenstudy.synth.generator import write_registry

    source = tmp_path / "registry"
    write_registry(source, scale=0.05)
    inside = source / "problems.csv"
    result = CliRunner().invoke(cli, ["validate", str(source), "--problems", str(inside)])
    assert result.exit_code == 0, result.output
    assert "file.unexpected" not in inside.read_text()
    inside.unlink()
    kept = tmp_path / "run-problems.csv"
    result = CliRunner().invoke(cli, ["run", "--registry", str(source), "--study",
                                      str(default_study()), "--out", str(tmp_path / "out"),
                                      "--problems", str(kept)])
    assert result.exit_code == 0, result.output
    assert not kept.exists()
    store = tmp_path / "store.duckdb"
    assert CliRunner().invoke(cli, ["import", str(source), "--registry", str(store)]).exit_code == 0
    refused = CliRunner().invoke(cli, ["run", "--registry", str(store), "--study",
                                       str(default_study()), "--out", str(tmp_path / "o2"),
                                       "--problems", str(kept)])
    assert refused.exit_code == 2 and "--problems" in refused.output


def test_an_interrupted_synth_leaves_a_folder_it_may_write_again(tmp_path, monkeypatch):
    """What a run wrote before Ctrl-C is recorded: the next run needs no --force."""
    out = tmp_path / "reg"

    def interrupted(folder, **kwargs):
        (folder / "patients.csv").write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr("nenstudy.synth.generator.write_registry", interrupted)
    first = CliRunner().invoke(cli, ["synth", "--out", str(out)])
    assert first.exit_code != 0
    monkeypatch.undo()
    again = CliRunner().invoke(cli, ["synth", "--out", str(out), "--scale", "0.05"])
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize("scale", ["0", "-1", "nan", "inf", "-inf"])
def test_synth_refuses_a_scale_that_is_not_a_positive_finite_number(scale, tmp_path):
    out = tmp_path / "registry"
    result = CliRunner().invoke(cli, ["synth", "--out", str(out), "--scale", scale])
    assert result.exit_code == 2 and "finite number > 0" in result.output, result.output
    assert not out.exists()  # refused before the folder is made


def test_run_guards_its_output_folder_and_refuses_a_file_that_is_not_a_store(tmp_path):
    """run, like demo and synth, never writes over files it did not write (unless --force),
    and says in one line, with no traceback, that a --registry file is not a store."""
    import duckdb

    from nenstudy.paths import default_study
    from nenstudy.synth.generator import write_registry

    runner = CliRunner()
    source, store = tmp_path / "registry", tmp_path / "store.duckdb"
    write_registry(source, scale=0.05)
    assert runner.invoke(cli, ["import", str(source), "--registry", str(store)]).exit_code == 0
    study = str(default_study())
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("my notes")
    refused = runner.invoke(cli, ["run", "--registry", str(store), "--study", study,
                                  "--out", str(out)])
    assert refused.exit_code == 2 and "has no record of writing" in refused.output
    assert (out / "results.json").read_text() == "my notes"
    forced = runner.invoke(cli, ["run", "--registry", str(store), "--study", study,
                                 "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    again = runner.invoke(cli, ["run", "--registry", str(store), "--study", study,
                                "--out", str(out)])
    assert again.exit_code == 0, again.output  # its own folder: no --force needed
    fake, empty = tmp_path / "fake.duckdb", tmp_path / "empty.duckdb"
    fake.write_text("hello")
    duckdb.connect(str(empty)).close()
    for bad, why in ((fake, "not a DuckDB database"), (empty, "table 'patients' is missing"),
                     (tmp_path / "registry" / "patients.csv", "not a DuckDB database")):
        result = runner.invoke(cli, ["run", "--registry", str(bad), "--study", study,
                                     "--out", str(tmp_path / "o2")])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and "--registry" in result.output
        assert why in " ".join(result.output.split()), result.output
        assert not (tmp_path / "o2").exists()


def test_a_study_definition_error_keeps_its_bracketed_section_names(tmp_path):
    """[analysis] is a TOML section in the message, not Rich markup to be swallowed."""
    from nenstudy.paths import default_study
    from nenstudy.synth.generator import write_registry

    source, store = tmp_path / "registry", tmp_path / "store.duckdb"
    write_registry(source, scale=0.05)
    assert CliRunner().invoke(cli, ["import", str(source), "--registry", str(store)]).exit_code == 0
    text = default_study().read_text()
    assert "conf_type" in text
    study = tmp_path / "study.toml"
    study.write_text(text.replace("conf_type", "conf_typ", 1))
    result = CliRunner().invoke(cli, ["run", "--registry", str(store), "--study", str(study),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "unknown key in [analysis]" in result.output, result.output


def test_a_run_on_a_synthetic_registry_says_so_and_gives_its_seed(tmp_path):
    """synth records its seed with the digest of the data written; an import of those data
    unchanged keeps it, and a run's provenance (and report) says the registry is synthetic.
    Changed data are no longer the synthetic registry."""
    import json

    import duckdb

    from nenstudy.paths import default_study

    runner = CliRunner()
    source, store = tmp_path / "registry", tmp_path / "store.duckdb"
    assert runner.invoke(cli, ["synth", "--out", str(source), "--scale", "0.05",
                               "--seed", "7"]).exit_code == 0
    assert runner.invoke(cli, ["import", str(source), "--registry", str(store)]).exit_code == 0
    for registry, out in ((store, "o1"), (source, "o2")):
        result = runner.invoke(cli, ["run", "--registry", str(registry), "--study",
                                     str(default_study()), "--out", str(tmp_path / out)])
        assert result.exit_code == 0, result.output
        provenance = json.loads((tmp_path / out / "results.json").read_text())["provenance"]
        assert provenance["seed"] == 7 and provenance["synthetic"] is True
        assert "synthetic registry" in (tmp_path / out / "report.html").read_text()
    # one value changed: the data are no longer those simulated
    path = source / "patients.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace(",F,", ",M,") if ",F," in lines[1] else lines[1].replace(",M,", ",F,")
    path.write_text("".join(lines))
    changed = tmp_path / "changed.duckdb"
    assert runner.invoke(cli, ["import", str(source), "--registry", str(changed)]).exit_code == 0
    with duckdb.connect(str(changed), read_only=True) as con:
        keys = {k for (k,) in con.execute("SELECT key FROM _meta").fetchall()}
    assert "synthetic_seed" not in keys and "source_digest" in keys


def test_a_store_that_cannot_be_written_in_full_is_said_so_not_blamed_on_the_csv(tmp_path):
    """A file size limit (as a full disk) while DuckDB writes: one message naming the
    system's reason, no "the CSV file could not be read" per file, no traceback."""
    import resource
    import signal
    import subprocess

    source, store = tmp_path / "registry", tmp_path / "store.duckdb"
    assert CliRunner().invoke(cli, ["synth", "--out", str(source), "--scale", "0.2"]).exit_code == 0

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write beyond the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    done = subprocess.run([sys.executable, "-m", "nenstudy", "import", str(source), "--registry",
                           str(store)], capture_output=True, text=True, preexec_fn=limited,
                          timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "Traceback" not in out and "could not be read" not in out
    assert "File too large" in out and "Nothing imported" in out
    assert not store.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_path_that_is_not_utf8_text_is_a_usage_error(tmp_path):
    source = tmp_path / "registry"
    assert CliRunner().invoke(cli, ["synth", "--out", str(source), "--scale", "0.05"]).exit_code == 0
    bad = tmp_path / "st\udcff.duckdb"
    result = CliRunner().invoke(cli, ["import", str(source), "--registry", str(bad)])
    assert result.exit_code == 2 and "not UTF-8 text" in result.output, result.output


def test_paths_and_labels_with_brackets_are_printed_as_written(tmp_path):
    """Rich markup never eats user text: a folder named s[v2], a step label 'age [years]'."""
    out = tmp_path / "s[v2]"
    result = CliRunner().invoke(cli, ["synth", "--out", str(out), "--scale", "0.05"])
    assert result.exit_code == 0 and f"Written to {out} in" in " ".join(result.output.split())
    from nenstudy.cli import _print_headline

    import io
    from contextlib import redirect_stdout

    buffer = io.StringIO()
    with redirect_stdout(buffer):
        _print_headline({"attrition": [{"n": 10, "label": "age [years] >= 18"}]}, out)
    assert "age [years] >= 18" in buffer.getvalue() and "s[v2]" in buffer.getvalue()


def test_run_warns_of_a_step_that_leaves_no_patients_and_of_patients_left_out(tmp_path):
    """A condition no diagnosis meets leaves nobody: said, not a silent run with "not
    reached"; OS from first-line start leaves the untreated out: said too."""
    from nenstudy.paths import default_study

    source, store = tmp_path / "registry", tmp_path / "store.duckdb"
    runner = CliRunner()
    assert runner.invoke(cli, ["synth", "--out", str(source), "--scale", "0.2"]).exit_code == 0
    assert runner.invoke(cli, ["import", str(source), "--registry", str(store)]).exit_code == 0
    text = default_study().read_text()
    empty = tmp_path / "empty.toml"
    empty.write_text(text.replace("who_category = 'NEC'", "who_category = 'NEC' AND ki67_pct > 100", 1))
    result = runner.invoke(cli, ["run", "--registry", str(store), "--study", str(empty),
                                 "--out", str(tmp_path / "o1")])
    out = " ".join(result.output.split())
    assert result.exit_code == 0 and "Traceback" not in out, result.output
    assert "left no patients" in out and "no patients, n=0" in out, result.output
    assert (tmp_path / "o1" / "report.html").exists()
    late = tmp_path / "late.toml"
    late.write_text(text.replace('origin = "diagnosis"', 'origin = "first_line_start"', 1))
    result = runner.invoke(cli, ["run", "--registry", str(store), "--study", str(late),
                                 "--out", str(tmp_path / "o2")])
    assert result.exit_code == 0, result.output
    assert "left out of the OS analyses" in " ".join(result.output.split())


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_a_signal_after_the_store_is_replaced_says_the_new_registry_is_in_place(
        signal_name, tmp_path, monkeypatch):
    """Ctrl-C or SIGTERM while the summary is printed: the import is done, and is said to be."""
    from nenstudy import cli as cli_module
    from nenstudy.synth.generator import write_registry

    source, store = tmp_path / "registry", tmp_path / "store.duckdb"
    write_registry(source, seed=3, scale=0.05)

    def stopped(db_path):
        if signal_name == "SIGINT":
            raise KeyboardInterrupt
        cli_module._terminate(15, None)

    monkeypatch.setattr("nenstudy.registry.store.summarize", stopped)
    result = CliRunner().invoke(cli, ["import", str(source), "--registry", str(store)])
    assert result.exit_code == (130 if signal_name == "SIGINT" else 143), result.output
    assert f"Interrupted after the import: {store} holds the new registry." in result.output
    assert "Aborted" not in result.output
    assert store.exists()
