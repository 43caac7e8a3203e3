"""`cim query` through the real CLI: every --format with and without --output, and one-line answers to
a store, table or column that is not there."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import shapely
from typer.testing import CliRunner

from cim.cli import app

runner = CliRunner()
SQL = "SELECT parcel_id, geometry FROM parcels ORDER BY parcel_id"


def _query(store, *args: str):
    return runner.invoke(app, ["query", SQL, "--store", str(store.root), *args])


def _rows(fmt: str, payload: bytes) -> list[tuple[str, str]]:
    """(parcel_id, geometry as WKT) rows from a csv, json or parquet result."""
    if fmt == "csv":
        return [(r["parcel_id"], r["geometry"]) for r in csv.DictReader(io.StringIO(payload.decode()))]
    if fmt == "json":
        return [(r["parcel_id"], r["geometry"]) for r in json.loads(payload)]
    table = pq.read_table(io.BytesIO(payload))
    return [(r["parcel_id"], shapely.from_wkb(r["geometry"]).wkt) for r in table.to_pylist()]


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_every_file_format_gives_the_same_rows_on_stdout_and_in_the_output_file(city_store, tmp_path, fmt):
    target = tmp_path / f"result.{fmt}"
    to_file = _query(city_store, "--format", fmt, "--output", str(target))
    to_stdout = _query(city_store, "--format", fmt)

    assert to_file.exit_code == 0, to_file.output
    assert to_stdout.exit_code == 0, to_stdout.output
    assert to_file.stdout == ""
    from_file, from_stdout = _rows(fmt, target.read_bytes()), _rows(fmt, to_stdout.stdout_bytes)
    assert from_file == from_stdout
    assert [pid for pid, _ in from_file] == ["BH-01", "BH-02"]
    assert shapely.from_wkt(from_file[0][1]).equals(shapely.box(464_890, 2_865_790, 464_920, 2_865_820))


def test_the_table_format_prints_the_rows_without_a_leading_blank_line(city_store):
    result = _query(city_store)

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].strip()
    assert "BH-01" in result.stdout and "POLYGON" in result.stdout


def test_the_table_format_with_an_output_file_is_refused_in_one_line_and_writes_nothing(city_store, tmp_path):
    target = tmp_path / "result.txt"
    result = _query(city_store, "--output", str(target))

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "--output needs --format csv, json or parquet" in result.stderr
    assert not target.exists()


def test_parquet_to_a_terminal_is_refused_in_one_line_that_says_to_pass_output(city_store, monkeypatch):
    import cim.query_output

    monkeypatch.setattr(cim.query_output, "_stdout_is_terminal", lambda: True)
    result = _query(city_store, "--format", "parquet")

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "--output" in result.stderr
    assert result.stdout_bytes == b""


def test_parquet_redirected_from_a_real_cim_process_is_a_readable_file(city_store, tmp_path):
    target = tmp_path / "redirected.parquet"
    cim = Path(sys.executable).parent / "cim"
    with target.open("wb") as fh:
        done = subprocess.run([str(cim), "query", SQL, "--store", str(city_store.root), "-f", "parquet"],
                              stdout=fh, stderr=subprocess.PIPE, timeout=300, check=False)

    assert done.returncode == 0, done.stderr
    assert pq.read_table(target)["parcel_id"].to_pylist() == ["BH-01", "BH-02"]


def test_a_folder_that_is_not_a_store_is_answered_with_what_it_holds_and_the_store_inside(city_store):
    parent = city_store.root.parent
    result = runner.invoke(app, ["query", "SELECT 1", "--store", str(parent)])

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "not a city model store" in result.stderr and "north.ifc" in result.stderr
    assert f"--store {city_store.root}" in result.stderr


def test_a_store_folder_that_does_not_exist_is_answered_in_one_line(tmp_path):
    result = runner.invoke(app, ["query", "SELECT 1", "--store", str(tmp_path / "nope")])

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "no such folder" in result.stderr and "--store" in result.stderr


def test_a_misspelt_table_is_answered_with_the_tables_that_exist(city_store):
    result = runner.invoke(app, ["query", "SELECT count(*) FROM elemnts", "--store", str(city_store.root)])

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "no table 'elemnts'" in result.stderr and "did you mean 'elements'" in result.stderr
    for table in ("elements", "models", "parcels", "current_models", "elements_history"):
        assert table in result.stderr


def test_a_misspelt_column_is_answered_with_the_columns_of_the_table(city_store):
    result = runner.invoke(app, ["query", "SELECT nme FROM elements", "--store", str(city_store.root)])

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert '"nme"' in result.stderr and "columns of elements:" in result.stderr
    assert "name" in result.stderr.split("columns of elements:")[1] and "ifc_class" in result.stderr


def test_a_query_opens_only_the_delta_tables_it_names(city_store, monkeypatch):
    from cim.query import _DeltaScans, run_query

    opened = []
    register = _DeltaScans._register
    monkeypatch.setattr(_DeltaScans, "_register", lambda self, path: opened.append(Path(path).name)
                        or register(self, path))

    assert run_query(city_store, "SELECT count(*) FROM parcels").fetchone()[0] == 2
    assert len(opened) == 1  # the parcels layer's folder, not every table of the store
    opened.clear()
    assert run_query(city_store, "SELECT count(*) FROM elements").fetchone()[0] == 10
    assert sorted(opened) == ["elements", "models"]


def test_starting_the_cli_loads_no_data_library():
    code = ("import sys, cim.cli; print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'rich', 'pyarrow', 'pandas', 'deltalake', 'duckdb', 'geopandas', 'ifcopenshell', 'numpy'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)

    assert done.stdout.strip() == "[]"


def test_the_query_connection_draws_no_progress_bar_that_could_land_in_results_on_stdout(city_store):
    from cim.query import run_query

    settings = "SELECT current_setting('enable_progress_bar'), current_setting('enable_progress_bar_print')"
    assert run_query(city_store, settings).fetchone() == (False, False)
