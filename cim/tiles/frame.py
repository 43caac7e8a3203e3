"""Georeferencing of tile content: city CRS -> ECEF (EPSG:4978) and a local east-north-up frame per tile.

glTF stores float32 positions; ECEF coordinates are about 6.4e6 m, where float32 steps are 0.5 m. Each tile
therefore keeps its vertices in a local frame (east, north, up at the tile's centre, float64 while computed,
float32 once written) and the tileset carries the frame as the tile's ``transform``. A vertex within 1 km of
the tile centre then rounds to about 0.06 mm.

Heights: the store's z is metres above the city's height datum (an orthometric height, e.g. the 1985 National
Height Datum). 3D Tiles places content on the WGS84 ellipsoid; cim treats z as an ellipsoidal height (no geoid
model is applied), so the whole city sits uniformly offset by the local geoid undulation (a few metres to
tens of metres), while relative positions are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from pyproj import CRS, Transformer

# glTF is y-up; 3D Tiles rotates glTF content by +90 degrees about x to make it z-up. Writing (e, u, -n)
# makes the rotated content land at (e, n, u) in the tile frame.
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
REGION_PAD_RAD = 1e-7  # about 0.6 m: the region holds the content even where grid lines bend
REGION_PAD_M = 0.5


@dataclass
class CityFrame:
    """Transformers between one city CRS (x = easting, y = northing, z = height) and ECEF / lon-lat-height."""

    crs: str

    @cached_property
    def _crs3d(self) -> CRS:
        return CRS.from_user_input(self.crs).to_3d()

    @cached_property
    def to_ecef(self) -> Transformer:
        return Transformer.from_crs(self._crs3d, CRS.from_epsg(4978), always_xy=True)

    @cached_property
    def from_ecef(self) -> Transformer:
        return Transformer.from_crs(CRS.from_epsg(4978), self._crs3d, always_xy=True)

    @cached_property
    def to_geographic(self) -> Transformer:
        return Transformer.from_crs(self._crs3d, CRS.from_epsg(4979), always_xy=True)

    def ecef(self, xyz: np.ndarray) -> np.ndarray:
        """(n, 3) city coordinates -> (n, 3) ECEF, float64."""
        x, y, z = self.to_ecef.transform(xyz[:, 0], xyz[:, 1], xyz[:, 2])
        return np.column_stack([x, y, z])

    def city(self, ecef: np.ndarray) -> np.ndarray:
        """(n, 3) ECEF -> (n, 3) city coordinates (the inverse of :meth:`ecef`)."""
        x, y, z = self.from_ecef.transform(ecef[:, 0], ecef[:, 1], ecef[:, 2])
        return np.column_stack([x, y, z])

    def enu_frame(self, centre: np.ndarray) -> np.ndarray:
        """The 4x4 matrix (local east-north-up at ``centre``, a city point) -> ECEF."""
        lon, lat, _ = self.to_geographic.transform(centre[0], centre[1], centre[2])
        lam, phi = np.radians(lon), np.radians(lat)
        east = np.array([-np.sin(lam), np.cos(lam), 0.0])
        north = np.array([-np.sin(phi) * np.cos(lam), -np.sin(phi) * np.sin(lam), np.cos(phi)])
        up = np.array([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
        matrix = np.eye(4)
        matrix[:3, 0], matrix[:3, 1], matrix[:3, 2] = east, north, up
        matrix[:3, 3] = self.ecef(np.asarray(centre, dtype=np.float64).reshape(1, 3))[0]
        return matrix

    def region(self, lo: np.ndarray, hi: np.ndarray) -> list[float]:
        """A 3D Tiles region [west, south, east, north, min h, max h] (radians, metres) holding a city box."""
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        lon, lat, h = self.to_geographic.transform(corners[:, 0], corners[:, 1], corners[:, 2])
        lon, lat = np.radians(lon), np.radians(lat)
        return [float(lon.min() - REGION_PAD_RAD), float(lat.min() - REGION_PAD_RAD),
                float(lon.max() + REGION_PAD_RAD), float(lat.max() + REGION_PAD_RAD),
                float(np.min(h) - REGION_PAD_M), float(np.max(h) + REGION_PAD_M)]


def to_local(ecef: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """ECEF points -> glTF (y-up) coordinates in the tile frame, float64."""
    enu = (ecef - frame[:3, 3]) @ frame[:3, :3]
    return np.column_stack([enu[:, 0], enu[:, 2], -enu[:, 1]])


def to_ecef(local: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """glTF (y-up) coordinates in the tile frame -> ECEF (what a 3D Tiles client does), float64."""
    enu = local.astype(np.float64) @ Y_UP_TO_Z_UP.T
    return enu @ frame[:3, :3].T + frame[:3, 3]


def column_major(matrix: np.ndarray) -> list[float]:
    """A 4x4 matrix as the 16 numbers glTF and 3D Tiles expect (column by column)."""
    return [float(v) for v in matrix.T.reshape(-1)]
