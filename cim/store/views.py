"""The SQL views readers see over the store: current rows, history, layers, and the current model list.

Kept apart from the query sandbox (``cim.query``) so that what a reader may see (which rows are
committed) and how a reader is confined (what SQL may run) are decided in one place each. A row is
visible only when ``models`` records its (model_id, version): ``<table>_history`` keeps the committed
versions, ``<table>`` the current one, and a GIS layer's view reads the folder of its current version
(``<layer>_history`` every committed version's folder, with its ``version``).

``catalog`` reads the ``models`` table once (the store's commit point) to learn every view name and
each layer's current folder; ``view_definitions`` can then give only the views one query names (and the
views they are built on), so a query opens the Delta logs of the tables it reads and no others.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cim.store.journal import layer_location
from cim.store.schema import VERSIONED_TABLES, core_tables, documented_tables

if TYPE_CHECKING:
    from cim.store.delta import Store


def geometry_columns(table: str) -> list[str]:
    """WKB columns of a documented table; a GIS layer has one, ``geometry``."""
    doc = documented_tables()["tables"].get(table)
    if doc is not None:
        return [c["name"] for c in doc["columns"] if c["type"] == "wkb"]
    return ["geometry"]


@dataclass(frozen=True)
class Catalog:
    """The store's tables as the views show them: core tables present and the committed layers' folders."""

    root: Path  # or a cim.store.objects.ObjectPath for a store on an object store
    core: tuple[str, ...]
    layers: dict[str, Path]
    # Delta tables already opened (deltalake.DeltaTable), by resolved folder: the models view reads the very
    # snapshot that named the current layers (and its log is replayed once, not twice).
    opened: dict[str, Any] = field(default_factory=dict)
    # Every committed version of each layer, oldest first: (version, folder), for ``<layer>_history``.
    layer_versions: dict[str, tuple[tuple[int, Path], ...]] = field(default_factory=dict)

    def table_paths(self) -> dict[str, Path]:
        """Table name -> the folder its view scans."""
        return {**{name: self.root / name for name in self.core}, **self.layers}

    def view_names(self) -> list[str]:
        """Every view a query may name, sorted."""
        return sorted(name for name, _ in view_definitions(self))


def catalog(store: Store | Path) -> Catalog:
    """The store's tables, from one read of ``models`` (for the layers) and a look at each core folder.

    Reads with deltalake (the log) and DuckDB (the Parquet files), not pyarrow: a query's start-up must not
    pay for pyarrow and pandas.
    """
    from cim.store.objects import is_table, open_table

    root = Path(store) if isinstance(store, (str, Path)) else store.root
    core = tuple(name for name in core_tables() if is_table(root / name))
    if "models" not in core:
        return Catalog(root, core, {})
    folder = root / "models"
    models = open_table(folder)
    latest: dict[str, tuple[int, str]] = {}
    gis_versions: dict[str, list[int]] = {}
    for model_id, version, kind in _model_rows(models, isinstance(root, Path)):
        if version > latest.get(model_id, (0, ""))[0]:
            latest[model_id] = (version, kind)
        if kind == "gis":
            gis_versions.setdefault(model_id, []).append(version)
    layers = {}
    for model_id, (version, kind) in latest.items():
        path = layer_location(root, model_id, version) if kind == "gis" else None
        if path is not None:
            layers[model_id] = path
    history = {name: tuple((v, p) for v in sorted(gis_versions.get(name, []))
                           if (p := layer_location(root, name, v)) is not None) for name in layers}
    return Catalog(root, core, layers, {str(folder.resolve()): models}, history)


def _model_rows(models: Any, local: bool = True) -> list[tuple[str, int, str]]:
    """(model_id, version, kind) of every row of a ``models`` snapshot."""
    import duckdb

    from cim.query_files import ReadOnlyFiles, local_files, sql_list

    if not local:
        # a store on an object store: deltalake reads the files with its own client (no DuckDB httpfs here)
        table = models.to_pyarrow_dataset().to_table(columns=["model_id", "version", "kind"], use_threads=False)
        return list(zip(*(table[c].to_pylist() for c in ("model_id", "version", "kind")), strict=True))
    files = local_files(models)
    if not files:
        return []
    # Through ReadOnlyFiles, as in the sandbox: DuckDB's own file system would take '[' or '*' in the store's
    # path for a glob. A literal list, not a bound parameter: see cim.query_files.sql_string.
    readable = ReadOnlyFiles()
    with duckdb.connect(config={"threads": 1}) as con:  # one thread: see cim.query._CONFIG
        con.register_filesystem(readable)
        return con.execute("SELECT model_id, version, kind FROM "
                           f"read_parquet({sql_list(readable.allow(files))}, union_by_name = true)").fetchall()


def _quote(path: Path) -> str:
    return str(path.resolve()).replace("'", "''")


def _select(name: str, path: Path, alias: str = "t", spatial: bool = True) -> str:
    """The view's SELECT; with ``spatial`` its WKB columns become GEOMETRY (that needs DuckDB's spatial)."""
    geometry = geometry_columns(name) if spatial else []
    replace = ", ".join(f"ST_GeomFromWKB({alias}.{g}) AS {g}" for g in geometry)
    columns = f"{alias}.* REPLACE ({replace})" if replace else f"{alias}.*"
    return f"SELECT {columns} FROM delta_scan('{_quote(path)}') {alias}"


def _needs(name: str) -> set[str]:
    """The views a view is built on."""
    if name == "current_models":
        return {"models"}
    if name.endswith("_history") and name.removesuffix("_history") in VERSIONED_TABLES:
        return {"models"}
    if name in VERSIONED_TABLES:
        return {f"{name}_history", "current_models"}
    return set()


def _closure(names: Iterable[str]) -> set[str]:
    wanted, stack = set(), [n.lower() for n in names]
    while stack:
        name = stack.pop()
        if name not in wanted:
            wanted.add(name)
            stack.extend(_needs(name))
    return wanted


def view_definitions(store: Store | Catalog, only: Iterable[str] | None = None,
                     spatial: bool = True) -> list[tuple[str, str]]:
    """(view name, SELECT) pairs in creation order; geometry columns are exposed as GEOMETRY.

    With ``only``, just the views named there (case-insensitive) and those they are built on. Without
    ``spatial``, geometry columns stay WKB: for a query that reads none of them (see cim.query).
    """
    cat = store if isinstance(store, Catalog) else catalog(store)
    paths = cat.table_paths()
    views: list[tuple[str, str]] = []
    if "models" in cat.core:
        views.append(("models", _select("models", paths["models"], spatial=spatial)))
        views.append(("current_models", "SELECT * FROM models "
                                        "QUALIFY version = max(version) OVER (PARTITION BY model_id)"))
    for name in cat.core:
        if name == "models":
            continue
        select = _select(name, paths[name], spatial=spatial)
        if name in VERSIONED_TABLES:
            views.append((f"{name}_history", f"{select} SEMI JOIN models m USING (model_id, version)"))
            views.append((name, f'SELECT t.* FROM "{name}_history" t SEMI JOIN current_models c '
                                "USING (model_id, version)"))
        else:
            views.append((name, select))
    for name, path in sorted(cat.layers.items()):
        views.append((name, _select(name, path, spatial=spatial)))
    taken = {name for name, _ in views}
    for name, versions in sorted(cat.layer_versions.items()):
        if versions and f"{name}_history" not in taken:
            selects = [_select(name, path, spatial=spatial).replace("SELECT ", f"SELECT {int(v)} AS version, ", 1)
                       for v, path in versions]
            views.append((f"{name}_history", " UNION ALL BY NAME ".join(selects)))
    if only is not None:
        wanted = _closure(only)
        views = [(name, select) for name, select in views if name.lower() in wanted]
    return views
