"""Helpers of the kill -9 harness and the reader loop: what a killed writer does, and what readers check.

Writers and readers run in separate processes started by a forkserver that has imported cim once, so a
kill costs a fork instead of a fresh interpreter. Every check is run on the store as a reader finds it,
before any writer (which would roll back) opens it again.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import geopandas as gpd
import pyarrow.parquet as pq
import shapely

CRS = "EPSG:4549"
README = Path(__file__).resolve().parents[1] / "README.md"
VERSIONED = ("elements", "meshes", "buildings", "relations")


def parcels(path: Path, n: int) -> Path:
    """A GeoJSON layer ``parcels`` of ``n`` small squares near the sample city."""
    squares = [shapely.box(119.64 + i * 1e-4, 25.90, 119.64 + i * 1e-4 + 5e-5, 25.90 + 5e-5) for i in range(n)]
    frame = gpd.GeoDataFrame({"parcel_id": [f"P{i}" for i in range(n)]}, geometry=squares, crs="EPSG:4326")
    frame.to_file(path)
    return path


# ---- writers (run in a child process) ---------------------------------------------------------------

def write_scenario(root: str, scenario: str, files: list[str], point: str | None) -> None:
    """One writer: ``point`` arms the store's SIGKILL hook (cim.store.delta.FAULT_ENV)."""
    from cim.config import default_config
    from cim.ingest.run import ingest_file
    from cim.store import Store
    from cim.store.delta import FAULT_ENV

    if point:
        os.environ[FAULT_ENV] = point
    store = Store(root, CRS)  # creates, or recovers an interrupted write
    for path in files:
        outcome = ingest_file(store, default_config(CRS), path)
        assert outcome.action != "quarantined", outcome.message
    if scenario == "derived":
        from cim.qto.run import takeoff

        takeoff(store, "m")


# ---- readers -----------------------------------------------------------------------------------------

def readme_recipe() -> str:
    """The Python block of the README's outside-reader recipe, as printed."""
    text = README.read_text()
    start = text.index("Outside cim, the tables are plain Delta Lake")
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


def run_readme_recipe(store_root: Path) -> dict:
    """Run the recipe literally, in a folder where ``cim-data`` is the store."""
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.symlink(store_root.resolve(), Path(folder) / "cim-data")
        os.chdir(folder)
        try:
            scope: dict = {}
            exec(readme_recipe(), scope)  # noqa: S102 - the documented recipe, run as a user would
            return {"elements": scope["elements"].df(), "parcels": scope["parcels"].df(),
                    "parcels_gdf": scope["parcels_gdf"]}
        finally:
            os.chdir(here)


