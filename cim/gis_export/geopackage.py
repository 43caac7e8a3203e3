"""One GeoPackage with a layer per table: what QGIS, ArcGIS and any GDAL (Debian 12's 3.6 included) open.

Tables with geometry are feature layers in the city CRS (its EPSG code in ``gpkg_spatial_ref_sys``, so QGIS
shows it), the geometry column keeping its name (``footprint``, ``point``, ``geometry``). Attribute-only tables
(models, quantities, tunnel_findings...) are GeoPackage attribute tables: QGIS opens them as tables to join.
"""

from __future__ import annotations

from pathlib import Path

import pyogrio
from pyproj import CRS

from cim.errors import CimError
from cim.gis_export.layers import Layer
from cim.gis_export.staging import staged_file


class ExportError(CimError):
    stage = "export"


def write_layer(layer: Layer, path: Path, driver: str, crs_wkt: str, **options) -> None:
    """One layer through GDAL; GDAL's errors become one line naming the layer."""
    try:
        if layer.geometry is None:
            pyogrio.write_arrow(layer.table, path, layer=layer.name, driver=driver, **options)
        else:
            pyogrio.write_arrow(layer.table, path, layer=layer.name, driver=driver, geometry_name=layer.geometry,
                                geometry_type=layer.geometry_type, crs=crs_wkt, **options)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError,
            pyogrio.errors.GeometryError, pyogrio.errors.CRSError, ValueError) as exc:
        raise ExportError(path, f"GDAL could not write layer {layer.name!r}: {exc}",
                          "report it with the table's name; the previous export files are left as they were") from exc


def write_geopackage(layers: list[Layer], crs: str, target: str | Path) -> Path:
    """All ``layers`` into the GeoPackage ``target`` (replaced whole, atomically)."""
    target = Path(target)
    wkt = CRS.from_user_input(crs).to_wkt()
    with staged_file(target, "GeoPackage") as tmp:
        for layer in layers:
            options = {"layer_options": {"GEOMETRY_NAME": layer.geometry}} if layer.geometry else {}
            if tmp.exists():
                options["append"] = True
            else:  # GeoPackage 1.2: GDAL before 3.7 (Debian 12's 3.6) warns on 1.4 files
                options["dataset_options"] = {"VERSION": "1.2"}
            write_layer(layer, tmp, "GPKG", wkt, **options)
    return target
