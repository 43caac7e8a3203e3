"""What the demo utility tunnel contains: cross-section, fire compartments, utilities and owners.

Pure data, no IFC: the generator modules read it and the tests check the model against it.
Local coordinates: x = chainage (east), y = north offset from the tunnel axis, z = height (m, 1985 datum).
"""

from __future__ import annotations

from dataclasses import dataclass

from cim.samples import layout

LENGTH = layout.TUNNEL_E1 - layout.TUNNEL_E0  # 1000 m: K0+000 .. K1+000
HALF_WIDTH = layout.TUNNEL_OUTER_WIDTH / 2
TOP_Z = layout.TUNNEL_TOP_Z
BOTTOM_Z = layout.TUNNEL_BOTTOM_Z
WALL = 0.3  # outer walls, partitions, floor and roof slabs
SEGMENT = 50.0  # structure, pipe, cable and tray segment length
INNER_BOTTOM_Z = BOTTOM_Z + WALL
INNER_TOP_Z = TOP_Z - WALL
MAX_FIRE_COMPARTMENT = 200.0  # GB 50838-2015 4.1 / 7.1: fire compartments at most 200 m
MAX_ESCAPE_SPACING = 200.0


@dataclass(frozen=True)
class Compartment:
    """One 舱室 running the full tunnel length between two walls."""

    key: str
    name: str
    kind: str  # water|power|telecom|gas|heat|mixed
    y0: float
    y1: float
    fire_breaks: tuple[float, ...]  # chainages of the fire walls, K0+000 and K1+000 included

    @property
    def width(self) -> float:
        return self.y1 - self.y0

    @property
    def centre_y(self) -> float:
        return (self.y0 + self.y1) / 2


_EVERY_200 = (0.0, 200.0, 400.0, 600.0, 800.0, 1000.0)
# Deliberate break 1: the power compartment's second fire compartment runs 250 m (K0+200..K0+450).
_POWER_BREAKS = (0.0, 200.0, 450.0, 650.0, 850.0, 1000.0)

# South to north: 1.8 + 0.3 + 2.2 + 0.3 + 2.3 + 0.3 + 2.2 = 9.4 m between the outer walls.
COMPARTMENTS: tuple[Compartment, ...] = (
    Compartment("GAS", "Gas compartment", "gas", -4.7, -2.9, _EVERY_200),
    Compartment("HEAT", "Heat compartment", "heat", -2.6, -0.4, _EVERY_200),
    Compartment("WT", "Water+Telecom compartment", "mixed", -0.1, 2.2, _EVERY_200),
    Compartment("PWR", "Power compartment", "power", 2.5, 4.7, _POWER_BREAKS),
)
PARTITIONS_Y: tuple[tuple[float, float], ...] = ((-2.9, -2.6), (-0.4, -0.1), (2.2, 2.5))


def compartment(key: str) -> Compartment:
    """The compartment with this key (GAS, HEAT, WT, PWR)."""
    return next(c for c in COMPARTMENTS if c.key == key)


def chainage_label(x: float) -> str:
    """Chinese chainage notation: 1250.0 -> K1+250."""
    return f"K{int(x) // 1000}+{int(x) % 1000:03d}"


def fire_ranges(comp: Compartment) -> list[tuple[float, float]]:
    """(start, end) chainages of the fire compartments of one compartment."""
    b = comp.fire_breaks
    return list(zip(b[:-1], b[1:], strict=True))


def fire_index(comp: Compartment, chainage: float) -> int:
    """Index of the fire compartment that holds this chainage (a break belongs to the next one)."""
    for i, (a, b) in enumerate(fire_ranges(comp)):
        if a <= chainage < b:
            return i
    return len(comp.fire_breaks) - 2


@dataclass(frozen=True)
class Party:
    """An organisation that owns or operates assets (all names are fictitious demo companies)."""

    key: str
    name: str


TUNNEL_OWNER = Party("BHIG", "Binhai Infrastructure Investment Group (demo)")
TUNNEL_OPERATOR = Party("BUTO", "Binhai Utility Tunnel Operation Co. (demo)")
WATER_CO = Party("FZWG", "Fuzhou Water Supply Group (demo)")
GAS_CO = Party("FZGC", "Fuzhou Gas Company (demo)")
HEAT_CO = Party("BHDH", "Binhai District Heating Co. (demo)")
GRID_CO = Party("FZPG", "Fuzhou Power Grid Company (demo)")
TELECOM_CO = Party("FZTC", "Fuzhou Telecom Network Co. (demo)")
PARTIES = (TUNNEL_OWNER, TUNNEL_OPERATOR, WATER_CO, GAS_CO, HEAT_CO, GRID_CO, TELECOM_CO)


@dataclass(frozen=True)
class Utility:
    """One continuous pipe or cable run = one IfcDistributionSystem."""

    key: str
    system_name: str
    system_type: str  # IfcDistributionSystemEnum
    comp: str
    kind: str  # pipe|cable
    y: float
    z: float  # centre height
    diameter: float  # outer diameter (m)
    nominal: str  # DN600, 110 kV, ...
    medium: str
    material: str
    owner: Party
    design_pressure_pa: float = 0.0
    voltage_v: float = 0.0


# The gas main rides 1.4 m above the floor: in the 1.8 m gas compartment no sump pump on the floor can be
# 0.5 m (the gas clearance) from a centred pipe any lower; at z -0.3 the pump keeps 0.7 m.
GAS_MAIN_Z = -0.3

