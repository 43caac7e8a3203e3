"""FlatGeobuf files, one per table with geometry: a streamable format GDAL has read since 3.1.

FlatGeobuf holds features only: attribute-only tables are left out (the GeoPackage keeps them as tables).
A file whose table has rows without geometry (``elements`` without a footprint) has no spatial index, which
FlatGeobuf allows only when every feature has a geometry; its rows are all there.
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
            # FlatGeobuf's spatial index needs a geometry on every feature: elements without a footprint
            # (a sensor, an opening) are kept and that file goes without an index.
            nulls = layer.table[layer.geometry].null_count > 0
            write_layer(layer, tmp / name, "FlatGeobuf", wkt, layer_options={"SPATIAL_INDEX": "NO" if nulls else "YES"})
            written.append(out / name)
    notes = [f"FlatGeobuf holds features only; tables without geometry not written there (the GeoPackage has "
             f"them): {', '.join(attributes_only)}"] if attributes_only else []
    return written, notes
