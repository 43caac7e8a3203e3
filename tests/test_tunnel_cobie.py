from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from cim.cli import app
from cim.errors import CimError
from cim.query import run_query
from cim.store import Store
from cim.tunnel.cobie import chainage_label, export_cobie

ROOT = Path(__file__).resolve().parents[1]
TUNNEL = ROOT / "sample_models" / "tunnel" / "utility_tunnel.ifc"
MODEL = "tunnel-binhai"


@pytest.fixture(scope="module")
def exported(tunnel_store, tmp_path_factory) -> tuple[Store, dict[str, list[dict]]]:
    """The sample tunnel ingested, analysed and exported once: (store, sheet -> rows as dicts)."""
    store = tunnel_store
    path = export_cobie(store, MODEL, tmp_path_factory.mktemp("cobie") / "cobie.xlsx")
    book = load_workbook(path, read_only=True)
    sheets = {}
    for ws in book.worksheets:
        header, *rows = ws.iter_rows(values_only=True)
        sheets[ws.title] = [dict(zip(header, r, strict=True)) for r in rows]
    return store, sheets


def test_the_workbook_has_the_cobie_sheets_in_order(exported):
    assert list(exported[1]) == ["Component", "Type", "System", "Space", "Zone"]


def test_every_tunnel_asset_is_a_component_including_pipes_cables_and_untyped_equipment(exported):
    store, sheets = exported
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
    store, sheets = exported
    gid, fire, tag, serial = run_query(store, "SELECT global_id, fire_compartment, tag, serial_number FROM "
                                              "tunnel_assets WHERE name = 'GAS DN300 segment K0+000'").fetchone()
    row = next(c for c in sheets["Component"] if c["ExtIdentifier"] == gid)
    assert row["Space"] == fire and row["TagNumber"] == (tag or "n/a") and row["SerialNumber"] == (serial or "n/a")
    assert (row["ChainageStart"], row["ChainageEnd"]) == pytest.approx((0.0, 50.0), abs=1e-6)
    assert row["Description"].startswith("gas pipe at K0+000.0–K0+050.0")


def test_spaces_are_the_compartments_and_fire_compartments_and_zones_the_fire_compartments(exported):
    store, sheets = exported
    comps, fires = run_query(store, "SELECT count(*) FILTER (WHERE kind = 'compartment'), "
                                    "count(*) FILTER (WHERE kind = 'fire_compartment') FROM tunnel_compartments"
                             ).fetchone()
    spaces = sheets["Space"]
    assert sum(s["Category"] == "Compartment" for s in spaces) == comps == 4
    assert sum(s["Category"] == "Fire compartment" for s in spaces) == fires == len(sheets["Zone"])
    assert {c["Space"] for c in sheets["Component"]} <= {s["Name"] for s in spaces}
    gas = next(s for s in spaces if s["Name"] == "Gas compartment")
    assert gas["CompartmentType"] == "gas" and gas["Length"] == pytest.approx(1000.0)


def test_systems_list_their_components_by_component_name(exported):
    _, sheets = exported
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
    assert load_workbook(path, read_only=True).sheetnames == ["Component", "Type", "System", "Space", "Zone"]
