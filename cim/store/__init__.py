"""Delta Lake storage of the city model (see schemas/tables.toml)."""

from cim.store.delta import VERSIONED_TABLES, ModelCommit, Store
from cim.store.schema import conform, documented_tables, geometry_field, table_schema

__all__ = ["VERSIONED_TABLES", "ModelCommit", "Store", "conform", "documented_tables", "geometry_field",
           "table_schema"]
