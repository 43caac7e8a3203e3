"""Arrow types of the takeoff tables' data columns (schemas/tables_qto.toml, without model_id/version)."""

from __future__ import annotations

import pyarrow as pa

QUANTITY_COLUMNS = {
    "global_id": pa.string(), "ifc_class": pa.string(), "qset": pa.string(), "name": pa.string(),
    "value": pa.float64(), "unit": pa.string(), "method": pa.string(), "declared_value": pa.float64(),
    "difference": pa.float64(), "reliable": pa.bool_(), "note": pa.string(), "geometry_hash": pa.string(),
}
SUMMARY_COLUMNS = {
    "group_by": pa.string(), "key": pa.string(), "key_global_id": pa.string(), "building": pa.string(),
    "qset": pa.string(), "quantity": pa.string(), "unit": pa.string(), "total": pa.float64(), "count": pa.int64(),
    "n_unreliable": pa.int64(),
}
