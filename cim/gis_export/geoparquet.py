"""GeoParquet 1.1 copies of the store for geopandas, DuckDB and QGIS on GDAL >= 3.8.

One file per table, every column as stored (lists stay lists, meshes included), and for every table with
geometry the same rows as a partitioned dataset in ``partitioned/<table>/`` for parallel readers
(``cim.gis_export.partitioned``); all are renamed into the folder together, so a failed export leaves the
previous one whole.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from cim.files import safe_child
from cim.gis_export.partitioned import write_partitioned
from cim.gis_export.staging import staged_folder
from cim.query import geometry_columns
from cim.store import Store


def current_table(store: Store, name: str) -> pa.Table:
    """A table as `cim query` shows it: committed rows only, the current version of each model."""
    return store.read_current(name)


def to_geodataframe(table: pa.Table, crs: str, geometries: list[str]) -> gpd.GeoDataFrame:
    """WKB columns decoded; the first is the active geometry (QGIS shows that one)."""
    frame = table.to_pandas()
    for g in geometries:
        frame[g] = gpd.GeoSeries(shapely.from_wkb(frame[g].to_numpy()), index=frame.index, crs=crs)
    return gpd.GeoDataFrame(frame, geometry=geometries[0], crs=crs)


def export_geoparquet(store: Store, out_dir: str | Path) -> list[Path]:
    """One file per table: GeoParquet 1.1 (with bbox covering) where it has geometry, plain Parquet else; and
    ``partitioned/<table>/`` for each table with geometry. Returns the one-per-table files."""
    out = Path(out_dir)
    written = []
    with staged_folder(out, "GeoParquet files") as tmp:
        for name in store.table_names():
            table = current_table(store, name)
            target = safe_child(out, f"{name}.parquet", what="export file name")
            geoms = [g for g in geometry_columns(store, name) if g in table.column_names]
            if geoms:
                frame = to_geodataframe(table, store.crs, geoms)
                frame.to_parquet(tmp / target.name, schema_version="1.1.0", write_covering_bbox=True)
                write_partitioned(frame, tmp / "partitioned" / name)  # not listed: the files are one per table
            else:
                pq.write_table(table, tmp / target.name)
            written.append(target)
    return written
