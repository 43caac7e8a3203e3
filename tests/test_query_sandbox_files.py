"""The query sandbox reads the store's Parquet files through a read-only file system, and nothing heavier."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cim.query import connect, run_query
from cim.query_files import local_files


def _digest(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_copy_onto_a_store_file_is_refused_by_the_connection_itself(city_store):
    """Even past the SQL check (here run on the connection directly), the one file type the sandbox may read
    cannot be written: not by a COPY without a temporary file, not as CSV."""
    from deltalake import DeltaTable

    con = connect(city_store, {"models"})
    target = local_files(DeltaTable(str(city_store.root / "models")))[0]
    before = _digest(city_store.root)
    for sql in (f"COPY (SELECT 2 AS x) TO 'cimstore://{target}' (FORMAT parquet, USE_TMP_FILE false)",
                f"COPY (SELECT 2 AS x) TO 'cimstore://{target}' (FORMAT csv)",
                f"COPY (SELECT 2 AS x) TO '{target}' (FORMAT parquet, USE_TMP_FILE false)",
                "SELECT * FROM read_csv('cimstore:///etc/passwd')",
                f"SELECT * FROM glob('cimstore://{city_store.root}/*')"):
        with pytest.raises(duckdb.Error):
            con.execute(sql).fetchall()
    assert _digest(city_store.root) == before
    assert con.execute("SELECT count(*) FROM models").fetchone()[0] > 0


def test_a_store_under_a_folder_with_glob_characters_is_queried(city_store, tmp_path):
    """DuckDB takes '[', '*' and '?' in a path for a glob: the store's files must still be found, as they are."""
    moved = tmp_path / "city [2026] *?" / "store"
    shutil.copytree(city_store.root, moved)
    assert run_query(moved, "SELECT count(*) FROM elements").fetchone()[0] == 10
    assert run_query(moved, "SELECT count(*) FROM parcels").fetchone()[0] >= 1


def test_a_query_loads_neither_pandas_nor_pyarrow(city_store):
    """They cost more than the whole query at start-up; the query path reads with deltalake and DuckDB only."""
    code = ("import sys; from cim.query import run_query; "
            f"print(run_query({str(city_store.root)!r}, 'SELECT count(*) FROM elements').fetchone()[0]); "
            "print(sorted(m for m in ('pandas', 'pyarrow', 'geopandas') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["10", "[]"]


def test_a_column_added_to_a_table_later_reads_as_null_in_older_rows(tmp_path):
    """Schema evolution: files written before a column existed show it as null; the Delta schema's order holds."""
    from datetime import UTC, datetime

    import pyarrow as pa
    from deltalake import write_deltalake

    from cim.store import Store, table_schema

    store = Store(tmp_path / "store", "EPSG:4549")
    schema = table_schema("runs", store.crs)
    now = datetime.now(UTC)
    row = {"run_id": "a", "started_at": now, "finished_at": now, "duration_s": 1.0, "status": "completed",
           "n_inputs": 0, "n_ingested": 0, "n_unchanged": 0, "n_quarantined": 0, "n_elements": 0}
    write_deltalake(str(store.root / "runs"), pa.Table.from_pylist([row], schema=schema), mode="append")
    newer = pa.Table.from_pylist([{**row, "run_id": "b"}], schema=schema).append_column("note", pa.array(["x"]))
    write_deltalake(str(store.root / "runs"), newer, mode="append", schema_mode="merge")
    rel = run_query(store.root, "SELECT * FROM runs ORDER BY run_id")
    assert rel.columns == [*schema.names, "note"]
    assert [(r[0], r[-1]) for r in rel.fetchall()] == [("a", None), ("b", "x")]


@pytest.mark.parametrize(("sql", "spatial"), [
    ("SELECT count(*) FROM elements", False),
    ("SELECT model_id, count(*) FROM elements GROUP BY 1", False),
    ("SELECT * FROM elements", True),
    ("SELECT e.footprint FROM elements e", True),
    ("SELECT count(*) FROM parcels WHERE ST_Area(geometry) > 0", True),
    ("SELECT 'POINT (1 2)'::GEOMETRY", True),
    ("DESCRIBE elements", True),
])
def test_only_a_query_that_may_touch_geometry_loads_spatial(city_store, sql, spatial):
    from cim.query_check import check_query

    assert check_query(sql, {"elements", "parcels"}).spatial is spatial


def test_a_query_without_geometry_answers_without_spatial_and_geometry_stays_geometry_otherwise(city_store):
    con = run_query(city_store, "SELECT count(*) FROM elements")
    assert con.fetchone()[0] == 10
    kinds = run_query(city_store, "SELECT typeof(footprint) FROM elements LIMIT 1").fetchone()[0]
    assert kinds == "GEOMETRY"


def test_a_spatial_function_the_check_missed_still_runs_with_spatial(city_store, monkeypatch):
    import cim.query_check

    sql = "SELECT count(*) FROM parcels WHERE ST_Area(geometry) > 0"
    expected = run_query(city_store, sql).fetchall()
    monkeypatch.setattr(cim.query_check, "_may_touch_geometry", lambda tree: False)
    assert run_query(city_store, sql).fetchall() == expected == [(2,)]
