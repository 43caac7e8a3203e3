from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from cim.cli import app
from cim.cobie.spec import problems, read_workbook, sheet_names
from cim.errors import CimError
from cim.query import run_query
from cim.store import Store
from cim.tunnel.cobie import chainage_label, export_cobie

ROOT = Path(__file__).resolve().parents[1]
TUNNEL = ROOT / "sample_models" / "tunnel" / "utility_tunnel.ifc"
MODEL = "tunnel-binhai"


@pytest.fixture(scope="module")
def exported(tunnel_store, tmp_path_factory) -> tuple[Store, dict[str, list[dict]], dict[str, list[str]]]:
    """The sample tunnel ingested, analysed and exported once: (store, sheet -> rows as dicts, headers)."""
    store = tunnel_store
    sheets, headers = read_workbook(export_cobie(store, MODEL, tmp_path_factory.mktemp("cobie") / "cobie.xlsx"))
    return store, sheets, headers


def test_the_tunnel_workbook_is_a_valid_cobie_2_4_workbook(exported):
    _, sheets, headers = exported
    assert list(sheets) == sheet_names() and problems(sheets, headers) == []


def test_the_tunnel_is_the_floor_and_every_space_and_zone_names_rows_that_exist(exported):
    _, sheets, _ = exported
    assert [(f["Name"], f["Category"], f["ExtObject"]) for f in sheets["Floor"]] == [
        ("Binhai Avenue Utility Tunnel", "Tunnel", "IfcFacility")]
    assert {s["FloorName"] for s in sheets["Space"]} == {"Binhai Avenue Utility Tunnel"}
    gas = next(z for z in sheets["Zone"] if z["Name"] == "Gas compartment")
    assert gas["Category"] == "Compartment" and gas["SpaceNames"].split(",") == [f"GAS-FC{i}" for i in range(1, 6)]


def test_the_design_rule_findings_are_issues_on_their_compartments(exported):
    store, sheets, _ = exported
    n, errors = run_query(store, "SELECT count(*), count(*) FILTER (WHERE severity = 'error') FROM tunnel_findings"
                          ).fetchone()
    issues = sheets["Issue"]
    assert len(issues) == n > 0 and sum(i["Risk"] == "High" for i in issues) == errors
    spaces = {s["Name"] for s in sheets["Space"]}
    assert all(i["RowName1"] in spaces for i in issues if i["SheetName1"] == "Space")
    assert all(i["Mitigation"].startswith("meet GB 50838-2015 clause") for i in issues)


def test_every_tunnel_asset_is_a_component_including_pipes_cables_and_untyped_equipment(exported):
    store, sheets, _ = exported
    components = sheets["Component"]
    n, untyped = run_query(store, "SELECT count(*), count(*) FILTER (WHERE type_name IS NULL) FROM tunnel_assets"
                           ).fetchone()
    assert len(components) == n and untyped > 0
    classes = {c["ExtObject"] for c in components}
    assert {"IfcPipeSegment", "IfcCableSegment"} <= classes
    assert len({c["Name"] for c in components}) == n and len({c["ExtIdentifier"] for c in components}) == n
    types = {t["Name"] for t in sheets["Type"]}
    assert {c["TypeName"] for c in components} == types
    assert sum(t["ComponentCount"] for t in sheets["Type"]) == n


def test_a_gas_pipe_component_carries_its_place_and_handover_values(exported):
    store, sheets, _ = exported
    gid, fire, tag, serial = run_query(store, "SELECT global_id, fire_compartment, tag, serial_number FROM "
                                              "tunnel_assets WHERE name = 'GAS DN300 segment K0+000'").fetchone()
    row = next(c for c in sheets["Component"] if c["ExtIdentifier"] == gid)
    assert row["Space"] == fire and row["TagNumber"] == (tag or "n/a") and row["SerialNumber"] == (serial or "n/a")
    assert (row["ChainageStart"], row["ChainageEnd"]) == pytest.approx((0.0, 50.0), abs=1e-6)
    assert row["Description"].startswith("gas pipe at K0+000.0–K0+050.0")


def test_spaces_are_the_compartments_and_fire_compartments_and_zones_group_them(exported):
    store, sheets, _ = exported
    comps, fires = run_query(store, "SELECT count(*) FILTER (WHERE kind = 'compartment'), "
                                    "count(*) FILTER (WHERE kind = 'fire_compartment') FROM tunnel_compartments"
                             ).fetchone()
    spaces = sheets["Space"]
    assert sum(s["Category"] == "Compartment" for s in spaces) == comps == 4
    assert sum(s["Category"] == "Fire compartment" for s in spaces) == fires
    assert len(sheets["Zone"]) == fires + comps
    assert {c["Space"] for c in sheets["Component"]} <= {s["Name"] for s in spaces}
    gas = next(s for s in spaces if s["Name"] == "Gas compartment")
    assert gas["CompartmentType"] == "gas" and gas["Length"] == pytest.approx(1000.0)


def test_systems_list_their_components_by_component_name(exported):
    _, sheets, _ = exported
    names = {c["Name"] for c in sheets["Component"]}
    systems = sheets["System"]
    assert systems and all(set(s["ComponentNames"].split(",")) <= names for s in systems)
    assert any(s["Category"] == "gas" for s in systems)


def test_exporting_a_model_without_tunnel_tables_says_to_run_the_tunnel_command(exported, tmp_path):
    with pytest.raises(CimError, match="cim tunnel"):
        export_cobie(exported[0], "no-such-model", tmp_path / "x.xlsx")


def test_chainage_labels_read_like_asset_team_stations():
    assert (chainage_label(1010.04), chainage_label(250.0), chainage_label(None)) == ("K1+010.0", "K0+250.0", "n/a")


def test_the_tunnel_command_writes_the_cobie_workbook_when_asked(exported, tmp_path):
    path = tmp_path / "handover.xlsx"
    result = CliRunner().invoke(app, ["tunnel", MODEL, str(TUNNEL), "--store", str(exported[0].root),
                                      "--cobie", str(path)])
    assert result.exit_code in (0, 1), result.output
    assert "COBie workbook" in result.output
    assert load_workbook(path, read_only=True).sheetnames == sheet_names()


def test_cim_cobie_of_an_analysed_tunnel_carries_the_register(exported, tmp_path):
    path = tmp_path / "cobie.xlsx"
    result = CliRunner().invoke(app, ["cobie", MODEL, "--xlsx", str(path), "--store", str(exported[0].root)])
    assert result.exit_code == 0, result.output
    sheets, headers = read_workbook(path)
    assert problems(sheets, headers) == [] and len(sheets["Component"]) == len(exported[1]["Component"])
    assert "ChainageStart" in headers["Component"]


def test_a_tunnel_cobie_path_that_is_a_folder_is_refused_before_the_analysis(exported, tmp_path):
    result = CliRunner().invoke(app, ["tunnel", MODEL, str(TUNNEL), "--store", str(exported[0].root),
                                      "--cobie", str(tmp_path)])
    assert result.exit_code == 2 and "is a folder" in result.output