UTILITIES: tuple[Utility, ...] = (
    Utility(
        "GAS",
        "DN300 gas main",
        "GAS",
        "GAS",
        "pipe",
        -3.8,
        GAS_MAIN_Z,
        0.325,
        "DN300",
        "natural gas",
        "Seamless steel L245",
        GAS_CO,
        design_pressure_pa=0.4e6,
    ),
    Utility(
        "HS",
        "DN500 heating supply",
        "HEATING",
        "HEAT",
        "pipe",
        -1.7,
        0.6,
        0.53,
        "DN500",
        "hot water 130 C",
        "Pre-insulated steel Q235B",
        HEAT_CO,
        design_pressure_pa=1.6e6,
    ),
    Utility(
        "HR",
        "DN500 heating return",
        "HEATING",
        "HEAT",
        "pipe",
        -1.7,
        -0.6,
        0.53,
        "DN500",
        "hot water 70 C",
        "Pre-insulated steel Q235B",
        HEAT_CO,
        design_pressure_pa=1.6e6,
    ),
    Utility(
        "WS",
        "DN600 water main",
        "WATERSUPPLY",
        "WT",
        "pipe",
        0.5,
        -1.0,
        0.64,
        "DN600",
        "potable water",
        "Ductile iron K9",
        WATER_CO,
        design_pressure_pa=0.6e6,
    ),
    Utility(
        "RW",
        "DN300 reclaimed water main",
        "WATERSUPPLY",
        "WT",
        "pipe",
        0.5,
        -0.1,
        0.325,
        "DN300",
        "reclaimed water",
        "Ductile iron K9",
        WATER_CO,
        design_pressure_pa=0.6e6,
    ),
    Utility(
        "TEL",
        "Telecom trunk cable",
        "COMMUNICATION",
        "WT",
        "cable",
        1.95,
        0.87,
        0.05,
        "288-core fibre",
        "optical signal",
        "Armoured single-mode fibre cable",
        TELECOM_CO,
    ),
    Utility(
        "HV",
        "110 kV cable circuit",
        "ELECTRICAL",
        "PWR",
        "cable",
        4.4,
        1.29,
        0.15,
        "110 kV",
        "electric power",
        "XLPE copper 1x800 mm2",
        GRID_CO,
        voltage_v=110e3,
    ),
    Utility(
        "MVA",
        "10 kV feeder A",
        "ELECTRICAL",
        "PWR",
        "cable",
        4.4,
        0.57,
        0.1,
        "10 kV",
        "electric power",
        "XLPE copper 3x300 mm2",
        GRID_CO,
        voltage_v=10e3,
    ),
    Utility(
        "MVB",
        "10 kV feeder B",
        "ELECTRICAL",
        "PWR",
        "cable",
        4.4,
        -0.13,
        0.1,
        "10 kV",
        "electric power",
        "XLPE copper 3x300 mm2",
        GRID_CO,
        voltage_v=10e3,
    ),
)

TRAY_WIDTH, TRAY_THICKNESS = 0.5, 0.02
# Cable tray tiers: (compartment, y centre, z of the tray's top face). Cables lie on top.
TRAYS: tuple[tuple[str, float, float], ...] = (
    ("PWR", 4.4, 1.215),
    ("PWR", 4.4, 0.52),
    ("PWR", 4.4, -0.18),
    ("WT", 1.95, 0.845),
    ("WT", 1.95, 1.4),
)
VALVE_CHAINAGES = (200.0, 400.0, 600.0, 800.0)  # isolating valves; other 50 m joints get couplings

ESCAPE_CHAINAGES = (90.0, 290.0, 490.0, 690.0, 890.0)  # 200 m apart, 90 / 110 m from the ends
ESCAPE_SIZE = (1.0, 1.0)  # clear length along the axis x width (m)
HOISTING_CHAINAGES = (260.0, 740.0)
HOISTING_SIZE = (7.0, 1.0)  # long enough for a 6 m pipe length
# Walkway line of each compartment (y): where ceiling equipment, lights and roof openings sit.
WALKWAY_Y = {"GAS": -3.45, "HEAT": -0.9, "WT": 1.2, "PWR": 3.2}
# Cameras hang beside the light line (south of it), so a camera and a luminaire at one chainage never touch.
CAMERA_OFFSET_Y = -0.4
# Sump (pump and level sensor) at floor level, clear of the pipes: by the south wall, except in the water +
# telecom compartment, whose south side is taken by the DN600 water main: there it sits under the cable trays.
SUMP_Y = {"GAS": -4.35, "HEAT": -2.25, "WT": 1.9, "PWR": 2.85}
LIGHT_SPACING = 10.0

# Deliberate rule breaks (documented in sample_models/tunnel/README.md).
LONG_FIRE_COMPARTMENT = ("PWR", 1)  # 250 m
NO_CH4_FIRE_COMPARTMENT = ("GAS", 2)  # K0+400..K0+600 has O2 but no CH4 sensor
NO_CAMERA_FIRE_COMPARTMENT = ("WT", 3)  # K0+600..K0+800 has no camera
# Deliberately incomplete handover data: (asset name, what is missing).
INCOMPLETE_ASSETS: dict[str, str] = {
    "HEAT-FC5 exhaust fan": "no Tag, no owner",
    "PWR-FC3 sump pump": "no Tag, no owner",
    "WT-FC2 humidity sensor": "no Tag",
    "GAS-FC4 temperature sensor 2": "no owner",
}

HANDOVER_YEAR = 2025
