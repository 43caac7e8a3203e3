"""The SQL views readers see over the store: current rows, history, and the current model list.

Kept apart from the query sandbox (``cim.query``) so that what a reader may see (which rows are
committed) and how a reader is confined (what SQL may run) are decided in one place each.
"""

from __future__ import annotations

from cim.store.delta import VERSIONED_TABLES, Store
from cim.store.schema import documented_tables


def geometry_columns(table: str) -> list[str]:
    """WKB columns of a documented table; a GIS layer has one, ``geometry``."""
    doc = documented_tables()["tables"].get(table)
    if doc is not None:
        return [c["name"] for c in doc["columns"] if c["type"] == "wkb"]
    return ["geometry"]


def _quote_path(store: Store, name: str) -> str:
    return str(store.table_path(name).resolve()).replace("'", "''")


def view_definitions(store: Store) -> list[tuple[str, str]]:
    """(view name, SELECT) pairs in creation order; geometry columns are exposed as GEOMETRY."""
    views: list[tuple[str, str]] = []
    names = sorted(store.table_names(), key=lambda n: n != "models")  # current_models first
    for name in names:
        geoms = geometry_columns(name)
        replace = ", ".join(f"ST_GeomFromWKB({g}) AS {g}" for g in geoms)
        scan = f"delta_scan('{_quote_path(store, name)}')"
        select = f"SELECT * REPLACE ({replace}) FROM {scan}" if replace else f"SELECT * FROM {scan}"
        if name in VERSIONED_TABLES:
            views.append((f"{name}_history", select))
            views.append((name, f'SELECT t.* FROM "{name}_history" t JOIN current_models USING (model_id, version)'))
        else:
            views.append((name, select))
        if name == "models":
            views.append(("current_models", "SELECT * FROM models "
                                            "QUALIFY version = max(version) OVER (PARTITION BY model_id)"))
    return views
