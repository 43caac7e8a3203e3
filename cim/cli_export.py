"""`cim export`: copies of the store for GIS users (GeoParquet, GeoPackage, FlatGeobuf, a QGIS project)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cim.errors import CimError


def export(
    geoparquet: Annotated[Path | None, typer.Option("--geoparquet", help="Folder to write GeoParquet 1.1 files "
                                                    "into (one per table, every column as stored).")] = None,
    gpkg: Annotated[Path | None, typer.Option("--gpkg", help="GeoPackage to write: one layer per table, "
                                              "plus tunnel_axis and protection_zones.")] = None,
    fgb: Annotated[Path | None, typer.Option("--fgb", help="Folder to write FlatGeobuf files into (one per "
                                             "layer with geometry).")] = None,
    qgis: Annotated[Path | None, typer.Option("--qgis", help="QGIS project (.qgz) of the city's layers; the "
                                              "GeoPackage goes beside it (city.qgz -> city.gpkg) unless --gpkg "
                                              "is given.")] = None,
    store: Annotated[Path, typer.Option("--store", envvar="CIM_STORE", help="Store folder (env CIM_STORE).")]
    = Path("cim-data"),
):
    """Write copies of every table (current versions) for QGIS, ArcGIS, GDAL and geopandas."""
    from cim.cli import _fail, say

    targets = {"geoparquet": geoparquet, "gpkg": gpkg, "fgb": fgb, "qgis": qgis}
    try:
        if all(v is None for v in targets.values()):
            raise CimError(None, "nothing to export", "give at least one of --geoparquet DIR, --gpkg FILE.gpkg, "
                           "--fgb DIR, --qgis FILE.qgz", stage="export")
        if qgis is not None and qgis.suffix.lower() != ".qgz":
            raise CimError(qgis, "a QGIS project file name must end in .qgz", "e.g. --qgis city.qgz", stage="export")
        if gpkg is not None and gpkg.suffix.lower() != ".gpkg":
            raise CimError(gpkg, "a GeoPackage file name must end in .gpkg", "e.g. --gpkg city.gpkg", stage="export")
        from cim.gis_export import export as run_export
        from cim.query import open_store_for_query

        job = run_export(open_store_for_query(store), targets)
    except CimError as exc:
        _fail(exc)
    for path in job.written:
        say(path)
    for note in job.notes:
        say(f"note: {note}")
