"""Which files are GIS layers: a suffix check and a peek inside, without importing geopandas.

Kept apart from :mod:`cim.gis` so that deciding a file's kind (every ingest, the inbox, the nightly flow)
does not load geopandas and pandas, a third of a second of every cold ``cim ingest`` of IFC files.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

GIS_SUFFIXES: tuple[str, ...] = (
    ".gpkg", ".geojson", ".json", ".shp", ".zip", ".shp.zip", ".parquet", ".geoparquet", ".fgb",
)


def gis_suffix(path: Path) -> str:
    """The file's suffix as cim reads it: ``.shp.zip`` is one suffix."""
    name = path.name.lower()
    return ".shp.zip" if name.endswith(".shp.zip") else path.suffix.lower()


def is_gis_file(path: Path) -> bool:
    """Suffix check, plus a peek inside .json and .zip files, which are often not GIS data."""
    path = Path(path)
    suffix = gis_suffix(path)
    if suffix not in GIS_SUFFIXES:
        return False
    if not path.is_file():
        return True
    if suffix == ".json":
        head = path.open("rb").read(4096)
        return b"Feature" in head and b'"type"' in head
    if suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                return any(n.lower().endswith((".shp", ".gpkg", ".geojson", ".fgb")) for n in zf.namelist())
        except zipfile.BadZipFile:
            return False
    return True
