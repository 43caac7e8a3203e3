"""`cim query` and `cim export`: read-only SQL with spatial types, and GeoParquet copies."""

from __future__ import annotations

import json

import geopandas as gpd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cim.cli import app
from cim.query import QueryError, RefusedQuery, run_query

runner = CliRunner()


def test_elements_per_class_per_model_are_counted(city_store):
    rows = run_query(city_store, "SELECT model_id, ifc_class, count(*) AS n FROM elements "
                                 "GROUP BY ALL ORDER BY model_id, ifc_class").fetchall()
    assert ("far", "IfcWall", 2) in rows and ("north", "IfcWall", 2) in rows
    assert ("north", "IfcBuildingStorey", 1) in rows


def test_buildings_whose_footprint_intersects_a_parcel_are_found(city_store):
    rows = run_query(city_store, "SELECT b.model_id, p.parcel_id FROM buildings b JOIN parcels p "
                                 "ON ST_Intersects(b.footprint, p.geometry) WHERE p.parcel_id = 'BH-01'").fetchall()
    assert rows == [("north", "BH-01")]


def test_only_the_current_version_is_shown_and_history_has_all(city_store, tmp_path):
    history = run_query(city_store, "SELECT count(*) FROM elements_history").fetchone()[0]
    current = run_query(city_store, "SELECT count(*) FROM elements").fetchone()[0]
    assert history == current == 10


@pytest.mark.parametrize("sql", ["DELETE FROM models", "COPY (SELECT 1) TO 'x.csv'", "CREATE TABLE t AS SELECT 1",
                                 "SELECT 1; SELECT 2", "ATTACH 'other.db'"])
def test_anything_but_one_read_only_statement_is_refused(city_store, sql):
    with pytest.raises(QueryError):
        run_query(city_store, sql)


def test_reading_files_outside_the_store_is_refused(city_store):
    with pytest.raises(RefusedQuery, match=r"read_csv\(\) is not allowed"):
        run_query(city_store, "SELECT * FROM read_csv('/etc/passwd')").fetchall()


def test_the_query_command_writes_json_with_geometry_as_wkt(city_store):
    result = runner.invoke(app, ["query", "SELECT parcel_id, geometry FROM parcels ORDER BY 1", "--store",
                                 str(city_store.root), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows[0]["parcel_id"] == "BH-01" and rows[0]["geometry"].startswith("POLYGON")


def test_the_query_command_exits_2_with_one_line_for_a_bad_query(city_store):
    result = runner.invoke(app, ["query", "SELECT nope FROM models", "--store", str(city_store.root)])
    assert result.exit_code == 2 and "error:" in result.output


def test_export_writes_geoparquet_that_geopandas_reads_with_the_city_crs(city_store, tmp_path):
    result = runner.invoke(app, ["export", "--geoparquet", str(tmp_path / "gp"), "--store", str(city_store.root)])
    assert result.exit_code == 0, result.output
    parcels = gpd.read_parquet(tmp_path / "gp" / "parcels.parquet")
    assert parcels.crs.to_epsg() == 4549 and len(parcels) == 2
    elements = gpd.read_parquet(tmp_path / "gp" / "elements.parquet")
    assert elements.geometry.name == "footprint" and elements.geometry.notna().sum() == 4
    meta = json.loads(pq.read_schema(tmp_path / "gp" / "parcels.parquet").metadata[b"geo"])
    assert meta["version"] == "1.1.0" and "covering" in meta["columns"]["geometry"]


def test_every_command_has_help():
    for command in ([], ["ingest"], ["query"], ["tables"], ["export"], ["samples"]):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output
