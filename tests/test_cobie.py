"""`cim cobie`: a COBie 2.4 workbook of any building model, checked against schemas/cobie_2_4.toml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cim.cli import app
from cim.cobie import export_cobie
from cim.cobie.spec import problems, read_workbook, sheet_names, spec
from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.query import run_query
from cim.store import Store
from tests.handover_model import EMAIL, PUMP, SENSOR, build

CRS = "EPSG:4549"
runner = CliRunner()


@pytest.fixture(scope="module")
def handover(tmp_path_factory) -> tuple[Store, Path, dict, dict]:
    """The two-storey handover model ingested and exported once: (store, folder, sheets, headers)."""
    tmp = tmp_path_factory.mktemp("cobie")
    store = Store(tmp / "store", CRS)
    ingest_file(store, default_config(CRS), build(tmp / "handover.ifc"))
    sheets, headers = read_workbook(export_cobie(store, "handover", tmp / "handover.xlsx"))
    return store, tmp, sheets, headers


def by_name(rows: list[dict], name: str, key: str = "Name") -> dict:
    return next(r for r in rows if r[key] == name)


def test_the_workbook_has_every_cobie_2_4_sheet_and_column_and_breaks_no_rule(handover):
    _, _, sheets, headers = handover
    assert list(sheets) == sheet_names() == ["Contact", "Facility", "Floor", "Space", "Zone", "Type", "Component",
                                             "System", "Assembly", "Connection", "Spare", "Resource", "Job", "Impact",
                                             "Document", "Attribute", "Coordinate", "Issue", "PickLists"]
    for name, rule in spec()["sheets"].items():
        assert headers[name][:len(rule["columns"])] == rule["columns"], name
    assert problems(sheets, headers) == []


def test_every_row_is_created_by_the_models_contact_on_an_iso_date(handover):
    sheets = handover[2]
    assert [c["Email"] for c in sheets["Contact"]] == [EMAIL]
    rows = [r for name, rows in sheets.items() if name != "PickLists" for r in rows]
    assert rows and {r["CreatedBy"] for r in rows} == {EMAIL}
    assert all(len(r["CreatedOn"]) == 19 and r["CreatedOn"][10] == "T" for r in rows)


def test_floors_spaces_and_zones_follow_the_storeys_and_spaces_of_the_model(handover):
    sheets = handover[2]
    assert [f["Name"] for f in sheets["Floor"]] == ["Ground floor", "Level 1"]  # by elevation
    assert by_name(sheets["Floor"], "Level 1")["Elevation"] == 3
    assert {(s["Name"], s["FloorName"]) for s in sheets["Space"]} == {("G-01", "Ground floor"), ("L1-01", "Level 1")}
    assert by_name(sheets["Zone"], "Teaching zone")["SpaceNames"] == "G-01,L1-01"


def test_components_name_their_type_space_and_system_and_carry_the_handover_values(handover):
    sheets = handover[2]
    assert {c["Name"] for c in sheets["Component"]} == {PUMP, SENSOR}  # walls are not COBie components
    pump, sensor = by_name(sheets["Component"], PUMP), by_name(sheets["Component"], SENSOR)
    assert (pump["TypeName"], pump["Space"], pump["SerialNumber"]) == ("End-suction pump 5 kW", "G-01", "SN-0001")
    assert (sensor["TypeName"], sensor["Space"]) == ("IfcSensor", "L1-01")  # untyped, found by its position
    pump_type = by_name(sheets["Type"], "End-suction pump 5 kW")
    assert (pump_type["Manufacturer"], pump_type["ModelNumber"], pump_type["ExtObject"], pump_type["Category"]) == (
        "Grundfos (demo)", "NB 5", "IfcPumpType", "Uniclass 2015:Pr_65_53_68")
    assert by_name(sheets["System"], "Chilled water")["ComponentNames"] == PUMP
    assert all(c["ExtSystem"] and c["ExtObject"].startswith("Ifc") and len(c["ExtIdentifier"]) == 22
               for c in sheets["Component"])


def test_a_document_attached_to_a_component_is_a_document_row_on_it(handover):
    (doc,) = handover[2]["Document"]
    assert (doc["Name"], doc["SheetName"], doc["RowName"], doc["Directory"], doc["File"], doc["ExtIdentifier"]) == (
        "Pump P-01 O&M manual", "Component", PUMP, "manuals", "pump_p01.pdf", "OM-P01")


def test_coordinates_are_the_components_bounds_in_the_city_crs(handover):
    store, _, sheets, _ = handover
    gid, xmin, ymin, zmin, xmax = run_query(store, f"SELECT global_id, xmin, ymin, zmin, xmax FROM elements "
                                                   f"WHERE name = '{PUMP}'").fetchone()
    corners = {r["Category"]: r for r in sheets["Coordinate"] if r["RowName"] == PUMP}
    low, high = corners["box-lowerleft"], corners["box-upperright"]
    assert (low["CoordinateXAxis"], low["CoordinateYAxis"], low["CoordinateZAxis"]) == pytest.approx(
        (xmin, ymin, zmin), abs=1e-3)
    assert high["CoordinateXAxis"] == pytest.approx(xmax, abs=1e-3) and xmin > 400_000  # easting, not model x
    assert low["ExtObject"] == CRS and low["ExtIdentifier"] == gid and low["SheetName"] == "Component"


@pytest.mark.parametrize("sheet, column, value, expected", [
    ("Component", "TypeName", "No such type", "TypeName 'No such type' names no Type row"),
    ("Component", "Space", "Nowhere", "Space 'Nowhere' names no Space row"),
    ("Space", "FloorName", "Roof", "FloorName 'Roof' names no Floor row"),
    ("Floor", "CreatedBy", "someone@else", "CreatedBy 'someone@else' names no Contact row"),
    ("Floor", "CreatedOn", "3 Dec 2026", "is not an ISO date-time"),
    ("Component", "ExtIdentifier", "", "ExtIdentifier is empty"),
    ("Floor", "Category", "Basement", "not in the FloorType pick list"),
])
def test_the_check_finds_a_broken_reference_an_empty_column_and_a_bad_date(handover, sheet, column, value,
                                                                            expected):
    sheets = {name: [dict(r) for r in rows] for name, rows in handover[2].items()}
    sheets[sheet][0][column] = value
    assert any(expected in p for p in problems(sheets)), problems(sheets)


def test_the_sample_school_exports_a_valid_workbook_with_its_doors_and_windows(sample_city, tmp_path):
    store = sample_city[0]
    sheets, headers = read_workbook(export_cobie(store, "binhai-school", tmp_path / "school.xlsx"))
    assert problems(sheets, headers) == []
    n_floors, n_spaces, n_items = run_query(store, "SELECT count(*) FILTER (WHERE ifc_class = 'IfcBuildingStorey'), "
                                                   "count(*) FILTER (WHERE ifc_class = 'IfcSpace'), count(*) FILTER "
                                                   "(WHERE ifc_class IN ('IfcDoor', 'IfcWindow')) FROM elements "
                                                   "WHERE model_id = 'binhai-school'").fetchone()
    assert len(sheets["Floor"]) == n_floors == 3
    assert len([s for s in sheets["Space"] if s["ExtObject"] == "IfcSpace"]) == n_spaces
    assert len(sheets["Component"]) == n_items > 0


def test_cim_cobie_writes_the_workbook(handover, tmp_path):
    store = handover[0]
    target = tmp_path / "out" / "handover.xlsx"
    result = runner.invoke(app, ["cobie", "handover", "--xlsx", str(target), "--store", str(store.root)])
    assert result.exit_code == 0, result.output
    assert "COBie workbook" in result.output
    assert problems(*read_workbook(target)) == []


def refused(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    return lines[0]


def test_an_unknown_model_is_refused_in_one_line_and_nothing_is_written(handover, tmp_path):
    target = tmp_path / "x.xlsx"
    line = refused(["cobie", "no-such-model", "--xlsx", str(target), "--store", str(handover[0].root)])
    assert "no model 'no-such-model'" in line and not target.exists()


def test_an_output_path_that_is_a_folder_is_refused(handover, tmp_path):
    line = refused(["cobie", "handover", "--xlsx", str(tmp_path), "--store", str(handover[0].root)])
    assert "is a folder" in line and list(tmp_path.iterdir()) == []


def test_a_model_whose_source_ifc_is_gone_is_refused_and_the_old_workbook_is_kept(handover, tmp_path):
    store, folder = handover[0], handover[1]
    moved = shutil.copy(folder / "handover.ifc", tmp_path / "gone.ifc")
    ingest_file(store, default_config(CRS), Path(moved))
    Path(moved).unlink()
    target = tmp_path / "old.xlsx"
    target.write_bytes(b"previous workbook")
    line = refused(["cobie", "gone", "--xlsx", str(target), "--store", str(store.root)])
    assert "gone.ifc" in line and "is not there" in line
    assert target.read_bytes() == b"previous workbook" and sorted(p.name for p in tmp_path.iterdir()) == ["old.xlsx"]


def test_the_ifc2x3_duplex_exports_a_valid_workbook_dated_by_its_owner_history(tmp_path):
    from cim.config import CityConfig
    from tests.conftest import fixture_path

    path = fixture_path("ifc2x3/Duplex_A_20110907.ifc")
    placement = {"eastings": 464_700.0, "northings": 2_865_900.0, "height": 5.0}
    city = CityConfig(path=tmp_path / "cim.toml", name="t", crs=CRS, models={path.name: {"placement": placement}})
    store = Store(tmp_path / "store", CRS)
    assert ingest_file(store, city, path, workers=1).action == "ingested"

    sheets, headers = read_workbook(export_cobie(store, path.stem, tmp_path / "duplex.xlsx"))

    assert problems(sheets, headers) == []
    assert len(sheets["Floor"]) == 4 and sum(s["ExtObject"] == "IfcSpace" for s in sheets["Space"]) == 21
    classes = [c["ExtObject"] for c in sheets["Component"]]
    assert (classes.count("IfcDoor"), classes.count("IfcWindow")) == (14, 24)
    assert {r["CreatedOn"] for r in sheets["Floor"]} == {"2011-09-07T12:28:29"}
    assert sheets["Contact"][0]["ExtObject"] == "IfcPersonAndOrganization"
