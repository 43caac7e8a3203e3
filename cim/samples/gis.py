"""The demo city's GIS layers (city.gpkg, EPSG:4549): parcels, roads, red lines, existing buildings, pipelines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pyogrio
from shapely.geometry import LineString, Polygon, box

from cim.samples import layout
from cim.samples.grid_building import BuildingSpec

LAYERS = ("parcels", "roads", "road_redlines", "buildings_existing", "pipelines")

# road_id, name, centre line, red_line_width_m, lanes, class
ROADS = (
    ("R-BA", "Binhai Avenue", ((layout.AVENUE_E0, layout.AVENUE_N), (layout.AVENUE_E1, layout.AVENUE_N)),
     layout.AVENUE_RED_LINE_WIDTH, 8, "arterial"),
    ("R-TH", "Tonghu Road", ((layout.TONGHU_E, layout.TONGHU_N0), (layout.TONGHU_E, layout.TONGHU_N1)),
     layout.TONGHU_RED_LINE_WIDTH, 4, "secondary"),
    ("R-HX", "Haixi Road", ((layout.HAIXI_E0, layout.HAIXI_N), (layout.HAIXI_E1, layout.HAIXI_N)),
     layout.HAIXI_RED_LINE_WIDTH, 2, "branch"),
)

# Surveyed context buildings without an IFC model: name, use, (E0, N0, E1, N1), storeys, height_m, parcel.
CONTEXT_BUILDINGS = (
    ("Binhai Mall", "commercial", (464_715.0, 2_865_745.0, 464_790.0, 2_865_815.0), 2, 12.0, "BH-03"),
    ("Park pavilion", "green", (465_310.0, 2_865_790.0, 465_318.0, 2_865_798.0), 1, 4.5, "BH-06"),
    ("Tonghu Plaza", "commercial", (464_780.0, 2_865_600.0, 464_830.0, 2_865_640.0), 10, 36.0, "BH-13"),
    ("Binhai Garden 1", "residential", (464_980.0, 2_865_570.0, 465_040.0, 2_865_585.0), 11, 33.0, "BH-14"),
    ("Binhai Garden 2", "residential", (464_980.0, 2_865_620.0, 465_040.0, 2_865_635.0), 11, 33.0, "BH-14"),
)

_S = layout.SOUTH_ROW_N1  # south edge of the avenue's red line
_TH0 = layout.TUNNEL_AXIS_N + layout.TUNNEL_OUTER_WIDTH / 2 + layout.TUNNEL_PROTECTION_ZONE_M + 3.0  # N 2,865,724
# pipeline_id, type, diameter_mm, depth_m (cover to pipe top), material, owner, installed_year, vertices (E, N)
PIPELINES = (
    ("PL-W-001", "water", 600, 1.2, "ductile iron", "Fuzhou Water Group", 2016,
     ((464_300.0, _S + 4), (465_500.0, _S + 4))),
    ("PL-E-001", "power", 800, 0.8, "PVC duct bank", "State Grid Fuzhou", 2016,
     ((464_300.0, _S + 2), (465_500.0, _S + 2))),
    ("PL-G-001", "gas", 300, 1.0, "PE100", "Fuzhou Gas Co.", 2017,
     ((464_300.0, _S + 8), (465_500.0, _S + 8))),
    ("PL-S-001", "sewer", 800, 2.5, "reinforced concrete", "Fuzhou Drainage Co.", 2016,
     ((464_300.0, _S + 12), (465_500.0, _S + 12))),
    ("PL-D-001", "storm", 1000, 2.0, "reinforced concrete", "Fuzhou Drainage Co.", 2016,
     ((464_300.0, _S + 16), (465_500.0, _S + 16))),
    ("PL-T-001", "telecom", 110, 0.7, "HDPE duct", "China Telecom Fuzhou", 2018,
     ((464_300.0, _S + 18), (465_500.0, _S + 18))),
    ("PL-W-002", "water", 300, 1.2, "ductile iron", "Fuzhou Water Group", 2019,
     ((464_893.0, _TH0), (464_893.0, 2_865_995.0))),
    ("PL-G-002", "gas", 200, 1.0, "PE100", "Fuzhou Gas Co.", 2019, ((464_897.0, _TH0), (464_897.0, 2_865_995.0))),
    ("PL-S-002", "sewer", 500, 2.5, "HDPE double-wall", "Fuzhou Drainage Co.", 2019,
     ((464_903.0, _TH0), (464_903.0, 2_865_995.0))),
    ("PL-D-002", "storm", 600, 2.0, "reinforced concrete", "Fuzhou Drainage Co.", 2019,
     ((464_907.0, _TH0), (464_907.0, 2_865_995.0))),
    # Service connections to buildings.
    ("PL-W-101", "water", 100, 1.2, "ductile iron", "Fuzhou Water Group", 2020,
     ((464_893.0, 2_865_778.0), (464_944.0, 2_865_778.0))),  # to the school
    ("PL-G-101", "gas", 63, 1.0, "PE100", "Fuzhou Gas Co.", 2024,
     ((464_897.0, 2_865_745.0), (465_150.0, 2_865_745.0), (465_150.0, 2_865_764.5))),  # to the office
    ("PL-W-102", "water", 100, 1.2, "ductile iron", "Fuzhou Water Group", 2015,
     ((464_464.0, _S + 4), (464_464.0, 2_865_613.5))),  # to Residential Block B
    ("PL-S-101", "sewer", 200, 2.0, "PVC-U", "Fuzhou Drainage Co.", 2021,
     ((464_640.0, _S + 12), (464_640.0, 2_865_617.5))),  # from the community centre
)


def parcels() -> gpd.GeoDataFrame:
    rows = []
    for parcel_id, (use, (e0, n0, e1, n1), height, far, coverage, setback) in layout.PARCELS.items():
        shape = box(e0, n0, e1, n1)
        rows.append({"parcel_id": parcel_id, "land_use": use, "max_height_m": height, "max_far": far,
                     "max_coverage": coverage, "min_setback_m": setback, "area_m2": round(shape.area, 2),
                     "geometry": shape})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=layout.CITY_CRS)


def parcel(parcel_id: str) -> Polygon:
    e0, n0, e1, n1 = layout.PARCELS[parcel_id][1]
    return box(e0, n0, e1, n1)


def roads() -> gpd.GeoDataFrame:
    rows = [{"road_id": rid, "name": name, "red_line_width_m": width, "lanes": lanes, "class": cls,
             "geometry": LineString(line)} for rid, name, line, width, lanes, cls in ROADS]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=layout.CITY_CRS)


def road_redlines() -> gpd.GeoDataFrame:
    """Red-line polygons: centre line buffered by half the red-line width with flat caps."""
    rows = [{"road_id": rid, "name": name, "geometry": LineString(line).buffer(width / 2, cap_style="flat")}
            for rid, name, line, width, _lanes, _cls in ROADS]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=layout.CITY_CRS)


def buildings_existing(specs: tuple[BuildingSpec, ...]) -> gpd.GeoDataFrame:
    """Footprints of the IFC buildings (from their map conversion) and of surveyed context buildings."""
    rows = [{"building_id": spec.model_id, "name": spec.title, "use": spec.use, "storeys": spec.storeys,
             "height_m": round(spec.height, 3), "parcel_id": spec.parcel_id, "source": f"ifc:{spec.file_name}",
             "geometry": Polygon([(round(e, 4), round(n, 4)) for e, n in spec.footprint()])} for spec in specs]
    for k, (name, use, (e0, n0, e1, n1), storeys, height, parcel_id) in enumerate(CONTEXT_BUILDINGS, start=1):
        rows.append({"building_id": f"ctx-{k:02d}", "name": name, "use": use, "storeys": storeys, "height_m": height,
                     "parcel_id": parcel_id, "source": "survey 2025", "geometry": box(e0, n0, e1, n1)})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=layout.CITY_CRS)


def pipelines() -> gpd.GeoDataFrame:
    rows = [{"pipeline_id": pid, "type": kind, "diameter_mm": dia, "depth_m": depth, "material": mat,
             "owner": owner, "installed_year": year, "geometry": LineString(line)}
            for pid, kind, dia, depth, mat, owner, year, line in PIPELINES]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=layout.CITY_CRS)


def write_city_gpkg(path: Path, specs: tuple[BuildingSpec, ...]) -> Path:
    """Write all five layers; GDAL's clock is pinned so the GeoPackage is byte-identical on every run."""
    stamp = datetime.fromtimestamp(layout.TIMESTAMP, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    frames = {"parcels": parcels(), "roads": roads(), "road_redlines": road_redlines(),
              "buildings_existing": buildings_existing(specs), "pipelines": pipelines()}
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": stamp})
    try:
        for name in LAYERS:
            frames[name].to_file(path, layer=name, driver="GPKG", engine="pyogrio", index=False)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
    return path
