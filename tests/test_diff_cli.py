"""`cim diff`: reports written, model_changes stored, BCF on request, and one-line refusals with exit 2."""

from __future__ import annotations

import json
import zipfile

import pytest
from typer.testing import CliRunner

from cim.cli import app
from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.store import Store
from tests.models import add_box, new_model, write
from tests.test_diff import build, ingest_two

runner = CliRunner()


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("diffcli")
    ingest_two(tmp, clash=False)
    return tmp / "store"


def _error_line(result) -> str:
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_the_cli_writes_report_html_json_and_a_plan_and_stores_model_changes(store_dir, tmp_path):
    out = tmp_path / "report"
    result = runner.invoke(app, ["diff", "m", "--store", str(store_dir), "--out", str(out),
                                 "--bcf", str(tmp_path / "changes.bcfzip")])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "report.json").read_text())
    assert (data["from_version"], data["to_version"]) == (1, 2)
    assert data["counts"]["moved"] >= 1 and data["counts"]["added"] == 2
    html = (out / "report.html").read_text()
    assert "<svg" in html and "Moved column" in html and "Quantity deltas" in html
    assert (out / "plan.svg").read_text().startswith("<svg")
    rows = Store(store_dir, create=False).read("model_changes").to_pylist()
    assert len(rows) == len(data["changes"]) and {r["to_version"] for r in rows} == {2}
    with zipfile.ZipFile(tmp_path / "changes.bcfzip") as bcf:
        markups = [n for n in bcf.namelist() if n.endswith("markup.bcf")]
    assert len(markups) == len({r["global_id"] for r in data["changes"] if r["x"] is not None})


def test_a_version_that_does_not_exist_exits_2_with_one_line(store_dir):
    result = runner.invoke(app, ["diff", "m", "--store", str(store_dir), "--from", "9", "--no-record"])
    assert result.exit_code == 2
    assert "no version 9 (--from); its versions: 1, 2" in _error_line(result)


def test_a_model_with_one_version_exits_2_with_one_line_saying_what_to_run(tmp_path):
    store = Store(tmp_path / "store", "EPSG:4549")
    ingest_file(store, default_config("EPSG:4549", "plan"), build(tmp_path / "m.ifc", 1))
    result = runner.invoke(app, ["diff", "m", "--store", str(tmp_path / "store")])
    assert result.exit_code == 2
    line = _error_line(result)
    assert "only version 1: nothing to diff" in line and "cim ingest" in line
    assert not Store(tmp_path / "store", create=False).has_table("model_changes") or \
        Store(tmp_path / "store", create=False).read("model_changes").num_rows == 0


def test_two_files_of_different_schemas_exit_2_with_one_line(tmp_path):
    files = []
    for schema in ("IFC2X3", "IFC4"):
        f, ctx = new_model(schema)
        add_box(f, ctx, "IfcColumn", name="Column", size=(0.4, 0.4, 3.0))
        files.append(write(f, tmp_path / f"{schema}.ifc"))
    result = runner.invoke(app, ["diff", str(files[0]), str(files[1]), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    line = _error_line(result)
    assert "IFC4 but IFC2X3.ifc is IFC2X3" in line and "export both as" in line
    assert not (tmp_path / "out").exists()


def test_two_files_are_diffed_in_a_scratch_store(tmp_path):
    old, new = build(tmp_path / "old.ifc", 1), build(tmp_path / "new.ifc", 2)
    out = tmp_path / "out"
    result = runner.invoke(app, ["diff", str(old), str(new), "--out", str(out), "--crs", "EPSG:4549"])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "report.json").read_text())
    assert {r["name"] for r in data["changes"] if r["change"] == "moved"} >= {"Moved column"}
    assert {r["name"] for r in data["changes"] if r["change"] == "removed"} == {"Removed beam"}
    assert any(d["key"] == "IfcWall" and d["quantity"] == "Length" for d in data["quantity_deltas"])


def test_one_ifc_file_alone_exits_2_asking_for_the_second(tmp_path):
    result = runner.invoke(app, ["diff", str(tmp_path / "a.ifc")])
    assert result.exit_code == 2 and "two-file mode needs the older and the newer file" in _error_line(result)


def test_the_default_report_folder_is_one_plain_folder_name_in_two_file_mode():
    from cim.diff import Diff
    from cim.diff.report import default_folder

    assert default_folder(Diff("old.ifc -> new.ifc", 1, 2)).as_posix() == "diff/old.ifc_-_new.ifc-v1-v2"
    assert default_folder(Diff("block-a", 3, 4)).as_posix() == "diff/block-a-v3-v4"


def test_two_files_without_georeferencing_are_placed_alike_and_compared(tmp_path):
    files = []
    for version, x in ((1, 0.0), (2, 1.5)):
        f, ctx = new_model(georef=False)
        add_box(f, ctx, "IfcColumn", name="Column", corner=(x, 0.0, 0.0), size=(0.4, 0.4, 3.0))
        for entity in f.by_type("IfcRoot"):
            entity.GlobalId = f"0{entity.is_a()[3:]}{'x' * 22}"[:22]
        files.append(write(f, tmp_path / f"v{version}.ifc"))
    result = runner.invoke(app, ["diff", str(files[0]), str(files[1]), "--out", str(tmp_path / "out"),
                                 "--crs", "EPSG:4549"])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    moved = [r for r in data["changes"] if r["change"] == "moved"]
    assert [r["name"] for r in moved] == ["Column"] and abs(moved[0]["moved_m"] - 1.5) < 1e-3
    assert any("not georeferenced" in n for n in data["notes"])
