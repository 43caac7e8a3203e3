"""FlatGeobuf files, one per table with geometry: a streamable format GDAL has read since 3.1.

FlatGeobuf holds features only: attribute-only tables are left out (the GeoPackage keeps them as tables).
"""

from __future__ import annotations

from pathlib import Path

from pyproj import CRS

from cim.files import safe_child
from cim.gis_export.geopackage import write_layer
from cim.gis_export.layers import Layer
from cim.gis_export.staging import staged_folder


def write_flatgeobuf(layers: list[Layer], crs: str, out_dir: str | Path) -> tuple[list[Path], list[str]]:
    """``<table>.fgb`` for every layer with geometry, all renamed into ``out_dir`` together; and notes on the
    tables left out."""
    out = Path(out_dir)
    wkt = CRS.from_user_input(crs).to_wkt()
    written, attributes_only = [], []
    with staged_folder(out, "FlatGeobuf files") as tmp:
        for layer in layers:
            if layer.geometry is None:
                attributes_only.append(layer.name)
                continue
            name = safe_child(out, f"{layer.name}.fgb", what="export file name").name
            write_layer(layer, tmp / name, "FlatGeobuf", wkt)
            written.append(out / name)
    notes = [f"FlatGeobuf holds features only; tables without geometry not written there (the GeoPackage has "
             f"them): {', '.join(attributes_only)}"] if attributes_only else []
    return written, notes
