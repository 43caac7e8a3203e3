"""The GeoParquet export as partitioned datasets, for readers that work in parallel (dask-geopandas, Sedona, Spark).

One file per table is simple but serial: a city's ``elements`` of 100M rows would be one file that one reader
scans whole. Here every table with geometry is also written as a Hive-partitioned folder
(``partitioned/<table>/model_id=<id>/part-<k>.parquet``, or ``tile=<east>_<north>`` of 1 km cells for GIS layers
that have no model), each file a GeoParquet 1.1 file with the ``bbox`` covering column, its rows in Hilbert
order of their bounding boxes and at most ``MAX_ROWS`` rows per file. A reader then gets one task per file,
can skip whole models by folder name, and skip row groups and files by bbox without decoding a geometry.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from geopandas.io.arrow import _geopandas_to_arrow  # what GeoDataFrame.to_parquet writes (geopandas is pinned)

from cim.files import safe_child

MAX_ROWS = 250_000  # rows per file: a task of a few seconds for a reader
ROW_GROUP = 50_000
TILE_M = 1000.0  # GIS layers without a model: square tiles of this side, in city CRS metres


def partition_keys(frame: gpd.GeoDataFrame) -> tuple[str, np.ndarray]:
    """The Hive key of each row: its model, or the 1 km tile of its bbox centre (``e<ix>_n<iy>``)."""
    if "model_id" in frame.columns:
        return "model_id", frame["model_id"].astype(str).to_numpy()
    bounds = frame.geometry.bounds
    cx = ((bounds["minx"] + bounds["maxx"]) / 2).fillna(0.0).to_numpy()
    cy = ((bounds["miny"] + bounds["maxy"]) / 2).fillna(0.0).to_numpy()
    ix = np.floor(cx / TILE_M).astype(np.int64)
    iy = np.floor(cy / TILE_M).astype(np.int64)
    return "tile", np.array([f"e{a}_n{b}" for a, b in zip(ix, iy, strict=True)], dtype=object)


def _hilbert_order(frame: gpd.GeoDataFrame) -> np.ndarray:
    """Row order along a Hilbert curve over the part's extent (empty geometries last), so nearby rows share files."""
    empty = frame.geometry.isna() | frame.geometry.is_empty
    if empty.all():
        return np.arange(len(frame))
    total = frame.geometry[~empty].total_bounds
    distance = np.full(len(frame), np.iinfo(np.int64).max, dtype=np.int64)
    distance[~empty.to_numpy()] = frame.geometry[~empty].hilbert_distance(total_bounds=total).to_numpy()
    return np.argsort(distance, kind="stable")


def _file_metadata(table: pa.Table, geo: dict) -> pa.Table:
    """The "geo" metadata of one file: the dataset's, with each geometry column's bbox narrowed to this file."""
    geo = json.loads(json.dumps(geo))
    for column in geo["columns"].values():
        covering = column.get("covering", {}).get("bbox")
        if not covering or table.num_rows == 0:
            column.pop("bbox", None)
            continue
        box = table.column(covering["xmin"][0])
        lo = [pc.min(pc.struct_field(box, k)).as_py() for k in ("xmin", "ymin")]
        hi = [pc.max(pc.struct_field(box, k)).as_py() for k in ("xmax", "ymax")]
        if None in lo + hi:
            column.pop("bbox", None)
        else:
            column["bbox"] = [*lo, *hi]
    return table.replace_schema_metadata({**(table.schema.metadata or {}), b"geo": json.dumps(geo).encode()})


def write_partitioned(frame: gpd.GeoDataFrame, folder: Path) -> list[Path]:
    """Write ``frame`` under ``folder`` as described above; returns the files written.

    The frame is turned into Arrow once, so every file has the same schema (a column that is all null in one
    model keeps its type) and readers can combine them."""
    column, keys = partition_keys(frame)
    table = _geopandas_to_arrow(frame, index=False, schema_version="1.1.0", write_covering_bbox=True)
    geo = json.loads(table.schema.metadata[b"geo"])
    if column in table.column_names:
        table = table.drop_columns([column])  # in the folder name (Hive style), as readers expect
    written = []
    for key in sorted(set(keys)):
        rows = np.flatnonzero(keys == key)
        rows = rows[_hilbert_order(frame.iloc[rows])]
        where = safe_child(folder, f"{column}={key}", what="partition folder name")
        where.mkdir(parents=True, exist_ok=True)
        for k in range(max(1, math.ceil(len(rows) / MAX_ROWS))):
            target = where / f"part-{k}.parquet"
            part = table.take(pa.array(rows[k * MAX_ROWS:(k + 1) * MAX_ROWS], type=pa.int64()))
            pq.write_table(_file_metadata(part, geo), target, row_group_size=ROW_GROUP)
            written.append(target)
    return written
