"""`cim query` runs on a DuckDB thread per core and never hangs while its threads read the store's files."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cim.query import run_query

ROOT = Path(__file__).resolve().parents[1]
JOIN = ("SELECT p.parcel_id, count(*) AS n FROM elements e JOIN parcels p ON ST_Intersects(e.footprint, p.geometry) "
        "GROUP BY ALL ORDER BY p.parcel_id")


@pytest.fixture(scope="module")
def many_files_store(tmp_path_factory):
    """Six models of twelve walls each, so every table the join reads is several Parquet files."""
    import geopandas as gpd
    import shapely

    from cim.config import default_config
    from cim.ingest.run import ingest_file
    from cim.store import Store
    from tests.models import add_wall, new_model, write

    root = tmp_path_factory.mktemp("threads")
    store = Store(root / "store", "EPSG:4549")
    city = default_config("EPSG:4549")
    for i in range(6):
        f, ctx = new_model(eastings=464_900.0 + 40.0 * i)
        for j in range(12):
            add_wall(f, ctx, name=f"Wall {j}", start=(0.0, 2.0 * j, 0.0))
        assert ingest_file(store, city, write(f, root / f"m{i}.ifc")).action == "ingested"
    parcels = gpd.GeoDataFrame({"parcel_id": ["west", "east"]}, geometry=[
        shapely.box(464_890.0, 2_865_700.0, 465_010.0, 2_865_900.0),
        shapely.box(465_010.0, 2_865_700.0, 465_200.0, 2_865_900.0)], crs="EPSG:4549")
    parcels.to_file(root / "city.gpkg", layer="parcels")
    assert ingest_file(store, city, root / "city.gpkg").action == "ingested"
    return store


def test_the_query_connection_uses_a_thread_per_core(city_store):
    assert run_query(city_store, "SELECT current_setting('threads')").fetchone()[0] == (os.cpu_count() or 1)


def test_a_spatial_join_in_every_format_answers_each_time_and_never_hangs(many_files_store):
    """A fresh process runs the join twenty times (five per format); a deadlock between DuckDB's threads and
    the GIL would hang it, and the timeout fails the test."""
    code = f"""
import io, contextlib, sys
from pathlib import Path
from cim.query import run_query
from cim.query_output import write_result
out = Path(sys.argv[1])
for i in range(5):
    for fmt in ("csv", "json", "table", "parquet"):
        target = None if fmt == "table" else out / f"{{i}}.{{fmt}}"
        with contextlib.redirect_stdout(io.StringIO()):
            write_result(run_query({str(many_files_store.root)!r}, {JOIN!r}), fmt, target, 0, None)
print("done")
"""
    out = many_files_store.root.parent / "results"
    out.mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=240,
                          cwd=ROOT)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"
    answers = {(out / f"{i}.csv").read_text() for i in range(5)}
    assert len(answers) == 1
    rows = list(csv.DictReader(io.StringIO(answers.pop())))
    assert sum(int(r["n"]) for r in rows) > 0
    assert [r["parcel_id"] for r in rows] == sorted(r["parcel_id"] for r in rows)


def test_geometry_columns_with_repeated_names_keep_their_names_order_and_values_as_text(city_store):
    sql = ("SELECT global_id, footprint, footprint, global_id FROM elements WHERE footprint IS NOT NULL "
           "ORDER BY global_id DESC")
    result = run_query(city_store, sql)
    rows = result.run("ST_AsText").fetchall()

    assert result.columns == ["global_id", "footprint", "footprint", "global_id"]
    ids = [r[0] for r in rows]
    assert len(ids) >= 4 and ids == sorted(ids, reverse=True)
    assert all(r[1].startswith("POLYGON") and r[1] == r[2] and r[0] == r[3] for r in rows)


def test_a_statement_ending_in_a_semicolon_and_a_comment_still_converts_geometry_and_stops_at_the_limit(city_store):
    result = run_query(city_store, "SELECT parcel_id, geometry FROM parcels ORDER BY parcel_id DESC; -- newest first")
    rows = result.run("ST_AsText", limit=1).fetchall()

    assert len(rows) == 1
    assert rows[0][0] == "BH-02" and rows[0][1].startswith("POLYGON")
