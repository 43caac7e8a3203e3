"""City CRS -> WGS84 (lon, lat, ellipsoidal height) and ECEF, with pyproj.

Heights: the store's z (metres above the city datum) is used as the height above the ellipsoid. The transforms are
the 3D Tiles export's own (``cim.tiles.frame.CityFrame``), so the GIS ground, clash points and the tiles line up
with each other exactly.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np


@lru_cache(maxsize=8)
def _frame(crs: str):
    """The 3D Tiles export's own transformers (cim.tiles.frame.CityFrame): one georeferencing for both."""
    from cim.tiles.frame import CityFrame

    return CityFrame(crs)


def to_lonlat(crs: str, x, y, z=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrays of longitude, latitude (degrees) and height (m) for city-CRS coordinates."""
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    zs = np.zeros_like(xs) if z is None else np.asarray(z, dtype=np.float64)
    lon, lat, _ = _frame(crs).to_geographic.transform(xs, ys, zs)
    return np.asarray(lon), np.asarray(lat), zs


def to_ecef(crs: str, xyz: np.ndarray) -> np.ndarray:
    """(n, 3) city-CRS points -> (n, 3) EPSG:4978 points (float64)."""
    return _frame(crs).ecef(np.asarray(xyz, dtype=np.float64).reshape(-1, 3))


def geometry_to_lonlat(crs: str, geometry, height: float | None = None) -> dict[str, Any]:
    """A shapely geometry as a GeoJSON geometry in WGS84 (lon, lat), with ``height`` as a third coordinate if given."""
    import shapely

    def move(coords: np.ndarray) -> np.ndarray:
        lon, lat, _ = to_lonlat(crs, coords[:, 0], coords[:, 1])
        return np.column_stack([np.round(lon, 9), np.round(lat, 9)])

    mapping = shapely.geometry.mapping(shapely.transform(shapely.force_2d(geometry), move))
    return mapping if height is None else _with_height(mapping, round(float(height), 3))


def _with_height(mapping: dict[str, Any], height: float) -> dict[str, Any]:
    def lift(coords):
        if coords and isinstance(coords[0], int | float):
            return [coords[0], coords[1], height]
        return [lift(c) for c in coords]

    if mapping["type"] == "GeometryCollection":
        return {"type": "GeometryCollection", "geometries": [_with_height(g, height) for g in mapping["geometries"]]}
    return {"type": mapping["type"], "coordinates": lift(mapping["coordinates"])}
