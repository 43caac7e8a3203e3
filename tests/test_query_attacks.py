"""`cim query` is read-only, really: an attack suite run through the command, in-process and end to end.

Each attack must exit 2 with one line on stderr and no traceback, create no file anywhere under the
test's folder (store, working folder, a folder outside both) and leave every byte of the store as it
was. The store lives under a path with a quote, double quotes, spaces and CJK characters, so every
test also checks that such a store works. Legitimate queries (the README's, ST_ functions, history
views, exports) keep working on the same store.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import geopandas as gpd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from deltalake import write_deltalake
from typer.testing import CliRunner

from cim.cli import app
from cim.config import default_config
from cim.ingest.run import ingest_file
from cim.query import connect
from cim.store import Store
from tests.models import add_wall, new_model, write

runner = CliRunner()
CIM = Path(sys.executable).with_name("cim")

# (id, SQL with {store} {other} {out} placeholders, what the one line must say)
WRITES = [
    ("explain-analyze-copy", "EXPLAIN ANALYZE COPY (SELECT 42) TO '{store}/x.csv'", "EXPLAIN may only wrap a SELECT"),
    ("explain-copy", "EXPLAIN COPY (SELECT 42) TO '{store}/x.csv'", "EXPLAIN may only wrap a SELECT"),
    ("explain-lowercase-comment", "explain /* plan */ analyze copy (select 42) to '{store}/x.csv'", "EXPLAIN"),
    ("explain-explain-copy", "EXPLAIN EXPLAIN ANALYZE COPY (SELECT 42) TO '{store}/x.csv'", "EXPLAIN"),
    ("explain-attach", "EXPLAIN ANALYZE ATTACH '{store}/x.db'", "error"),
    ("explain-insert", "EXPLAIN ANALYZE INSERT INTO models SELECT * FROM models", "EXPLAIN may only wrap a SELECT"),
    ("explain-ctas", "EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1", "EXPLAIN may only wrap a SELECT"),
    ("explain-options-copy", "EXPLAIN (FORMAT json) COPY (SELECT 42) TO '{store}/x.csv'", "error"),
    ("copy-into-store", "COPY (SELECT 42) TO '{store}/x.csv'", "COPY statements are not allowed"),
    ("copy-into-cwd", "COPY (SELECT 42) TO 'x.csv'", "COPY statements are not allowed"),
    ("copy-over-data-file", "COPY (SELECT * FROM models) TO '{store}/models/part-0.parquet' (FORMAT parquet)",
     "COPY statements"),
    ("copy-forge-log", "COPY (SELECT 42 AS a) TO '{store}/models/_delta_log/00000000000000000099.json' "
                       "(FORMAT json)", "COPY statements"),
    ("copy-forge-journal", "COPY (SELECT '..' AS table_name) TO '{store}/_cim/journal.json' (FORMAT json)",
     "COPY statements"),
    ("copy-per-thread", "COPY (SELECT 42) TO '{out}/d' (FORMAT parquet, PER_THREAD_OUTPUT)", "COPY statements"),
    ("copy-partitioned", "COPY (SELECT 42 AS a) TO '{out}/p' (FORMAT parquet, PARTITION_BY (a))", "COPY statements"),
    ("copy-from", "COPY models FROM '{out}/x.csv'", "COPY statements"),
    ("export-database", "EXPORT DATABASE '{out}/exp'", "EXPORT statements"),
    ("import-database", "IMPORT DATABASE '{out}/exp'", "error"),
    ("attach-file", "ATTACH '{store}/x.db'", "ATTACH statements"),
    ("attach-memory", "ATTACH ':memory:' AS m", "ATTACH statements"),
    ("detach", "DETACH memory", "DETACH statements"),
    ("install", "INSTALL httpfs", "statements are not allowed"),
    ("force-install", "FORCE INSTALL spatial", "statements are not allowed"),
    ("load-extension", "LOAD httpfs", "statements are not allowed"),
    ("load-file", "LOAD '{out}/evil.duckdb_extension'", "statements are not allowed"),
    ("set-external-access", "SET enable_external_access = true", "SET statements"),
    ("set-lock", "SET lock_configuration = false", "SET statements"),
    ("reset-lock", "RESET lock_configuration", "statements are not allowed"),
    ("set-temp-dir", "SET temp_directory = '.'", "SET statements"),
    ("set-allowed-dirs", "SET allowed_directories = ['/']", "SET statements"),
    ("set-profile-output", "SET profiling_output = '{out}/profile.json'", "SET statements"),
    ("set-variable", "SET VARIABLE x = 1", "SET statements"),
    ("pragma-profiling", "PRAGMA enable_profiling", "PRAGMA statements"),
    ("pragma-read", "PRAGMA database_list", "no table 'pragma_database_list'"),
    ("call-file-logging", "CALL enable_logging(storage = 'file', storage_path = '{out}/logs')", "CALL statements"),
    ("create-table", "CREATE TABLE t AS SELECT 1", "CREATE statements"),
    ("replace-view", "CREATE OR REPLACE VIEW models AS SELECT 1", "CREATE statements"),
    ("create-macro", "CREATE MACRO m() AS 1", "CREATE statements"),
    ("create-secret", "CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')", "CREATE statements"),
    ("insert", "INSERT INTO models SELECT * FROM models", "INSERT statements"),
    ("cte-insert", "WITH x AS (SELECT 42) INSERT INTO models SELECT * FROM x", "INSERT statements"),
    ("update", "UPDATE models SET status = 'x'", "UPDATE statements"),
    ("delete", "DELETE FROM models", "DELETE statements"),
    ("drop", "DROP VIEW models", "DROP statements"),
    ("alter", "ALTER VIEW models RENAME TO m2", "ALTER statements"),
    ("checkpoint", "CHECKPOINT", "statements are not allowed"),
    ("vacuum", "VACUUM", "statements are not allowed"),
    ("analyze", "ANALYZE", "statements are not allowed"),
    ("transaction", "BEGIN TRANSACTION", "statements are not allowed"),
    ("use", "USE memory", "statements are not allowed"),
    ("prepare-copy", "PREPARE p AS COPY (SELECT 1) TO '{store}/x.csv'", "PREPARE statements"),
    ("execute", "EXECUTE p", "EXECUTE statements"),
    ("two-statements", "SELECT 1; COPY (SELECT 42) TO '{store}/x.csv'", "exactly one statement"),
    ("pivot-creates-type", "PIVOT models ON status USING count(*)", "exactly one statement"),
    ("query-function", "SELECT * FROM query('SELECT 1')", r"query\(\) is not allowed"),
    ("serialized-sql", "SELECT * FROM json_execute_serialized_sql('{{}}')", "is not allowed"),
    ("write-log", "SELECT write_log('x')", r"write_log\(\) is not allowed"),
    ("select-into", "SELECT 42 INTO t", "syntax error"),
]
READS = [
    ("read-csv", "SELECT * FROM read_csv('/etc/passwd')", r"read_csv\(\) is not allowed"),
    ("read-csv-auto", "SELECT * FROM read_csv_auto('/etc/passwd')", "is not allowed"),
    ("replacement-scan", "SELECT * FROM '/etc/passwd'", "no table '/etc/passwd'"),
    ("replacement-scan-store-meta", "SELECT * FROM '{store}/_cim/store.json'", "no table"),
    ("quoted-identifier-path", 'SELECT * FROM "/etc/passwd"', "no table"),
    ("read-json-meta", "SELECT * FROM read_json('{store}/_cim/store.json')", "is not allowed"),
    ("read-text", "SELECT * FROM read_text('/etc/hostname')", "is not allowed"),
    ("read-blob-log", "SELECT * FROM read_blob('{store}/models/_delta_log/*.json')", "is not allowed"),
    ("read-parquet", "SELECT * FROM read_parquet('{store}/models/*.parquet')", "is not allowed"),
    ("parquet-scan", "SELECT * FROM parquet_scan('{store}/models/*.parquet')", "is not allowed"),
    ("parquet-metadata", "SELECT * FROM parquet_metadata('{store}/models/*.parquet')", "is not allowed"),
    ("parquet-schema", "SELECT * FROM parquet_schema('{store}/models/*.parquet')", "is not allowed"),
    ("sniff-csv", "SELECT * FROM sniff_csv('/etc/passwd')", "is not allowed"),
    ("glob-outside", "SELECT * FROM glob('/etc/*')", "is not allowed"),
    ("glob-store", "SELECT * FROM glob('{store}/**')", "is not allowed"),
    ("delta-other-store", "SELECT * FROM delta_scan('{other}')", r"delta_scan\(\) is not allowed"),
    ("delta-own-store", "SELECT * FROM delta_scan('{store}/models')", "is not allowed"),
    ("st-read", "SELECT * FROM ST_Read('/etc/passwd')", "is not allowed"),
    ("st-read-osm", "SELECT * FROM ST_ReadOSM('/etc/passwd')", "is not allowed"),
    ("st-read-shp", "SELECT * FROM ST_ReadSHP('/etc/passwd')", "is not allowed"),
    ("st-read-meta", "SELECT * FROM ST_Read_Meta('/etc/passwd')", "is not allowed"),
    ("secrets", "SELECT * FROM duckdb_secrets()", r"duckdb_secrets\(\) is not allowed"),
    ("settings", "SELECT * FROM duckdb_settings()", "is not allowed"),
    ("extensions", "SELECT * FROM duckdb_extensions()", "is not allowed"),
    ("which-secret", "SELECT * FROM which_secret('s3://bucket/x', 's3')", "is not allowed"),
    ("read-duckdb", "SELECT * FROM read_duckdb('{out}/x.db')", "is not allowed"),
    ("query-table", "SELECT * FROM query_table('models')", "is not allowed"),
    ("qualified-function", "SELECT * FROM system.main.duckdb_settings()", "is not allowed"),
    ("internal-scan", "SELECT * FROM cim_internal_0", "internal to cim query"),
    ("internal-scan-qualified", "SELECT * FROM temp.main.cim_internal_0", "internal to cim query"),
    ("internal-cte-name", "WITH cim_internal_0 AS (SELECT 1) SELECT * FROM cim_internal_0", "reserved"),
    ("catalog-view", "SELECT * FROM information_schema.tables", "no table"),
    ("scalar-subquery", "SELECT (SELECT count(*) FROM read_csv('/etc/passwd'))", "is not allowed"),
    ("exists-subquery", "SELECT * FROM models WHERE EXISTS (SELECT * FROM glob('/etc/*'))", "is not allowed"),
    ("cte-read", "WITH t AS (SELECT * FROM read_text('/etc/hostname')) SELECT * FROM t", "is not allowed"),
    ("lateral-read", "SELECT * FROM models, LATERAL read_csv('/etc/' || model_id)", "is not allowed"),
    ("union-read", "SELECT model_id FROM models UNION ALL SELECT content FROM read_text('/etc/hostname')",
     "is not allowed"),
    ("describe-read", "DESCRIBE SELECT * FROM read_csv('/etc/passwd')", "is not allowed"),
    ("summarize-file", "SUMMARIZE '/etc/passwd'", "no table"),
    ("show-tables", "SHOW TABLES", "SHOW of the catalog"),
    ("from-first-read", "FROM read_csv('/etc/passwd')", "is not allowed"),
    ("join-read", "SELECT * FROM range(3) t(a), read_text('/etc/hostname')", "is not allowed"),
]
ATTACKS = WRITES + READS
LEGITIMATE = [
    ("readme-elements-per-class", "SELECT model_id, ifc_class, count(*) AS n FROM elements GROUP BY ALL "
                                  "ORDER BY model_id, n DESC", 8),
    ("readme-buildings-on-parcel", "SELECT b.model_id, b.name, b.height_m FROM buildings b JOIN parcels p "
                                   "ON ST_Intersects(b.footprint, p.geometry) WHERE p.parcel_id = 'BH-01'", 1),
    ("readme-walls-on-storey", "SELECT name, materials, ST_Area(footprint) AS footprint_m2 FROM elements "
                               "WHERE model_id = 'block-a' AND ifc_class = 'IfcWall' AND storey = 'Ground floor'", 1),
    ("readme-pipelines-near-buildings", "SELECT DISTINCT p.pipeline_id, p.type, p.owner, b.model_id FROM pipelines p, "
                                        "buildings b WHERE ST_DWithin(p.geometry, b.footprint, 5)", 1),
    ("readme-versions", "SELECT version, phase, sha256, ingested_at, status FROM models WHERE model_id = 'block-a' "
                        "ORDER BY version", 1),
    ("history-view", "SELECT count(*) FROM elements_history", 1),
    ("current-models", "SELECT model_id, version FROM current_models ORDER BY 1", 4),
    ("st-functions", "SELECT ST_AsText(ST_Centroid(geometry)), ST_Area(geometry) FROM parcels", 1),
    ("st-transform", "SELECT ST_AsText(ST_Transform(ST_Point(464900, 2865800), 'EPSG:4549', 'EPSG:4326', "
                     "always_xy := true))", 1),
    ("cte", "WITH w AS (SELECT * FROM elements WHERE ifc_class = 'IfcWall') SELECT count(*) FROM w", 1),
    ("qualified-view", "SELECT count(*) FROM memory.main.models", 1),
    ("range", "SELECT * FROM range(3)", 3),
    ("unnest", "SELECT * FROM unnest([1, 2])", 2),
    ("describe", "DESCRIBE elements", None),
    ("summarize", "SUMMARIZE parcels", None),
    ("explain", "EXPLAIN SELECT count(*) FROM elements", None),
    ("explain-analyze", "EXPLAIN ANALYZE SELECT count(*) FROM elements", None),
]


@pytest.fixture(scope="module")
def attack_store(tmp_path_factory):
    """A small city (two IFC models, parcels, pipelines) under a hostile path, and another Delta table beside it."""
    root = tmp_path_factory.mktemp("attacks")
    home = root / "it's a \"city\" 城市 store"
    store = Store(home / "store", "EPSG:4549")
    city = default_config("EPSG:4549")
    for name, east in (("block-a", 464_900.0), ("block-b", 465_300.0)):
        f, ctx = new_model(eastings=east)
        add_wall(f, ctx, name="Wall A")
        ingest_file(store, city, write(f, home / f"{name}.ifc"))
    gpd.GeoDataFrame({"parcel_id": ["BH-01"]}, geometry=[shapely.box(464_890, 2_865_790, 464_920, 2_865_820)],
                     crs="EPSG:4549").to_file(home / "city.gpkg", layer="parcels")
    gpd.GeoDataFrame({"pipeline_id": ["P1"], "type": ["water"], "owner": ["city"]},
                     geometry=[shapely.LineString([(464_890, 2_865_795), (464_920, 2_865_795)])],
                     crs="EPSG:4549").to_file(home / "city.gpkg", layer="pipelines")
    ingest_file(store, city, home / "city.gpkg")
    other = root / "other-store" / "secrets"
    write_deltalake(str(other), pa.table({"secret": ["do not read"]}))
    (root / "outside").mkdir()
    return store, other


@pytest.fixture
def place(attack_store, tmp_path, monkeypatch):
    """The store, the attack placeholders and a fresh empty working folder."""
    store, other = attack_store
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    names = {"store": str(store.root.resolve()), "other": str(other), "out": str(store.root.parent.parent / "outside")}
    return store, names, cwd


def snapshot(*folders: Path) -> dict[str, str]:
    """Every file under the folders with a hash of its bytes: any file created, changed or removed shows."""
    files = {}
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(folder):
            for name in dirnames + filenames:
                path = Path(dirpath) / name
                files[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return files


def sql_of(template: str, names: dict[str, str]) -> str:
    return template.format(**{k: v.replace("'", "''") for k, v in names.items()})


def assert_one_line_refusal(code: int, stdout: str, stderr: str, expected: str) -> None:
    lines = stderr.strip().splitlines()
    assert code == 2, (code, stdout, stderr)
    assert len(lines) == 1 and lines[0].startswith("error:"), stderr
    assert "Traceback" not in stderr + stdout and stdout == ""
    assert re.search(expected, lines[0]), lines[0]


@pytest.mark.parametrize(("template", "expected"), [a[1:] for a in ATTACKS], ids=[a[0] for a in ATTACKS])
def test_each_attack_is_refused_with_one_line_and_changes_nothing(place, template, expected):
    store, names, cwd = place
    watched = (store.root.parent.parent, cwd)
    before = snapshot(*watched)
    result = runner.invoke(app, ["query", sql_of(template, names), "--store", str(store.root)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert_one_line_refusal(result.exit_code, result.stdout, result.stderr, expected)
    assert snapshot(*watched) == before


# The installed command runs one attack of each kind end to end (each costs a cold process, ~3 s);
# the in-process test above runs every attack through the same CLI code.
END_TO_END = {"explain-analyze-copy", "copy-forge-journal", "attach-file", "install", "set-lock", "create-secret",
              "prepare-copy", "read-csv", "delta-other-store", "st-read-osm", "secrets", "internal-scan"}
SUBSET = [a for a in ATTACKS if a[0] in END_TO_END]


@pytest.mark.slow
@pytest.mark.parametrize(("template", "expected"), [a[1:] for a in SUBSET], ids=[a[0] for a in SUBSET])
def test_each_attack_is_refused_by_the_installed_command(place, template, expected):
    store, names, cwd = place
    watched = (store.root.parent.parent, cwd)
    before = snapshot(*watched)
    proc = subprocess.run([str(CIM), "query", sql_of(template, names), "--store", str(store.root)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    assert_one_line_refusal(proc.returncode, proc.stdout, proc.stderr, expected)
    assert snapshot(*watched) == before


@pytest.mark.parametrize(("sql", "rows"), [c[1:] for c in LEGITIMATE], ids=[c[0] for c in LEGITIMATE])
def test_legitimate_queries_run_on_a_store_whose_path_has_quotes(place, sql, rows):
    store, _, cwd = place
    before = snapshot(store.root, cwd)
    result = runner.invoke(app, ["query", sql, "--store", str(store.root), "--format", "json"])
    assert result.exit_code == 0, result.output
    if rows is not None:
        assert len(json.loads(result.stdout)) == rows
    assert snapshot(store.root, cwd) == before


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_results_are_written_by_cim_to_the_output_file(place, tmp_path, fmt):
    store, _, _ = place
    output = tmp_path / f"parcels.{fmt}"
    result = runner.invoke(app, ["query", "SELECT parcel_id, geometry FROM parcels", "--store", str(store.root),
                                 "--format", fmt, "--output", str(output)])
    assert result.exit_code == 0, result.output
    if fmt == "parquet":
        table = pq.read_table(output)
        assert table.column("parcel_id").to_pylist() == ["BH-01"]
        assert shapely.from_wkb(table.column("geometry")[0].as_py()).area == pytest.approx(900)
    elif fmt == "json":
        assert json.loads(output.read_text())[0]["geometry"].startswith("POLYGON")
    else:
        assert output.read_text().splitlines()[0] == "parcel_id,geometry"


def test_an_output_file_inside_the_store_is_refused(place):
    store, _, _ = place
    before = snapshot(store.root)
    target = store.root / "models" / "result.csv"
    result = runner.invoke(app, ["query", "SELECT * FROM models", "--store", str(store.root), "--format", "csv",
                                 "--output", str(target)])
    assert_one_line_refusal(result.exit_code, result.stdout, result.stderr, "inside the store")
    assert snapshot(store.root) == before


def test_a_failing_query_writes_no_output_file(place, tmp_path):
    store, _, _ = place
    output = tmp_path / "result.csv"
    result = runner.invoke(app, ["query", "SELECT error('boom') FROM models", "--store", str(store.root),
                                 "--format", "csv", "--output", str(output)])
    assert_one_line_refusal(result.exit_code, result.stdout, result.stderr, "query failed: .*boom")
    assert not output.exists()


def test_values_that_look_like_markup_are_shown_as_they_are(place):
    store, _, _ = place
    result = runner.invoke(app, ["query", "SELECT '[/red]' AS \"[bold]\"", "--store", str(store.root)])
    assert result.exit_code == 0 and "[/red]" in result.stdout and "[bold]" in result.stdout


def test_an_error_message_with_brackets_stays_one_line(place):
    store, _, _ = place
    result = runner.invoke(app, ["query", "SELECT [1][/x]", "--store", str(store.root)])
    assert_one_line_refusal(result.exit_code, result.stdout, result.stderr, "syntax error")


def test_the_query_connection_itself_cannot_write_or_read_files(place):
    """Defence in depth: statements the check would refuse still find no file system on the connection."""
    store, names, cwd = place
    before = snapshot(store.root.parent.parent, cwd)
    con = connect(store)
    for sql in ("COPY (SELECT 42) TO '{store}/x.csv'", "COPY (SELECT 42) TO '{store}/models/x.parquet'",
                "COPY (SELECT 42) TO 'x.csv'", "ATTACH '{store}/x.db'", "EXPORT DATABASE '{out}/e'",
                "SELECT * FROM read_text('{store}/_cim/store.json')", "SELECT * FROM glob('/etc/*')",
                "INSTALL httpfs", "LOAD httpfs"):
        with pytest.raises(duckdb.Error):
            con.execute(sql_of(sql, names)).fetchall()
    for setting in ("enable_external_access = true", "disabled_filesystems = ''", "lock_configuration = false",
                    "temp_directory = '.'"):
        with pytest.raises(duckdb.InvalidInputException, match="locked"):
            con.execute(f"SET {setting}")
    assert con.execute("SELECT current_setting('temp_directory')").fetchone()[0] == ""
    assert snapshot(store.root.parent.parent, cwd) == before


def test_tables_lists_the_store_views_and_no_internal_scan(place):
    store, _, _ = place
    result = runner.invoke(app, ["tables", "--store", str(store.root)])
    assert result.exit_code == 0, result.output
    assert "pipelines" in result.stdout and "current_models" in result.stdout
    assert "cim_internal" not in result.stdout


def test_the_views_show_exactly_what_delta_scan_shows(place):
    """Binding the views to deltalake's Arrow datasets changes neither types nor rows."""
    import duckdb_extensions

    from cim.store import views

    store, _, _ = place
    ours = connect(store)
    duckdb_extensions.import_extension("delta")
    plain = duckdb.connect()
    plain.execute("LOAD spatial; LOAD delta")
    for name, select in views.view_definitions(store):
        plain.execute(f'CREATE VIEW "{name}" AS {select}')
    for name, _ in views.view_definitions(store):
        describe = f'SELECT column_name, column_type FROM (DESCRIBE "{name}")'
        columns = ours.execute(describe).fetchall()
        assert columns == plain.execute(describe).fetchall(), name
        as_bytes = ", ".join(f'ST_AsWKB("{c}") AS "{c}"' for c, t in columns if t == "GEOMETRY")
        rows = f'SELECT * REPLACE ({as_bytes}) FROM "{name}"' if as_bytes else f'SELECT * FROM "{name}"'
        digest = f"SELECT count(*), bit_xor(hash(t)) FROM ({rows}) t"
        assert ours.execute(digest).fetchone() == plain.execute(digest).fetchone(), name
