"""The values the clash engine passes between its steps.

Geometry is held in a *local frame*: city coordinates minus one origin per check, so that
millimetre-scale tests stay exact 500 km from the CRS origin (float64 keeps ~1e-10 m there,
but float32 kernels and squared distances do not).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MODES = ("hard", "clearance", "duplicate", "containment")


@dataclass(frozen=True, eq=False)
class Solid:
    """One element's triangle mesh in the local frame; ``key`` is unique within a check."""

    key: str
    vertices: np.ndarray  # (n, 3) float64, metres, local frame
    faces: np.ndarray  # (m, 3) int32 or int64, counter-clockwise seen from outside
    closed: bool  # watertight: volumes and inside/outside are reliable
    bounds: np.ndarray = field(init=False)  # (6,) xmin, ymin, zmin, xmax, ymax, zmax

    def __post_init__(self) -> None:
        v = np.asarray(self.vertices, dtype=np.float64).reshape(-1, 3)
        object.__setattr__(self, "vertices", v)
        object.__setattr__(self, "faces", np.asarray(self.faces).reshape(-1, 3))
        object.__setattr__(self, "bounds", np.concatenate([v.min(axis=0), v.max(axis=0)]) if len(v) else np.zeros(6))


@dataclass(frozen=True)
class Contact:
    """What the narrow phase found for one pair, before rules and suppression name it a clash."""

    mode: str  # one of MODES
    point: tuple[float, float, float]  # local frame; the centre of the overlap or the middle of the gap
    depth: float | None = None  # m: thickness of the overlap (hard, duplicate, containment)
    distance: float | None = None  # m: shortest distance between the surfaces (clearance; 0 when they overlap)
    inside: str | None = None  # containment: "a" when the first solid lies inside the second, else "b"
    volume: float | None = None  # m3: volume of the overlap, when the solids are closed
    depth_method: str | None = None  # what depth means: overlap, surface_inside or approximate (kernel_open)
