"""Names in the store: which names the store's tables and views take, and what a GIS layer may be called.

GIS layers live in their own folder (``<store>/layers/<name>/v<version>``) so no layer can overwrite a
table on disk, but `cim query` shows tables, ``<table>_history`` views, ``current_models`` and layers
side by side: a layer must therefore not take any of those names, nor a name a future table of a check
may take (the prefixes of ``[reserved]`` in schemas/tables.toml).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from cim.store.schema import documented_tables

LAYER_PREFIX = "gis_"  # what a colliding or digit-leading layer name gets in front
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_NAME = 63


@cache
def reserved_names() -> frozenset[str]:
    """Every name `cim query` may show for the store itself: tables, their history views, fixed views."""
    doc = documented_tables()
    tables = set(doc["tables"])
    fixed = set(doc.get("reserved", {}).get("names", []))
    return frozenset(tables | {f"{t}_history" for t in tables} | fixed)


@cache
def reserved_prefixes() -> tuple[str, ...]:
    """Prefixes kept for tables that checks write now or later (tunnel_, clash_, quantity_...)."""
    return tuple(documented_tables().get("reserved", {}).get("prefixes", []))


def is_reserved(name: str) -> bool:
    return name in reserved_names() or name.startswith(reserved_prefixes())


def sanitize(raw: str) -> str:
    """Only [a-z0-9_], starting with a letter: safe as a folder name and as an unquoted SQL name."""
    ascii_name = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_") or "layer"
    if not name[0].isalpha():
        name = LAYER_PREFIX + name
    return name[:MAX_NAME].rstrip("_")


def layer_table_name(raw: str) -> tuple[str, str | None]:
    """The name a layer is stored and queried under, and a warning when it is not the sanitised one."""
    name = sanitize(raw)
    if is_reserved(name):
        stored = LAYER_PREFIX + name
        return stored, (f"layer {raw!r} would shadow the store's own {name!r} (a table, view or a name kept "
                        f"for checks); stored as {stored!r}: query it as {stored}")
    return name, None


def valid_layer_name(name: str) -> bool:
    return bool(NAME_PATTERN.match(name)) and len(name) <= MAX_NAME and not is_reserved(name)