def violations(root: Path, *, strict: bool = True, readme: bool = True, export_to: Path | None = None) -> list[str]:
    """Every reader path, checked against what ``models`` records as committed. Empty when all hold.

    What readers saw is gathered first and ``models`` read last, so a version committed meanwhile (by a
    concurrent writer) is known. ``strict`` (no writer running) also asks that current means newest.
    """
    from cim.export import export_geoparquet
    from cim.query import connect
    from cim.store import Store

    store = Store(root, create=False)
    con = connect(store)  # the views `cim query` shows, made once

    def query(sql: str) -> list[tuple]:
        return con.sql(sql).fetchall()

    seen: dict[str, set] = {}
    for table in VERSIONED:
        seen[f"{table}_history"] = set(query(f"SELECT DISTINCT model_id, version FROM {table}_history"))
        seen[table] = set(query(f"SELECT DISTINCT model_id, version FROM {table}"))
        read = store.read(table, columns=["model_id", "version"])
        seen[f"Store.read({table})"] = set(zip(read["model_id"].to_pylist(), read["version"].to_pylist(), strict=True))
    element_counts = {(m, v): n for m, v, n in query("SELECT model_id, version, count(*) FROM elements GROUP BY ALL")}
    layers = store.current_layers()
    layer_counts = {name: (query(f'SELECT count(*) FROM "{name}"')[0][0], store.read(name).num_rows)
                    for name in layers}
    exported = {}
    if export_to is not None:
        for path in export_geoparquet(store, export_to):
            exported[path.stem] = pq.read_table(path)
    recipe = run_readme_recipe(root) if readme and "parcels" in layers else None

    models = store.read("models").to_pylist()
    committed = {(m["model_id"], m["version"]): m["n_elements"] for m in models}
    newest: dict[str, int] = {}
    for mid, version in committed:
        newest[mid] = max(version, newest.get(mid, 0))
    current = {(m, v) for m, v in newest.items()}
    out: list[str] = []
    for view, keys in seen.items():
        allowed = current if strict and view in VERSIONED else set(committed)
        if keys - allowed:
            out.append(f"{view} shows {'non-current' if strict else 'uncommitted'} {sorted(keys - allowed)}")
    for key, n in element_counts.items():
        if committed.get(key) != n:
            out.append(f"elements of {key}: {n} rows, models says {committed.get(key)}")
    for name, counts in layer_counts.items():
        allowed_n = {committed[(name, newest[name])]} if strict else {n for (m, _), n in committed.items() if m == name}
        if set(counts) - allowed_n:
            out.append(f"layer {name}: query/read show {counts} rows, models says {sorted(allowed_n)}")
    for stem, table in exported.items():
        if stem in VERSIONED:
            keys = set(zip(table["model_id"].to_pylist(), table["version"].to_pylist(), strict=True))
            if keys - current:
                out.append(f"export {stem} shows non-current {sorted(keys - current)}")
        elif stem in layers and table.num_rows != committed[(stem, newest[stem])]:
            out.append(f"export {stem}: {table.num_rows} rows, models says {committed[(stem, newest[stem])]}")
    if recipe is not None:
        keys = set(zip(recipe["elements"]["model_id"], recipe["elements"]["version"], strict=True))
        if keys - current:
            out.append(f"README recipe elements show non-current {sorted(keys - current)}")
        n = committed[("parcels", newest["parcels"])]
        if {len(recipe["parcels"]), len(recipe["parcels_gdf"])} != {n}:
            out.append(f"README recipe parcels: {len(recipe['parcels'])} rows, models says {n}")
    return out


def derived_consistent(root: Path) -> list[str]:
    """Derived tables of one model all come from one version (after recovery)."""
    from cim.store import Store

    store = Store(root, create=False)
    versions = {t: set(store.read(t, filters=[("model_id", "=", "m")])["version"].to_pylist())
                for t in ("quantities", "quantity_summary")}
    if versions["quantities"] != versions["quantity_summary"]:
        return [f"derived tables mix versions: {versions}"]
    return []


def reader_loop(root: str, stop_file: str, result_file: str) -> None:
    """Read current views, history and layers until ``stop_file`` exists; write counts to ``result_file``."""
    import json

    reads, bad = 0, []
    while not os.path.exists(stop_file) or reads == 0:
        try:
            found = quick_violations(Path(root))
        except Exception as exc:  # noqa: BLE001 - a reader that fails is a finding, reported with the rest
            found = [f"reader failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"]
        reads += 1
        bad.extend(found)
    Path(result_file).write_text(json.dumps({"reads": reads, "violations": bad}))


def quick_violations(root: Path) -> list[str]:
    """What a reader during ingests sees: elements (current and history) and the parcels layer, each
    of a committed version and with that version's row count (``models`` read last)."""
    from cim.query import connect
    from cim.store import Store

    store = Store(root, create=False)
    con = connect(store)
    history = con.sql("SELECT model_id, version, count(*) FROM elements_history GROUP BY ALL").fetchall()
    current = con.sql("SELECT model_id, version, count(*) FROM elements GROUP BY ALL").fetchall()
    layer = (con.sql("SELECT count(*) FROM parcels").fetchone()[0], store.read("parcels").num_rows)
    committed = {(m["model_id"], m["version"]): m["n_elements"] for m in store.read("models").to_pylist()}
    out = [f"elements of {m} v{v}: {n} rows, models says {committed.get((m, v))}"
           for m, v, n in [*history, *current] if committed.get((m, v)) != n]
    if set(layer) - {n for (m, _), n in committed.items() if m == "parcels"}:
        out.append(f"parcels: query/read show {layer} rows, no committed version has that many")
    return out
