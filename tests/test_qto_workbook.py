"""The quantity workbook for estimators: element name, type, storey, material, classification and system next to
every quantity; a summary sheet per storey and one for all storeys; units in the headers; no internal columns."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from cim.cli import app
from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.qto.run import export_xlsx, takeoff
from cim.qto.workbook import sheet_title
from cim.query import run_query
from cim.store import Store
from tests.handover_model import PUMP, build

CRS = "EPSG:4549"


def sheets_of(path: Path) -> dict[str, list[dict]]:
    book = load_workbook(path, read_only=True)
    out = {}
    for ws in book.worksheets:
        header, *rows = ws.iter_rows(values_only=True)
        out[ws.title] = [dict(zip(header, r, strict=True)) for r in rows]
        out[ws.title + "#header"] = list(header)
    return out


@pytest.fixture(scope="module")
def workbook(tmp_path_factory) -> tuple[Store, Path, dict]:
    """The two-storey handover model ingested, taken off and exported once."""
    tmp = tmp_path_factory.mktemp("qto_book")
    store = Store(tmp / "store", CRS)
    ingest_file(store, default_config(CRS), build(tmp / "handover.ifc"))
    takeoff(store, "handover")
    path = export_xlsx(store, "handover", tmp / "takeoff.xlsx")
    return store, path, sheets_of(path)


def test_every_quantity_names_its_element_type_storey_material_classification_and_system(workbook):
    store, _, sheets = workbook
    rows = sheets["Quantities"]
    assert len(rows) == run_query(store, "SELECT count(*) FROM quantities WHERE model_id = 'handover'").fetchone()[0]
    pump = next(r for r in rows if r["Element"] == PUMP)
    assert (pump["IFC class"], pump["Type"], pump["Storey"], pump["Material"], pump["Classification"],
            pump["System"]) == ("IfcPump", "End-suction pump 5 kW", "Ground floor", "Cast iron",
                                "Uniclass 2015:Pr_65_53_68", "Chilled water")
    walls = {(r["Element"], r["Storey"], r["Material"]) for r in rows if r["IFC class"] == "IfcWall"}
    assert walls == {("Ground wall", "Ground floor", "Concrete C30"), ("Upper wall", "Level 1", "Brick")}


def test_units_are_in_the_headers_and_internal_columns_are_left_out(workbook):
    sheets = workbook[2]
    header = sheets["Quantities#header"]
    assert {"Length [m]", "Area [m2]", "Volume [m3]", "Count [pcs]"} <= set(header)
    assert not {"geometry_hash", "model_id", "version", "unit", "value"} & {h.lower() for h in header}
    volume = next(r for r in sheets["Quantities"] if r["Element"] == "Ground wall" and r["Quantity"] == "NetVolume")
    assert volume["Volume [m3]"] == pytest.approx(6.0 * 0.2 * 3.0, rel=1e-3)
    assert volume["Length [m]"] is None and volume["Area [m2]"] is None
    for title in ("All storeys", "Ground floor", "Level 1"):
        quantity_headers = [h for h in sheets[title + "#header"] if h not in (
            "IFC class", "Type", "Material", "Classification", "System", "Elements", "Unreliable values")]
        assert quantity_headers and all(h.endswith(("[m]", "[m2]", "[m3]", "[pcs]")) for h in quantity_headers)


def test_there_is_a_summary_sheet_per_storey_and_one_for_all_storeys(workbook):
    sheets = workbook[2]
    titles = [t for t in sheets if not t.endswith("#header")]
    assert titles[:4] == ["Quantities", "All storeys", "Ground floor", "Level 1"] and titles[-1] == "Disagreements"

    def wall_volume(title: str) -> float:
        return sum(r["NetVolume [m3]"] for r in sheets[title] if r["IFC class"] == "IfcWall")

    assert wall_volume("Ground floor") == pytest.approx(3.6, rel=1e-3)
    assert wall_volume("All storeys") == pytest.approx(wall_volume("Ground floor") + wall_volume("Level 1"))
    brick = next(r for r in sheets["Level 1"] if r["IFC class"] == "IfcWall")
    assert (brick["Material"], brick["Elements"]) == ("Brick", 1)


def test_the_sample_school_has_a_summary_sheet_per_storey_matching_the_stored_summary(sample_city, tmp_path):
    store = sample_city[0]
    takeoff(store, "binhai-school")
    sheets = sheets_of(export_xlsx(store, "binhai-school", tmp_path / "school.xlsx"))
    stored = dict(run_query(store, "SELECT key, sum(total) FROM quantity_summary WHERE model_id = 'binhai-school' "
                                   "AND group_by = 'storey' AND quantity = 'NetVolume' GROUP BY key").fetchall())
    assert set(stored) == {"L1", "L2", "L3"} and {"L1", "L2", "L3"} <= set(sheets)
    for storey, total in stored.items():
        assert sum(r.get("NetVolume [m3]") or 0 for r in sheets[storey]) == pytest.approx(total, rel=1e-6)
    assert all(r["Storey"] for r in sheets["Quantities"] if r["IFC class"] in ("IfcWall", "IfcBeam", "IfcColumn"))


def test_a_workbook_path_that_is_a_folder_is_refused_before_the_takeoff(workbook, tmp_path):
    store = workbook[0]
    result = CliRunner().invoke(app, ["qto", "handover", "--store", str(store.root), "--xlsx", str(tmp_path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]  # no takeoff table: it did not run
    assert len(lines) == 1 and "is a folder" in lines[0] and list(tmp_path.iterdir()) == []


def test_storey_names_become_valid_distinct_sheet_titles():
    taken = {"quantities"}
    assert sheet_title("L1: east/west [A]*?", taken) == "L1_ east_west _A___"
    assert sheet_title("Quantities", taken) == "Quantities~2"
    long = "Level " + "x" * 40
    first, second = sheet_title(long, taken), sheet_title(long, taken)
    assert len(first) == 31 and len(second) <= 31 and first != second
