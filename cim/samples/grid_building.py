"""What a sample building is: a column grid, storeys, a basement, planted clashes; and where it lands on the map.

Local coordinates: the grid's first column line sits ``COLUMN / 2`` inside the local origin, so the
above-ground footprint (outer column and slab faces) is exactly ``[0, width] x [0, depth]``. The
map conversion puts that local origin on (origin_e, origin_n) and turns +x by ``rotation_deg``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

COLUMN = 0.5  # square column side
WALL = 0.2  # wall thickness, centred on the grid line
SLAB = 0.2  # floor and roof slab thickness
BEAM_DEPTH = 0.5
BEAM_WIDTH = 0.3
BASEMENT_WALL = 0.3
BASEMENT_SLAB = 0.4


@dataclass(frozen=True)
class Basement:
    """Basement box in local metres (outer faces) and its storey height."""

    x0: float
    y0: float
    x1: float
    y1: float
    height: float = 4.0


@dataclass(frozen=True)
class Clash:
    """A deliberate internal clash: ``kind`` is duct-beam, pipe-column or duplicate-wall; ``storey`` 0 = ground."""

    kind: str
    storey: int


@dataclass(frozen=True)
class BuildingSpec:
    model_id: str
    file_name: str  # path relative to sample_models/
    title: str
    parcel_id: str
    use: str  # residential, school, office, community
    phase: str  # plan | build | manage
    origin_e: float
    origin_n: float
    nx: int
    ny: int
    bay_x: float
    bay_y: float
    storeys: int
    storey_height: float
    usages: tuple[str, ...]  # space usage per grid row, upper floors
    ground_usages: tuple[str, ...]  # space usage per grid row, ground floor
    rotation_deg: float = 0.0
    schema: str = "IFC4"
    millimetres: bool = False
    site_offset_north_m: float = 0.0  # deliberately wrong IfcSite lat/lon (ingest must warn)
    basement: Basement | None = None
    clashes: tuple[Clash, ...] = field(default_factory=tuple)
    description: str = ""

    @property
    def width(self) -> float:
        return self.nx * self.bay_x + COLUMN

    @property
    def depth(self) -> float:
        return self.ny * self.bay_y + COLUMN

    @property
    def height(self) -> float:
        """Top of the roof slab above finished ground level (metres)."""
        return self.storeys * self.storey_height

    @property
    def gross_floor_area(self) -> float:
        return self.storeys * self.width * self.depth

    def grid_x(self) -> list[float]:
        return [COLUMN / 2 + i * self.bay_x for i in range(self.nx + 1)]

    def grid_y(self) -> list[float]:
        return [COLUMN / 2 + j * self.bay_y for j in range(self.ny + 1)]

    def to_map(self, x: float, y: float) -> tuple[float, float]:
        """Local metres to (E, N) with this building's map conversion."""
        a = math.radians(self.rotation_deg)
        return (self.origin_e + x * math.cos(a) - y * math.sin(a), self.origin_n + x * math.sin(a) + y * math.cos(a))

    def footprint(self) -> list[tuple[float, float]]:
        """Above-ground footprint corners in the city CRS, anticlockwise, closed."""
        corners = [(0.0, 0.0), (self.width, 0.0), (self.width, self.depth), (0.0, self.depth), (0.0, 0.0)]
        return [self.to_map(x, y) for x, y in corners]

    def basement_footprint(self) -> list[tuple[float, float]] | None:
        b = self.basement
        if b is None:
            return None
        corners = [(b.x0, b.y0), (b.x1, b.y0), (b.x1, b.y1), (b.x0, b.y1), (b.x0, b.y0)]
        return [self.to_map(x, y) for x, y in corners]
