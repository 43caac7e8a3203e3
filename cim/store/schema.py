"""Arrow schemas of the store's tables, read from ``schemas/tables.toml`` (the documented contract).

pyarrow is imported by the functions that build Arrow types, not at module level: `cim query` reads the
documented table list from here and must not pay for pyarrow (and the pandas it pulls in) at start-up.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "tables.toml"

# Tables that keep every ingested version of a model (the views show the current one and <name>_history).
VERSIONED_TABLES = ("elements", "meshes", "buildings", "relations", "step_lines")


@cache
def _types() -> dict[str, pa.DataType]:
    import pyarrow as pa

    return {
        "string": pa.string(),
        "json": pa.string(),
        "int32": pa.int32(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "wkb": pa.binary(),
        "bytes": pa.binary(),
        "list<string>": pa.list_(pa.string()),
        "list<float64>": pa.list_(pa.float64()),
        "list<int32>": pa.list_(pa.int32()),
    }


@cache
def documented_tables() -> dict:
    """The parsed contract: schemas/tables.toml plus the tables of each checks' schemas/tables_*.toml."""
    with SCHEMA_FILE.open("rb") as fh:
        doc = tomllib.load(fh)
    for extra in sorted(SCHEMA_FILE.parent.glob("tables_*.toml")):
        with extra.open("rb") as fh:
            doc["tables"].update(tomllib.load(fh).get("tables", {}))
    return doc


def arrow_type(type_name: str) -> pa.DataType:
    try:
        return _types()[type_name]
    except KeyError:
        raise ValueError(f"{SCHEMA_FILE}: unknown column type {type_name!r}; use one of {sorted(_types())}") from None


def geometry_field(name: str, crs: str, nullable: bool = True) -> pa.Field:
    """A WKB column whose metadata carries the CRS, so readers know what the bytes mean."""
    import pyarrow as pa

    return pa.field(name, pa.binary(), nullable=nullable, metadata={"encoding": "WKB", "crs": crs})


@cache
def table_schema(table: str, crs: str) -> pa.Schema:
    """The Arrow schema of a core table, with the CRS recorded on its geometry columns."""
    import pyarrow as pa

    spec = documented_tables()["tables"][table]
    fields = []
    for col in spec["columns"]:
        if col["type"] == "wkb":
            fields.append(geometry_field(col["name"], crs, col.get("nullable", True)))
        else:
            fields.append(pa.field(col["name"], arrow_type(col["type"]), nullable=col.get("nullable", True)))
    return pa.schema(fields)


def core_tables() -> list[str]:
    return list(documented_tables()["tables"])


def conform(table: str, data: pa.Table, crs: str) -> pa.Table:
    """Cast ``data`` to the documented schema: missing nullable columns become nulls, extra ones fail."""
    import pyarrow as pa

    schema = table_schema(table, crs)
    extra = set(data.column_names) - set(schema.names)
    if extra:
        raise ValueError(f"table {table!r}: columns {sorted(extra)} are not documented in {SCHEMA_FILE.name}")
    columns = []
    for field in schema:
        if field.name in data.column_names:
            columns.append(data.column(field.name).cast(field.type))
        elif field.nullable:
            columns.append(pa.nulls(data.num_rows, field.type))
        else:
            raise ValueError(f"table {table!r}: required column {field.name!r} is missing")
    return pa.Table.from_arrays(columns, schema=schema)


def with_version(data: pa.Table, model_id: str, version: int) -> pa.Table:
    """``data`` with the model_id and version columns of the versioned and derived tables."""
    import pyarrow as pa

    n = data.num_rows
    data = data.append_column("model_id", pa.array([model_id] * n, pa.string()))
    return data.append_column("version", pa.array([version] * n, pa.int64()))
