"""The resolved georeferencing of one model and its vectorised engineering -> city transform."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cim.georef import crs as crsmod


@dataclass(frozen=True)
class Georef:
    """How one model's engineering frame maps into the city CRS.

    Fields hold the parameters as found (map units, project units) so the record shows what the
    file said; :meth:`to_city` does the unit bookkeeping.
    """

    level: int
    method: str
    source_crs: str
    city_crs: str
    eastings: float
    northings: float
    orthogonal_height: float
    x_axis_abscissa: float
    x_axis_ordinate: float
    scale: float
    factor_x: float
    factor_y: float
    factor_z: float
    unit_scale: float
    map_unit_scale: float
    vertical_datum: str | None
    site_reference: tuple[float, float, float] | None
    site_offset_m: float | None
    warnings: tuple[str, ...]

    @property
    def rotation_deg(self) -> float:
        """Angle from grid east to the model's +x, counter-clockwise."""
        return math.degrees(math.atan2(self.x_axis_ordinate, self.x_axis_abscissa))

    def to_map(self, xyz_m: np.ndarray) -> np.ndarray:
        """Engineering metres -> (E, N) in the source CRS's units and H in metres (no datum change)."""
        p = np.asarray(xyz_m, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 3:
            raise ValueError(f"expected an (n, 3) array of points, got shape {p.shape}")
        x = p[:, 0] / self.unit_scale
        y = p[:, 1] / self.unit_scale
        z = p[:, 2] / self.unit_scale
        a, b = self.x_axis_abscissa, self.x_axis_ordinate
        e = self.eastings + self.scale * self.factor_x * (a * x - b * y)
        n = self.northings + self.scale * self.factor_y * (b * x + a * y)
        h = self.orthogonal_height + self.scale * self.factor_z * z
        to_crs_units = self.map_unit_scale / crsmod.crs_unit_scale(self.source_crs)
        if to_crs_units != 1.0:
            e = e * to_crs_units
            n = n * to_crs_units
        return np.column_stack([e, n, h * self.map_unit_scale])

    def to_city(self, xyz_m: np.ndarray) -> np.ndarray:
        """(n, 3) engineering metres -> (n, 3) float64 (E, N, H) in the city CRS, x = easting."""
        enh = self.to_map(xyz_m)
        if crsmod.same_crs(self.source_crs, self.city_crs):
            return enh
        e, n, h = crsmod.transformer(self.source_crs, self.city_crs).transform(enh[:, 0], enh[:, 1], enh[:, 2])
        return np.column_stack([np.asarray(e, np.float64), np.asarray(n, np.float64), np.asarray(h, np.float64)])

    def as_record(self) -> dict:
        """JSON-able summary for the ``models`` table."""
        return {
            "level": self.level,
            "method": self.method,
            "source_crs": self.source_crs,
            "city_crs": self.city_crs,
            "placement": {
                "eastings": self.eastings,
                "northings": self.northings,
                "orthogonal_height": self.orthogonal_height,
                "x_axis_abscissa": self.x_axis_abscissa,
                "x_axis_ordinate": self.x_axis_ordinate,
            },
            "rotation_deg": self.rotation_deg,
            "scale": self.scale,
            "factors": [self.factor_x, self.factor_y, self.factor_z],
            "unit_scale": self.unit_scale,
            "map_unit_scale": self.map_unit_scale,
            "vertical_datum": self.vertical_datum,
            "site_reference": list(self.site_reference) if self.site_reference else None,
            "site_offset_m": self.site_offset_m,
            "warnings": list(self.warnings),
        }
