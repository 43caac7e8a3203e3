"""Delta Lake storage of the city model (see schemas/tables.toml).

The names below load on first use (PEP 562): a reader that needs only the table list or the views
(`cim query`) imports ``cim.store.schema`` or ``cim.store.views`` without pulling in the writer's pyarrow
and pandas.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cim.store.delta import VERSIONED_TABLES, ModelCommit, Store
    from cim.store.schema import conform, documented_tables, geometry_field, table_schema

__all__ = ["VERSIONED_TABLES", "ModelCommit", "Store", "conform", "documented_tables", "geometry_field",
           "table_schema"]

_HOME = {"VERSIONED_TABLES": "cim.store.delta", "ModelCommit": "cim.store.delta", "Store": "cim.store.delta",
         "conform": "cim.store.schema", "documented_tables": "cim.store.schema",
         "geometry_field": "cim.store.schema", "table_schema": "cim.store.schema"}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'cim.store' has no attribute {name!r}")
    value = getattr(import_module(_HOME[name]), name)
    globals()[name] = value
    return value
