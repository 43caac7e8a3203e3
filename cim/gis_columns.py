"""A GIS layer's attribute columns made storable, whatever the source file holds.

Delta Lake compares column names without regard to case and cannot store a column of type Null, and the
store adds columns of its own (``feature_id``, ``geometry``, ``model_id``, ``version``). Source files break
all three rules in ordinary use (``Name`` beside ``name``, an empty layer, a column that is null on every
feature, a property called ``geometry``), so every column gets a name that is unique ignoring case and not
the store's, and a concrete type: nothing is dropped, and every rename is reported.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

# Columns the store writes itself: a source column of the same name (in any case) is kept as <name>_src.
STORE_COLUMNS = ("feature_id", "geometry", "model_id", "version")
STRING = "str" if int(pd.__version__.split(".")[0]) >= 3 else "string"  # pandas' own string dtype
# shapely type ids (0 Point ... 7 GeometryCollection) to the family a GIS client draws them as
_FAMILY_OF_TYPE_ID = ("Point", "LineString", "LineString", "Polygon", "Point", "LineString", "Polygon",
                      "GeometryCollection")


def storable_names(names: list[str]) -> tuple[list[str], list[str]]:
    """Names unique ignoring case and apart from :data:`STORE_COLUMNS`; the notes say what was renamed and why."""
    taken = {n.lower() for n in STORE_COLUMNS}
    out: list[str] = []
    notes: list[str] = []
    for i, name in enumerate(names):
        name = str(name)
        base = name if name.strip() else f"column_{i + 1}"
        if base.lower() in STORE_COLUMNS:
            base = f"{base}_src"
        new, n = base, 1
        while new.lower() in taken:
            n += 1
            new = f"{base}_{n}"
        taken.add(new.lower())
        out.append(new)
        if new == name:
            continue
        if not name.strip():
            why = "has no name"
        elif name.lower() in STORE_COLUMNS:
            why = f"is a column the store writes itself ({name.lower()!r})"
        else:
            why = "repeats another column's name apart from case (Delta column names ignore case)"
        notes.append(f"source column {name!r} {why}; stored as {new!r}")
    return out, notes


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def _as_text(value: object) -> str | None:
    """Lists and objects (GeoJSON arrays, JSON fields) as JSON text; anything else as str()."""
    if _missing(value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray | list | tuple | dict):
        return json.dumps(value, default=lambda v: v.tolist() if isinstance(v, np.ndarray | np.generic) else str(v),
                          ensure_ascii=False)
    return str(value)


def storable_values(frame: pd.DataFrame, geometry: str = "geometry") -> pd.DataFrame:
    """Object columns get one Arrow type: text, bytes (binary) or JSON text; an all-null column is text."""
    for col in frame.columns:
        if col == geometry or frame[col].dtype != object:
            continue
        present = frame[col].dropna()
        if len(present) and all(isinstance(v, bytes) for v in present):
            continue  # binary (GeoPackage BLOB): Arrow stores it as binary
        if len(present) and all(isinstance(v, str) for v in present):
            continue
        frame[col] = frame[col].map(_as_text).astype(STRING)
    return frame


def typed_table(table: pa.Table) -> pa.Table:
    """No Null-typed column ever reaches Delta (it cannot read one back): such a column becomes text."""
    for i, field in enumerate(table.schema):
        if pa.types.is_null(field.type):
            table = table.set_column(i, pa.field(field.name, pa.string()), table.column(i).cast(pa.string()))
    return table


def geometry_mix_note(geoms: np.ndarray) -> str | None:
    """'mixed geometry types: 2 Point, 1 Polygon' when a layer holds more than one family (QGIS shows one)."""
    ids = shapely.get_type_id(geoms)
    types: Counter[str] = Counter()
    for type_id, count in zip(*np.unique(ids[ids >= 0], return_counts=True), strict=True):
        types[_FAMILY_OF_TYPE_ID[int(type_id)]] += int(count)
    if len(types) < 2:
        return None
    parts = ", ".join(f"{n} {t}" for t, n in sorted(types.items()))
    return f"mixed geometry types: {parts} (stored as they are; filter with ST_GeometryType to draw one kind)"
