"""Writes of derived tables (the tables checks compute from a model) as one all-or-nothing transaction.

Each table is recorded in the store's journal with its Delta version before it is first written; the
journal goes when the block ends. An exception inside the block restores the recorded versions at once;
a kill leaves the journal, and the next writer (any ``Store`` opened for writing) restores them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from cim.store.journal import fault_point
from cim.store.objects import is_table, open_table, write_table
from cim.store.schema import conform, core_tables, table_schema, with_version

if TYPE_CHECKING:
    from cim.store.delta import Store


class DerivedWrite:
    """The tables written inside one ``Store.derived`` block; each is journaled before it is written."""

    def __init__(self, store: Store, model_id: str | None, version: int | None):
        self.store, self.model_id, self.version = store, model_id, version
        self.journaled: dict[str, int] = {}

    def _journal(self, name: str):
        if name not in core_tables():
            raise ValueError(f"{name!r} is not a documented table (schemas/tables*.toml)")
        path = self.store.root / name
        if not is_table(path):
            write_table(path, table_schema(name, self.store.crs).empty_table(), mode="error", name=name)
        if name not in self.journaled:
            self.journaled[name] = open_table(path).version()
            self.store._begin("derived", self.model_id, self.version, self.journaled)
            fault_point("derived-journal")
        return path

    def replace_table(self, name: str, data: pa.Table) -> None:
        data = conform(name, data, self.store.crs)
        # the whole table is replaced: its schema too (a documented column added since it was written)
        write_table(self._journal(name), data, mode="overwrite", schema_mode="overwrite", name=name)
        fault_point(name)

    def replace_model_rows(self, name: str, data: pa.Table) -> None:
        if self.model_id is None or self.version is None:
            raise ValueError("replace_model_rows needs Store.derived(model_id, version)")
        data = conform(name, with_version(data, self.model_id, self.version), self.store.crs)
        quoted = self.model_id.replace("'", "''")
        write_table(self._journal(name), data, mode="overwrite", predicate=f"model_id = '{quoted}'")
        fault_point(name)

    def replace_rows_where(self, name: str, data: pa.Table, keys: dict[str, str | int]) -> None:
        """Replace the rows whose columns equal ``keys`` (e.g. one model's diff of two versions) with ``data``,
        which carries those columns itself; the other rows stay."""
        data = conform(name, data, self.store.crs)
        predicate = " AND ".join(f"{col} = {_sql_literal(value)}" for col, value in keys.items())
        write_table(self._journal(name), data, mode="overwrite", predicate=predicate)
        fault_point(name)


def _sql_literal(value: str | int) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"unsupported key value {value!r}")
    return str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"
