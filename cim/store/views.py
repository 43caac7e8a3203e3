"""The SQL views readers see over the store: current rows, history, layers, and the current model list.

Kept apart from the query sandbox (``cim.query``) so that what a reader may see (which rows are
committed) and how a reader is confined (what SQL may run) are decided in one place each. A row is
visible only when ``models`` records its (model_id, version): ``<table>_history`` keeps the committed
versions, ``<table>`` the current one, and a GIS layer's view reads the folder of its current version
(``<layer>_history`` every committed version's folder, with its ``version``).
"""

from __future__ import annotations

from pathlib import Path

from deltalake import DeltaTable

from cim.store.delta import VERSIONED_TABLES, Store
from cim.store.journal import layer_dir
from cim.store.schema import core_tables, documented_tables


def geometry_columns(table: str) -> list[str]:
    """WKB columns of a documented table; a GIS layer has one, ``geometry``."""
    doc = documented_tables()["tables"].get(table)
    if doc is not None:
        return [c["name"] for c in doc["columns"] if c["type"] == "wkb"]
    return ["geometry"]


def _quote(path: Path) -> str:
    return str(path.resolve()).replace("'", "''")


def _select(name: str, path: Path, alias: str = "t") -> str:
    replace = ", ".join(f"ST_GeomFromWKB({alias}.{g}) AS {g}" for g in geometry_columns(name))
    columns = f"{alias}.* REPLACE ({replace})" if replace else f"{alias}.*"
    return f"SELECT {columns} FROM delta_scan('{_quote(path)}') {alias}"


def view_definitions(store: Store) -> list[tuple[str, str]]:
    """(view name, SELECT) pairs in creation order; geometry columns are exposed as GEOMETRY."""
    core = set(core_tables())
    present = [n for n in store.table_names() if n in core]
    views: list[tuple[str, str]] = []
    if "models" in present:
        views.append(("models", _select("models", store.table_path("models"))))
        views.append(("current_models", "SELECT * FROM models "
                                        "QUALIFY version = max(version) OVER (PARTITION BY model_id)"))
    for name in present:
        if name == "models":
            continue
        select = _select(name, store.table_path(name))
        if name in VERSIONED_TABLES:
            views.append((f"{name}_history", f"{select} SEMI JOIN models m USING (model_id, version)"))
            views.append((name, f'SELECT t.* FROM "{name}_history" t SEMI JOIN current_models c '
                                "USING (model_id, version)"))
        else:
            views.append((name, select))
    layers = store.current_layers()
    for name, path in sorted(layers.items()):
        views.append((name, _select(name, path)))
    taken = {n for n, _ in views}
    for name in sorted(layers):
        history = _layer_history(store, name)
        if history and f"{name}_history" not in taken:
            views.append((f"{name}_history", history))
    return views


def _layer_history(store: Store, name: str) -> str | None:
    """Every committed version of a layer, newest last; versions may differ in columns (UNION BY NAME)."""
    models = store.read("models", columns=["model_id", "version", "kind"],
                        filters=[("model_id", "=", name), ("kind", "=", "gis")])
    selects = []
    for version in sorted(models["version"].to_pylist()):
        path = store.root / layer_dir(name, version)
        if DeltaTable.is_deltatable(str(path)):
            selects.append(_select(name, path).replace("SELECT ", f"SELECT {int(version)} AS version, ", 1))
    return " UNION ALL BY NAME ".join(selects) or None
