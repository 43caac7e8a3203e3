"""Every per-file failure, including inside commit and quarantine, becomes that file's quarantine row."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cim.config import default_config
from cim.ingest.run import Outcome, ingest_file, plan_file, prepare_job, quarantine, safe_commit, safe_plan
from cim.store import Store
from cim.text import MAX_MESSAGE_CHARS, table_text
from tests.models import add_wall, new_model, write

CITY = default_config("EPSG:4549")


@pytest.fixture
def model_file(tmp_path) -> Path:
    f, ctx = new_model()
    add_wall(f, ctx, name="W1")
    return write(f, tmp_path / "wall.ifc")


def _with_line(path: Path, line: bytes, out: Path) -> Path:
    data = path.read_bytes()
    i = data.index(b"ENDSEC;\nEND-ISO")
    out.write_bytes(data[:i] + line + data[i:])
    return out


class FullDiskStore(Store):
    """A store whose disk fills up while a model's meshes are written (after its elements)."""

    def _append(self, name, data):
        if name == "meshes":
            raise OSError(28, "No space left on device")
        super()._append(name, data)


def test_an_ifc_whose_syntax_error_holds_non_utf8_bytes_is_quarantined_with_the_bytes_shown(tmp_path, model_file):
    store = Store(tmp_path / "store", "EPSG:4549")
    bad = _with_line(model_file, b"#9999=IFCWALL(\xff\xfe);\n", tmp_path / "bad.ifc")
    outcome = ingest_file(store, CITY, bad)
    assert (outcome.action, outcome.stage) == ("quarantined", "parse")
    row = store.read("ingest_errors").to_pylist()[-1]
    assert row["source_path"] == str(bad) and "syntax error: token" in row["message"] and row["message"].isprintable()
    assert outcome.message == row["message"]


def test_a_file_whose_name_is_not_utf8_is_recorded_under_a_printable_name(tmp_path, model_file):
    # (ifcopenshell cannot open such a path; what matters here is that the refusal is recorded)
    store = Store(tmp_path / "store", "EPSG:4549")
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.ifc"))
    odd.write_bytes(model_file.read_bytes())
    outcome = ingest_file(store, CITY, odd)
    assert outcome.action == "quarantined" and outcome.path == f"{tmp_path}/caf\\xe9.ifc"
    assert store.read("ingest_errors")["source_path"].to_pylist() == [f"{tmp_path}/caf\\xe9.ifc"]
    assert "still quarantined" in ingest_file(store, CITY, odd).message  # the stored name is the one compared


def test_quarantine_returns_the_reason_even_when_the_store_cannot_take_the_row(tmp_path, model_file):
    store = Store(tmp_path / "store", "EPSG:4549")
    quarantine(store, str(model_file), ValueError("first"), None)  # the table exists...
    for log_file in (store.table_path("ingest_errors") / "_delta_log").glob("*.json"):
        log_file.write_text("not a delta log\n")  # ...and is then damaged on disk
    outcome = quarantine(store, str(model_file), ValueError("bad \udcff bytes"), "run-1", kind="ifc")
    assert (outcome.action, outcome.stage) == ("quarantined", "internal")
    assert r"unexpected ValueError: bad \xff bytes" in outcome.message
    assert "the error row could not be stored" in outcome.message


def test_a_model_whose_commit_fails_is_quarantined_rolled_back_and_tried_again_next_run(tmp_path, model_file):
    root = tmp_path / "store"
    full = FullDiskStore(root, "EPSG:4549")
    outcome = ingest_file(full, CITY, model_file, run_id="night-1")
    assert (outcome.action, outcome.stage) == ("quarantined", "commit")
    assert "No space left on device" in outcome.message
    healthy = Store(root, "EPSG:4549")
    assert not (root / "_cim" / "journal.json").exists()  # rolled back at once, not by the next writer
    assert healthy.read("elements").num_rows == 0  # the elements written before the failure are gone
    errors = healthy.read("ingest_errors").to_pylist()
    assert [(e["source_path"], e["stage"], e["run_id"]) for e in errors] == [(str(model_file), "commit", "night-1")]
    # the file was fine, the disk was not: the unchanged file is ingested by the next run
    assert ingest_file(healthy, CITY, model_file).action == "ingested"


def test_safe_commit_never_raises_and_returns_the_files_quarantine_outcome(tmp_path, model_file):
    full = FullDiskStore(tmp_path / "store", "EPSG:4549")
    job = plan_file(full, CITY, model_file)
    outcome = safe_commit(full, job, prepare_job(job), "night-1", 1.5)
    assert isinstance(outcome, Outcome)
    assert (outcome.path, outcome.kind, outcome.action, outcome.seconds) == (str(model_file), "ifc", "quarantined", 1.5)


def test_safe_plan_quarantines_a_file_that_cannot_be_planned(tmp_path):
    store = Store(tmp_path / "store", "EPSG:4549")
    outcome = safe_plan(store, CITY, tmp_path / "missing.ifc", "night-1")
    assert (outcome.action, outcome.stage) == ("quarantined", "open") and "file not found" in outcome.message
    assert store.read("ingest_errors")["run_id"].to_pylist() == ["night-1"]


def test_text_bound_for_a_table_shows_bad_bytes_and_control_characters_and_is_cut_when_huge():
    assert table_text("token \udcff\udcfe here") == r"token \xff\xfe here"
    assert table_text("colour \x1b[31mred\x1b[0m\tand\nnext") == "colour \\x1b[31mred\\x1b[0m\tand\nnext"
    assert table_text(None) is None
    cut = table_text("x" * (MAX_MESSAGE_CHARS + 10), MAX_MESSAGE_CHARS)
    assert cut.endswith("... [10 more characters]") and len(cut) < MAX_MESSAGE_CHARS + 40
